// weft/callback_timer.hpp — a callback on a scheduler after a due time, then every period
// (.NET System.Threading.Timer): change() re-arms it, dispose() stops it and says when the last
// callback has ended.
// Design note: docs/decisions/0016-timers-and-virtual-time.md; guide: docs/guide/timers.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/errors.hpp>
#include <weft/promise.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/timer_source.hpp>
#include <weft/timers.hpp>
#include <weft/unobserved.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace weft {

namespace detail {

/// The state a callback_timer shares with its armed tick and its running callbacks.
class callback_timer_core : public std::enable_shared_from_this<callback_timer_core> {
public:
    using time_point = timer_source::time_point;
    using duration = timer_source::duration;

    callback_timer_core(any_scheduler sched, std::function<void()> callback, timer_source& timers)
        : sched_(sched)
        , callback_(std::move(callback))
        , timers_(&timers) {}

    /// Cancels the armed tick and arms a new one (`due` == duration::max(): none).
    bool change(duration due, duration period) {
        std::lock_guard lock(mutex_);
        if (disposed_) {
            return false;
        }
        disarm_locked();
        period_ = period;
        if (due != duration::max()) {
            arm_locked(saturating_add(timers_->now(), due));
        }
        return true;
    }

    task<void> dispose() {
        std::lock_guard lock(mutex_);
        disposed_ = true;
        disarm_locked();
        if (running_ == 0) {
            promise<void> done;
            done.set_value();
            return done.get_task();
        }
        disposed_waiters_.emplace_back();
        return disposed_waiters_.back().get_task();
    }

    std::uint64_t callbacks_started() const {
        std::lock_guard lock(mutex_);
        return started_;
    }

private:
    /// Ends one callback (run, or dropped by a refusing or shut-down scheduler).
    struct running_callback {
        std::shared_ptr<callback_timer_core> core;
        explicit running_callback(std::shared_ptr<callback_timer_core> c) : core(std::move(c)) {}
        running_callback(const running_callback&) = delete;
        running_callback& operator=(const running_callback&) = delete;
        ~running_callback() { core->callback_ended(); }
    };

    void disarm_locked() {
        ++generation_;
        if (armed_ != 0) {
            (void)timers_->cancel(armed_);
            armed_ = 0;
        }
    }

    void arm_locked(time_point when) {
        due_ = when;
        armed_ =
            timers_->schedule(when, [self = shared_from_this(), generation = generation_] { self->tick(generation); });
    }

    /// On the source's thread: re-arms the next period (fixed rate, missed ticks skipped), then
    /// hands the callback to the scheduler.
    void tick(std::uint64_t generation) {
        {
            std::lock_guard lock(mutex_);
            if (disposed_ || generation != generation_) {
                return; // changed or disposed after this tick left the source
            }
            armed_ = 0;
            if (period_ > duration::zero() && period_ != duration::max()) {
                const time_point next = next_tick(due_, period_, timers_->now());
                if (next != time_point::max()) {
                    arm_locked(next);
                }
            }
            ++running_;
            ++started_;
        }
        auto guard = std::make_shared<running_callback>(shared_from_this());
        try {
            (void)spawn(sched_, [guard] {
                try {
                    guard->core->callback_();
                } catch (...) {
                    report_unobserved(std::current_exception());
                }
            });
        } catch (...) {
            report_unobserved(std::current_exception()); // the scheduler refused the callback
        }
    }

    void callback_ended() noexcept {
        std::vector<promise<void>> waiters;
        {
            std::lock_guard lock(mutex_);
            --running_;
            if (running_ == 0 && disposed_) {
                waiters.swap(disposed_waiters_);
            }
        }
        for (auto& w : waiters) {
            w.try_set_value();
        }
    }

    const any_scheduler sched_;
    const std::function<void()> callback_;
    timer_source* const timers_;

