// weft/detail/io/reactor.hpp — one I/O thread's reactor: its incoming queue, timers, ready list
// and backend; op starts, completion (finish) and cancellation. Its loop: reactor_loop.hpp.
//
// Design note: the reactor (both backends; the one note, which the other detail/io files cite
// by section)
// ===========
// §1 Ownership. An io_context owns N I/O threads; each owns one reactor, and each reactor one
//    backend: a private io_uring (uring.hpp, no SQPOLL) or an epoll set (epoll.hpp). Only that
//    thread touches its backend, the timer heap (timer_heap.hpp), the ready list, the list of
//    ops in flight and the descriptors' queues. Other threads hand it work items (posts, op
//    starts, cancel and close requests, blocking-pool results) through a wait-free MPSC queue
//    (detail/mpsc_queue.hpp) and wake it through an eventfd, written only when the reactor
//    announced it sleeps (§3). A socket belongs to one reactor for life (round robin at
//    creation); an op started on its reactor's thread begins at once, without the queue.
// §2 One loop turn, in this order: (a) count the turn, refill the immediate budget (64 ops
//    completed at their start; the rest wait for the next turn, so one flooded socket cannot
//    hold the thread) and forget the adaptive overrun (§7, A2); (b) run every item of the
//    incoming queue, in batches of 64; (c) finish the ready list (results known at their
//    start, deferred by the budget); (d) fire the timers that are due, one at a time from the
//    top of the heap (a timer canceled by an earlier one's continuation has left the heap
//    before it can be popped); (e) leave if shutdown was asked (§10); (f) fold this thread's
//    placement counters into the reactor's, so an idle reactor's counters are exact; (g) after
//    a turn that did work (items drained or ops finished), spin up to
//    io_options::spin_before_sleep watching the incoming queue and the completion ring
//    (io_uring only; flushing the SQ first; not if a timer is due sooner): while it spins,
//    `sleeping_` is 0, so a hand-over from a pool worker costs no eventfd write and no
//    wake-up; an idle reactor (no work in its last turn) never spins; (h) ask for the timeout
//    (0 if anything is ready or the queue is not empty, else the next timer's deadline or
//    none), announcing the sleep (§3), and poll the backend with it; each completion it reaps
//    is finished there (§5); (i) fold the counters again.
// §3 Wake-ups (no lost wake-up). A producer pushes, then (StoreLoad) reads `sleeping_`; the
//    reactor stores `sleeping_ = true`, then (StoreLoad) re-checks the queue before it blocks.
//    One of them sees the other: the producer writes the eventfd or the reactor does not
//    block. One producer per sleep wins the exchange that writes the eventfd.
// §4 Admission. A push from another thread first adds 2 to `admission_`; shutdown sets bit 0
//    and waits for the count to drain, so after it no push can land unseen. Close requests
//    get a second chance, `late_admission_`, the same protocol closed only after shutdown's
//    last drain: until then a close from another thread still reaches the reactor (which
//    still has its backend); after it, the closing thread closes the fd itself (no op can be
//    in flight any more).
// §5 Op lifetime (exactly once). An op (op.hpp) lives in its task's state, reference-counted:
//    the task holds one reference, "in flight" another, a queued cancel request a third.
//    Every op begun reaches finish() exactly once — from the backend, the timer heap, a
//    cancel, a close, or shutdown — and finish() is the only place that completes its task
//    and drops the in-flight reference. An op registers its token's callback before its I/O
//    starts, so a cancel that lands inline is seen. A short read_exact/write_all attempt is
//    resumed for the rest (settle()), never finished early.
//    Partial progress (no byte lost). A stream read_exact canceled (token or shutdown) after
//    some bytes gives them back (give_back()): they go to the descriptor's `unread` bytes,
//    which the next read takes before the socket's (take_unread()), so a canceled read
//    consumed nothing. Reads on a socket are one at a time for that (epoll: its FIFO; io_uring:
//    one recv in the kernel, the others queued), and a read given bytes back is handed them
//    before the next read starts. Bytes written cannot be taken back: a canceled write_all
//    reports how many went out (transfer_canceled), a failed transfer how many moved
//    (transfer_error), a close discards the bytes given back with the socket.
// §6 Caller-thread writes. A stream write started off the I/O thread may be sent at once on
//    the calling thread (io_options::writes_on_caller), with no hand-over and no continuation
//    hop. Writes on one socket keep the order they were started in: the descriptor's
//    `sends_pending` counts the writes not finished, and its flag bit says "a caller is
//    sending now". (a) A caller sends only when the word is 0 (nothing it could overtake) and
//    its token is not canceled; it sets the flag and a count of 1 with one CAS. (b) What it
//    cannot send (EAGAIN, a short write_all) is queued to the reactor before the flag drops.
//    (c) Every other write adds 1, then waits for the flag to drop (a send with MSG_DONTWAIT
//    and a push: short; it yields after 64 spins, in case the sender was preempted), so it is
//    queued behind that rest. (d) A write started on the I/O thread while others are pending
//    goes through the incoming queue too, behind any of them still there. (e) A write leaves
//    the count (release) before its continuation runs, so the next write may go on its caller.
// §7 Adaptive policy (io_policy::adaptive): rules A1–A4 and where the decision is made are in
//    adaptive.hpp. finish() decides once per completion, before the task completes, and
//    samples the time of a continuation that ran inline.
// §8 io_uring backend: its section is at the top of uring.hpp (§8.1 ring ordering, §8.2 ops in
//    the kernel, §8.3 back-pressure), next to its code.
// §9 epoll backend: its section is at the top of epoll.hpp (§9.1–§9.6 readiness emulating
//    completions, §9.7 how the two backends differ, §9.8 timer precision).
// §10 Shutdown. io_context's destructor asks each reactor to stop; the reactor then (a) closes
//    admission (§4) and discards what is still queued (op starts and posts complete canceled),
//    (b) cancels every op in flight (timers at once; kernel ops by ASYNC_CANCEL; epoll queues
//    at once; running blocking-pool ops finish with their own result), (c) keeps polling until
//    the last in-flight op's terminal completion, (d) closes late admission (§4) and runs the
//    last close requests, then returns; the thread is joined and the ring torn down. A
//    continuation that starts I/O during this gets shutdown_error.
// §11 Rejected. SQPOLL (a kernel thread polls the SQ: it burns a core while the program is
//    idle). Registered/fixed files and provided-buffer rings (worth it later, for throughput,
//    with their own pitfalls: ENOBUFS ends a multishot). One ring shared by all I/O threads (a
//    lock per submit). IORING_SETUP_SINGLE_ISSUER/DEFER_TASKRUN (need the ring created on its
//    own thread). Level-triggered epoll (one epoll_ctl per op to re-arm or disarm).
// §12 Tests. tests/io/*.cpp run on both backends (ctest twice, WEFT_IO_BACKEND=uring|epoll);
//    tests/io/io_fault_test.cpp drives the fault matrix through detail/io/sys.hpp (io_uring:
//    errors injected as NOPs at issue, short I/O by clamping the SQE length, reversed
//    batches); tests/io/io_write_test.cpp holds §6; tests/stress/io_stress.cpp §5 under
//    races (cancels while data arrives, closes from other threads).
//
// Lock order: the reactor thread takes only the blocking pool's mutex (submit, try_remove), and
// never holds it while an op finishes or a continuation runs.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/diag/trace.hpp>
#include <weft/detail/io/adaptive.hpp>
#include <weft/detail/io/backend.hpp>
#include <weft/detail/io/blocking_pool.hpp>
#include <weft/detail/io/op.hpp>
#include <weft/detail/io/timer_heap.hpp>
#include <weft/detail/mpsc_queue.hpp>
#include <weft/detail/placement.hpp>
#include <weft/detail/spin.hpp>
#include <weft/errors.hpp>
#include <weft/io/options.hpp>
#include <weft/scheduler.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace weft::detail::io {

