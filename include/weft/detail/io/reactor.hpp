// weft/detail/io/reactor.hpp — one I/O thread's reactor: its incoming queue, timers, ready list
// and backend, and the loop that drives them.
// Design note: weft/detail/io/uring.hpp (ownership, op lifetime, shutdown); this file keeps
// the parts both backends share. In short: only the reactor's own thread touches its backend,
// timers and lists; other threads hand it work items (posts, op starts, cancel requests, close
// requests, blocking-pool results) through a wait-free MPSC queue and wake it with an eventfd
// only when it sleeps (R1 below).
//
// R1 (no lost wake-up): a producer pushes, then (StoreLoad) reads `sleeping_`; the reactor
//     stores `sleeping_ = true`, then (StoreLoad) re-checks the queue before it blocks. One of
//     them sees the other: the producer writes the eventfd or the reactor does not block.
// R2 (admission): a push from another thread first adds 2 to `admission_`; shutdown sets bit 0
//     and waits for the count to drain, so after it no push can land unseen.
// R3 (exactly once): every op begun reaches finish() once: from the backend, the timer heap,
//     a cancel, a close, or shutdown; finish() is the only place that completes its task.
// Adaptive policy (io_policy::adaptive; the decision is adaptive_inline_ok()):
// A1 only continuations that ran inline are timed (a hop's cost says nothing about the work);
//    each sample, capped at 8 budgets (a run the OS preempted for a whole time slice must not
//    decide alone), feeds a 1/8 moving average.
// A2 one continuation over the budget makes the rest of that loop turn hop: the connections
//    behind it in the batch do not wait for another long one.
// A3 an average over the budget makes every continuation hop, except a probe now and then
//    that runs inline and is timed: 1 ms after the last short probe, and after a long one
//    twice the last gap (up to 64 ms). When the average falls back under the budget,
//    continuations run inline again. So steady long work pays one long inline run per probe
//    gap, not one per few completions, and a burst of long work is forgotten in a few ms.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/io/backend.hpp>
#include <weft/detail/io/blocking_pool.hpp>
#include <weft/detail/io/op.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/thread_pool/injection_queue.hpp>
#include <weft/errors.hpp>
#include <weft/placement.hpp>
#include <weft/scheduler.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace weft::detail::io {

/// Per-reactor counters: written by the reactor thread only (relaxed), read by stats();
/// `wakeups` is counted by the waking threads.
struct reactor_counters {
    atomic<std::uint64_t> wakeups{0};
    atomic<std::uint64_t> loops{0}, ops_begun{0}, ops_finished{0}, immediate{0},
        deferred{0}, timers_fired{0}, canceled{0}, cont_inline{0}, cont_hop{0},
        adaptive_hops{0};
    atomic<std::uint64_t> writes_on_caller{0};  ///< any thread: writes completed by the thread that started them
    static void bump(atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(relaxed) + n, relaxed);  // order: relaxed — single writer, a statistic
    }
};

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
    descriptor* desc;  // holds the handle's reference
};

/// descriptor::sends_pending's flag: a caller is sending on the socket now (start_send).
inline constexpr std::uint32_t caller_sending = 1u << 31;

struct reactor_config {
    const void* context = nullptr;         ///< the io_context (adaptive schedulers check it)
    void* core = nullptr;                  ///< its io_core (handles made by an op take a reference)
    std::int64_t adaptive_budget_ns = 50'000;
    std::size_t immediate_budget = 64;     ///< ops completed at their start, per loop turn
    bool writes_on_caller = true;          ///< start_send may send on the calling thread
};

