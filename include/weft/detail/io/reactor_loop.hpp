// weft/detail/io/reactor_loop.hpp — the reactor's loop: one turn (drain the incoming queue,
// the ready list, the timers, then poll the backend), going to sleep without losing a wake-up,
// and the drain at shutdown.
// Design note: §2 (one loop turn), §3 (wake-ups) and §10 (shutdown) of the reactor note,
// weft/detail/io/reactor.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/io/op.hpp>
#include <weft/detail/io/reactor.hpp>
#include <weft/detail/placement.hpp>
#include <weft/detail/placement_counters.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <utility>

namespace weft::detail::io {

/// The thread body. Returns after shutdown() once every op has finished.
inline void reactor::run(const any_scheduler& self_as_scheduler) {
    current_reactor_slot() = this;
    scheduler_scope scope(self_as_scheduler);
    forbid_blocking_scope forbid("weft: get()/wait() on an I/O thread on a task that is not complete: only "
                                 "this thread completes its io_context's I/O and timers (co_await the task, "
                                 "or hop to another scheduler first)");
    placement_block& block = this_thread_placement_block(); // this thread's, read once
    placements_ = &block;                                   // finish() reads it too (§7)
    auto at = [&](placement_counter c) {
        return block[c].load();
    };
    auto inline_now = [&] {
        return at(placement_counter::source_inline) + at(placement_counter::named_inline) +
               at(placement_counter::captured_inline) + at(placement_counter::completing_inline);
    };
    auto hops_now = [&] {
        return at(placement_counter::source_hop) + at(placement_counter::named_hop) +
               at(placement_counter::captured_hop);
    };
    std::uint64_t finished0 = counters_[io_counter::ops_finished].load();
    bool spin_found = false; // the last spin ended because work arrived
    std::uint64_t inline0 = inline_now();
    std::uint64_t hop0 = hops_now();
    auto fold_placements = [&] { // this thread's placement decisions into our counters
        const std::uint64_t i1 = inline_now(), h1 = hops_now();
        counters_[io_counter::continuations_inline].bump(i1 - inline0);
        counters_[io_counter::continuations_hopped].bump(h1 - hop0);
        inline0 = i1;
        hop0 = h1;
    };
    for (;;) {
        counters_[io_counter::loops].bump();
        immediate_left_ = cfg_.immediate_budget;
        adaptive_.new_turn();
        const std::size_t drained = drain_incoming();
        run_ready();
        fire_timers();
        if (stop_requested_.load(acquire)) { // order: acquire — pairs with shutdown()'s release
            break;
        }
        fold_placements(); // before sleeping too, so an idle reactor's counters are exact
        const std::uint64_t finished1 = counters_[io_counter::ops_finished].load();
        // A busy turn (§2 (g)): more work is likely to come soon. So is a turn that follows a
        // spin that found something: what it found may have been a late wake-up's completion
        // (nothing drained, no op finished), and sleeping then would cost the next hand-over
        // a wake-up of its own, and so on.
        spin_found = (drained != 0 || finished1 != finished0 || spin_found) && spin_before_sleep();
        finished0 = finished1;
        backend_->poll(spin_found ? 0 : next_timeout()); // found work: take it, announce no sleep
        sleeping_.store(0, relaxed);                     // order: relaxed — only this thread acts on it
        fold_placements();
    }
    drain_for_shutdown();
    current_reactor_slot() = nullptr;
}

/// §3, reactor side: publish the intent to sleep, then re-check the queue.
inline std::int64_t reactor::next_timeout() noexcept {
    if (!ready_.empty()) {
        return 0;
    }
    std::int64_t timeout = -1;
    if (!timers_.empty()) {
        const auto now = io_clock::now();
        const auto due = timers_.top()->deadline;
        if (due <= now) {
            return 0;
        }
        if (due != io_clock::time_point::max()) {
            timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(due - now).count();
        }
    }
    sleeping_.store(1, relaxed); // order: relaxed — the barrier below orders it (§3)
    (void)store_load_barrier_then_load(sleeping_);
    if (!incoming_.empty_hint() || stop_requested_.load(acquire)) { // order: acquire — as in run()
        sleeping_.store(0, relaxed);                                // order: relaxed — this thread's own flag
        return 0;
    }
    return timeout;
}

inline std::size_t reactor::drain_incoming() {
    work_item* batch[64];
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = incoming_.pop_batch_exclusive(batch, 64);
        for (std::size_t i = 0; i < n; ++i) {
            batch[i]->run();
        }
        total += n;
        if (n < 64) {
            return total;
        }
    }
}

