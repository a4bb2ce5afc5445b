// weft/post.hpp — weft::post(scheduler, f, args...): fire-and-forget work with no task state
// (.NET ThreadPool.QueueUserWorkItem / UnsafeQueueUserWorkItem, Asio's post).
// Design note: docs/decisions/0018-hand-over-costs.md §1.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/state_allocator.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>
#include <weft/unobserved.hpp>

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail {

/// The whole of a posted piece of work: the work item, the function and its arguments, in one
/// block from the per-thread state caches. No result, no reference count, no continuation list.
template<typename Fn, typename Args>
class post_item final
    : public work_item
    , public pooled_allocation {
public:
    post_item(Fn fn, Args args) : work_item(&invoke), fn_(std::move(fn)), args_(std::move(args)) {}

private:
    static void invoke(work_item* w, bool run) noexcept {
        auto* self = static_cast<post_item*>(w);
        if (run) {
            try {
                // A returned value is dropped; a returned task is dropped too, and a failure of
                // it reaches the unobserved handler when it completes (tasks' own rule).
                (void)std::apply(self->fn_, std::move(self->args_));
            } catch (...) {
                report_unobserved(std::current_exception());
            }
        }
        delete self; // discard(): the function is destroyed without being called
    }

    Fn fn_;
    Args args_;
};

} // namespace detail

/// Runs `f(args...)` on `sched` and returns nothing: no task, so nothing to allocate but the
/// work item itself (one block holding f and args), no reference counts, no completion to
/// publish. For work whose result and completion nobody awaits; use weft::spawn otherwise.
///
/// Contract:
/// - `f` runs exactly once on `sched`, or never if `sched` discards the item (a pool shut down
///   with shutdown_mode::cancel, testing::manual_scheduler::discard_all): then `f` is destroyed
///   without being called.
/// - An exception thrown by `f` goes to the unobserved-exception handler
///   (weft::set_unobserved_exception_handler), on the thread that ran it; nothing is swallowed.
/// - A value returned by `f` is dropped; a task returned by `f` (a coroutine lambda) is
///   dropped, and its error, if it fails, reaches the unobserved handler as any unobserved task's.
///
/// Exceptions: whatever `sched.schedule()` throws (shutdown_error once it is shut down; then `f`
///             is destroyed, never called); std::invalid_argument for a null function pointer,
///             an empty std::function, or an empty any_scheduler; std::bad_alloc.
/// Thread safety: as `sched.schedule()`: every weft scheduler takes posts from any thread.
template<typename S, typename F, typename... Args>
    requires scheduler<std::remove_cvref_t<S>>
void post(S&& sched, F&& f, Args&&... args) {
    using Fn = std::decay_t<F>;
    using Tuple = std::tuple<std::decay_t<Args>...>;
    static_assert(std::is_invocable_v<Fn, std::decay_t<Args>...>,
                  "weft: post(s, f, args...) needs f callable with args...");
    detail::require_callable(f, "weft: post() with a null function");
    if constexpr (std::is_same_v<std::remove_cvref_t<S>, any_scheduler>) {
        detail::require_scheduler(sched, "weft: post() on an empty any_scheduler");
    }
    using item_t = detail::post_item<Fn, Tuple>;
    auto* item = new item_t(std::forward<F>(f), Tuple(std::forward<Args>(args)...));
    try {
        sched.schedule(item);
    } catch (...) {
        item->discard(); // refused: destroyed once, never called; the error goes to the caller
        throw;
    }
}

} // namespace weft