class reactor {
public:
    reactor(std::unique_ptr<backend> b, blocking_pool& pool, reactor_config cfg) noexcept
        : backend_(std::move(b)), blocking_(pool), cfg_(cfg) {}
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
        // order: acquire — pairs with the release in shutdown's fetch_or (R2)
        if (admission_.fetch_add(2, acquire) & 1u) {
            admission_.fetch_sub(2, release);  // order: release — shutdown's wait reads it
            return false;
        }
        incoming_.push(w);
        wake_if_sleeping();
        admission_.fetch_sub(2, release);  // order: release — the push happens before shutdown's drain
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
                } catch (...) {  // nothing was started (see begin)
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
        op->complete_task();  // drops the in-flight reference; the caller's task sees canceled
        if (d != nullptr) {
            d->release_ref();
        }
    }

    /// Starts a stream write (any thread). Writes on one socket keep the order they were
    /// started in, and one started off the I/O thread may be sent at once on the calling
    /// thread — the path a pool worker answering a request takes: no hand-over to the I/O
    /// thread and no continuation hop when the bytes fit in the socket buffer.
    /// The descriptor's sends_pending counts the writes not finished; its flag bit says "a
    /// caller is sending now". A write sent on the caller needs the word at 0 (nothing it could
    /// overtake) and the token not canceled; what it cannot send (a full buffer, EAGAIN) is
    /// queued before the flag drops, and every other write waits for the flag to drop first
    /// (a send with MSG_DONTWAIT and a queue push: short), so it is queued behind that rest.
    /// An I/O-thread write with others pending goes through the incoming queue too, behind
    /// any of them still there. Safe against close(): the caller holds the handle, and a handle
    /// is not closed while one of its methods runs.
    void start_send(io_op* op) {
        descriptor* d = op->desc;
        op->owner = this;
        op->counted_send = true;
        const bool here = on_this_thread();
        std::uint32_t idle = 0;
        if (cfg_.writes_on_caller && !here && !op->token.is_cancellation_requested() &&
            // order: acquire — pairs with the release of the write before ours (uncount_send,
            //        or the flag's drop): its bytes went to the kernel or its op was queued
            d->sends_pending.compare_exchange_strong(idle, caller_sending | 1u, acquire, relaxed)) {
            if (send_on_caller(op)) {
                return;
            }
            struct drop_flag {
                descriptor* d;
                // order: release — our queued rest happens before the writes that waited
                ~drop_flag() { d->sends_pending.fetch_sub(caller_sending, release); }
            } drop{d};
            start(op);
            return;
        }
        // order: acquire — as above, for the flag: a caller's rest is queued before ours
        std::uint32_t before = d->sends_pending.fetch_add(1, acquire);
        for (unsigned spins = 0; (before & caller_sending) != 0; ++spins) {
            if (spins < 64) {
                cpu_relax();
            } else {
                std::this_thread::yield();  // the sender may have been preempted mid-send
            }
            before = d->sends_pending.load(acquire);  // order: acquire — as above
        }
        if (here && before != 0 && !stopping_) {
            // others pending (or a caller's rest just queued, if we waited): maybe still in the
            // incoming queue, so ours goes behind them
            if (push(op)) {
                return;
            }
            abandon_unstarted(op);
            throw shutdown_error("weft: io_context is shut down");
        }
        start(op);
    }

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
        push_completion(req);  // no admission: shutdown cancels every op anyway, so dropping is harmless
    }

    /// Closes `d` on the reactor thread; consumes the handle's reference.
    void request_close(descriptor* d) noexcept {
        if (on_this_thread()) {
            close_now(d);
            return;
        }
        auto* req = new (std::nothrow) close_request(d);
        if (req == nullptr) {
            return;  // no memory: the fd stays open until the process ends (never closed twice)
        }
        if (push(req)) {
            return;
        }
        // Shutting down: the reactor still takes close requests until its very last drain
        // (R2 again, on `late_admission_`); after that it is gone and we close here.
        // order: acquire/release — as push()
        if ((late_admission_.fetch_add(2, acquire) & 1u) == 0) {
            push_completion(req);
            late_admission_.fetch_sub(2, release);
            return;
        }
        late_admission_.fetch_sub(2, release);
        delete req;
        close_after_shutdown(d);
    }

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
        counters_.bump(counters_.ops_begun);
        if (op->token.is_cancellation_requested() || op->canceled_by_token) {
            op->result = -ECANCELED;
            op->canceled_by_token = true;
            finish(op);
        } else if (op->kind == op_kind::timer) {
            add_timer(op);
        } else if (op->desc != nullptr && op->desc->closed) {
            op->result = -EBADF;
            finish_or_defer(op);
        } else {
            backend_->begin(op);  // noexcept in effect: a backend reports failures through the op
        }
    }

    /// An op whose result is known at its start: finished now while this turn's budget lasts,
    /// else at the next turn (one flooded socket cannot monopolise the thread).
    void finish_or_defer(io_op* op) noexcept {
        if (immediate_left_ > 0) {
            --immediate_left_;
            counters_.bump(counters_.immediate);
            finish(op);
        } else {
            counters_.bump(counters_.deferred);
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

    /// Completes `op`'s task (R3). May free `op`.
    void finish(io_op* op) noexcept {
        op->phase = op_phase::done;
        unlink_inflight(op);
        op->registration.unregister();
        descriptor* d = op->desc;  // released after the task completed (a converter may use it)
        uncount_send(op);
        counters_.bump(counters_.ops_finished);
        if (op->result == -ECANCELED) {
            counters_.bump(counters_.canceled);
        }
        if (op->adaptive) {
            const bool outer = std::exchange(adaptive_ran_inline_, false);  // finishes may nest
            const std::int64_t t0 = sys().now_ns();
            op->complete_task();
            if (adaptive_ran_inline_) {  // the continuation ran here: its time is a sample (A1)
                adaptive_sample(t0, sys().now_ns());
            }
            adaptive_ran_inline_ = outer;
        } else {
            op->complete_task();
        }
        if (d != nullptr) {
            // order: acquire — a count of 2 (epoll's registration and this op) means no handle
            //        is left, and none can appear: handles are made only on this thread
            if (d->registered && !d->closed && d->use_count() == 2) {
                d->closed = true;  // a failed connect, say: deregister and close it now (E4)
                backend_->close(d);
            }
            d->release_ref();
        }
    }

    /// start_send's attempt on the calling thread, holding the flag. True: `op` is complete
    /// (its task ready, or failed with the send's error) and the word is released. False: the
    /// rest (maybe all) is for the reactor; `done` counts what was sent.
    bool send_on_caller(io_op* op) noexcept {
        descriptor* d = op->desc;
        ssize_t r = -1;
        int err = 0;
        if (const int injected = sys().inject(op_kind::send); injected != 0) {
            err = -injected;  // tests: the fault the kernel path would have seen
        } else {
            r = sys().send(d->fd, op->cursor(), op->remaining(), MSG_NOSIGNAL | MSG_DONTWAIT);
            err = r < 0 ? errno : 0;
        }
        if (r > 0) {
            if (!settle(op, r)) {
                return false;  // write_all with bytes left: the rest waits for room
            }
        } else if (r == 0 || err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
            return false;
        } else {
            op->result = -err;
        }
        op->phase = op_phase::done;
        op->counted_send = false;
        counters_.writes_on_caller.fetch_add(1, relaxed);  // order: relaxed — a statistic, many writers
        // order: release — pairs with start_send's acquire: our bytes are in the kernel
        d->sends_pending.fetch_sub(caller_sending | 1u, release);
        op->complete_task();  // no continuation is attached yet: the task is simply ready
        d->release_ref();     // the op's reference (the caller's handle keeps the descriptor)
        return true;
    }

    /// A finished write leaves its descriptor's count, before its continuation can start the
    /// next one (which may then be sent on its caller).
    static void uncount_send(io_op* op) noexcept {
        if (op->counted_send) {
            op->counted_send = false;
            // order: release — pairs with start_send's acquire
            op->desc->sends_pending.fetch_sub(1, release);
        }
    }

    /// One inline continuation took [t0, t1): A1–A3.
    void adaptive_sample(std::int64_t t0, std::int64_t t1) noexcept {
        const std::int64_t budget = cfg_.adaptive_budget_ns;
        const std::int64_t dt = std::min(t1 - t0, 8 * budget);  // A1: a preempted run counts at most 8 budgets
        adaptive_ewma_ns_ += (dt - adaptive_ewma_ns_) / 8;
        if (dt > budget) {
            adaptive_overrun_ = true;
        }
        if (!adaptive_hopping_) {
            if (adaptive_ewma_ns_ > budget) {
                adaptive_hopping_ = true;
                adaptive_probe_gap_ns_ = adaptive_first_probe_gap_ns;
                adaptive_next_probe_ns_ = t1 + adaptive_probe_gap_ns_;
            }
            return;
        }
        if (adaptive_ewma_ns_ <= budget) {
            adaptive_hopping_ = false;  // the probes say continuations are short again
            return;
        }
        // a long probe: the work is still long, probe less often; a short one: soon again
        adaptive_probe_gap_ns_ = dt > budget ? std::min(adaptive_probe_gap_ns_ * 2, adaptive_last_probe_gap_ns) : adaptive_first_probe_gap_ns;
        adaptive_next_probe_ns_ = t1 + adaptive_probe_gap_ns_;
    }

    void cancel_op(io_op* op) noexcept {
        switch (op->phase) {
        case op_phase::timer:
            remove_timer(op);
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
            op->canceled_by_token = true;  // inside begin(), before the I/O starts: begin() ends it
            break;
        default:
            break;  // ready (its result is in) or done
        }
    }

    void close_now(descriptor* d) noexcept {
        if (!d->closed) {
            d->closed = true;
            backend_->close(d);
        }
        d->release_ref();
    }

    /// Adaptive policy: may a continuation run inline here now? (A1–A3 above)
    bool adaptive_inline_ok() noexcept {
        bool ok = !adaptive_overrun_ && !adaptive_hopping_;
        if (!ok && !adaptive_overrun_ && sys().now_ns() >= adaptive_next_probe_ns_) {
            ok = true;  // A3: a probe, timed like any inline run
        }
        adaptive_ran_inline_ = ok;
        return ok;
    }
    void count_adaptive_hop() noexcept {
        adaptive_ran_inline_ = false;
        counters_.bump(counters_.adaptive_hops);
    }

    /// The thread body. Returns after shutdown() once every op has finished.
    void run(const any_scheduler& self_as_scheduler) {
        current_reactor_slot() = this;
        scheduler_scope scope(self_as_scheduler);
        auto& block = this_thread_placement_block();
        auto at = [&](placement_counter c) {
            return block.counters[static_cast<unsigned>(c)].load(relaxed);  // order: relaxed — our own counters
        };
        auto inline_now = [&] {
            return at(placement_counter::source_inline) + at(placement_counter::named_inline) +
                   at(placement_counter::captured_inline) + at(placement_counter::completing_inline);
        };
        auto hops_now = [&] {
            return at(placement_counter::source_hop) + at(placement_counter::named_hop) + at(placement_counter::captured_hop);
        };
        std::uint64_t inline0 = inline_now();
        std::uint64_t hop0 = hops_now();
        auto fold_placements = [&] {  // this thread's placement decisions into our counters
            const std::uint64_t i1 = inline_now(), h1 = hops_now();
            counters_.bump(counters_.cont_inline, i1 - inline0);
            counters_.bump(counters_.cont_hop, h1 - hop0);
            inline0 = i1;
            hop0 = h1;
        };
        for (;;) {
            counters_.bump(counters_.loops);
            immediate_left_ = cfg_.immediate_budget;
            adaptive_overrun_ = false;
            drain_incoming();
            run_ready();
            fire_timers();
            if (stop_requested_.load(acquire)) {  // order: acquire — pairs with shutdown()'s release
                break;
            }
            fold_placements();  // before sleeping too, so an idle reactor's counters are exact
            backend_->poll(next_timeout());
            sleeping_.store(0, relaxed);  // order: relaxed — only this thread acts on it
            fold_placements();
        }
        drain_for_shutdown();
        current_reactor_slot() = nullptr;
    }

    /// Any thread: asks run() to return; it first ends every op (canceled) — see §6 of the note.
    void shutdown() noexcept {
        stop_requested_.store(true, release);  // order: release — pairs with run()'s acquire
        backend_->wake();
    }

private:
    friend struct cancel_request;

    void wake_if_sleeping() noexcept {
        // R1, producer side: the push above, then StoreLoad, then read sleeping_
        if (store_load_barrier_then_load(sleeping_) != 0 && sleeping_.exchange(0, acq_rel) != 0) {
            // order: acq_rel — one producer wins the right to write the eventfd per sleep
            counters_.wakeups.fetch_add(1, relaxed);  // order: relaxed — a statistic
            backend_->wake();
        }
    }

    /// R1, reactor side: publish the intent to sleep, then re-check the queue.
    std::int64_t next_timeout() noexcept {
        if (!ready_.empty()) {
            return 0;
        }
        std::int64_t timeout = -1;
        if (!timers_.empty()) {
            const auto now = io_clock::now();
            const auto due = timers_.front()->deadline;
            if (due <= now) {
                return 0;
            }
            if (due != io_clock::time_point::max()) {
                timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(due - now).count();
            }
        }
        sleeping_.store(1, relaxed);  // order: relaxed — the barrier below orders it (R1)
        (void)store_load_barrier_then_load(sleeping_);
        if (!incoming_.empty_hint() || stop_requested_.load(acquire)) {  // order: acquire — as in run()
            sleeping_.store(0, relaxed);  // order: relaxed — this thread's own flag
            return 0;
        }
        return timeout;
    }

    void drain_incoming() {
        work_item* batch[64];
        for (;;) {
            const std::size_t n = incoming_.pop_batch_exclusive(batch, 64);
            for (std::size_t i = 0; i < n; ++i) {
                batch[i]->run();
            }
            if (n < 64) {
                return;
            }
        }
    }

    void run_ready() noexcept {
        op_fifo now = std::exchange(ready_, op_fifo{});
        while (io_op* op = now.pop()) {
            finish(op);
        }
    }

    // --- timers: a binary min-heap on deadline; heap_index kept in the op ---------------
    void add_timer(io_op* op) {
        op->phase = op_phase::timer;
        op->heap_index = timers_.size();
        timers_.push_back(op);
        sift_up(op->heap_index);
    }
    void remove_timer(io_op* op) noexcept {
        const std::size_t i = op->heap_index;
        io_op* last = timers_.back();
        timers_.pop_back();
        if (last != op) {
            timers_[i] = last;
            last->heap_index = i;
            sift_down(i);
            sift_up(last->heap_index);
        }
    }
    void fire_timers() noexcept {
        if (timers_.empty()) {
            return;
        }
        const auto now = io_clock::now();
        // One at a time from the top: a timer canceled by an earlier one's continuation has
        // left the heap before it could be popped (reliability §1 F30).
        while (!timers_.empty() && timers_.front()->deadline <= now) {
            io_op* op = timers_.front();
            remove_timer(op);
            op->result = 0;
            counters_.bump(counters_.timers_fired);
            finish(op);
        }
    }
    void sift_up(std::size_t i) noexcept {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!(timers_[i]->deadline < timers_[parent]->deadline)) {
                break;
            }
            swap_timers(i, parent);
            i = parent;
        }
    }
    void sift_down(std::size_t i) noexcept {
        for (;;) {
            std::size_t smallest = i;
            for (std::size_t c = 2 * i + 1; c <= 2 * i + 2 && c < timers_.size(); ++c) {
                if (timers_[c]->deadline < timers_[smallest]->deadline) {
                    smallest = c;
                }
            }
            if (smallest == i) {
                return;
            }
            swap_timers(i, smallest);
            i = smallest;
        }
    }
    void swap_timers(std::size_t a, std::size_t b) noexcept {
        std::swap(timers_[a], timers_[b]);
        timers_[a]->heap_index = a;
        timers_[b]->heap_index = b;
    }

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

    void drain_for_shutdown() noexcept {
        stopping_ = true;
        // R2: no push from another thread lands after this
        admission_.fetch_or(1u, acq_rel);  // order: acq_rel — pairs with push()'s acquire/release
        while (admission_.load(acquire) != 1u) {  // order: acquire — sees the pushers' release
            std::this_thread::yield();
        }
        for (;;) {
            discard_incoming();
            run_ready();
            for (io_op* op = inflight_; op != nullptr;) {
                io_op* next = op->inflight_next;  // cancel_op may finish (unlink) op
                cancel_op(op);  // idempotent: a cancel already under way is not sent twice
                op = next;
            }
            if (inflight_ == nullptr && incoming_.empty_hint()) {
                break;
            }
            backend_->poll(inflight_ != nullptr ? 10'000'000 : 0);
        }
        late_admission_.fetch_or(1u, acq_rel);  // order: acq_rel — as admission_ above
        while (late_admission_.load(acquire) != 1u) {  // order: acquire — the last close requests
            std::this_thread::yield();
        }
        discard_incoming();  // close requests run (the backend is still here), nothing else is left
    }
    void discard_incoming() noexcept {
        work_item* batch[64];
        std::size_t n = 0;
        while ((n = incoming_.pop_batch_exclusive(batch, 64)) != 0) {
            for (std::size_t i = 0; i < n; ++i) {
                batch[i]->discard();
            }
        }
    }
    void close_after_shutdown(descriptor* d) noexcept {
        // The reactor is gone or going: no op can be in flight on d (shutdown ended them all).
        if (!d->closed) {
            d->closed = true;
            sys().close(d->fd);  // leaves the epoll set with it
            if (d->registered) {  // nobody polls any more: drop epoll's reference too
                d->registered = false;
                d->release_ref();
            }
        }
        d->release_ref();
    }

