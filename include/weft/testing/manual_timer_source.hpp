// weft/testing/manual_timer_source.hpp — virtual time for tests: a timer_source whose clock
// moves only when the test says so (.NET FakeTimeProvider).
// Design note: docs/decisions/0016-timers-and-virtual-time.md; guide: docs/guide/testing.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/timer_source.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stdexcept>

namespace weft::testing {

/// A timer_source on a manual clock. Time starts at `start` and moves only by advance() /
/// advance_to(); the timers that fall due run inside that call, on the calling thread, one at
/// a time in deadline order (ties: the order they were scheduled), each with now() equal to
/// its own deadline. A timer scheduled by a callback for a time within the advance runs in the
/// same advance. Give it to anything that takes a `timer_source&` (delay, with_timeout,
/// periodic_timer, callback_timer, cancellation_source::cancel_after): a test of an hour of
/// timeouts runs in microseconds, and the same way every time.
///
/// Thread safety: every member from any thread; advances are serialised (a second thread's
/// advance waits for the first). A callback may schedule, cancel and read now(); it may not
/// advance (std::logic_error: the clock would move under the advance in progress).
/// Exceptions:  advance(): std::invalid_argument for a negative step; a callback's exception
///              goes to the unobserved-exception handler, and the advance goes on.
class manual_timer_source final : public timer_source {
public:
    /// A fixed start (not the real clock): runs repeat exactly.
    static constexpr time_point default_start = time_point(std::chrono::hours(24));

    explicit manual_timer_source(time_point start = default_start) : now_(start) {}
    ~manual_timer_source() {
        detail::timer_table dropped; // callbacks never run: destroyed outside the lock
        std::lock_guard lock(mutex_);
        std::swap(dropped, timers_);
    }

    time_point now() const override {
        std::lock_guard lock(mutex_);
        return now_;
    }

    timer_id schedule(time_point when, std::function<void()> fn) override {
        std::lock_guard lock(mutex_);
        return timers_.add(when, std::move(fn));
    }

    bool cancel(timer_id id) override {
        std::function<void()> fn;
        {
            std::lock_guard lock(mutex_);
            fn = timers_.remove(id);
        }
        return static_cast<bool>(fn);
    }

    std::size_t pending() const override {
        std::lock_guard lock(mutex_);
        return timers_.size();
    }

    /// Moves the clock forward by `step`, running every timer that falls due; returns how many
    /// ran.
    std::size_t advance(duration step) {
        if (step < duration::zero()) {
            throw std::invalid_argument("weft: manual_timer_source cannot go back in time");
        }
        // the target is taken under the advance lock: two threads' steps add up, none is lost
        return advance_serially(
            [step](time_point now) { return step >= time_point::max() - now ? time_point::max() : now + step; });
    }

    /// Moves the clock forward to `target` (a time already passed: std::invalid_argument).
    std::size_t advance_to(time_point target) {
        return advance_serially([target](time_point) { return target; });
    }

    /// Runs the timers already due (deadline <= now()) without moving the clock.
    std::size_t run_due() { return advance(duration::zero()); }

private:
    /// One advance, under the advance lock: `target_from(now)` says where to.
    template<typename Target>
    std::size_t advance_serially(Target target_from) {
        if (advancing_here() == this) {
            throw std::logic_error("weft: manual_timer_source::advance from inside one of its callbacks");
        }
        std::lock_guard serial(advance_mutex_);
        struct mark_thread {
            const manual_timer_source* previous;
            explicit mark_thread(const manual_timer_source* self) : previous(advancing_here()) {
                advancing_here() = self;
            }
            ~mark_thread() { advancing_here() = previous; }
        } mark{this};
        std::unique_lock lock(mutex_);
        const time_point target = target_from(now_);
        if (target < now_) {
            throw std::invalid_argument("weft: manual_timer_source cannot go back in time");
        }
        std::size_t ran = 0;
        while (!timers_.empty() && timers_.earliest() <= target) {
            now_ = std::max(now_, timers_.earliest());
            std::function<void()> fn = timers_.pop_earliest();
            lock.unlock();
            detail::run_timer_callback(fn);
            fn = nullptr;
            ++ran;
            lock.lock();
        }
        now_ = target;
        return ran;
    }

    /// The source this thread is advancing (nested advances of other sources are fine).
    static const manual_timer_source*& advancing_here() noexcept {
        static thread_local const manual_timer_source* source = nullptr;
        return source;
    }

    std::mutex advance_mutex_; // one advance at a time
    mutable std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    time_point now_;
    detail::timer_table timers_; // exactly the timers that have neither run nor been canceled
};

} // namespace weft::testing
