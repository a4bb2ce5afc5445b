// weft/detail/io/op.hpp — one I/O operation in flight (io_op) and the per-handle state the
// reactor keeps for a socket or file (descriptor).
// Design note: op lifetime is §5 of the reactor note (weft/detail/io/reactor.hpp); in the
// kernel, §8.2 (uring.hpp); the epoll side, §9 (epoll.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/intrusive_fifo.hpp>
#include <weft/detail/io/sys.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/io/endpoint.hpp>
#include <weft/io/error.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <system_error>

#include <sys/uio.h>

namespace weft::detail::io {

class reactor;
struct descriptor;
class io_op;

using io_clock = std::chrono::steady_clock;

/// Where an op is. Written and read by its reactor's thread only.
enum class op_phase : std::uint8_t {
    created,   ///< not yet begun (maybe in the reactor's incoming queue)
    waiting,   ///< epoll: in a descriptor's wait queue
    in_kernel, ///< io_uring: an SQE was issued, its CQE has not been seen
    blocking,  ///< epoll files: in (or running on) the blocking pool
    timer,     ///< in the reactor's timer heap
    ready,     ///< result known, in the reactor's ready list, not yet finished
    done,      ///< finished: the task was completed
};

/// Links op_fifo through io_op::qnext (defined once io_op is complete).
struct op_link {
    static inline io_op*& next(io_op* op) noexcept;
};
/// Intrusive FIFO of ops (reactor thread only; the blocking pool's under its lock).
using op_fifo = intrusive_fifo<io_op, op_link>;

/// The reactor's view of one socket or file. Reference-counted: the handle object owns one
/// reference, every op in flight on it one, and the epoll backend one while it is registered
/// (dropped only after the batch of events that may name it).
struct descriptor : ref_counted<descriptor> {
    explicit descriptor(int f, reactor* r) noexcept : fd(f), owner(r) {}
    /// Last reference gone without a close (a failed connect, a handle never made): nothing
    /// can be in flight on it (ops and the epoll registration hold references), so close here.
    ~descriptor() {
        if (!closed && fd >= 0) {
            sys().close(fd);
        }
    }
    descriptor(const descriptor&) = delete;
    descriptor& operator=(const descriptor&) = delete;

    int fd;
    reactor* owner;
    // --- any thread ---------------------------------------------------------------------
    /// Stream writes started and not finished, plus a flag bit while a caller sends on this
    /// socket (reactor::start_send keeps the write order with it).
    atomic<std::uint32_t> sends_pending{0};
    // --- reactor thread only ------------------------------------------------------------
    bool registered = false;     ///< epoll: added to the epoll set
    bool maybe_readable = true;  ///< epoll: false after a short read or EAGAIN, until EPOLLIN (§9.6)
    bool read_side_done = false; ///< epoll: RDHUP/HUP/ERR seen: every read tries at once for good (§9.6)
    bool closed = false;         ///< close() ran: new ops fail with io_errc::closed
    op_fifo read_q;  ///< epoll: ops waiting for readability; io_uring: reads queued behind recv_in_kernel, FIFO
    op_fifo write_q; ///< epoll: ops waiting for writability; io_uring: writes queued behind send_in_kernel, FIFO
    bool send_in_kernel = false; ///< io_uring: a stream write on this fd is in the kernel (one at a time)
    bool recv_in_kernel = false; ///< io_uring: a stream read on this fd is in the kernel (one at a time)
    /// Bytes a canceled read_exact had read, given back to the stream: the next read takes them
    /// before the socket's (§5 of the reactor note). Empty (null) almost always.
    std::unique_ptr<std::byte[]> unread;
    std::size_t unread_from = 0;
    std::size_t unread_to = 0;
    bool has_unread() const noexcept { return unread_from != unread_to; }
    io_op* kernel_ops = nullptr; ///< io_uring: ops on this fd in the kernel (close cancels them)
    unsigned blocking_ops = 0;   ///< epoll files: ops on the blocking pool (close waits for 0)
};

/// One operation: the part the reactor and the backends see. The task side is op_state<R>.
/// References: the op_state starts with the returned task (a reader) and "in flight" (a
/// keeper, dropped by finish()); a cancel request in the reactor's queue holds another keeper.
class io_op : public work_item {
public:
    inline explicit io_op(op_kind k) noexcept; // defined in reactor.hpp, with on_item
    io_op(const io_op&) = delete;
    io_op& operator=(const io_op&) = delete;

    /// Turns `result` into the task's outcome and drops the in-flight reference.
    virtual void complete_task() noexcept = 0;
    virtual void retain() noexcept = 0;
    virtual void release() noexcept = 0;

    /// Remaining bytes of the current attempt, after the test seam's clamp.
    std::size_t remaining() const noexcept { return sys().clamp_len(kind, len - done); }
    std::byte* cursor() const noexcept { return buf + done; }