/// Per-reactor counters: written by the reactor thread (bump), except `wakeups` and
/// `writes_on_caller`, counted by other threads (add); read by io_context::stats().
using reactor_counters = counter_block<io_counter, io_thread_stats_fields.size()>;

class reactor;

WEFT_TLS_ACCESSOR inline reactor*& current_reactor_slot() noexcept {
    static thread_local reactor* current = nullptr;
    WEFT_TLS_OPAQUE();
    return current;
}

/// A cancel request from another thread (or from a token callback): holds a reference on op.
struct cancel_request final : work_item {
    explicit cancel_request(io_op* o) noexcept : work_item(&invoke), op(o) {}
    static inline void invoke(work_item* w, bool run) noexcept;
    io_op* op;
};

/// Closes a descriptor on its reactor (from the handle's owner thread).
struct close_request final : work_item {
    explicit close_request(descriptor* d) noexcept : work_item(&invoke), desc(d) {}
    static inline void invoke(work_item* w, bool run) noexcept;
    descriptor* desc; // holds the handle's reference
};

/// descriptor::sends_pending's flag: a caller is sending on the socket now (start_send).
inline constexpr std::uint32_t caller_sending = 1u << 31;

struct reactor_config {
    const void* context = nullptr; ///< the io_context (adaptive schedulers check it)
    void* core = nullptr;          ///< its io_core (handles made by an op take a reference)
    std::int64_t adaptive_budget_ns = 5'000;
    /// A4: false when the context has as many I/O threads as cores (a hop adds no core).
    bool hop_adds_a_core = true;
    std::size_t immediate_budget = 64; ///< ops completed at their start, per loop turn
    bool writes_on_caller = true;      ///< start_send may send on the calling thread
    std::int64_t spin_ns = 0;          ///< §2 (g): spin before a sleep after a busy turn
};

