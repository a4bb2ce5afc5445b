// weft/detail/task_coroutine.hpp — task<T> as a coroutine (an eager async method) and as an
// awaitable. Included by weft/task.hpp; not a public header on its own.
// Design note: docs/decisions/0001-task-model.md §"Coroutines". The frame is the task's state:
// the promise object *is* the task_state, so a coroutine call allocates once. Resumption after
// co_await goes through dispatch_continuation (placement rule and recursion guard), never
// through symmetric transfer, so unbounded synchronous chains do not grow the stack on any
// compiler or optimisation level.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/diag/registry.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/placement.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

namespace weft::detail {

template<typename T>
class task_promise;

/// return_value / return_void, which a promise type may not declare both of.
template<typename T, typename Promise>
struct promise_return {
    template<typename V = T>
        requires std::is_constructible_v<T, V&&>
    void return_value(V&& v) noexcept {
        auto& self = static_cast<Promise&>(*this);
        self.outcome_ = self.emplace(std::forward<V>(v));
    }
};
template<typename T, typename Promise>
struct promise_return<T&, Promise> {
    void return_value(T& v) noexcept {
        auto& self = static_cast<Promise&>(*this);
        self.outcome_ = self.emplace(v);
    }
};
template<typename Promise>
struct promise_return<void, Promise> {
    void return_void() noexcept { static_cast<Promise&>(*this).outcome_ = state_base::st_succeeded; }
};

/// The awaiter a co_await on `a` uses: its operator co_await's result, or `a` itself (held by
/// reference: the operand lives until the end of the co_await expression).
template<typename A>
decltype(auto) awaiter_of(A&& a) {
    if constexpr (requires { static_cast<A&&>(a).operator co_await(); }) {
        return static_cast<A&&>(a).operator co_await();
    } else if constexpr (requires { operator co_await(static_cast<A&&>(a)); }) {
        return operator co_await(static_cast<A&&>(a));
    } else {
        return static_cast<A&&>(a);
    }
}

/// What a task coroutine's co_await goes through: the awaiter itself, plus the registry's
/// bookkeeping when the coroutine has a record (diagnostics on at its start): suspended (and
/// what it awaits) before the awaiter's await_suspend, running again in await_resume.
template<typename Inner>
class diag_awaiter {
public:
    diag_awaiter(Inner&& inner, diag::task_record* record) noexcept(std::is_nothrow_move_constructible_v<Inner> ||
                                                                    std::is_reference_v<Inner>)
        : inner_(static_cast<Inner&&>(inner))
        , record_(record) {}

    // always_inline: the wrapper must not change what the compiler inlines of the awaiter
    [[gnu::always_inline]] bool await_ready() { return inner_.await_ready(); }

    template<typename Handle>
    [[gnu::always_inline]] auto await_suspend(Handle h) {
        diag::task_record* const r = record_; // read first: once suspended, *this may be gone
        if (r != nullptr) [[unlikely]] {
            suspending_recorded();
        }
        if constexpr (std::is_same_v<decltype(inner_.await_suspend(h)), bool>) {
            const bool suspend = inner_.await_suspend(h);
            if (!suspend && r != nullptr) [[unlikely]] {
                not_suspended_recorded(); // it goes on here after all
            }
            return suspend;
        } else {
            return inner_.await_suspend(h);
        }
    }

    [[gnu::always_inline]] decltype(auto) await_resume() {
        if (record_ != nullptr && suspended_) [[unlikely]] {
            resumed_recorded();
        }
        return inner_.await_resume();
    }

private:
    [[gnu::noinline]] void suspending_recorded() {
        suspended_ = true;
        const void* awaited = nullptr;
        if constexpr (requires { inner_.awaited_state(); }) {
            awaited = inner_.awaited_state();
        }
        diag::suspending(record_, &typeid(std::remove_cvref_t<Inner>), awaited);
    }

    [[gnu::noinline]] void not_suspended_recorded() {
        suspended_ = false;
        diag::enter(record_);
    }

