// weft/timers.hpp — time without a reactor: delay / delay_until, with_timeout / with_deadline
// and periodic_timer on a timer_source (system_timers() when none is named, a
// weft::testing::manual_timer_source in tests); periodic_timer on an io_context too.
// Design note: docs/decisions/0016-timers-and-virtual-time.md; guide: docs/guide/timers.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/first_completed.hpp>
#include <weft/errors.hpp>
#include <weft/promise.hpp>
#include <weft/task.hpp>
#include <weft/timer_source.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail {
using timer_clock = std::chrono::steady_clock;

/// `d` in the clock's unit, rounded up; a duration too large for it (hours::max(), an infinite
/// floating-point one) saturates to duration::max(), a negative one to zero or below. A NaN
/// duration is std::invalid_argument.
template<typename Rep, typename Period>
timer_clock::duration saturating_duration(std::chrono::duration<Rep, Period> d) {
    using source = std::chrono::duration<Rep, Period>;
    if constexpr (std::is_floating_point_v<Rep>) {
        if (d != d) {
            throw std::invalid_argument("weft: a timer duration is NaN");
        }
    }
    // compared in the source's unit: converting max() into it cannot overflow (it only shrinks
    // or keeps the count), converting d into nanoseconds might
    if (d >= std::chrono::duration_cast<source>(timer_clock::duration::max())) {
        return timer_clock::duration::max();
    }
    if (d <= std::chrono::duration_cast<source>(timer_clock::duration::min())) {
        return timer_clock::duration::min();
    }
    return std::chrono::ceil<timer_clock::duration>(d);
}
/// t + d, saturating at time_point::max() ("never"); d >= 0.
inline timer_clock::time_point saturating_add(timer_clock::time_point t, timer_clock::duration d) noexcept {
    if (d >= timer_clock::time_point::max() - t) {
        return timer_clock::time_point::max();
    }
    return t + d;
}
/// now + d without overflow: a duration too large to add is "never" (time_point::max()).
template<typename Rep, typename Period>
timer_clock::time_point saturating_deadline(timer_clock::time_point now, std::chrono::duration<Rep, Period> d) {
    const timer_clock::duration ticks = saturating_duration(d);
    return ticks <= timer_clock::duration::zero() ? now : saturating_add(now, ticks);
}

/// The tick after `last` on a fixed-rate schedule: last + period, or, once that has passed, the
/// first start + k·period still ahead of `now` (missed ticks are skipped, not bunched);
/// period > 0. periodic_timer and callback_timer both keep their schedule with it.
inline timer_clock::time_point
next_tick(timer_clock::time_point last, timer_clock::duration period, timer_clock::time_point now) noexcept {
    const timer_clock::time_point next = saturating_add(last, period);
    if (next < now) { // now - next < now: no overflow
        return saturating_add(next, ((now - next) / period + 1) * period);
    }
    return next;
}

/// One delay on a timer_source: completed by the timer or by the token, whichever comes first.
struct source_delay {
    promise<void> done;
    atomic<bool> finished{false};
    std::mutex mutex;
    // --- guarded by mutex ------------------------------------------------------------------
    cancellation_registration registration; // the token's callback (holds this state)

    /// True for the one caller that gets to complete the task.
    bool claim() noexcept {
        // order: acq_rel — exactly one of the timer and the token wins the completion
        return !finished.exchange(true, acq_rel);
    }
    /// Breaks the state <-> registration cycle once the delay is over.
    void drop_registration() noexcept {
        cancellation_registration r;
        {
            std::lock_guard lock(mutex);
            r = std::move(registration);
        }
    }
};

/// The result of with_deadline once `t` has ended: its value, or its error; canceled after the
/// deadline (the timeout canceled it) is timeout_error.
template<typename T>
task<T> outcome_after_deadline(task<T> t, bool timed_out) {
    if (timed_out && t.is_canceled()) {
        (void)t.exception(); // observed: the timeout replaces it
        throw timeout_error{};
    }
    if constexpr (std::is_void_v<T>) {
        co_await t;
    } else if constexpr (std::is_copy_constructible_v<T> || std::is_reference_v<T>) {
        co_return co_await t;
    } else {
        co_return co_await std::move(t); // this frame holds the only handle: moved, not copied
    }
}