class reactor {
public:
    reactor(std::unique_ptr<backend> b, blocking_pool& pool, reactor_config cfg) noexcept
        : backend_(std::move(b))
        , blocking_(pool)
        , cfg_(cfg) {}
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    backend& io_backend() noexcept { return *backend_; }
    blocking_pool& blocking() noexcept { return blocking_; }
    const reactor_counters& counters() const noexcept { return counters_; }
    const reactor_config& config() const noexcept { return cfg_; }
    bool on_this_thread() const noexcept { return current_reactor_slot() == this; }

    // --- any thread -----------------------------------------------------------------------

    /// Queues `w` to run on this reactor's thread. False: shut down, `w` not taken.
    bool push(work_item* w) noexcept {
        // order: acquire — pairs with the release in shutdown's fetch_or (§4)
        if (admission_.fetch_add(2, acquire) & 1u) {
            admission_.fetch_sub(2, release); // order: release — shutdown's wait reads it
            return false;
        }
        incoming_.push(w);
        wake_if_sleeping();
        admission_.fetch_sub(2, release); // order: release — the push happens before shutdown's drain
        return true;
    }
    /// A blocking-pool result, or a wake-up that must get through during shutdown: no admission.
    void push_completion(work_item* w) noexcept {
        incoming_.push(w);
        wake_if_sleeping();
    }

    /// Starts `op` (a fresh op_state with its two references). Throws shutdown_error, after
    /// completing the op's task as canceled, if the reactor no longer takes work.
    void start(io_op* op) {
        op->owner = this;
        if (on_this_thread()) {
            if (!stopping_) {
                try {
                    begin(op);
                } catch (...) { // nothing was started (see begin)
                    abandon_unstarted(op);
                    throw;
                }
                return;
            }
        } else if (push(op)) {
            return;
        }
        abandon_unstarted(op);
        throw shutdown_error("weft: io_context is shut down");
    }

    /// An op that never began: its task completes canceled, its references are dropped.
    static void abandon_unstarted(io_op* op) noexcept {
        uncount_send(op);
        op->result = -ECANCELED;
        op->canceled_by_token = true;
        descriptor* d = std::exchange(op->desc, nullptr);
        op->complete_task(); // drops the in-flight reference; the caller's task sees canceled
        if (d != nullptr) {
            d->release_ref();
        }
    }

