// weft/detail/io/backend.hpp — what a reactor backend (io_uring, epoll) provides to its reactor.
// Design note: weft/detail/io/uring.hpp (the reactor note, with the epoll differences table).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/op.hpp>

#include <cstdint>

namespace weft::detail::io {

/// One backend instance per I/O thread. Every member but wake() runs on that thread.
class backend {
public:
    virtual ~backend() = default;
    backend() = default;
    backend(const backend&) = delete;
    backend& operator=(const backend&) = delete;

    virtual const char* name() const noexcept = 0;
    /// Issues a socket or file op. The op reaches reactor::finish() exactly once, later or
    /// from inside this call (reactor::finish_or_defer) — never while begin()'s caller still
    /// expects it in flight.
    virtual void begin(io_op* op) = 0;
    /// Asks for an op in this backend's custody to end early; it still ends through finish(),
    /// with -ECANCELED or with the result it reached first.
    virtual void cancel(io_op* op) noexcept = 0;
    /// Ends every op on `d` (ECANCELED, closed) and closes the fd; stale completions for the
    /// fd can no longer reach anyone.
    virtual void close(descriptor* d) noexcept = 0;
    /// Submits what is pending, waits up to `timeout_ns` (-1: no limit, 0: do not block) for
    /// completions or a wake(), and hands each completion to the reactor.
    virtual void poll(std::int64_t timeout_ns) = 0;
    /// Any thread: makes a blocked poll() return soon.
    virtual void wake() noexcept = 0;
    /// For the spin before a sleep (reactor note §2 (g)): true if completions_ready() sees
    /// every completion without a system call (io_uring's CQ ring); a backend that says false
    /// is never spun on (a spin blind to its sockets would only delay them).
    virtual bool can_spin() const noexcept { return false; }
    /// Before such a spin: hands what is pending to the kernel, so it works meanwhile.
    virtual void submit_pending() noexcept {}
    /// While spinning: a poll(0) would find completions now.
    virtual bool completions_ready() const noexcept { return false; }
    /// Sockets must be created O_NONBLOCK (epoll) or may stay blocking (io_uring).
    virtual bool wants_nonblocking_sockets() const noexcept = 0;
};

} // namespace weft::detail::io
