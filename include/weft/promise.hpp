// weft/promise.hpp — promise<T>: the producer side of a task (.NET TaskCompletionSource<T>).
// Design note: docs/decisions/0001-task-model.md; the state protocol: weft/detail/task_state.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/down_cast.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>

#include <exception>
#include <utility>

namespace weft {

/// Completes one task by hand. The first set_* wins; a later one returns false (try_set_*) or
/// throws promise_already_satisfied (set_*). Destroyed unset, its task fails with broken_promise.
///
/// A promise may carry a source policy: the scheduler its task's continuations run on when they
/// name none (placement rule 2), e.g. `promise<int> p{pool}` never runs continuations on the
/// thread that calls set_value (.NET RunContinuationsAsynchronously).
///
/// Thread safety: the set_* calls may race each other from any threads; exactly one wins.
/// Lifetime:      the task outlives the promise; the promise is move-only. The promise and
///                every task handle may be destroyed as soon as any thread sees the task
///                complete, even by a continuation that set_* runs on this thread.
/// Blocking:      set_* runs the continuations that are placed inline before returning.
/// Exceptions:    set_* throw promise_already_satisfied or no_state (moved-from promise).
template<typename T = void>
class promise {
public:
    promise() : state_(new state(any_scheduler{})) {}
    /// A promise whose task's continuations run on `policy` unless they name a scheduler.
    explicit promise(any_scheduler policy) : state_(new state(policy)) {}
    promise(promise&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
    promise& operator=(promise&& o) noexcept {
        if (this != &o) {
            abandon();
            state_ = std::exchange(o.state_, nullptr);
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() { abandon(); }

    /// The task this promise completes. May be called more than once (tasks are shared).
    task<T> get_task() const {
        auto& s = checked();
        s.add_reader_or_throw(); // shared_value_error once a sole reader moved the value out
        return detail::task_access::adopt<T>(&s);
    }

    template<typename... A>
        requires(std::is_void_v<T> ? sizeof...(A) == 0 : std::is_constructible_v<T, A&&...>)
    bool try_set_value(A&&... args) noexcept {
        return completing([&](state& s) { return s.try_set_value(std::forward<A>(args)...); });
    }
    bool try_set_exception(std::exception_ptr e) noexcept {
        return completing([&](state& s) { return s.try_set_exception(std::move(e)); });
    }
    bool try_set_canceled() noexcept {
        return completing([](state& s) { return s.try_set_canceled(); });
    }

    template<typename... A>
        requires(std::is_void_v<T> ? sizeof...(A) == 0 : std::is_constructible_v<T, A&&...>)
    void set_value(A&&... args) {
        checked();
        if (!try_set_value(std::forward<A>(args)...)) {
            throw promise_already_satisfied{};
        }
    }
    void set_exception(std::exception_ptr e) {
        checked();
        if (!try_set_exception(std::move(e))) {
            throw promise_already_satisfied{};
        }
    }
    void set_canceled() {
        checked();
        if (!try_set_canceled()) {
            throw promise_already_satisfied{};
        }
    }

    bool valid() const noexcept { return state_ != nullptr; }

private:
    class state final : public detail::task_state<T> {
    public:
        explicit state(any_scheduler policy) noexcept
            : detail::task_state<T>(detail::state_base::ops_of<&destroy>, 0, 1, detail::state_base::st_pending) {
            this->set_source_policy(policy);
        }

    private:
        static void destroy(detail::state_base* s) noexcept {
            delete detail::down_cast<state>(detail::down_cast<detail::task_state<T>>(s));
        }
    };

    detail::task_state<T>& checked() const {
        if (state_ == nullptr) {
            throw no_state{};
        }
        return *state_;
    }
    /// Runs a set_* holding a reference of its own: once the status is stored, any thread may
    /// see the task complete and destroy this promise and every task handle (a first
    /// continuation may do it, on this very thread), while publish() still runs the rest of
    /// the continuation list. The state must outlive that, so the publisher owns a reference.
    template<typename Set>
    bool completing(Set set) noexcept {
        state* s = state_;
        if (s == nullptr) {
            return false;
        }
        s->add_keeper();
        const bool won = set(*s);
        s->release_keeper();
        return won;
    }
    void abandon() noexcept {
        if (state_ != nullptr) {
            // Always complete: a timed-out waiter may still have a node in the list, and the
            // publish frees it. With no other reference nobody can ever observe the error.
            const bool unobservable = state_->readers() == 0;
            if (state_->try_set_exception(std::make_exception_ptr(broken_promise{})) && unobservable) {
                state_->mark_observed(); // our own broken_promise, which no one can see
            }
            state_->release_keeper();
            state_ = nullptr;
        }
    }

    state* state_ = nullptr;
};

} // namespace weft