    [[gnu::noinline]] void resumed_recorded() {
        suspended_ = false;
        diag::enter(record_);
        record_->scheduler.store(current_scheduler().identity(), relaxed); // order: relaxed — dumps only
        if constexpr (requires { inner_.flow(); }) {
            if (const std::uint64_t id = inner_.flow(); id != 0) {
                diag::emit('f', "resume", id, "resume"); // the arrow from the completion that resumed it
            }
        }
    }

    Inner inner_;
    diag::task_record* record_;
    bool suspended_ = false;
};

/// Passed by the compiler to a coroutine's promise: the coroutine's function and where it is.
/// A type of weft's own, so that no coroutine parameter list can be taken for it.
struct coroutine_site_tag {};

template<typename T>
class task_promise final
    : public task_state<T>
    , public promise_return<T, task_promise<T>> {
public:
    // References: the returned task (a reader) and the running coroutine (a keeper, dropped at
    // final suspend).
    explicit task_promise(coroutine_site_tag = {},
                          const char* function = __builtin_FUNCTION(),
                          const char* file = __builtin_FILE(),
                          unsigned line = __builtin_LINE()) noexcept
        : task_state<T>(state_base::ops_of<&destroy_frame>, 1, 1, state_base::st_running) {
        if (diag::registry_on()) [[unlikely]] {
            diag_started(function, file, line);
        }
    }

    task<T> get_return_object() noexcept { return task_access::adopt<T>(detail::down_cast<task_state<T>>(this)); }
    std::suspend_never initial_suspend() const noexcept { return {}; } // eager, like .NET

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<task_promise> h) const noexcept {
            task_promise& p = h.promise();
            if constexpr (diag::compiled_in) {
                if (p.diag_ != nullptr) [[unlikely]] { // gone from the registry before anyone sees it complete
                    diag::leave(p.diag_);
                    diag::end_record(std::exchange(p.diag_, nullptr));
                }
            }
            p.publish(p.outcome_);
            p.release_keeper(); // may destroy the frame; nothing touches it after this
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    void unhandled_exception() noexcept { outcome_ = this->store_current_exception(); }

#if WEFT_DIAGNOSTICS
    /// Every co_await in a task coroutine: the awaiter, with the registry's bookkeeping.
    template<typename A>
    auto await_transform(A&& a) {
        using inner = decltype(awaiter_of(static_cast<A&&>(a)));
        return diag_awaiter<inner>(awaiter_of(static_cast<A&&>(a)), diag_);
    }
#endif

    std::uint8_t outcome_ = state_base::st_failed;

private:
    [[gnu::noinline]] void diag_started(const char* function, const char* file, unsigned line) noexcept {
        diag_ = diag::begin_record(diag::record_kind::coroutine, static_cast<state_base*>(this), function, file, line);
        if (diag_ != nullptr) {
            diag::enter(diag_); // its start runs on the caller's thread, inside the caller's call
            diag_->scheduler.store(current_scheduler().identity(), relaxed); // order: relaxed — dumps only
        }
    }

    diag::task_record* diag_ = nullptr; // this coroutine's record, if the registry was on at its start

    static void destroy_frame(state_base* s) noexcept {
        auto* p = detail::down_cast<task_promise>(detail::down_cast<task_state<T>>(s));
        std::coroutine_handle<task_promise>::from_promise(*p).destroy();
    }
};

/// co_await on a task: resumes the coroutine per the placement rule (source policy, then the
/// scheduler current at the co_await, then inline under the recursion guard).
template<typename T, bool MoveOut>
class task_awaiter
    : public continuation
    , public work_item {
public:
    explicit task_awaiter(task_state<T>* s, any_scheduler named = {}) noexcept
        : work_item(&resume)
        , state_(s)
        , named_(named) {}
    /// co_await on an rvalue: the awaiter owns the handle (the task is consumed), so that as
    /// the only reader it can take the value (take_value) and give its reference back.
    explicit task_awaiter(task<T>&& t, any_scheduler named = {}) noexcept requires MoveOut
        : work_item(&resume)
        , state_(task_access::state(t))
        , named_(named)
        , owned_(std::move(t)) {}

    bool await_ready() const noexcept { return state_->is_ready(); }

    /// The task awaited (an identity for the registry's "awaits").
    const void* awaited_state() const noexcept { return static_cast<const state_base*>(state_); }
    /// The trace flow from the completion that resumed this await (0: none traced).
    std::uint64_t flow() const noexcept { return flow_; }

    bool await_suspend(std::coroutine_handle<> h) noexcept {
        handle_ = h;
        captured_ = current_scheduler();
        on_complete = &on_done;
        return state_->attach(this); // false: already complete, resume now without suspending
    }

    decltype(auto) await_resume() {
        if (discarded_) {
            throw operation_canceled("weft: the scheduler refused to resume this coroutine (shut down)");
        }
        state_->rethrow_if_error();
        if constexpr (std::is_void_v<T>) {
            return;
        } else if constexpr (std::is_reference_v<T>) {
            return static_cast<T>(state_->value_ref());
        } else if constexpr (MoveOut) {
            bool took = false;
            T value = state_->take_value(took); // moved as the only reader, else copied
            if (took) {                         // the handle's reference is a keeper's now
                task_access::release(owned_);
                state_->release_keeper();
            }
            return value;
        } else {
            return static_cast<const T&>(state_->value_ref());
        }
    }

private:
    static void on_done(continuation* c) noexcept {
        auto* self = detail::down_cast<task_awaiter>(c);
        if (diag::trace_on()) [[unlikely]] {
            self->flow_ = diag::next_flow_id();
            diag::flow_start("resume", "resume", self->flow_);
        }
        dispatch_continuation(
            self, self->named_, self->state_->source_policy(), self->captured_, self->state_->hops_continuations());
    }
    static void resume(work_item* w, bool run) noexcept {
        auto* self = detail::down_cast<task_awaiter>(w);
        self->discarded_ = !run;
        self->handle_.resume(); // may destroy *self
    }

    task_state<T>* state_;
    any_scheduler named_; // continue_on(s, t): rule 1 for this co_await
    std::coroutine_handle<> handle_;
    any_scheduler captured_;
    bool discarded_ = false;
    std::uint64_t flow_ = 0; // set on the completing thread before the resumption is placed
    [[no_unique_address]] std::conditional_t<MoveOut, task<T>, std::monostate> owned_{};
};

} // namespace weft::detail