    /// Starts a stream write (any thread), keeping the socket's write order; may send it on
    /// the calling thread (§6). Defined in handoff.hpp.
    inline void start_send(io_op* op);

    /// Asks `op` to end early (token callback, any thread).
    void request_cancel(io_op* op) noexcept {
        if (on_this_thread()) {
            cancel_op(op);
            return;
        }
        op->retain();
        auto* req = new (std::nothrow) cancel_request(op);
        if (req == nullptr) {
            op->release();
            return;
        }
        push_completion(req); // no admission: shutdown cancels every op anyway, so dropping is harmless
    }

    /// Closes `d` on the reactor thread (any thread; §4 late admission during shutdown);
    /// consumes the handle's reference. Defined in handoff.hpp.
    inline void request_close(descriptor* d) noexcept;

    // --- reactor thread ---------------------------------------------------------------------

    /// Begins `op` on this thread. The caller keeps it alive through the call (start(): its
    /// task; on_item: a reference). Throws only before anything started (the registration's
    /// allocation), so a caller can still report the op as never begun.
    void begin(io_op* op) {
        op->phase = op_phase::created;
        if (op->token.can_be_canceled() && !op->token.is_cancellation_requested()) {
            // Registered before the I/O starts: a cancel that lands now (even inline, from a
            // callback on this thread) marks the op (cancel_op on `created`) and is seen below.
            op->registration = op->token.register_callback([op] { op->owner->request_cancel(op); });
        }
        link_inflight(op);
        counters_[io_counter::ops_begun].bump();
        if (op->token.is_cancellation_requested() || op->canceled_by_token) {
            op->result = -ECANCELED;
            op->canceled_by_token = true;
            finish(op);
        } else if (op->kind == op_kind::timer) {
            add_timer(op);
        } else if (op->desc != nullptr && op->desc->closed) {
            op->closed = true; // closed before the op began: io_errc::closed, as in flight
            op->result = -ECANCELED;
            finish_or_defer(op);
        } else {
            backend_->begin(op); // noexcept in effect: a backend reports failures through the op
        }
    }

    /// An op whose result is known at its start: finished now while this turn's budget lasts,
    /// else at the next turn (one flooded socket cannot monopolise the thread).
    void finish_or_defer(io_op* op) noexcept {
        if (immediate_left_ > 0) {
            --immediate_left_;
            counters_[io_counter::immediate].bump();
            finish(op);
        } else {
            counters_[io_counter::deferred].bump();
            op->phase = op_phase::ready;
            ready_.push(op);
        }
    }

    /// Applies one attempt's result; true when the op is complete (result set), false when an
    /// exact op must be resumed for the rest.
    static bool settle(io_op* op, std::int64_t res) noexcept {
        if (res < 0 || !op->exact) {
            op->result = res < 0 ? res : static_cast<std::int64_t>(op->done) + res;
            return true;
        }
        op->done += static_cast<std::size_t>(res);
        if (res == 0 || op->done >= op->len) {
            op->result = static_cast<std::int64_t>(op->done);
            return true;
        }
        return false;
    }

    /// §5, partial progress: a stream read takes the bytes given back first. Copies as many as
    /// it has room for and returns how many (0: none), as one attempt of its syscall would;
    /// the caller settles the op with it.
    static std::size_t take_unread(io_op* op) noexcept {
        descriptor* d = op->desc;
        if (op->kind != op_kind::recv || d == nullptr || !d->has_unread()) [[likely]] {
            return 0;
        }
        return copy_unread(op, d);
    }
    [[gnu::cold]] static std::size_t copy_unread(io_op* op, descriptor* d) noexcept {
        const std::size_t n = std::min(d->unread_to - d->unread_from, op->len - op->done);
        std::memcpy(op->buf + op->done, d->unread.get() + d->unread_from, n);
        d->unread_from += n;
        if (!d->has_unread()) {
            d->unread.reset();
            d->unread_from = d->unread_to = 0;
        }
        return n;
    }

