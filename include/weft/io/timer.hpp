// weft/io/timer.hpp — timers served by the reactor: delay, delay_until, with_timeout /
// with_deadline on any task, periodic_timer. steady_clock only.
// Design note: docs/decisions/0006-io-reactor.md §8; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/first_completed.hpp>
#include <weft/io/error.hpp>
#include <weft/io/io_context.hpp>
#include <weft/task.hpp>
#include <weft/when_any.hpp>

#include <chrono>
#include <stdexcept>
#include <type_traits>

namespace weft {

namespace detail::io {
/// A timer op on `core` (delay_until's engine; for callers that hold the core, not the
/// io_context, such as a coroutine that may outlive the io_context object).
inline task<void> timer_on(io_core& core, io_clock::time_point deadline, const op_options& opts) {
    auto [t, op] = make_op<void, no_value>(core, op_kind::timer, opts);
    op->deadline = deadline;
    core.here_or_next().start(op);
    return std::move(t);
}

/// `d` in the clock's unit, rounded up; a duration too large for it (hours::max(), an infinite
/// floating-point one) saturates to duration::max(), a negative one to zero or below. A NaN
/// duration is std::invalid_argument.
template<typename Rep, typename Period>
io_clock::duration saturating_duration(std::chrono::duration<Rep, Period> d) {
    using source = std::chrono::duration<Rep, Period>;
    if constexpr (std::is_floating_point_v<Rep>) {
        if (d != d) {
            throw std::invalid_argument("weft: a timer duration is NaN");
        }
    }
    // compared in the source's unit: converting max() into it cannot overflow (it only shrinks
    // or keeps the count), converting d into nanoseconds might
    if (d >= std::chrono::duration_cast<source>(io_clock::duration::max())) {
        return io_clock::duration::max();
    }
    if (d <= std::chrono::duration_cast<source>(io_clock::duration::min())) {
        return io_clock::duration::min();
    }
    return std::chrono::ceil<io_clock::duration>(d);
}
/// t + d, saturating at time_point::max() ("never"); d >= 0.
inline io_clock::time_point saturating_add(io_clock::time_point t, io_clock::duration d) noexcept {
    if (d >= io_clock::time_point::max() - t) {
        return io_clock::time_point::max();
    }
    return t + d;
}
/// now + d without overflow: a duration too large to add is "never" (time_point::max()).
template<typename Rep, typename Period>
io_clock::time_point saturating_deadline(std::chrono::duration<Rep, Period> d) {
    const io_clock::duration ticks = saturating_duration(d);
    const auto now = io_clock::now();
    return ticks <= io_clock::duration::zero() ? now : saturating_add(now, ticks);
}
} // namespace detail::io

/// A task that completes at `deadline` on an I/O thread of `io` (Task.Delay). A deadline in the
/// past completes promptly; time_point::max() never does (until canceled or io ends).
/// The token cancels it (the task completes canceled).
inline task<void>
delay_until(io_context& io, std::chrono::steady_clock::time_point deadline, const op_options& opts = {}) {
    return detail::io::timer_on(io.core(), deadline, opts);
}

/// delay_until(now + d). Zero or negative: completes promptly; a duration too large to add to
/// now (duration::max(), hours::max(), an infinite one): never. NaN: std::invalid_argument.
template<typename Rep, typename Period>
task<void> delay(io_context& io, std::chrono::duration<Rep, Period> d, const op_options& opts = {}) {
    return delay_until(io, detail::io::saturating_deadline(d), opts);
}

namespace detail::io {
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

/// Races `t` against a timer. At the deadline `cancel` asks `t` to end (false: it cannot be
/// asked, give up on it at once), then waits until it has.
template<typename T, typename Cancel>
task<T> race_deadline(io_context& io, task<T> t, std::chrono::steady_clock::time_point deadline, Cancel cancel) {
    cancellation_source stop_timer;
    task<void> timer = delay_until(io, deadline, {.token = stop_timer.token(), .policy = io_policy::inline_on_io()});
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
} // namespace detail::io

/// A task with `t`'s outcome if `t` completes by `deadline`, else failed with timeout_error
/// (.NET Task.WaitAsync(TimeSpan)). At the deadline `t` is canceled: an I/O operation (a read,
/// a write, an accept...) is canceled, and the result completes only once it has ended, so its
/// buffer is never written afterwards; if it succeeded after all, that value is the result
/// (nothing is lost). Work that cannot be asked to end (a coroutine, a promise) goes on and the
/// result fails with timeout_error at once: time those out with the token form below.
template<typename T>
task<T> with_deadline(io_context& io, task<T> t, std::chrono::steady_clock::time_point deadline) {
    detail::task_access::checked_state(t);
    return detail::io::race_deadline(
        io, std::move(t), deadline, [](task<T>& x) { return detail::task_access::state(x)->request_cancel(); });
}

template<typename T, typename Rep, typename Period>
task<T> with_timeout(io_context& io, task<T> t, std::chrono::duration<Rep, Period> timeout) {
    return with_deadline(io, std::move(t), detail::io::saturating_deadline(timeout));
}

/// The token form, for any work: `start(token)` starts it and returns its task; at the
/// deadline the token is canceled, and the result completes once that task has ended (work
/// that honours its token ends promptly), with its value if it succeeded after all, its error
/// if it failed for a reason of its own, else timeout_error.
template<typename F>
    requires std::invocable<F&, cancellation_token> && detail::is_task_v<std::invoke_result_t<F&, cancellation_token>>
        std::invoke_result_t<F&, cancellation_token>
        with_deadline(io_context& io, F start, std::chrono::steady_clock::time_point deadline) {
        using task_t = std::invoke_result_t<F&, cancellation_token>;
        cancellation_source cancel;
        task_t t = start(cancel.token());
        detail::task_access::checked_state(t);
        return detail::io::race_deadline(io, std::move(t), deadline, [cancel](task_t&) mutable {
            cancel.cancel();
            return true;
        });
    }

template<typename F, typename Rep, typename Period>
    requires std::invocable<F&, cancellation_token> && detail::is_task_v<std::invoke_result_t<F&, cancellation_token>>
auto with_timeout(io_context& io, F start, std::chrono::duration<Rep, Period> timeout) {
    return with_deadline(io, std::move(start), detail::io::saturating_deadline(timeout));
}

/// Ticks every `period` on a fixed-rate schedule (start + k·period); next() completes at the
/// next tick not yet passed (missed ticks are skipped, not bunched). A period too large for the
/// clock (duration::max(), hours::max()) saturates: the first tick is "never". A period <= 0
/// or NaN is std::invalid_argument.
class periodic_timer {
public:
    template<typename Rep, typename Period>
    periodic_timer(io_context& io, std::chrono::duration<Rep, Period> period)
        : io_(&io)
        , period_(detail::io::saturating_duration(period))
        , next_(std::chrono::steady_clock::now()) {
        if (period_ <= std::chrono::steady_clock::duration::zero()) {
            throw std::invalid_argument("weft: periodic_timer needs a positive period");
        }
    }

    task<void> next(const op_options& opts = {}) {
        const auto now = std::chrono::steady_clock::now();
        next_ = detail::io::saturating_add(next_, period_);
        if (next_ < now) { // missed ticks: skip to the first one ahead (now - next_ < now: no overflow)
            next_ = detail::io::saturating_add(next_, ((now - next_) / period_ + 1) * period_);
        }
        return delay_until(*io_, next_, opts);
    }

private:
    io_context* io_;
    std::chrono::steady_clock::duration period_;
    std::chrono::steady_clock::time_point next_;
};

} // namespace weft
