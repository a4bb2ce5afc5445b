// weft/io/timer.hpp — timers served by the reactor: delay, delay_until, with_timeout /
// with_deadline on any task (periodic_timer on an io_context: weft/timers.hpp). steady_clock.
// Design note: docs/decisions/0006-io-reactor.md §8; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/first_completed.hpp>
#include <weft/io/error.hpp>
#include <weft/io/io_context.hpp>
#include <weft/task.hpp>
#include <weft/timers.hpp>
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

using weft::detail::saturating_add;
using weft::detail::saturating_duration;
/// now + d on the reactor's clock, without overflow.
template<typename Rep, typename Period>
io_clock::time_point saturating_deadline(std::chrono::duration<Rep, Period> d) {
    return weft::detail::saturating_deadline(io_clock::now(), d);
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
/// Races `t` against a reactor timer (inline on the I/O thread: the race's own bookkeeping).
template<typename T, typename Cancel>
task<T> race_deadline(io_context& io, task<T> t, std::chrono::steady_clock::time_point deadline, Cancel cancel) {
    cancellation_source stop_timer;
    task<void> timer = delay_until(io, deadline, {.token = stop_timer.token(), .policy = io_policy::inline_on_io()});
    return weft::detail::race_deadline(std::move(t), std::move(timer), std::move(stop_timer), std::move(cancel));
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
    return detail::io::race_deadline(io, std::move(t), deadline, detail::request_task_cancel<T>);
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

} // namespace weft
