// weft/detail/strand_core.hpp — the engine behind weft::strand: a queue and a counter in front
// of a base scheduler, and the drain that runs the queue on the base's threads.
//
// Design note
// ===========
// A strand is a queue and a counter in front of a base scheduler.
//
// schedule(w):  (1) pending_ += 1   (2) push w on the queue   (3) if pending_ was 0 before (1),
//               this producer *starts the drain*: it hands the strand's drain item to the base.
// drain:        on whatever thread the base gives it, takes items from the queue in order and
//               runs them, then subtracts how many it took from pending_ (settle, between
//               items only). When that brings pending_ to 0 the drain ends; the next producer
//               to see 0 starts a new one.
//
// Invariant S1: a drain exists (queued on the base, or running) exactly while pending_ > 0.
//   The producer that moves pending_ 0 -> 1 creates it; only the drain moves pending_ back to
//   0, and then it ends. So there is never more than one drain: never two items at once.
// Invariant S2: pending_ >= the number of items in the queue. A producer counts before it
//   pushes, so the drain never takes an item that is not counted yet (pushing first would let
//   the drain subtract an uncounted item, wrap pending_ and lose the next start).
// FIFO: one queue (detail/mpsc_queue.hpp, wait-free for producers), one consumer (the drain,
//   so no consumer lock); the queue keeps each producer's order, and the drain runs items in
//   queue order.
// The busy window: between (1) and (2) a producer has counted an item the drain cannot see
//   yet. The drain spins briefly (with yields) for it, then reschedules itself on the base
//   instead of holding the thread while a preempted producer sleeps.
// Fairness: a drain runs at most `drain_budget` items per visit, then reschedules itself, so
//   a busy strand shares the base's threads with other work.
// Refusal: if the base refuses the drain (shut down), the producer that started it owns the
//   queue: it takes its own item back out (it is the first: pending_ was 0) and throws the
//   base's error; items that other producers pushed meanwhile are discarded (canceled). If the
//   base accepts the drain and later discards it, the drain discards every item.
// Helping: a blocking wait (get()) inside an item runs the strand's next items on the waiting
//   thread, through the drain it owns (help_next): the batch lives in the core, not on the
//   drain's stack, so the nested run takes the same items in the same order, and pending_ is
//   settled only between the outer drain's items, so it never reaches 0 (and lets a second
//   drain start) while the waiting item still runs. Tests: tests/composition_test.cpp.
// Lifetime: the strand object owns one reference to the core; a drain in flight owns another.
//   Destroying the strand marks the core closed: items not yet started are discarded (their
//   tasks complete canceled) by the drain in flight; an item already running finishes.
// Tests: tests/strand_test.cpp (the busy window entered on purpose through the test hook
//   "strand.between_count_and_push"; with push-before-count planted, that test fails: the drain
//   runs the uncounted item early and never ends), tests/stress/strand_stress.cpp (8 threads x
//   100,000 items, per-producer FIFO and no overlap under TSan), and
//   tests/stress/scheduler_shutdown_stress.cpp (the base shut down at random points).
// Orders: see the `// order:` comments; pending_'s RMWs are acq_rel so that a new drainer sees
//   everything the previous one did (the queue's head) and the drain sees the pushed items.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/mpsc_queue.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/test_hooks.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// References: the strand object owns one, a drain in flight (queued or running) another.
class strand_core final
    : public work_item
    , public ref_counted<strand_core> {
public:
    /// Items one visit of the drain runs before it gives the base's thread back.
    static constexpr std::size_t drain_budget = 64;
    /// Items taken from the queue at once.
    static constexpr std::size_t batch = 16;
    /// How long the drain waits for a counted item to be pushed before it reschedules.
    static constexpr std::chrono::microseconds busy_wait{5};

    explicit strand_core(any_scheduler base) noexcept : work_item(&invoke), base_(base) {}

    void set_self(any_scheduler self) noexcept { self_ = self; }

    void schedule(work_item* w) {
        // order: acq_rel — acquire: a producer that becomes the drainer sees what the last drain
        //        did (it ended with a release on pending_); release: kept symmetric with the
        //        drain's RMWs (the same instruction on x86). S2 needs no more: the count is
        //        sequenced before the push, whose release store the drain acquires before its
        //        own RMW on pending_, so that RMW comes after this one in pending_'s order.
        const std::uint64_t before = pending_.fetch_add(1, acq_rel);
        // order: relaxed — a total; on pending_'s cache line, which this thread now owns
        scheduled_.add();
        test_hook("strand.between_count_and_push"); // the busy window (tests only)
        queue_.push(w);
        if (before != 0) {
            return; // a drain exists (S1) and will reach w
        }
        add_ref();
        try {
            base_.schedule(this);
        } catch (...) {
            release_ref();
            refuse(w);
            throw;
        }
    }

    scheduler_stats stats() const noexcept {
        scheduler_stats s;
        s.ran = ran_.load(); // totals, exact once the strand is quiet
        s.discarded = discarded_.load();
        s.scheduled = scheduled_.load();
        return s;
    }

    /// Helping: a blocking wait inside one of this strand's items runs the next item here, on
    /// the drain that this thread owns (blocking_wait.hpp, context_wait_helper). The strand
    /// runs nothing else until the waiting item returns, so a wait for work queued behind it
    /// (or for a continuation that comes back to it, §1a of the placement note) would never
    /// end otherwise. Items nest on this thread, in queue order: still one at a time.
    bool help_next() noexcept {
        work_item* w = next_item();
        if (w == nullptr) {
            return false;
        }
        run_one(w);
        return true;
    }

    void close() noexcept {
        closed_.store(true, release); // order: release — pairs with the drain's acquire load
        release_ref();
    }

private:
    friend class ref_counted<strand_core>;
    ~strand_core() = default;

    /// The drain item: run by the base (run == true) or discarded by it (run == false).
    static void invoke(work_item* self_item, bool run) noexcept {
        auto* self = detail::down_cast<strand_core>(self_item);
        bool ended = true;
        {
            // The strand is current while its items run — and while they are discarded, so a
            // continuation captured on the strand that a discard completes runs here, inline,
            // instead of being sent to a strand that may be gone.
            scheduler_scope scope(self->self_);
            if (run) {
                ended = self->drain();
            } else {
                self->discard_all(nullptr);
            }
        }
        if (ended) {
            self->release_ref(); // the drain ended (pending_ reached 0)
        }
    }

    /// One visit. Returns true when the drain ended, false when it rescheduled itself.
    bool drain() noexcept {
        std::size_t visited = 0;
        for (;;) {
            work_item* w = nullptr;
            // none with pending_ > 0: counted but not pushed yet (the busy window). Wait
            // briefly for the producer, then give the thread back rather than hold it.
            if (!spin_until([&] { return (w = next_item()) != nullptr; }, busy_wait)) {
                return settle() || reschedule();
            }
            run_one(w);
            ++visited;
            if (batch_next_ == batch_len_) { // every item taken so far has run (nested ones too)
                if (settle()) {
                    return true;
                }
                if (visited >= drain_budget) {
                    return reschedule();
                }
            }
        }
    }

    /// The next queued item, in order: the rest of the batch taken, else a new batch. Drain
    /// owner only; nullptr when nothing is pushed.
    work_item* next_item() noexcept {
        if (batch_next_ == batch_len_) {
            batch_len_ = queue_.pop_batch_exclusive(batch_, batch);
            batch_next_ = 0;
            taken_ += batch_len_;
            if (batch_len_ == 0) {
                return nullptr;
            }
        }
        return batch_[batch_next_++];
    }

    void run_one(work_item* w) noexcept {
        // order: acquire — pairs with close()'s release; an item not started when the strand
        //        was destroyed is discarded
        if (closed_.load(acquire)) {
            discarded_.bump();
            w->discard();
        } else {
            ran_.bump(); // before it runs: a waiter on its task sees it counted
            w->run();
        }
    }

    /// Subtracts the items taken (and run) from pending_; true when that ended the drain.
    /// Only between items: while one runs, pending_ counts it, so no second drain can start.
    bool settle() noexcept {
        const std::size_t n = std::exchange(taken_, 0);
        // order: acq_rel — release: our work (and the queue's head) is visible to the next
        //        drainer; acquire: see schedule()
        return n != 0 && pending_.fetch_sub(n, acq_rel) == n;
    }

    /// Gives the thread back to the base, keeping the drain role (and its reference).
    bool reschedule() noexcept {
        try {
            base_.schedule(this);
        } catch (...) {
            discard_all(nullptr); // the base shut down: nothing queued here can run any more
            return true;
        }
        return false;
    }

    /// As the drain owner: discards every counted item (except `keep`, which is taken out and
    /// left to its producer) until pending_ reaches 0, which ends the drain.
    void discard_all(work_item* keep) noexcept {
        work_item* items[batch];
        for (;;) {
            std::size_t n = 0;
            if (!spin_until([&] { return (n = queue_.pop_batch_exclusive(items, batch)) != 0; }, busy_wait)) {
                continue; // the busy window: a counted item is about to be pushed
            }
            for (std::size_t i = 0; i < n; ++i) {
                if (items[i] != keep) {
                    discarded_.bump();
                    items[i]->discard();
                }
            }
            // order: acq_rel — as in drain()
            if (pending_.fetch_sub(n, acq_rel) == n) {
                return;
            }
        }
    }

    /// The producer that started the drain was refused by the base: it owns the queue.
    void refuse(work_item* own) noexcept {
        scheduled_.sub(); // `own` was not accepted
        discard_all(own);
    }

    any_scheduler base_;
    any_scheduler self_; // the strand object: current_scheduler() while an item runs
    mpsc_queue queue_;
    alignas(WEFT_CACHE_LINE) atomic<std::uint64_t> pending_{0}; // S1, S2
    stat_counter scheduled_; // accepted items (a refused one is taken back off); any thread
    alignas(WEFT_CACHE_LINE) atomic<bool> closed_{false};
    // written by the drain owner only (bump): one writer at a time, S1 hands the role over with
    // acq_rel on pending_
    stat_counter ran_;
    stat_counter discarded_;
    // the drain's batch, owned like ran_ by the drain owner (nested helpers run on its thread)
    work_item* batch_[batch] = {};
    std::size_t batch_next_ = 0;
    std::size_t batch_len_ = 0;
    std::size_t taken_ = 0; // taken from the queue, not yet subtracted from pending_
};

} // namespace weft::detail