/// Races `t` against `timer` (a delay that `stop_timer` cancels). When the timer wins,
/// `cancel` asks `t` to end (false: it cannot be asked, give up on it at once), then the result
/// waits until it has.
template<typename T, typename Cancel>
task<T> race_deadline(task<T> t, task<void> timer, cancellation_source stop_timer, Cancel cancel) {
    const std::size_t first = co_await first_completed_awaiter(*task_access::state(t), *task_access::state(timer));
    const bool timed_out = first == 1;
    if (timed_out) {
        if (!cancel(t)) {
            throw timeout_error{}; // it cannot be asked to end: it goes on without us
        }
        // until it has ended (both nodes on `t`: a wait that, unlike when_any, holds no handle)
        (void)co_await first_completed_awaiter(*task_access::state(t), *task_access::state(t));
    } else {
        stop_timer.cancel();
    }
    co_return co_await outcome_after_deadline(std::move(t), timed_out);
}

/// A cancel for race_deadline that asks the task itself (I/O ops and spawned work honour it).
template<typename T>
bool request_task_cancel(task<T>& x) {
    return task_access::state(x)->request_cancel();
}
} // namespace detail

/// A task that completes when `timers`' clock reaches `deadline` (Task.Delay with a
/// TimeProvider). With system_timers() it completes on weft's timer thread: a continuation that
/// names no scheduler and captured none runs there (blocking waits are refused there with
/// deadlock_error); with a manual_timer_source, inside its advance(). A deadline already passed
/// completes promptly (on the source's thread); time_point::max() never does (its timer stays
/// pending on the source). The token cancels it: the task completes canceled and the timer is
/// removed from the source.
/// Exceptions: std::bad_alloc.
inline task<void> delay_until(timer_source& timers, timer_source::time_point deadline, cancellation_token token = {}) {
    if (token.is_cancellation_requested()) {
        promise<void> canceled;
        canceled.set_canceled();
        return canceled.get_task();
    }
    auto state = std::make_shared<detail::source_delay>();
    task<void> result = state->done.get_task();
    // time_point::max() is scheduled too: the source holds the state of a delay that never ends
    const timer_source::timer_id id = timers.schedule(deadline, [state] {
        if (state->claim()) {
            state->drop_registration();
            state->done.set_value();
        }
    });
    if (id == 0) { // the source is shutting down (process exit)
        state->claim();
        state->done.set_canceled();
        return result;
    }
    if (token.can_be_canceled()) {
        cancellation_registration reg = token.register_callback([state, &timers, id] {
            if (state->claim()) {
                (void)timers.cancel(id); // destroys the timer's copy of `state`
                state->drop_registration();
                state->done.set_canceled();
            }
        });
        std::lock_guard lock(state->mutex);
        state->registration = std::move(reg);
    }
    if (state->finished.load(detail::acquire)) { // order: acquire — pairs with claim()
        state->drop_registration();              // it ended before the registration was stored
    }
    return result;
}

/// delay_until(timers, timers.now() + d). Zero or negative: completes promptly; a duration too
/// large to add (duration::max(), hours::max(), an infinite one): never. NaN:
/// std::invalid_argument.
template<typename Rep, typename Period>
task<void> delay(timer_source& timers, std::chrono::duration<Rep, Period> d, cancellation_token token = {}) {
    return delay_until(timers, detail::saturating_deadline(timers.now(), d), std::move(token));
}

/// delay(system_timers(), d, token): Task.Delay without an io_context.
template<typename Rep, typename Period>
task<void> delay(std::chrono::duration<Rep, Period> d, cancellation_token token = {}) {
    return delay(system_timers(), d, std::move(token));
}

/// `t`'s outcome if it completes by `deadline` on `timers`' clock, else timeout_error
/// (.NET Task.WaitAsync(TimeSpan, TimeProvider)). At the deadline `t` is asked to end (an I/O
/// operation or spawned work that has not started is canceled) and the result completes once
/// it has, with its value if it succeeded after all; work that cannot be asked (a coroutine, a
/// promise) goes on and the result fails with timeout_error at once: use the token form.
template<typename T>
task<T> with_deadline(timer_source& timers, task<T> t, timer_source::time_point deadline) {
    detail::task_access::checked_state(t);
    cancellation_source stop_timer;
    task<void> timer = delay_until(timers, deadline, stop_timer.token());
    return detail::race_deadline(std::move(t), std::move(timer), std::move(stop_timer), detail::request_task_cancel<T>);
}

