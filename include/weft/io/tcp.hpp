// weft/io/tcp.hpp — TCP over the reactor: tcp_listener (bind, accept) and tcp_socket (connect,
// read_some / write_some, read_exact / write_all), IPv4 and IPv6.
// Design note: docs/decisions/0006-io-reactor.md; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/stream.hpp>
#include <weft/io/endpoint.hpp>
#include <weft/io/io_context.hpp>

#include <cerrno>
#include <span>
#include <system_error>

#include <netinet/tcp.h>
#include <sys/socket.h>

namespace weft {

class tcp_listener;

/// A connected TCP stream. Every operation returns a task whose continuations run per the
/// io_context's policy (or op_options::policy); an op_options::token cancels it in flight
/// (the task completes canceled). What ends an operation, and how it is reported, is the table
/// in docs/guide/io.md: a transfer fails with weft::transfer_error (a std::system_error: the
/// errno — ECONNRESET, EPIPE, never SIGPIPE —, io_errc::closed when the socket is closed under
/// it, io_errc::eof when read_exact meets the end of the stream) and says how many bytes it
/// moved. End of stream: read_some returns 0 (an empty buffer is std::invalid_argument). A
/// canceled read_exact gives the bytes it had read back to the socket: the next read returns
/// them first.
///
/// Thread safety: operations may be started from any thread; at most one read and one write
///                in flight at a time is the usual pattern (more are queued FIFO per direction).
/// Lifetime:      buffers must stay valid until the operation's task completes (temporaries
///                do not compile). The socket may outlive its io_context (operations then
///                throw shutdown_error).
class tcp_socket : public detail::io::stream_socket {
public:
    tcp_socket() noexcept = default;

    /// Connects to `to` (IPv4 or IPv6).
    static task<tcp_socket> connect(io_context& io, const endpoint& to, const op_options& opts = {}) {
        detail::io::io_core& core = io.core();
        tcp_socket s(core, make_socket(core, to.family(), SOCK_STREAM));
        auto [t, op] = detail::io::make_op<tcp_socket, adopt_connected>(core, detail::io::op_kind::connect, opts);
        // The op takes over the handle's reference before it starts: on success the new
        // tcp_socket takes one of its own, on failure the last reference closes the fd (epoll:
        // the reactor sees no handle left and deregisters it).
        op->desc = s.release_descriptor();
        op->x().peer = to;
        op->x().peer_len = to.size();
        op->desc->owner->start(op);
        return std::move(t);
    }

    void set_no_delay(bool on) {
        const int v = on ? 1 : 0;
        if (::setsockopt(checked().fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: setsockopt(TCP_NODELAY)");
        }
    }
    endpoint local_endpoint() const { return socket_name(&::getsockname); }
    endpoint remote_endpoint() const { return socket_name(&::getpeername); }

private:
    friend struct detail::io::adopt_accepted_as<tcp_socket>;
    tcp_socket(detail::io::io_core& core, int fd) : stream_socket(core, fd) {}
    tcp_socket(detail::io::io_core& core, detail::io::descriptor* d) noexcept : stream_socket(core, d) {}

    struct adopt_connected {
        tcp_socket operator()(detail::io::io_op& op) const {
            return tcp_socket(*static_cast<detail::io::io_core*>(op.owner->config().core), op.desc);
        }
    };
};

/// A listening TCP socket. accept() completes with a connected tcp_socket (placed on the
/// io_context's I/O threads round robin).
class tcp_listener : public detail::io::io_handle {
public:
    tcp_listener() noexcept = default;

    /// Binds (SO_REUSEADDR) and listens. Port 0 picks a free port: see local_endpoint().
    /// Throws std::system_error (EADDRINUSE, EACCES...).
    static tcp_listener bind(io_context& io, const endpoint& at, int backlog = SOMAXCONN) {
        detail::io::io_core& core = io.core();
        tcp_listener l(core, make_socket(core, at.family(), SOCK_STREAM));
        const int fd = l.native_handle();
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, at.data(), at.size()) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: bind " + at.to_string());
        }
        if (::listen(fd, backlog) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: listen");
        }
        return l;
    }

    /// The next connection. EMFILE/ENFILE and the like fail this accept only; the listener
    /// stays usable.
    task<tcp_socket> accept(const op_options& opts = {}) {
        return start_op<tcp_socket, detail::io::adopt_accepted_as<tcp_socket>>(
            detail::io::op_kind::accept, opts, [](detail::io::io_op&) {});
    }

    endpoint local_endpoint() const { return socket_name(&::getsockname); }

private:
    tcp_listener(detail::io::io_core& core, int fd) : io_handle(core, fd) {}
};

} // namespace weft