    mutable std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    duration period_ = duration::max();
    time_point due_{};                 // when the armed tick is due
    timer_source::timer_id armed_ = 0; // the armed tick on timers_, 0 if none
    std::uint64_t generation_ = 0;     // bumped by change/dispose: older ticks do nothing
    std::uint64_t running_ = 0;        // callbacks handed to the scheduler and not ended
    std::uint64_t started_ = 0;        // callbacks ever handed to the scheduler
    bool disposed_ = false;            // once true, never false again
    std::vector<promise<void>> disposed_waiters_;
};

/// A timer duration for callback_timer: duration::max() (callback_timer::infinite) as is,
/// negative refused.
template<typename Rep, typename Period>
timer_source::duration timer_argument(std::chrono::duration<Rep, Period> d, const char* what) {
    const timer_source::duration t = saturating_duration(d);
    if (t < timer_source::duration::zero()) {
        throw std::invalid_argument(what);
    }
    return t;
}

} // namespace detail

/// Runs `callback` on a scheduler once `due` has passed, then every `period` (fixed rate:
/// due + k·period; missed periods are skipped, not bunched) (.NET System.Threading.Timer).
/// `due` == infinite: not started until change(); `period` == infinite or zero: once.
/// The timer_source (system_timers() by default) arms the ticks; each tick hands the callback to
/// the scheduler, so callbacks may overlap when one runs longer than the period on a scheduler
/// with more than one thread (as in .NET); a strand or run loop serialises them.
///
/// Thread safety: change() and dispose() from any thread, from inside the callback included.
/// Lifetime:      the scheduler and the timer_source must outlive the last callback (wait for
///                dispose()'s task). Destroying the timer disposes it without waiting.
/// Exceptions:    std::invalid_argument for a negative due or period, a NaN one, an empty
///                scheduler or an empty callback. An exception from the callback, or a
///                scheduler's refusal (shutdown_error), goes to the unobserved-exception handler.
class callback_timer {
public:
    using duration = timer_source::duration;
    /// "Never" for due, "no repeat" for period (.NET Timeout.InfiniteTimeSpan).
    static constexpr duration infinite = duration::max();

    template<typename F, typename Rep1, typename Period1, typename Rep2 = std::int64_t, typename Period2 = std::nano>
        requires std::invocable<F&> callback_timer(any_scheduler sched,
                                                   F&& callback,
                                                   std::chrono::duration<Rep1, Period1> due,
                                                   std::chrono::duration<Rep2, Period2> period = infinite,
                                                   timer_source& timers = system_timers()) {
            detail::require_scheduler(sched, "weft: callback_timer needs a scheduler");
            std::function<void()> fn(std::forward<F>(callback));
            if (!fn) {
                throw std::invalid_argument("weft: callback_timer needs a callback");
            }
            const duration d = detail::timer_argument(due, "weft: callback_timer due time is negative");
            const duration p = detail::timer_argument(period, "weft: callback_timer period is negative");
            core_ = std::make_shared<detail::callback_timer_core>(sched, std::move(fn), timers);
            (void)core_->change(d, p);
        }
    callback_timer(callback_timer&&) noexcept = default;
    callback_timer& operator=(callback_timer&& o) noexcept {
        if (this != &o) {
            stop();
            core_ = std::move(o.core_);
        }
        return *this;
    }
    ~callback_timer() { stop(); }

    /// Re-arms: the next callback after `due` (infinite: none), then every `period`. False once
    /// disposed. A tick already handed to the scheduler still runs.
    template<typename Rep1, typename Period1, typename Rep2, typename Period2>
    bool change(std::chrono::duration<Rep1, Period1> due, std::chrono::duration<Rep2, Period2> period) {
        const duration d = detail::timer_argument(due, "weft: callback_timer due time is negative");
        const duration p = detail::timer_argument(period, "weft: callback_timer period is negative");
        return core_ != nullptr && core_->change(d, p);
    }

    /// Stops the timer: no callback starts after this call returns (one already handed to the
    /// scheduler still runs). The task completes once no callback is running (.NET
    /// Timer.DisposeAsync). Calling it again is harmless.
    task<void> dispose() {
        if (core_ == nullptr) {
            promise<void> done;
            done.set_value();
            return done.get_task();
        }
        return core_->dispose();
    }

    /// Callbacks handed to the scheduler so far.
    std::uint64_t callbacks_started() const { return core_ == nullptr ? 0 : core_->callbacks_started(); }

private:
    void stop() noexcept {
        if (core_ != nullptr) {
            try {
                (void)core_->dispose();
            } catch (...) {
                report_unobserved(std::current_exception()); // out of memory for the waiter
            }
        }
    }
    std::shared_ptr<detail::callback_timer_core> core_;
};

} // namespace weft