    /// §5, partial progress: a stream read_exact canceled after some bytes puts them in front
    /// of its socket's unread bytes, and then counts none. Idempotent. Without memory for
    /// them, they stay counted: transfer_canceled says how many are in the buffer.
    static void give_back(io_op* op) noexcept {
        if (op->result == -ECANCELED && op->kind == op_kind::recv && op->exact && op->done != 0 &&
            op->canceled_by_token && !op->closed && op->desc != nullptr) [[unlikely]] {
            keep_unread(op, op->desc);
        }
    }
    [[gnu::cold]] static void keep_unread(io_op* op, descriptor* d) noexcept {
        const std::size_t rest = d->unread_to - d->unread_from; // (came after ours on the stream)
        auto* bytes = new (std::nothrow) std::byte[op->done + rest];
        if (bytes == nullptr) {
            return;
        }
        std::memcpy(bytes, op->buf, op->done);
        if (rest != 0) {
            std::memcpy(bytes + op->done, d->unread.get() + d->unread_from, rest);
        }
        d->unread.reset(bytes);
        d->unread_from = 0;
        d->unread_to = op->done + rest;
        op->done = 0;
    }

    /// Completes `op`'s task (§5). May free `op`.
    void finish(io_op* op) noexcept {
        give_back(op);
        op->phase = op_phase::done;
        unlink_inflight(op);
        op->registration.unregister();
        descriptor* d = op->desc; // released after the task completed (a converter may use it)
        uncount_send(op);
        counters_[io_counter::ops_finished].bump();
        if (op->result == -ECANCELED) {
            counters_[io_counter::canceled].bump();
        }
        const bool traced = diag::trace_on();
        if (traced) [[unlikely]] {
            trace_completion_begins(op->kind); // a slice around the completion and what runs inline in it
        }
        if (op->adaptive) {
            complete_adaptive(op);
        } else {
            op->complete_task();
        }
        if (traced) [[unlikely]] {
            diag::emit('E', nullptr, 0, "io");
        }
        if (d != nullptr) {
            // order: acquire — a count of 2 (epoll's registration and this op) means no handle
            //        is left, and none can appear: handles are made only on this thread
            if (d->registered && !d->closed && d->use_count() == 2) {
                d->closed = true; // a failed connect, say: deregister and close it now (§9.4)
                backend_->close(d);
            }
            d->release_ref();
        }
    }

    [[gnu::cold, gnu::noinline]] static void trace_completion_begins(op_kind kind) noexcept {
        static constexpr const char* names[] = {"io: recv",
                                                "io: send",
                                                "io: recv_from",
                                                "io: send_to",
                                                "io: accept",
                                                "io: connect",
                                                "io: read_at",
                                                "io: write_at",
                                                "io: open_at",
                                                "io: poll_in",
                                                "io: timer",
                                                "io: cancel"};
        const auto k = static_cast<std::size_t>(kind);
        diag::emit('B', k < std::size(names) ? names[k] : "io", 0, "io");
    }

    /// start_send's attempt on the calling thread (§6). Defined in handoff.hpp.
    inline bool send_on_caller(io_op* op) noexcept;

    /// A finished write leaves its descriptor's count, before its continuation can start the
    /// next one (which may then be sent on its caller).
    static void uncount_send(io_op* op) noexcept {
        if (op->counted_send) {
            op->counted_send = false;
            // order: release — pairs with start_send's acquire
            op->desc->sends_pending.fetch_sub(1, release);
        }
    }

