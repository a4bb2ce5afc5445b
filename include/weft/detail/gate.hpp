// weft/detail/gate.hpp — the engine behind limited_scheduler and concurrent_exclusive_pair:
// admits work to a base scheduler under a concurrency rule, and owns no thread.
//
// Design note
// ===========
// Two FIFO queues (concurrent, exclusive) and the counts of what runs, under one mutex. An item
// may start when the rule allows it:
//   exclusive:  nothing runs (no concurrent item, no exclusive item);
//   concurrent: no exclusive item runs or waits (writers are preferred), and fewer than
//               max_concurrency concurrent items run.
// An item that may start is handed to a *runner*: a small work item scheduled on the base that
// runs the item, then, under the mutex, counts it finished and takes the next item that may
// start (running up to `runner_budget` items per visit before it reschedules itself, so it
// shares the base). Items that become startable at once (an exclusive item ends and several
// concurrent ones may go) get one runner each. Runners are recycled through a free list: at
// most max_concurrency + 1 exist.
// Invariant G1 (the rule): running_concurrent_ <= max_concurrency_, running_exclusive_ implies
//   running_concurrent_ == 0, and both change only under mutex_, as an item is handed to a
//   runner (start) and after it ran (finish).
// Refusal: the base refusing a runner (shut down) cannot strand queued work: the runner then
//   runs in discard mode, discarding its item and every item it would have started next (their
//   tasks complete canceled); the same when the base accepts a runner and later discards it.
//   One exception: when the refused runner carries the very item being scheduled, that item
//   is taken back and schedule() rethrows the base's error (the caller keeps the item, as
//   the `scheduler` concept allows), like the pool and the strand do.
// Closing: close() (the scheduler's destructor) refuses new work, discards the queued items and
//   lets running ones finish. complete() refuses new work and lets the queue drain; the
//   completion task completes when nothing is queued or running.
// Lifetime: the front object owns one reference to the gate, each runner in flight another.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/errors.hpp>
#include <weft/promise.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace weft::detail {

enum class gate_side : std::uint8_t {
    concurrent = 0,
    exclusive = 1
};

/// References: the front object owns one, each started item (on its runner) another.
class gate : public ref_counted<gate> {
public:
    /// Items one runner visit runs before it gives the base's thread back.
    static constexpr unsigned runner_budget = 16;

    /// A new gate, holding one reference (the caller's front object's). Throws
    /// std::invalid_argument, naming `owner`, for an empty base or a zero limit.
    static gate* create(any_scheduler base, std::size_t max_concurrency, const char* owner) {
        if (!base) {
            throw std::invalid_argument(std::string("weft: ") + owner + " over an empty any_scheduler");
        }
        if (max_concurrency == 0) {
            throw std::invalid_argument(std::string("weft: ") + owner + " with max_concurrency 0");
        }
        return new gate(base, max_concurrency);
    }

    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;

    void set_side_identity(gate_side side, any_scheduler handle) noexcept { sides_[index(side)] = handle; }

    void schedule(work_item* w, gate_side side) {
        startable start;
        {
            std::lock_guard lock(mutex_);
            if (closed_ || completing_) {
                throw shutdown_error("weft: the scheduler was completed or destroyed");
            }
            queued_[index(side)].push(w);
            ++scheduled_;
            start = take_startable_locked(nullptr);
        }
        if (std::exception_ptr refused = launch(start, w)) {
            std::rethrow_exception(refused); // w was taken back: the caller keeps it
        }
    }

    /// Refuses new work, discards what is queued, lets running items finish. Drops the
    /// front object's reference.
    void close() noexcept {
        work_item_fifo dropped[2];
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            dropped[0] = std::exchange(queued_[0], {});
            dropped[1] = std::exchange(queued_[1], {});
        }
        for (auto& q : dropped) {
            while (work_item* w = q.pop()) {
                discarded_.add();
                w->discard();
            }
        }
        complete_if_idle();
        release_ref();
    }

    /// Refuses new work; queued and running work finishes. Idempotent.
    void complete() noexcept {
        {
            std::lock_guard lock(mutex_);
            completing_ = true;
        }
        complete_if_idle();
    }
    task<void> completion() const { return completion_task_; }

    scheduler_stats stats() const {
        std::lock_guard lock(mutex_);
        // order: relaxed ×2 — totals; an item is counted before it runs or is discarded
        return {scheduled_, ran_.load(), discarded_.load()};
    }
    std::size_t max_concurrency() const noexcept { return max_concurrency_; }

