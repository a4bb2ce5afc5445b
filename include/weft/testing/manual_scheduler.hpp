// weft/testing/manual_scheduler.hpp — a scheduler a test drives step by step: schedule()
// queues, run_one() / run_all() run on the calling thread, close() refuses new work.
// Design note: docs/decisions/0016-timers-and-virtual-time.md; guide: docs/guide/testing.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <cstddef>
#include <deque>
#include <mutex>

namespace weft::testing {

/// A FIFO queue of work that runs only when the test says: run_one() runs the oldest item,
/// run_all() runs until the queue is empty (items queued meanwhile included). With a
/// manual_timer_source it makes a test of continuations and timers deterministic: the test
/// decides every step, on one thread.
///
/// Thread safety: every member from any thread; items run on the thread that calls run_*.
/// Lifetime:      the destructor discards the items still queued (their tasks complete
///                canceled); it must outlive every schedule() call.
/// Exceptions:    schedule() throws weft::shutdown_error after close(); work items never throw.
class manual_scheduler {
public:
    manual_scheduler() = default;
    manual_scheduler(const manual_scheduler&) = delete;
    manual_scheduler& operator=(const manual_scheduler&) = delete;
    ~manual_scheduler() { (void)discard_all(); }

    /// See the `scheduler` concept.
    void schedule(work_item* w) {
        std::lock_guard lock(mutex_);
        if (closed_) {
            throw shutdown_error{};
        }
        queue_.push_back(w);
        ++scheduled_;
    }
    /// True while this scheduler runs an item on the calling thread (placement then runs a
    /// continuation bound here inline).
    bool runs_on_this_thread() const noexcept { return running_here() == this; }

    /// Runs the oldest queued item on the calling thread; false if none was queued.
    bool run_one() {
        work_item* w = pop();
        if (w == nullptr) {
            return false;
        }
        run(w);
        return true;
    }
    /// Runs queued items (and the items they queue) until the queue is empty; returns how many.
    std::size_t run_all() {
        std::size_t n = 0;
        while (work_item* w = pop()) {
            run(w);
            ++n;
        }
        return n;
    }
    /// Discards every queued item (each work item's discard(): its task completes canceled).
    std::size_t discard_all() noexcept {
        std::size_t n = 0;
        while (work_item* w = pop()) {
            w->discard();
            ++n;
        }
        return n;
    }
    /// From now on schedule() throws shutdown_error (queued items stay queued).
    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    /// Items waiting to run.
    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    /// Items ever accepted by schedule().
    std::size_t scheduled() const {
        std::lock_guard lock(mutex_);
        return scheduled_;
    }

private:
    static const manual_scheduler*& running_here() noexcept {
        static thread_local const manual_scheduler* running = nullptr;
        return running;
    }
    void run(work_item* w) {
        scheduler_scope scope{any_scheduler(*this)};
        struct mark_thread {
            const manual_scheduler* previous;
            explicit mark_thread(const manual_scheduler* self) : previous(running_here()) { running_here() = self; }
            ~mark_thread() { running_here() = previous; }
        } mark{this};
        w->run();
    }
    work_item* pop() noexcept {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) {
            return nullptr;
        }
        work_item* w = queue_.front();
        queue_.pop_front();
        return w;
    }

    mutable std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    std::deque<work_item*> queue_;
    std::size_t scheduled_ = 0;
    bool closed_ = false;
};

} // namespace weft::testing