    op_kind kind;
    bool exact = false;    ///< read_exact / write_all: resume short I/O until len
    bool adaptive = false; ///< its policy is adaptive: the reactor times its completion
    op_phase phase = op_phase::created;
    bool canceled_by_token = false; ///< reactor thread: the token asked, report "canceled"
    bool closed = false;            ///< reactor thread: the descriptor was closed under it
    bool cancel_sent = false;       ///< io_uring: an async-cancel SQE was issued for it
    bool cancel_wanted = false;     ///< io_uring: asked to cancel while the SQ was full (retried)
    bool counted_send = false;      ///< a stream write counted in its descriptor's sends_pending
    int fd = -1;
    int injected = 0; ///< io_uring tests: the NOP standing in for it fails with this
    int open_flags = 0;
    unsigned open_mode = 0;
    std::byte* buf = nullptr;
    std::size_t len = 0;
    std::size_t done = 0; ///< bytes transferred so far (exact ops)
    std::uint64_t offset = 0;
    std::int64_t result = 0; ///< bytes (or fd) when >= 0, else -errno
    /// What only addressed or named ops need (accept, connect, datagrams, open): allocated by
    /// make_op for those kinds, so a stream read or write stays small (a pooled state).
    struct extra_fields {
        endpoint peer; ///< send_to / connect target, recv_from / accept source
        socklen_t peer_len = 0;
        msghdr msg{};
        iovec iov{};
        std::string path; ///< open_at
    };
    std::unique_ptr<extra_fields> extra;
    extra_fields& x() noexcept { return *extra; }
    io_clock::time_point deadline{}; ///< timer
    std::size_t heap_index = 0;      ///< timer: position in the reactor's heap
    descriptor* desc = nullptr;      ///< holds a reference, or null (timers, posts)
    reactor* owner = nullptr;
    io_op* qnext = nullptr;     ///< op_fifo link (wait queue, ready list, blocking queue)
    io_op* desc_prev = nullptr; ///< io_uring: the descriptor's list of ops in the kernel
    io_op* desc_next = nullptr;
    io_op* inflight_prev = nullptr;
    io_op* inflight_next = nullptr;
    cancellation_token token;
    cancellation_registration registration;

protected:
    ~io_op() = default;

private:
    static inline void on_item(work_item* w, bool run) noexcept; // defined in reactor.hpp
};

inline io_op*& op_link::next(io_op* op) noexcept {
    return op->qnext;
}

/// Byte transfers: their failures and cancellations say how many bytes moved (io/error.hpp).
inline bool moves_bytes(op_kind k) noexcept {
    return k == op_kind::recv || k == op_kind::send || k == op_kind::read_at || k == op_kind::write_at;
}

inline const char* op_name(op_kind k) noexcept {
    static constexpr const char* names[] = {"weft: read",
                                            "weft: write",
                                            "weft: receive_from",
                                            "weft: send_to",
                                            "weft: accept",
                                            "weft: connect",
                                            "weft: read_at",
                                            "weft: write_at",
                                            "weft: open",
                                            "weft: wait for readable",
                                            "weft: timer",
                                            "weft: cancel"};
    return names[static_cast<unsigned>(k)];
}

/// The task side of an op: a task state completed from `result` by `Convert`.
/// Convert is a stateless callable `R (io_op&)` that builds the value of a successful op.
template<typename R, typename Convert>
class op_state final
    : public task_state<R>
    , public io_op {
public:
    op_state(op_kind k, any_scheduler source) noexcept
        : task_state<R>(state_base::ops_of<&destroy, &cancel_from_task>, 1, 1, state_base::st_pending)
        , io_op(k) {
        this->set_source_policy(source);
    }

    /// The outcome of `result` (docs/guide/io.md, "What ends an operation"): a close is
    /// io_errc::closed, a token (or shutdown) a cancellation, an exact transfer cut short by
    /// the end of the stream io_errc::eof; a byte transfer's error says how many bytes moved.
    void complete_task() noexcept override {
        if (result < 0) {
            const int err = static_cast<int>(-result);
            if (err == ECANCELED && closed) {
                fail(make_error_code(io_errc::closed));
            } else if (err == ECANCELED && canceled_by_token) {
                if (moves_bytes(kind)) {
                    this->try_set_canceled(std::make_exception_ptr(transfer_canceled(done)));
                } else {
                    this->try_set_canceled();
                }
            } else {
                fail(std::error_code(err, std::system_category()));
            }
        } else if (exact && done < len) { // a stream (or file) that ended before the buffer was full
            fail(make_error_code(io_errc::eof));
        } else {
            try {
                if constexpr (std::is_void_v<R>) {
                    Convert{}(static_cast<io_op&>(*this));
                    this->try_set_value();
                } else {
                    this->try_set_value(Convert{}(static_cast<io_op&>(*this)));
                }
            } catch (...) {
                this->try_set_exception(std::current_exception());
            }
        }
        this->release_keeper();
    }
    void retain() noexcept override { this->add_keeper(); }
    void release() noexcept override { this->release_keeper(); }

private:
    void fail(std::error_code code) noexcept {
        if (moves_bytes(kind)) {
            this->try_set_exception(std::make_exception_ptr(transfer_error(code, op_name(kind), done)));
        } else {
            this->try_set_exception(std::make_exception_ptr(std::system_error(code, op_name(kind))));
        }
    }

    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<op_state>(detail::down_cast<task_state<R>>(s));
    }
    /// request_cancel(): as the token's callback does. The op was started (owner set) before
    /// its task was handed out; a cancel that arrives after it finished is a no-op.
    static void cancel_from_task(state_base* s) noexcept;
};

} // namespace weft::detail::io