public:
    /// Discarding an op start at shutdown: its task completes canceled.
    void discard_op(io_op* op) noexcept {
        if (op->phase == op_phase::blocking) {  // a blocking-pool result: deliver it
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
    injection_queue incoming_;
    atomic<std::uint32_t> sleeping_{0};  // 1: the reactor is (about to be) blocked in poll (R1)
    atomic<std::uint32_t> admission_{0};   // bit 0: closed; +2 per push in progress (R2)
    atomic<std::uint32_t> late_admission_{0};  // close requests during shutdown (R2)
    atomic<bool> stop_requested_{false};

    // --- reactor thread only ----------------------------------------------------------------
    bool stopping_ = false;
    std::size_t immediate_left_ = 0;
    // adaptive policy (A1–A3)
    static constexpr std::int64_t adaptive_first_probe_gap_ns = 1'000'000;
    static constexpr std::int64_t adaptive_last_probe_gap_ns = 64'000'000;
    bool adaptive_overrun_ = false;     ///< A2: this loop turn had an overrun
    bool adaptive_hopping_ = false;     ///< A3: the average is over budget
    bool adaptive_ran_inline_ = false;  ///< the decision for the continuation being completed
    std::int64_t adaptive_ewma_ns_ = 0; ///< 1/8 moving average of inline continuation times
    std::int64_t adaptive_probe_gap_ns_ = adaptive_first_probe_gap_ns;
    std::int64_t adaptive_next_probe_ns_ = 0;
    op_fifo ready_;
    std::vector<io_op*> timers_;
    io_op* inflight_ = nullptr;
    reactor_counters counters_;
};

inline void io_op::on_item(work_item* w, bool run) noexcept {
    auto* op = detail::down_cast<io_op>(w);
    reactor* r = op->owner;
    if (op->phase == op_phase::blocking) {
        r->finish_blocking(op);
    } else if (run) {
        op->retain();  // its task may be gone: keep it alive through begin()
        try {
            r->begin(op);
        } catch (...) {  // a failed registration: nothing started
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
    d->owner->close_now(d);  // at shutdown's final drain too: the backend is still there
}

inline void reactor::finish_blocking(io_op* op) noexcept {
    const std::int64_t res = op->result;
    op->result = 0;
    if (descriptor* d = op->desc; d != nullptr && --d->blocking_ops == 0 && d->closed && d->fd >= 0) {
        sys().close(d->fd);  // E5: the close waited for the last pool op on the fd
        d->fd = -1;
    }
    if (!settle(op, res)) {
        if (op->desc != nullptr && op->desc->closed) {
            op->closed = true;
            op->result = -ECANCELED;
        } else {
            backend_->begin(op);  // exact op: the rest goes back to the pool
            return;
        }
    }
    finish(op);
}

}  // namespace weft::detail::io
