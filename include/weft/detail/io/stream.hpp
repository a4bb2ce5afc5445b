// weft/detail/io/stream.hpp — what every connected byte stream shares (tcp_socket, unix_socket,
// a child process's pipes): read_some / write_some / read_exact / write_all and the half-close.
// Design note: docs/decisions/0006-io-reactor.md §1 and §3; the outcomes: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/handle.hpp>

#include <cerrno>
#include <system_error>

#include <sys/socket.h>

namespace weft::detail::io {

/// A connected stream socket (any family). The operations and their outcomes are the ones
/// tcp_socket documents.
class stream_socket : public io_handle {
public:
    stream_socket() noexcept = default;

    /// Reads what is available (at least 1 byte), or 0 at end of stream.
    template<lasting_byte_range B>
    task<std::size_t> read_some(B&& buffer, const op_options& opts = {}) {
        return start_transfer(op_kind::recv, writable_bytes(buffer), false, opts);
    }
    /// Writes some of `buffer` (at least 1 byte); returns how much.
    template<lasting_byte_range B>
    task<std::size_t> write_some(B&& buffer, const op_options& opts = {}) {
        return start_transfer(op_kind::send, readable_bytes(buffer), false, opts);
    }
    /// Fills all of `buffer` (short reads are resumed); fails with io_errc::eof if the stream ends first.
    template<lasting_byte_range B>
    task<std::size_t> read_exact(B&& buffer, const op_options& opts = {}) {
        return start_transfer(op_kind::recv, writable_bytes(buffer), true, opts);
    }
    /// Writes all of `buffer` (short writes are resumed).
    template<lasting_byte_range B>
    task<std::size_t> write_all(B&& buffer, const op_options& opts = {}) {
        return start_transfer(op_kind::send, readable_bytes(buffer), true, opts);
    }

    /// Half-close: no more writes; the peer reads end of stream.
    void shutdown_send() {
        if (::shutdown(checked().fd, SHUT_WR) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: shutdown");
        }
    }

protected:
    stream_socket(io_core& core, int fd) : io_handle(core, fd) {}
    stream_socket(io_core& core, descriptor* d) noexcept : io_handle(core, d) {}
};

/// Builds the socket an accept completed with (the listener's reactor, its new fd).
template<typename Socket>
struct adopt_accepted_as {
    Socket operator()(io_op& op) const {
        auto& core = *static_cast<io_core*>(op.owner->config().core);
        return Socket(core, static_cast<int>(op.result)); // epoll's accept4 made it O_NONBLOCK; io_uring's is blocking
    }
};

} // namespace weft::detail::io