private:
    friend class ref_counted<gate>;

    gate(any_scheduler base, std::size_t max_concurrency) : base_(base), max_concurrency_(max_concurrency) {}

    struct runner final : work_item {
        explicit runner(gate* g) noexcept : work_item(&invoke), owner(g) {}
        gate* owner;
        work_item* item = nullptr;
        gate_side side = gate_side::concurrent;
        runner* next_free = nullptr; // the free list, or the launch list
        static void invoke(work_item* w, bool run) noexcept {
            auto* self = detail::down_cast<runner>(w);
            self->owner->run_runner(self, run);
        }
    };

    ~gate() {
        while (runner* r = free_) {
            free_ = r->next_free;
            delete r;
        }
    }

    static constexpr unsigned index(gate_side s) noexcept { return static_cast<unsigned>(s); }

    /// Takes the next item the rule lets start, counting it as running. nullptr if none.
    work_item* take_next_locked(gate_side& side) noexcept {
        const unsigned ex = index(gate_side::exclusive);
        const unsigned co = index(gate_side::concurrent);
        if (running_exclusive_) {
            return nullptr;
        }
        if (queued_[ex].head != nullptr) {
            if (running_concurrent_ != 0) {
                return nullptr; // writers preferred: no new reader while a writer waits
            }
            running_exclusive_ = true;
            side = gate_side::exclusive;
            return queued_[ex].pop();
        }
        if (queued_[co].head != nullptr && running_concurrent_ < max_concurrency_) {
            ++running_concurrent_;
            side = gate_side::concurrent;
            return queued_[co].pop();
        }
        return nullptr;
    }

    /// What the lock holder hands out: runners to launch (`reuse` first, when it got an item)
    /// and items that could not get a runner (out of memory), to discard outside the lock.
    struct startable {
        runner* first = nullptr;
        runner* last = nullptr;
        work_item_fifo orphans;
    };

    /// Every item that may start now, each given to a runner; `reuse` takes the first one.
    /// Each started item holds a reference to the gate until it has finished.
    startable take_startable_locked(runner* reuse) noexcept {
        startable out;
        gate_side side{};
        while (work_item* w = take_next_locked(side)) {
            runner* r = std::exchange(reuse, nullptr);
            if (r == nullptr && (r = free_) != nullptr) {
                free_ = r->next_free;
            }
            if (r == nullptr && (r = new (std::nothrow) runner(this)) == nullptr) {
                finish_locked(side);
                out.orphans.push(w);
                continue;
            }
            add_ref();
            r->item = w;
            r->side = side;
            r->next_free = nullptr;
            (out.last != nullptr ? out.last->next_free : out.first) = r;
            out.last = r;
        }
        if (reuse != nullptr) {
            reuse->next_free = free_; // nothing for it: back to the free list
            free_ = reuse;
        }
        return out;
    }

    void finish_locked(gate_side side) noexcept {
        if (side == gate_side::exclusive) {
            running_exclusive_ = false;
        } else {
            --running_concurrent_;
        }
    }

    /// Outside the lock: discards the orphans, schedules each runner on the base. A refused
    /// runner discards its work at once — except `own` (the item being scheduled by the
    /// caller), which is taken back; then the base's exception is returned for the caller.
    std::exception_ptr launch(startable& s, work_item* own = nullptr) noexcept {
        while (work_item* w = s.orphans.pop()) {
            discarded_.add();
            w->discard();
        }
        std::exception_ptr own_refused;
        runner* list = s.first;
        while (list != nullptr) {
            runner* r = list;
            list = r->next_free;
            r->next_free = nullptr;
            try {
                base_.schedule(r);
            } catch (...) {
                if (r->item == own && own != nullptr) {
                    own_refused = std::current_exception();
                    take_back(r);
                } else {
                    run_runner(r, false);
                }
            }
        }
        return own_refused;
    }

    /// The base refused the runner of the item being scheduled: undo its start and its
    /// acceptance, and let whatever that unblocks go on (or be discarded, if refused too).
    void take_back(runner* r) noexcept {
        startable next;
        {
            std::lock_guard lock(mutex_);
            finish_locked(r->side);
            --scheduled_;
            r->next_free = free_;
            free_ = r;
            next = take_startable_locked(nullptr);
        }
        launch(next);
        complete_if_idle();
        release_ref(); // the reference taken when the item started; the caller's front holds one
    }

    /// A runner's visit: runs (or, refused, discards) its item and the ones it may take next.
    void run_runner(runner* r, bool run) noexcept {
        for (unsigned visited = 1;; ++visited) {
            if (run) {
                ran_.add(); // before it runs: a waiter on its task then sees it counted
                scheduler_scope scope(sides_[index(r->side)]);
                r->item->run();
            } else {
                discarded_.add();
                r->item->discard();
            }
            startable next;
            {
                std::lock_guard lock(mutex_);
                finish_locked(r->side);
                next = take_startable_locked(r);
            }
            const bool continue_here = next.first == r;
            if (continue_here) {
                next.first = r->next_free;
                r->next_free = nullptr;
            }
            launch(next);
            if (!continue_here) {
                complete_if_idle();
                release_ref(); // the finished item's reference; may delete the gate (and r)
                return;
            }
            release_ref(); // not the last: r's next item holds one
            if (run && visited >= runner_budget) {
                try {
                    base_.schedule(r); // the next visit starts with r's item
                    return;
                } catch (...) {
                    run = false; // the base shut down: discard from here on
                }
            }
        }
    }

    /// Completes completion() once complete() or close() was called and nothing is queued
    /// or running.
    void complete_if_idle() noexcept {
        {
            std::lock_guard lock(mutex_);
            if (!(completing_ || closed_) || completion_set_ || running_exclusive_ || running_concurrent_ != 0 ||
                queued_[0].head != nullptr || queued_[1].head != nullptr) {
                return;
            }
            completion_set_ = true;
        }
        completion_.try_set_value();
    }

    any_scheduler base_;
    const std::size_t max_concurrency_;
    any_scheduler sides_[2]; // current_scheduler() while an item of each side runs
    promise<void> completion_;
    task<void> completion_task_ = completion_.get_task();

    mutable std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    work_item_fifo queued_[2]; // indexed by gate_side
    std::size_t running_concurrent_ = 0;
    bool running_exclusive_ = false;
    bool completing_ = false;
    bool closed_ = false;
    bool completion_set_ = false;
    runner* free_ = nullptr;
    std::uint64_t scheduled_ = 0;
    // --- not guarded ---------------------------------------------------------------------------
    stat_counter ran_; // many runners: add()
    stat_counter discarded_;
};

} // namespace weft::detail