/// §2 (g): after a busy turn, watch the incoming queue and the completion ring for up to
/// spin_ns before sleeping. sleeping_ stays 0 meanwhile, so a producer pushes without writing
/// the eventfd. Only with something in flight or a backend that shows completions without a
/// system call; not while a timer is due sooner than the spin would last. True if work came.
inline bool reactor::spin_before_sleep() noexcept {
    if (cfg_.spin_ns <= 0 || !backend_->can_spin()) {
        return false;
    }
    if (!ready_.empty() || !incoming_.empty_hint()) {
        return true; // work is there already: no sleep is coming
    }
    auto budget = std::chrono::nanoseconds(cfg_.spin_ns);
    if (!timers_.empty()) {
        const auto left = timers_.top()->deadline - io_clock::now();
        if (left <= budget) {
            return false; // the timer's own wait is the better one
        }
    }
    backend_->submit_pending();
    return spin_until(
        [this] {
            // order: acquire — as in run(): a shutdown request is seen
            return !incoming_.empty_hint() || backend_->completions_ready() || stop_requested_.load(acquire);
        },
        budget);
}

inline void reactor::run_ready() noexcept {
    op_fifo now = std::exchange(ready_, op_fifo{});
    while (io_op* op = now.pop()) {
        finish(op);
    }
}

inline void reactor::fire_timers() noexcept {
    if (timers_.empty()) {
        return;
    }
    const auto now = io_clock::now();
    // One at a time from the top: a timer canceled by an earlier one's continuation has
    // left the heap before it could be popped (§2 d).
    while (!timers_.empty() && timers_.top()->deadline <= now) {
        io_op* op = timers_.top();
        timers_.remove(op);
        op->result = 0;
        counters_[io_counter::timers_fired].bump();
        finish(op);
    }
}

inline void reactor::drain_for_shutdown() noexcept {
    stopping_ = true;
    // §4: no push from another thread lands after this
    admission_.fetch_or(1u, acq_rel);        // order: acq_rel — pairs with push()'s acquire/release
    while (admission_.load(acquire) != 1u) { // order: acquire — sees the pushers' release
        std::this_thread::yield();
    }
    for (;;) {
        discard_incoming();
        run_ready();
        for (io_op* op = inflight_; op != nullptr;) {
            io_op* next = op->inflight_next; // cancel_op may finish (unlink) op
            cancel_op(op);                   // idempotent: a cancel already under way is not sent twice
            op = next;
        }
        if (inflight_ == nullptr && incoming_.empty_hint()) {
            break;
        }
        backend_->poll(inflight_ != nullptr ? 10'000'000 : 0);
    }
    late_admission_.fetch_or(1u, acq_rel);        // order: acq_rel — as admission_ above
    while (late_admission_.load(acquire) != 1u) { // order: acquire — the last close requests
        std::this_thread::yield();
    }
    discard_incoming(); // close requests run (the backend is still here), nothing else is left
}

inline void reactor::discard_incoming() noexcept {
    work_item* batch[64];
    std::size_t n = 0;
    while ((n = incoming_.pop_batch_exclusive(batch, 64)) != 0) {
        for (std::size_t i = 0; i < n; ++i) {
            batch[i]->discard();
        }
    }
}

} // namespace weft::detail::io
