// weft/strand.hpp — serial, FIFO execution over any scheduler, with no thread of its own
// (asio::strand; the exclusive half of .NET's ConcurrentExclusiveSchedulerPair).
// Design note: weft/detail/strand_core.hpp (the protocol, S1–S2); guide: docs/guide/schedulers.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/strand_core.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

namespace weft {

/// Runs the items given to it one at a time, in the order they were scheduled, on the threads
/// of a base scheduler; it parks no thread of its own (asio::strand). Continuations attached
/// inside a strand item come back to the strand (placement rule 3).
///
/// Thread safety: schedule() from any thread, concurrently; the object itself is not movable.
/// Lifetime:      the base must outlive the strand's work. The strand must outlive every
///                schedule() call on it and every continuation captured on it. Destroying it
///                never blocks: an item already running finishes; items not started yet are
///                discarded (their tasks complete canceled) on the base's thread.
/// Blocking:      schedule() never. A blocking wait (get()) inside a strand item helps: it
///                runs the strand's next items, in order, on the waiting thread (one item at a
///                time still holds: they nest), so waiting for work queued behind it, or for a
///                continuation that comes back to the strand, does not deadlock.
/// Exceptions:    schedule() rethrows the base's refusal (shutdown_error) without taking the item.
class strand {
public:
    /// A strand over `base` (any scheduler: a thread_pool, a run_loop, another strand...).
    explicit strand(any_scheduler base) : core_(new detail::strand_core(base)) {
        if (!base) {
            core_->close();
            throw std::invalid_argument("weft: strand over an empty any_scheduler");
        }
        core_->set_self(any_scheduler(*this));
    }
    template<typename S>
        requires(scheduler<S> && !std::is_same_v<std::remove_cv_t<S>, any_scheduler> &&
                 !std::is_same_v<std::remove_cv_t<S>, strand>)
    explicit strand(S& base) : strand(any_scheduler(base)) {}

    strand(const strand&) = delete;
    strand& operator=(const strand&) = delete;
    ~strand() { core_->close(); }

    /// See the `scheduler` concept.
    void schedule(work_item* w) { core_->schedule(w); }

    /// Work that ran here and awaits anything comes back here (placement §1a).
    static constexpr bool keeps_context = true;
    /// True while one of this strand's items runs on the calling thread.
    bool runs_on_this_thread() const noexcept { return detail::is_current_scheduler(this); }

    scheduler_stats stats() const noexcept { return core_->stats(); }

    /// Called by a blocking wait inside one of this strand's items (on that item's thread):
    /// runs the strand's next queued item there. False if none is queued, or if this thread is
    /// not running one of the strand's items.
    bool help_waiting_item() noexcept { return runs_on_this_thread() && core_->help_next(); }

private:
    detail::strand_core* core_;
};

} // namespace weft