template<typename T, typename Rep, typename Period>
task<T> with_timeout(timer_source& timers, task<T> t, std::chrono::duration<Rep, Period> timeout) {
    return with_deadline(timers, std::move(t), detail::saturating_deadline(timers.now(), timeout));
}

/// The token form, for any work: `start(token)` starts it; at the deadline the token is
/// canceled and the result completes once that work has ended: its value if it succeeded after
/// all, its own error, else timeout_error.
template<typename F>
    requires std::invocable<F&, cancellation_token> && detail::is_task_v<std::invoke_result_t<F&, cancellation_token>>
        std::invoke_result_t<F&, cancellation_token>
        with_deadline(timer_source& timers, F start, timer_source::time_point deadline) {
        using task_t = std::invoke_result_t<F&, cancellation_token>;
        cancellation_source cancel;
        task_t t = start(cancel.token());
        detail::task_access::checked_state(t);
        cancellation_source stop_timer;
        task<void> timer = delay_until(timers, deadline, stop_timer.token());
        return detail::race_deadline(std::move(t), std::move(timer), std::move(stop_timer), [cancel](task_t&) mutable {
            cancel.cancel();
            return true;
        });
    }

template<typename F, typename Rep, typename Period>
    requires std::invocable<F&, cancellation_token> && detail::is_task_v<std::invoke_result_t<F&, cancellation_token>>
auto with_timeout(timer_source& timers, F start, std::chrono::duration<Rep, Period> timeout) {
    return with_deadline(timers, std::move(start), detail::saturating_deadline(timers.now(), timeout));
}

/// Ticks every `period` on a fixed-rate schedule (start + k·period); next() completes at the
/// next tick not yet passed (missed ticks are skipped, not bunched) (.NET PeriodicTimer). On a
/// timer_source (system_timers() by default) or on an io_context (the reactor's timers, the
/// io_context's continuation policy). A period too large for the clock (duration::max(),
/// hours::max()) saturates: the first tick is "never". A period <= 0 or NaN is
/// std::invalid_argument.
///
/// Thread safety: one next() at a time (the schedule is this object's state).
class periodic_timer {
public:
    template<typename Rep, typename Period>
    explicit periodic_timer(std::chrono::duration<Rep, Period> period) : periodic_timer(system_timers(), period) {}

    template<typename Rep, typename Period>
    periodic_timer(timer_source& timers, std::chrono::duration<Rep, Period> period)
        : period_(checked_period(period))
        , next_(timers.now())
        , now_([&timers] { return timers.now(); })
        , wait_([&timers](timer_source::time_point at, cancellation_token token) {
            return delay_until(timers, at, std::move(token));
        }) {}

    /// On an io_context (anything with the reactor's delay_until(io, deadline, op_options)).
    template<typename Io, typename Rep, typename Period>
        requires(!std::derived_from<Io, timer_source> && requires(Io & io) { io.core(); })
    periodic_timer(Io& io, std::chrono::duration<Rep, Period> period)
        : period_(checked_period(period))
        , next_(detail::timer_clock::now())
        , now_([] { return detail::timer_clock::now(); })
        , wait_([&io](timer_source::time_point at, cancellation_token token) {
            return delay_until(io, at, {.token = token});
        }) {}

    /// The next tick; the token cancels the wait (the schedule goes on: the tick after is
    /// still start + k·period).
    task<void> next(cancellation_token token = {}) {
        next_ = detail::next_tick(next_, period_, now_());
        return wait_(next_, std::move(token));
    }

    timer_source::duration period() const noexcept { return period_; }

private:
    template<typename Rep, typename Period>
    static timer_source::duration checked_period(std::chrono::duration<Rep, Period> period) {
        const timer_source::duration p = detail::saturating_duration(period);
        if (p <= timer_source::duration::zero()) {
            throw std::invalid_argument("weft: periodic_timer needs a positive period");
        }
        return p;
    }

    timer_source::duration period_;
    timer_source::time_point next_;
    std::function<timer_source::time_point()> now_;
    std::function<task<void>(timer_source::time_point, cancellation_token)> wait_;
};

} // namespace weft
