// weft/concurrent_exclusive.hpp — readers in parallel, writers alone, writers preferred, over a
// base scheduler (.NET's ConcurrentExclusiveSchedulerPair).
// Design note: weft/detail/gate.hpp (the engine shared with limited_scheduler).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/gate.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>
#include <weft/work_item.hpp>

#include <cstddef>
#include <thread>
#include <type_traits>

namespace weft {

/// Two schedulers over one base: items given to concurrent() run in parallel with each other
/// (at most max_concurrency at once); an item given to exclusive() runs alone — no other item
/// of the pair runs meanwhile. A waiting exclusive item stops new concurrent ones from starting
/// (writers are preferred); exclusive items run one at a time, in FIFO order. No thread of its
/// own. Continuations attached inside an item come back to the same side (placement rule 3).
///
/// Thread safety: everything from any thread; the object is not movable.
/// Lifetime:      the base must outlive the work; the pair must outlive every schedule() call
///                on its sides and every continuation captured on them. Destroying it never
///                blocks: running items finish, queued ones are discarded (tasks canceled).
/// Blocking:      never.
/// Exceptions:    the constructor throws std::invalid_argument for max_concurrency == 0 or an
///                empty base; schedule() throws shutdown_error after complete(), and
///                rethrows the base's refusal when the item would start at once (nothing taken).
///                Queued work that the base refuses later is discarded: tasks canceled.
class concurrent_exclusive_pair {
public:
    /// One side of the pair: a scheduler of its own (pass it to spawn, then, resume_on...).
    class side {
    public:
        side(const side&) = delete;
        side& operator=(const side&) = delete;
        /// See the `scheduler` concept.
        void schedule(work_item* w) { pair_.gate_->schedule(w, kind_); }
        /// Work that ran here and awaits anything comes back here (placement §1a).
        static constexpr bool keeps_context = true;
        /// True while one of this side's items runs on the calling thread.
        bool runs_on_this_thread() const noexcept { return detail::is_current_scheduler(this); }

    private:
        friend class concurrent_exclusive_pair;
        side(concurrent_exclusive_pair& pair, detail::gate_side kind) noexcept : pair_(pair), kind_(kind) {}
        concurrent_exclusive_pair& pair_;
        detail::gate_side kind_;
    };

    /// max_concurrency: the most concurrent items at once (default: the hardware's threads).
    explicit concurrent_exclusive_pair(any_scheduler base, std::size_t max_concurrency = default_concurrency())
        : gate_(detail::gate::create(base, max_concurrency, "concurrent_exclusive_pair")) {
        gate_->set_side_identity(detail::gate_side::concurrent, any_scheduler(concurrent_));
        gate_->set_side_identity(detail::gate_side::exclusive, any_scheduler(exclusive_));
    }
    template<typename S>
        requires(scheduler<S> && !std::is_same_v<std::remove_cv_t<S>, any_scheduler>)
    explicit concurrent_exclusive_pair(S& base, std::size_t max_concurrency = default_concurrency())
        : concurrent_exclusive_pair(any_scheduler(base), max_concurrency) {}

    concurrent_exclusive_pair(const concurrent_exclusive_pair&) = delete;
    concurrent_exclusive_pair& operator=(const concurrent_exclusive_pair&) = delete;
    ~concurrent_exclusive_pair() { gate_->close(); }

    /// The reader side (.NET ConcurrentScheduler).
    side& concurrent() noexcept { return concurrent_; }
    /// The writer side (.NET ExclusiveScheduler).
    side& exclusive() noexcept { return exclusive_; }

    /// Stops accepting work on both sides; queued work still runs (.NET Complete()).
    void complete() noexcept { gate_->complete(); }
    /// Completes once complete() was called and nothing is queued or running (.NET Completion).
    task<void> completion() const { return gate_->completion(); }

    std::size_t max_concurrency() const noexcept { return gate_->max_concurrency(); }
    /// Both sides together.
    scheduler_stats stats() const { return gate_->stats(); }

    static std::size_t default_concurrency() noexcept {
        const unsigned n = std::thread::hardware_concurrency();
        return n == 0 ? 1 : n;
    }

private:
    detail::gate* gate_;
    side concurrent_{*this, detail::gate_side::concurrent};
    side exclusive_{*this, detail::gate_side::exclusive};
};

} // namespace weft
