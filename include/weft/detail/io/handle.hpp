// weft/detail/io/handle.hpp — what tcp_socket, tcp_listener, udp_socket and file share: a
// descriptor on one reactor, a reference to the io_context's core, close(), op starts.
// Design note: docs/decisions/0006-io-reactor.md §1 and §3.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/core.hpp>
#include <weft/io/endpoint.hpp>
#include <weft/io/error.hpp>
#include <weft/io/options.hpp>
#include <weft/promise.hpp>
#include <weft/task.hpp>

#include <cerrno>
#include <ranges>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace weft::detail::io {

/// Any contiguous range of bytes-like elements (std::array<std::byte, N>, std::vector<char>,
/// std::string, std::span...), seen as bytes.
template<typename B>
concept byte_range = requires(B& b) {
    std::as_bytes(std::span(b));
};

/// A buffer an operation may keep using after the call has returned: a named range (an
/// lvalue), or a view whose bytes live elsewhere (std::span, std::string_view). A temporary
/// container is rejected at compile time: the kernel would write into, or send from, an
/// object that dies at the end of the call's full-expression while the task lives on.
template<typename B>
concept lasting_byte_range = byte_range<std::remove_reference_t<B>> && std::ranges::borrowed_range<B>;

template<byte_range B>
std::span<std::byte> writable_bytes(B& b) {
    return std::as_writable_bytes(std::span(b));
}
template<byte_range B>
std::span<const std::byte> readable_bytes(const B& b) {
    return std::as_bytes(std::span(b));
}

/// A task already completed with 0 (a zero-length transfer).
inline task<std::size_t> completed_zero() {
    promise<std::size_t> p;
    p.set_value(std::size_t{0});
    return p.get_task();
}

/// Move-only owner of one descriptor. Destroying or closing it ends every operation in flight
/// on it (they fail with io_errc::closed) and closes the fd on its I/O thread.
class io_handle {
public:
    io_handle() noexcept = default;
    io_handle(io_handle&& o) noexcept : core_(std::move(o.core_)), desc_(std::exchange(o.desc_, nullptr)) {}
    io_handle& operator=(io_handle&& o) noexcept {
        if (this != &o) {
            close();
            core_ = std::move(o.core_);
            desc_ = std::exchange(o.desc_, nullptr);
        }
        return *this;
    }
    io_handle(const io_handle&) = delete;
    io_handle& operator=(const io_handle&) = delete;
    ~io_handle() { close(); }

    bool is_open() const noexcept { return desc_ != nullptr; }
    /// The fd (valid while open). For setsockopt and the like; do not close it yourself.
    int native_handle() const noexcept { return desc_ != nullptr ? desc_->fd : -1; }

    /// Ends every operation in flight on it with an error and closes the fd, then lets go of
    /// the io_context's core: a closed handle holds nothing (once its context is gone, its
    /// rings, epoll sets and eventfds are released whether or not the handle still exists).
    /// Idempotent.
    void close() noexcept {
        if (descriptor* d = std::exchange(desc_, nullptr)) {
            d->owner->request_close(d);
        }
        core_ = core_ref{}; // after the close request: it may need the reactor (§4 of the note)
    }

protected:
    /// Takes ownership of `fd` (closes it if the descriptor cannot be made).
    io_handle(io_core& core, int fd) : core_(&core) {
        try {
            desc_ = new descriptor(fd, &core.next());
        } catch (...) {
            sys().close(fd);
            throw;
        }
    }

    /// A handle on an existing descriptor (a connect's), taking a new reference to it.
    io_handle(io_core& core, descriptor* d) noexcept : core_(&core), desc_(d) { d->add_ref(); }

    /// Hands the handle's reference to the caller (an op that will own the descriptor).
    descriptor* release_descriptor() noexcept { return std::exchange(desc_, nullptr); }

    descriptor& checked() const {
        if (desc_ == nullptr) {
            throw std::system_error(make_error_code(io_errc::closed), "weft: the handle is closed");
        }
        return *desc_;
    }
    io_core& core() const noexcept { return *core_.get(); }

    /// Creates an op on this handle's descriptor, lets `fill` set it up, starts it.
    template<typename R, typename Convert, typename Fill>
    task<R> start_op(op_kind kind, const op_options& opts, Fill&& fill) {
        descriptor& d = checked();
        auto [t, op] = make_op<R, Convert>(*core_.get(), kind, opts);
        d.add_ref();
        op->desc = &d;
        fill(*op);
        if (kind == op_kind::send) {
            d.owner->start_send(op); // keeps the socket's write order; may finish here
        } else {
            d.owner->start(op);
        }
        return std::move(t);
    }

    /// A read or write of `bytes`. An empty buffer: a write or an exact read completes with 0
    /// at once, without the kernel; read_some and read_at reject it (std::invalid_argument),
    /// since their 0 means end of stream / end of file. A closed handle: io_errc::closed.
    template<typename Buf>
    task<std::size_t>
    start_transfer(op_kind kind, Buf bytes, bool exact, const op_options& opts, std::uint64_t offset = 0) {
        if (bytes.empty()) {
            checked();
            if (!exact && (kind == op_kind::recv || kind == op_kind::read_at)) {
                throw std::invalid_argument("weft: a read needs a non-empty buffer (0 means end of stream)");
            }
            return completed_zero();
        }
        return start_op<std::size_t, byte_count>(kind, opts, [&](io_op& op) {
            op.buf = const_cast<std::byte*>(bytes.data());
            op.len = bytes.size();
            op.exact = exact;
            op.offset = offset;
        });
    }

    /// getsockname / getpeername of a socket handle.
    endpoint socket_name(int (*get)(int, sockaddr*, socklen_t*)) const {
        endpoint e;
        socklen_t len = sizeof(sockaddr_storage);
        if (get(checked().fd, e.data(), &len) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: getsockname/getpeername");
        }
        return endpoint::from_native(e.data(), len);
    }

    /// Makes a socket of the kind the backend wants (O_NONBLOCK for epoll).
    static int make_socket(io_core& core, int family, int type) {
        const int flags = SOCK_CLOEXEC | (core.nonblocking_sockets() ? SOCK_NONBLOCK : 0);
        const int fd = ::socket(family, type | flags, 0);
        if (fd < 0) {
            throw std::system_error(errno, std::system_category(), "weft: socket");
        }
        return fd;
    }

    core_ref core_;
    descriptor* desc_ = nullptr; // the handle's reference
};

} // namespace weft::detail::io
