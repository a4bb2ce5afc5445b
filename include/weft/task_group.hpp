// weft/task_group.hpp — task_group: structured concurrency. Children are joined before the group
// ends; the first failure cancels the rest; every error is kept (Trio's nursery, Swift's
// TaskGroup, Kotlin's coroutineScope; .NET has none).
// Design note: docs/decisions/0010-composition.md §5.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/errors.hpp>
#include <weft/promise.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/unobserved.hpp>
#include <weft/with_cancellation.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace weft {

/// A scope for child tasks. spawn() starts a child that receives the group's token; add()
/// adopts a task started elsewhere. join() completes once every child has, including children
/// added while it waits:
///   - failed with aggregate_error holding every child's failure, in the order the children
///     were added, if any failed (operation_canceled is a cancellation, not a failure);
///   - else canceled if the group was canceled (cancel(), or the parent token);
///   - else succeeded.
/// The first failure cancels the group: its token is canceled, and every running child is asked
/// to end (I/O operations are canceled, queued work dropped; work that takes the token sees it).
///
/// Thread safety: every member may be called from any thread, concurrently.
/// Lifetime:      nothing outlives the group: the destructor cancels the children still running
///                and waits for them (a pool worker helps meanwhile). A failure that join()'s
///                task never reported goes to the unobserved-exception handler.
/// Blocking:      only the destructor, and only while children run; join() is a task.
/// Exceptions:    spawn()/add() after join() completed: std::logic_error; spawn() rethrows the
///                scheduler's refusal (the child never ran and is not counted).
class task_group {
public:
    task_group() : state_(std::make_shared<state>(cancellation_source())) {}
    /// A group canceled when `parent` is (a child group, or a caller's token).
    explicit task_group(const cancellation_token& parent)
        : state_(std::make_shared<state>(cancellation_source::linked(parent))) {}
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group() {
        if (state_->running() != 0) {
            state_->cancel();
        }
        task<void> joined = join();
        // every child has ended before this returns: nothing it touches goes away under it
        detail::blocking_wait(*detail::task_access::state(joined), false);
    }

    /// Starts `f(args...)` on `sched` as a child, with the group's token as its last argument
    /// if it takes one (and the child never starts once the group is canceled). The group keeps
    /// its outcome; to read its value too, spawn it with the group's token and add() its task:
    /// `auto t = weft::spawn(pool, f, g.token()); g.add(t);`.
    template<typename S, typename F, typename... Args>
        requires scheduler<std::remove_cvref_t<S>>
    void spawn(S&& sched, F&& f, Args&&... args) {
        add(weft::spawn(std::forward<S>(sched), std::forward<F>(f), std::forward<Args>(args)..., token()));
    }

    /// Adopts `t` as a child: joined, its failure kept, asked to end when the group is canceled.
    template<typename T>
    void add(const task<T>& t) {
        const std::size_t index = state_->enter(detail::cancel_target::of(t));
        try {
            // inline on whoever completes the child: recording it is short and never throws
            (void)t.then(inline_scheduler{},
                         [st = state_, index](const task<T>& done) { st->leave(index, done.exception()); });
        } catch (...) { // no memory to watch it: not a child after all
            state_->leave(index, nullptr);
            throw;
        }
    }

    /// Canceled at the first failure, by cancel(), or by the parent token.
    cancellation_token token() const noexcept { return state_->source.token(); }
    /// Cancels the group: the token, and a request to end to every running child.
    void cancel() noexcept { state_->cancel(); }

    /// The join: see the class comment. The same task every time.
    task<void> join() { return state_->join(); }

private:
    struct state {
        explicit state(cancellation_source s) : source(std::move(s)) {}

        cancellation_source source; // its own state is thread-safe

        std::size_t running() {
            std::lock_guard lock(mutex);
            return children.size();
        }

        std::size_t enter(detail::cancel_target target) {
            std::lock_guard lock(mutex);
            if (closed) {
                throw std::logic_error("weft: task_group: a child added after join() completed");
            }
            const std::size_t index = next_index++;
            children.emplace(index, std::move(target));
            return index;
        }

        void leave(std::size_t index, std::exception_ptr error) noexcept {
            bool failed = false;
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const operation_canceled&) {
                    // a cancellation: the group's doing, or the child's own; not a failure
                } catch (...) {
                    failed = true;
                }
            }
            bool first_failure = false;
            std::optional<promise<void>> to_complete;
            {
                std::lock_guard lock(mutex);
                children.erase(index);
                if (failed) {
                    first_failure = failures.empty();
                    failures.emplace_back(index, error);
                }
                if (children.empty() && join_promise) {
                    to_complete.emplace(std::move(*join_promise));
                    join_promise.reset();
                    closed = true;
                }
            }
            if (first_failure) {
                cancel();
            }
            if (to_complete) {
                complete(*to_complete);
            }
        }

        void cancel() noexcept {
            try {
                source.cancel();
            } catch (...) { // a callback of the user's threw (aggregate_error): not lost
                report_unobserved(std::current_exception());
            }
            std::vector<detail::cancel_target> targets;
            try {
                std::lock_guard lock(mutex);
                targets.reserve(children.size());
                for (const auto& [index, target] : children) {
                    targets.push_back(target);
                }
            } catch (...) { // no memory for the list: the token alone asks them to end
                return;
            }
            for (const auto& t : targets) { // outside the lock: a child may complete here
                t.request_cancel();
            }
        }

        task<void> join() {
            std::optional<promise<void>> to_complete;
            task<void> result;
            {
                std::lock_guard lock(mutex);
                if (joined_task) {
                    return *joined_task;
                }
                promise<void> p;
                joined_task = p.get_task();
                result = *joined_task;
                if (children.empty()) {
                    to_complete.emplace(std::move(p));
                    closed = true;
                } else {
                    join_promise.emplace(std::move(p));
                }
            }
            if (to_complete) {
                complete(*to_complete);
            }
            return result;
        }

        /// Every child has ended: the outcome of the join. Runs outside the lock.
        void complete(promise<void>& p) noexcept {
            std::vector<std::exception_ptr> errors;
            {
                std::lock_guard lock(mutex);
                std::sort(
                    failures.begin(), failures.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
                errors.reserve(failures.size());
                for (const auto& [index, error] : failures) {
                    errors.push_back(error);
                }
            }
            if (!errors.empty()) {
                try {
                    p.set_exception(std::make_exception_ptr(aggregate_error(std::move(errors))));
                } catch (...) {
                    p.try_set_exception(std::current_exception());
                }
            } else if (source.token().is_cancellation_requested()) {
                p.try_set_canceled();
            } else {
                p.try_set_value();
            }
        }

        std::mutex mutex;
        // --- guarded by mutex ------------------------------------------------------------
        std::map<std::size_t, detail::cancel_target> children; // running, by index
        std::vector<std::pair<std::size_t, std::exception_ptr>> failures;
        std::size_t next_index = 0;
        std::optional<task<void>> joined_task;     // set by the first join()
        std::optional<promise<void>> join_promise; // while join() waits for children
        bool closed = false;                       // the join is completing: no more children
    };

    std::shared_ptr<state> state_;
};

} // namespace weft