    /// §7: the adaptive decision, made here once per completion: the verdict holds while the
    /// task completes (the adaptive scheduler only reads it); a continuation that then ran
    /// inline is timed (A1). Completions may nest (a continuation finishing another op).
    void complete_adaptive(io_op* op) noexcept {
        const std::int64_t t0 = sys().now_ns();
        const bool run_inline = !cfg_.hop_adds_a_core || adaptive_.decide(t0); // A4, then A2/A3
        const verdict outer = std::exchange(adaptive_verdict_, run_inline ? verdict::run_inline : verdict::hop);
        const stat_counter& ran_inline = (*placements_)[placement_counter::source_inline];
        const std::uint64_t inline_before = ran_inline.load();
        op->complete_task();
        if (adaptive_verdict_ == verdict::run_inline && ran_inline.load() != inline_before) {
            adaptive_.sample(t0, sys().now_ns()); // the continuation ran here
        }
        adaptive_verdict_ = outer;
    }

    void cancel_op(io_op* op) noexcept {
        switch (op->phase) {
        case op_phase::timer:
            timers_.remove(op);
            op->result = -ECANCELED;
            op->canceled_by_token = true;
            finish(op);
            break;
        case op_phase::waiting:
        case op_phase::in_kernel:
        case op_phase::blocking:
            op->canceled_by_token = true;
            backend_->cancel(op);
            break;
        case op_phase::created:
            op->canceled_by_token = true; // inside begin(), before the I/O starts: begin() ends it
            break;
        default:
            break; // ready (its result is in) or done
        }
    }

    void close_now(descriptor* d) noexcept {
        if (!d->closed) {
            d->closed = true;
            backend_->close(d);
        }
        d->release_ref();
    }

    /// The adaptive scheduler's question (§7): may its continuation run inline here now?
    /// Inside a completion, finish()'s verdict; outside one (a continuation attached to an
    /// op's task after it completed), the rule applied now.
    bool adaptive_runs_inline() const noexcept {
        if (adaptive_verdict_ != verdict::none) {
            return adaptive_verdict_ == verdict::run_inline;
        }
        return adaptive_.decide(sys().now_ns());
    }
    void count_adaptive_hop() noexcept { counters_[io_counter::adaptive_hops].bump(); }

    /// The thread body (§2). Returns after shutdown() once every op has finished. In
    /// reactor_loop.hpp, with the rest of the loop.
    inline void run(const any_scheduler& self_as_scheduler);

    /// Any thread: asks run() to return; it first ends every op (canceled) — see §10.
    void shutdown() noexcept {
        stop_requested_.store(true, release); // order: release — pairs with run()'s acquire
        backend_->wake();
    }

private:
    friend struct cancel_request;

    void wake_if_sleeping() noexcept {
        // §3, producer side: the push above, then StoreLoad, then read sleeping_
        if (store_load_barrier_then_load(sleeping_) != 0 && sleeping_.exchange(0, acq_rel) != 0) {
            // order: acq_rel — one producer wins the right to write the eventfd per sleep
            counters_[io_counter::wakeups].add();
            backend_->wake();
        }
    }

    inline std::int64_t next_timeout() noexcept; // §2 g, §3 reactor side

    inline std::size_t drain_incoming();      // §2 b: how many items ran
    inline bool spin_before_sleep() noexcept; // §2 g: true if work came

    inline void run_ready() noexcept; // §2 c

    // --- timers (timer_heap.hpp) ----------------------------------------------------------
    void add_timer(io_op* op) {
        timers_.push(op);
        op->phase = op_phase::timer;
    }
    inline void fire_timers() noexcept; // §2 d
    // --- the list of every op begun and not finished (shutdown cancels them all) -----------
    void link_inflight(io_op* op) noexcept {
        op->inflight_prev = nullptr;
        op->inflight_next = inflight_;
        if (inflight_ != nullptr) {
            inflight_->inflight_prev = op;
        }
        inflight_ = op;
    }
    void unlink_inflight(io_op* op) noexcept {
        (op->inflight_prev != nullptr ? op->inflight_prev->inflight_next : inflight_) = op->inflight_next;
        if (op->inflight_next != nullptr) {
            op->inflight_next->inflight_prev = op->inflight_prev;
        }
        op->inflight_prev = op->inflight_next = nullptr;
    }

