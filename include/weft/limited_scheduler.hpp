// weft/limited_scheduler.hpp — at most N items at once over a base scheduler (.NET's
// LimitedConcurrencyLevelTaskScheduler; MaxDegreeOfParallelism for a group of tasks).
// Design note: weft/detail/gate.hpp (the engine shared with concurrent_exclusive_pair).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/gate.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>
#include <weft/work_item.hpp>

#include <cstddef>
#include <type_traits>

namespace weft {

/// Runs the items given to it on `base`, never more than `max_concurrency` at once, starting
/// them in the order they were scheduled. It parks no thread of its own. Continuations attached
/// inside its items come back to it (placement rule 3). With max_concurrency == 1 it is serial
/// and FIFO, like a strand (which is lock-free and faster for that case).
///
/// Thread safety: schedule(), complete(), stats() from any thread; the object is not movable.
/// Lifetime:      the base must outlive the work; the scheduler must outlive every schedule()
///                call on it and every continuation captured on it. Destroying it never
///                blocks: running items finish, queued ones are discarded (tasks canceled).
/// Blocking:      never.
/// Exceptions:    the constructor throws std::invalid_argument for max_concurrency == 0 or an
///                empty base; schedule() throws shutdown_error after complete(), and
///                rethrows the base's refusal when the item would start at once (nothing taken).
///                Queued work that the base refuses later is discarded: tasks canceled.
class limited_scheduler {
public:
    limited_scheduler(any_scheduler base, std::size_t max_concurrency)
        : gate_(detail::gate::create(base, max_concurrency, "limited_scheduler")) {
        gate_->set_side_identity(detail::gate_side::concurrent, any_scheduler(*this));
    }
    template<typename S>
        requires(scheduler<S> && !std::is_same_v<std::remove_cv_t<S>, any_scheduler>)
    limited_scheduler(S& base, std::size_t max_concurrency) : limited_scheduler(any_scheduler(base), max_concurrency) {}

    limited_scheduler(const limited_scheduler&) = delete;
    limited_scheduler& operator=(const limited_scheduler&) = delete;
    ~limited_scheduler() { gate_->close(); }

    /// See the `scheduler` concept.
    void schedule(work_item* w) { gate_->schedule(w, detail::gate_side::concurrent); }
    /// Work that ran here and awaits anything comes back here (placement §1a).
    static constexpr bool keeps_context = true;
    /// True while one of this scheduler's items runs on the calling thread.
    bool runs_on_this_thread() const noexcept { return detail::is_current_scheduler(this); }

    /// Stops accepting work (schedule() throws shutdown_error); queued work still runs.
    void complete() noexcept { gate_->complete(); }
    /// Completes once complete() was called and nothing is queued or running.
    task<void> completion() const { return gate_->completion(); }

    std::size_t max_concurrency() const noexcept { return gate_->max_concurrency(); }
    scheduler_stats stats() const { return gate_->stats(); }

private:
    detail::gate* gate_;
};

} // namespace weft