namespace weft {

template<typename T>
auto task<T>::operator co_await() const& {
    return detail::task_awaiter<T, false>(&checked());
}

template<typename T>
auto task<T>::operator co_await() && {
    checked();
    return detail::task_awaiter<T, true>(std::move(*this));
}

/// `co_await continue_on(s, t)`: awaits `t` and resumes on `s` (placement rule 1 for this one
/// co_await: it overrides the policy of t's source, e.g. an io_context's inline_on_io).
/// continue_on(inline_scheduler{}, t) resumes on the completing thread (.NET
/// ExecuteSynchronously). The value is moved out when `t` is an rvalue.
template<typename S, typename T>
    requires scheduler<std::remove_cvref_t<S>>
auto continue_on(S&& s, const task<T>& t) {
    any_scheduler named(std::forward<S>(s));
    detail::require_scheduler(named, "weft: continue_on() with an empty scheduler");
    return detail::task_awaiter<T, false>(detail::task_access::checked_state(t), named);
}
template<typename S, typename T>
    requires scheduler<std::remove_cvref_t<S>>
auto continue_on(S&& s, task<T>&& t) {
    any_scheduler named(std::forward<S>(s));
    detail::require_scheduler(named, "weft: continue_on() with an empty scheduler");
    detail::task_access::checked_state(t);
    return detail::task_awaiter<T, true>(std::move(t), named);
}

} // namespace weft