    inline void drain_for_shutdown() noexcept; // §10
    inline void discard_incoming() noexcept;   // §10
    /// request_close() once the reactor is gone (§4). Defined in handoff.hpp.
    inline void close_after_shutdown(descriptor* d) noexcept;

public:
    /// Discarding an op start at shutdown: its task completes canceled.
    void discard_op(io_op* op) noexcept {
        if (op->phase == op_phase::blocking) { // a blocking-pool result: deliver it
            finish_blocking(op);
            return;
        }
        link_inflight(op);
        op->result = -ECANCELED;
        op->canceled_by_token = true;
        finish(op);
    }
    /// A blocking-pool op came back (its result is set).
    void finish_blocking(io_op* op) noexcept;

private:
    std::unique_ptr<backend> backend_;
    blocking_pool& blocking_;
    reactor_config cfg_;

    // --- any thread ---------------------------------------------------------------------
    mpsc_queue incoming_;
    atomic<std::uint32_t> sleeping_{0};       // 1: the reactor is (about to be) blocked in poll (§3)
    atomic<std::uint32_t> admission_{0};      // bit 0: closed; +2 per push in progress (§4)
    atomic<std::uint32_t> late_admission_{0}; // close requests during shutdown (§4)
    atomic<bool> stop_requested_{false};

    // --- reactor thread only ----------------------------------------------------------------
    bool stopping_ = false;
    std::size_t immediate_left_ = 0;
    adaptive_policy adaptive_{cfg_.adaptive_budget_ns}; // §7
    enum class verdict : std::uint8_t {
        none,
        run_inline,
        hop
    };
    verdict adaptive_verdict_ = verdict::none; // §7: finish()'s decision while a task completes
    placement_block* placements_ = nullptr;    // this thread's placement counters (set by run())
    op_fifo ready_;
    timer_heap timers_;
    io_op* inflight_ = nullptr;
    reactor_counters counters_;
};

inline io_op::io_op(op_kind k) noexcept : work_item(&on_item), kind(k) {}

inline void io_op::on_item(work_item* w, bool run) noexcept {
    auto* op = detail::down_cast<io_op>(w);
    reactor* r = op->owner;
    if (op->phase == op_phase::blocking) {
        r->finish_blocking(op);
    } else if (run) {
        op->retain(); // its task may be gone: keep it alive through begin()
        try {
            r->begin(op);
        } catch (...) { // a failed registration: nothing started
            r->discard_op(op);
        }
        op->release();
    } else {
        r->discard_op(op);
    }
}

inline void cancel_request::invoke(work_item* w, bool) noexcept {
    auto* self = detail::down_cast<cancel_request>(w);
    io_op* op = self->op;
    delete self;
    op->owner->cancel_op(op);
    op->release();
}

inline void close_request::invoke(work_item* w, bool) noexcept {
    auto* self = detail::down_cast<close_request>(w);
    descriptor* d = self->desc;
    delete self;
    d->owner->close_now(d); // at shutdown's final drain too: the backend is still there
}

inline void reactor::finish_blocking(io_op* op) noexcept {
    const std::int64_t res = op->result;
    op->result = 0;
    if (descriptor* d = op->desc; d != nullptr && --d->blocking_ops == 0 && d->closed && d->fd >= 0) {
        sys().close(d->fd); // §9.5: the close waited for the last pool op on the fd
        d->fd = -1;
    }
    if (!settle(op, res)) {
        if (op->desc != nullptr && op->desc->closed) {
            op->closed = true;
            op->result = -ECANCELED;
        } else if (op->canceled_by_token) { // asked while the pool ran this part: stop here
            op->result = -ECANCELED;        // (transfer_canceled says how far it got)
        } else {
            backend_->begin(op); // exact op: the rest goes back to the pool
            return;
        }
    }
    finish(op);
}

} // namespace weft::detail::io

namespace weft::detail::io {

template<typename R, typename Convert>
void op_state<R, Convert>::cancel_from_task(state_base* s) noexcept {
    auto* op = static_cast<io_op*>(detail::down_cast<op_state>(detail::down_cast<task_state<R>>(s)));
    op->owner->request_cancel(op);
}

} // namespace weft::detail::io
