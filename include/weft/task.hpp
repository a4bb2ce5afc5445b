// weft/task.hpp — task<T>: an eager task with continuations (.NET Task<T>), also a C++20
// coroutine return type (an async method) and awaitable.
// Design note: docs/decisions/0001-task-model.md (model) and 0002 (where continuations run);
// the state protocol is at the top of weft/detail/task_state.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/placement.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/task_status.hpp>

#include <chrono>
#include <concepts>
#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

template<typename T = void>
class task;

/// How a continuation is attached (.NET TaskContinuationOptions, the parts that apply).
enum class continuation_options : unsigned {
    none = 0,
    execute_synchronously = 1u << 0, ///< run inline on the completing thread (= inline_scheduler)
    only_on_error = 1u << 1,         ///< run only if the antecedent failed; else complete canceled
    not_on_canceled = 1u << 2,       ///< skip (complete canceled) if the antecedent was canceled
    run_asynchronously = 1u << 3,    ///< never inline: always hop to the chosen scheduler
};
constexpr continuation_options operator|(continuation_options a, continuation_options b) noexcept {
    return static_cast<continuation_options>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_option(continuation_options set, continuation_options o) noexcept {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(o)) != 0;
}

namespace detail {

template<typename R>
struct is_task : std::false_type {};
template<typename U>
struct is_task<task<U>> : std::true_type {};
template<typename R>
inline constexpr bool is_task_v = is_task<std::remove_cvref_t<R>>::value;

/// task<U> for a function returning U or task<U> (a returned task is unwrapped).
template<typename R>
struct unwrapped {
    using type = R;
};
template<typename U>
struct unwrapped<task<U>> {
    using type = U;
};
template<typename R>
using unwrapped_t = typename unwrapped<std::remove_cv_t<R>>::type;

/// How the value form receives the antecedent's value: const T& when f accepts it (the value
/// stays in the shared state, read by every continuation alike); otherwise f wants it mutable
/// or by move (T&, T&&, a move-only T by value) and gets the state's own value only as its only
/// reader, else a copy (task_state::take_value). A reference T is passed as is.
template<typename F, typename T>
struct value_arg {
    using type =
        std::conditional_t<std::invocable<F, const T&>, const T&, std::conditional_t<std::invocable<F, T&&>, T&&, T&>>;
};
template<typename F, typename T>
struct value_arg<F, T&> {
    using type = T&;
};
template<typename F>
struct value_arg<F, void> {
    using type = void;
};
template<typename F, typename T>
using value_arg_t = typename value_arg<F, T>::type;

/// The value form receives the antecedent's value (value_arg_t); for task<void>, nothing.
template<typename F, typename T>
concept value_continuation_for = (std::is_void_v<T> && std::invocable<F>) ||
                                 (!std::is_void_v<T> && (std::invocable<F, const std::remove_reference_t<T>&> ||
                                                         std::invocable<F, std::add_lvalue_reference_t<T>> ||
                                                         std::invocable<F, std::add_rvalue_reference_t<T>>));
/// The task form receives the antecedent task; chosen only when the value form does not fit.
template<typename F, typename T>
concept task_continuation_for = !value_continuation_for<F, T> && std::invocable<F, task<T>>;

template<typename F, typename T>
struct continuation_result {
    using type = std::invoke_result_t<F, task<T>>;
};
template<typename F, typename T>
    requires value_continuation_for<F, T>
struct continuation_result<F, T> {
    using type = typename std::
        conditional_t<std::is_void_v<T>, std::invoke_result<F>, std::invoke_result<F, value_arg_t<F, T>>>::type;
};

template<typename F>
struct is_std_function : std::false_type {};
template<typename Sig>
struct is_std_function<std::function<Sig>> : std::true_type {};

/// Rejects a null function pointer or an empty std::function at the call (.NET rejects null).
template<typename F>
void require_callable(const F& f, const char* what) {
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F> || is_std_function<F>::value) {
        if (!f) {
            throw std::invalid_argument(what);
        }
    }
}

struct task_access;
template<typename T>
class task_promise;

template<typename T>
struct const_result {
    using type = const T&;
};
template<typename T>
struct const_result<T&> {
    using type = T&;
};
template<>
struct const_result<void> {
    using type = void;
};

} // namespace detail

/// An eager, shared handle to an asynchronous result (.NET Task<T>). Copies share one state;
/// T may be void, a reference or move-only. A default-constructed or moved-from task holds no
/// state: every operation but valid() then throws weft::no_state.
///
/// Thread safety: distinct objects safe; a shared state is safe to use from many threads
///                through distinct handles (one handle object is not itself synchronised).
/// Lifetime:      the state lives while any handle, pending continuation or running work
///                refers to it; dropping every handle does not cancel the work.
/// Blocking:      get()/wait() block (a pool worker runs other queued work meanwhile);
///                everything else is non-blocking.
/// Exceptions:    the work's exception is rethrown, with its type, by get() and co_await;
///                a canceled task throws weft::operation_canceled.
template<typename T>
class [[nodiscard]] task {
public:
    using value_type = T;
    using promise_type = detail::task_promise<T>;
    /// What get() on an lvalue returns: const T& (T& for reference T, void for void).
    using const_result = typename detail::const_result<T>::type;

    task() noexcept = default;

    /// False for a default-constructed or moved-from task.
    bool valid() const noexcept { return static_cast<bool>(state_); }

    task_status status() const { return checked().status(); }
    bool is_ready() const { return checked().is_ready(); }
    bool is_pending() const { return status() == task_status::pending; }
    bool is_running() const { return status() == task_status::running; }
    bool is_succeeded() const { return status() == task_status::succeeded; }
    bool is_failed() const { return status() == task_status::failed; }
    bool is_canceled() const { return status() == task_status::canceled; }

    /// Blocks until complete. Does not throw the task's error (get() does).
    /// deadlock_error if this thread must not block (an I/O thread) and the task is not complete.
    void wait() const {
        auto& s = checked();
        detail::blocking_wait(s);
    }

    /// Blocks until complete or `timeout` passed; true if complete. A zero or negative
    /// timeout only polls; duration::max() waits forever.
    template<typename Rep, typename Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        using clock = std::chrono::steady_clock;
        auto& s = checked();
        if (timeout <= timeout.zero()) {
            return s.is_ready();
        }
        const auto now = clock::now();
        const auto room = std::chrono::duration_cast<std::chrono::duration<double>>(clock::time_point::max() - now);
        if (std::chrono::duration<double>(timeout) >= room) {
            return detail::blocking_wait_until(s, clock::time_point::max());
        }
        return detail::blocking_wait_until(s, now + std::chrono::ceil<clock::duration>(timeout));
    }

    /// As wait_for(); a deadline in the past (time_point::min() included) only polls, and
    /// time_point::max() waits forever, without overflow.
    template<typename Clock, typename Duration>
    bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
        const auto now = Clock::now();
        if (deadline <= now) {
            return checked().is_ready();
        }
        return wait_for(deadline - now); // positive, and at most max() - now: no overflow
    }

    /// Waits, then returns the value (a const reference into the shared state; a reference
    /// for task<U&>; nothing for task<void>) or rethrows the stored exception. On a thread
    /// that must not block (an I/O thread) a task that is not complete throws deadlock_error
    /// at once.
    const_result get() const& {
        auto& s = checked();
        detail::blocking_wait(s);
        s.rethrow_if_error();
        if constexpr (std::is_reference_v<T>) {
            return s.value_ref();
        } else if constexpr (!std::is_void_v<T>) {
            return s.value_ref();
        }
    }

    /// Waits, then returns the value by value: moved out of the shared state when this handle
    /// is its only reader (no other handle, no continuation waiting; the handle is then empty),
    /// else copied; a move-only value that others can still read throws shared_value_error.
    /// Rethrows as get() const& does.
    T get() && {
        auto& s = checked();
        detail::blocking_wait(s);
        s.rethrow_if_error();
        if constexpr (std::is_reference_v<T>) {
            return s.value_ref();
        } else if constexpr (!std::is_void_v<T>) {
            bool took = false;
            T value = s.take_value(took);
            if (took) { // our reference is a keeper's now: the handle gives it back as one
                state_.release();
                s.release_keeper();
            }
            return value;
        }
    }

    /// The stored exception if the task failed or was canceled, else nullptr. Counts as
    /// observing the error. Does not wait.
    std::exception_ptr exception() const {
        auto& s = checked();
        const auto raw = s.raw_status();
        if (raw == detail::state_base::st_failed || raw == detail::state_base::st_canceled) {
            return s.take_error();
        }
        return nullptr;
    }

    /// ContinueWith. `f` takes the value (value form: skipped when this task failed or was
    /// canceled, whose error then propagates) or the whole task<T> (task form: always runs).
    /// A returned task<U> is unwrapped. Where it runs: docs/guide/placement.md.
    template<typename F>
    auto then(F&& f, continuation_options options = continuation_options::none) const;

    /// ContinueWith on a named scheduler (placement rule 1). std::invalid_argument for an
    /// empty any_scheduler.
    template<typename S, typename F>
        requires scheduler<std::remove_cvref_t<S>>
    auto then(S&& sched, F&& f, continuation_options options = continuation_options::none) const;

    /// ContinueWith(f, CancellationToken): as then(f), and if `token` is canceled before `f`
    /// starts, `f` never runs and the returned task completes canceled at once, even while
    /// this task is still pending. Cancelling while `f` runs does nothing (pass the token in).
    template<typename F>
    auto then(F&& f, const cancellation_token& token, continuation_options options = continuation_options::none) const;
    template<typename S, typename F>
        requires scheduler<std::remove_cvref_t<S>>
    auto then(S&& sched,
              F&& f,
              const cancellation_token& token,
              continuation_options options = continuation_options::none) const;

    /// Awaits completion (the coroutine resumes per the placement rule) and yields get()'s
    /// result; on an rvalue task the value is taken as get() && takes it (moved by the only
    /// reader, else copied) and the handle is consumed. Throws no_state on an empty task.
    auto operator co_await() const&;
    auto operator co_await() &&;

private:
    friend struct detail::task_access;
    explicit task(detail::task_state<T>* adopted) noexcept
        : state_(detail::ref_ptr<detail::task_state<T>>::adopt(adopted)) {}

    detail::task_state<T>& checked() const {
        if (!state_) {
            throw no_state{};
        }
        return *state_;
    }

    detail::ref_ptr<detail::task_state<T>> state_; // copies share the state; moves leave it empty
};

namespace detail {

struct task_access {
    template<typename T>
    static task<T> adopt(task_state<T>* s) noexcept {
        return task<T>(s);
    }
    template<typename T>
    static task_state<T>* state(const task<T>& t) noexcept {
        return t.state_.get();
    }
    template<typename T>
    static task_state<T>* checked_state(const task<T>& t) {
        return &t.checked();
    }
    /// Takes the reference out of `t` (which becomes empty).
    template<typename T>
    static task_state<T>* release(task<T>& t) noexcept {
        return t.state_.release();
    }
};

/// The state of a task produced by running a function (spawn, then): a task state that is also
/// a work item (to be scheduled) and a continuation node (to wait for an antecedent, or for the
/// task the function returned, which is unwrapped).
/// References at construction: the returned handle (a reader) and the "machinery" (a keeper),
/// released when the state completes.
template<typename U>
class work_state
    : public task_state<U>
    , public continuation
    , public work_item {
protected:
    work_state(const state_base::state_ops& ops, work_item::invoke_fn invoke) noexcept
        : task_state<U>(ops, 1, 1, state_base::st_pending)
        , work_item(invoke) {}

public:
    /// Invokes the closure in place (it is never moved again, so a closure whose move could
    /// throw is safe), destroys it, completes this state with the outcome (a returned task<U>
    /// is awaited and its outcome copied), and releases the machinery reference. The caller
    /// must not touch this state afterwards.
    template<typename Fn, typename... A>
    void run_and_complete(std::optional<Fn>& fn, A&&... args) noexcept {
        run_and_complete_then([]() noexcept {}, fn, std::forward<A>(args)...);
    }
    /// run_and_complete, calling `returned()` once the closure has returned or thrown and has
    /// been destroyed, before anything can see the outcome (the registry ends a spawned
    /// function's record there).
    template<typename Returned, typename Fn, typename... A>
    void run_and_complete_then(Returned returned, std::optional<Fn>& fn, A&&... args) noexcept {
        using R = std::invoke_result_t<Fn, A...>;
        if constexpr (is_task_v<R>) {
            std::remove_cvref_t<R> inner;
            try {
                inner = std::invoke(std::move(*fn), std::forward<A>(args)...);
            } catch (...) {
                fn.reset();
                returned();
                this->publish(this->store_current_exception());
                this->release_keeper();
                return;
            }
            fn.reset();
            returned();
            if (!inner.valid()) {
                this->error_ = std::make_exception_ptr(no_state{});
                this->publish(state_base::st_failed);
                this->release_keeper();
                return;
            }
            inner_ = task_access::release(inner);
            this->on_complete = &on_inner_complete;
            if (!inner_->attach(this)) {
                on_inner_complete(this);
            }
        } else {
            std::uint8_t outcome = state_base::st_succeeded;
            try {
                if constexpr (std::is_void_v<R>) {
                    std::invoke(std::move(*fn), std::forward<A>(args)...);
                } else {
                    outcome = this->emplace(std::invoke(std::move(*fn), std::forward<A>(args)...));
                }
            } catch (...) {
                outcome = this->store_current_exception();
            }
            fn.reset(); // the closure dies before anyone can see the result
            returned();
            this->publish(outcome);
            this->release_keeper();
        }
    }

    /// Completes canceled without running (discarded work) and releases the machinery.
    /// A no-op on the status if something else completed the state first.
    void cancel_unrun() noexcept {
        if (this->try_claim()) {
            this->error_ = std::make_exception_ptr(operation_canceled{});
            this->publish(state_base::st_canceled);
        }
        this->release_keeper();
    }

private:
    static void on_inner_complete(continuation* c) noexcept {
        auto* self = detail::down_cast<work_state>(c);
        task_state<U>* inner = self->inner_;
        bool took = false;
        self->complete_from(*inner, took);
        if (took) {
            inner->release_keeper();
        } else {
            inner->release_ref();
        }
        self->release_keeper();
    }

    task_state<U>* inner_ = nullptr; // the unwrapped task, owned reference
};

/// then()'s token, when it has one: canceled before the continuation starts, its task
/// completes canceled at once (the function never runs), even while the antecedent is pending.
struct no_then_token {};
struct then_token {
    cancellation_token token;
    cancellation_registration registration;
};

/// A continuation attached with then(): waits for the antecedent, then is placed per the rule.
/// It is one of the antecedent's readers from the moment it is attached (arm takes the
/// reference; invoke() adopts it, skip() drops it): so a reader that finds itself the only one
/// knows no continuation still waiting can see the value, and may move it (try_take).
template<typename T, typename U, typename Fn, bool TaskForm, bool WithToken>
class then_state final : public work_state<U> {
public:
    then_state(
        Fn fn, task_state<T>& antecedent, any_scheduler named, any_scheduler captured, continuation_options options)
        : work_state<U>(state_base::ops_of<&destroy>, &invoke)
        , fn_(std::move(fn))
        , antecedent_(&antecedent)
        , named_(named)
        , captured_(captured)
        , options_(options) {}

    /// Registers the token (may throw: nothing is linked yet, the caller abandons the state).
    void watch(const cancellation_token& token) requires WithToken {
        cancel_.token = token;
        if (token.can_be_canceled()) {
            cancel_.registration = token.register_callback([this] { cancel_if_pending(); });
        }
    }

    /// Links this continuation to the antecedent (or runs the decision now if it is complete).
    void arm() noexcept {
        antecedent_->add_ref(); // a reader until invoke() adopts it or skip() drops it
        this->on_complete = &on_antecedent;
        if (!antecedent_->attach(this)) {
            on_antecedent(this);
        }
    }

    /// Before arm(): gives up a state that will never be linked (watch() threw).
    void abandon() noexcept {
        fn_.reset();
        this->cancel_unrun();
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<then_state>(detail::down_cast<task_state<U>>(s));
    }

    void cancel_if_pending() noexcept {
        // The machinery reference, held until the antecedent completes, keeps this state alive
        // through the publish.
        if (this->try_claim_pending()) {
            this->error_ = std::make_exception_ptr(operation_canceled{});
            this->publish(state_base::st_canceled);
        }
    }

    static void on_antecedent(continuation* c) noexcept {
        auto* self = detail::down_cast<then_state>(detail::down_cast<work_state<U>>(c));
        task_state<T>& a = *self->antecedent_; // alive: this continuation is one of its readers
        const std::uint8_t s = a.raw_status();
        bool run = false;
        if constexpr (WithToken) {
            if (self->cancel_.token.is_cancellation_requested()) {
                self->skip(s, true);
                return;
            }
        }
        if (has_option(self->options_, continuation_options::only_on_error)) {
            run = s == state_base::st_failed;
        } else if constexpr (TaskForm) {
            run = !(s == state_base::st_canceled && has_option(self->options_, continuation_options::not_on_canceled));
        } else {
            run = s == state_base::st_succeeded;
        }
        if (!run) {
            self->skip(s, false);
            return;
        }
        dispatch_continuation(self,
                              self->named_,
                              a.source_policy(),
                              self->captured_,
                              has_option(self->options_, continuation_options::run_asynchronously) ||
                                  a.hops_continuations());
    }

    /// The continuation does not run: the value form propagates the antecedent's error or
    /// cancellation; an option that did not match, or the token, completes it canceled (as
    /// .NET does).
    void skip(std::uint8_t antecedent_status, bool by_token) noexcept {
        task_state<T>* antecedent = std::exchange(antecedent_, nullptr);
        if constexpr (WithToken) {
            cancel_.registration.unregister(); // no callback runs after this
        }
        fn_.reset();
        if (this->try_claim()) { // false: the token's callback completed it already
            if (!by_token && !TaskForm && antecedent_status != state_base::st_succeeded &&
                !has_option(options_, continuation_options::only_on_error)) {
                this->error_ = antecedent->take_error();
                this->publish(antecedent_status);
            } else {
                this->error_ = std::make_exception_ptr(operation_canceled{});
                this->publish(state_base::st_canceled);
            }
        }
        antecedent->release_ref();
        this->release_keeper();
    }

    static void invoke(work_item* w, bool run) noexcept {
        auto* self = detail::down_cast<then_state>(detail::down_cast<work_state<U>>(w));
        task<T> antecedent = task_access::adopt<T>(std::exchange(self->antecedent_, nullptr));
        if constexpr (WithToken) {
            const bool start = run && self->try_start(); // false: the token's callback won
            self->cancel_.registration.unregister();
            run = start && !self->cancel_.token.is_cancellation_requested();
        }
        if (!run) {
            self->fn_.reset();
            self->cancel_unrun(); // a no-op on the status if the token completed it
            return;
        }
        if constexpr (!WithToken) {
            self->try_start(); // nothing else can complete it: it wins
        }
        if constexpr (TaskForm) {
            self->run_and_complete(self->fn_, std::move(antecedent));
        } else if constexpr (std::is_void_v<T>) {
            self->run_and_complete(self->fn_);
        } else {
            self->run_with_value(antecedent);
        }
    }

    /// The value form: const T& straight from the shared state when f accepts it; a function
    /// that wants it mutable or by move (T&, T&&, a move-only T by value) gets the state's own
    /// value if this continuation is its only reader, else a copy (take_value), else
    /// shared_value_error (docs/guide/composition.md, "Shared results").
    void run_with_value(task<T>& antecedent) noexcept {
        using Arg = value_arg_t<Fn, T>;
        task_state<T>& a = *task_access::state(antecedent);
        if constexpr (std::is_reference_v<T> || std::is_same_v<Arg, const T&>) {
            this->run_and_complete(fn_, static_cast<Arg>(a.value_ref()));
        } else if (a.try_take()) { // the handle's reference is a keeper's now
            task_access::release(antecedent);
            this->run_and_complete(fn_, static_cast<Arg>(a.value_ref())); // may free *this
            a.release_keeper();
        } else {
            std::optional<T> copy;
            try {
                bool took = false;
                copy.emplace(a.take_value(took)); // a copy (not the only reader), or shared_value_error
            } catch (...) {
                fn_.reset();
                this->publish(this->store_current_exception());
                this->release_keeper();
                return;
            }
            this->run_and_complete(fn_, static_cast<Arg>(*copy));
        }
    }

    std::optional<Fn> fn_;
    task_state<T>* antecedent_; // a reader's reference (arm), until invoke() or skip() takes it
    any_scheduler named_;
    any_scheduler captured_;
    continuation_options options_;
    [[no_unique_address]] std::conditional_t<WithToken, then_token, no_then_token> cancel_;
};

template<bool WithToken, typename T, typename F>
auto attach_then(const task<T>& antecedent,
                 any_scheduler named,
                 F&& f,
                 continuation_options options,
                 const cancellation_token* token = nullptr) {
    using Fn = std::decay_t<F>;
    static_assert(value_continuation_for<Fn, T> || task_continuation_for<Fn, T>,
                  "weft: then(f) needs f callable with the antecedent's value (const T&, T& or T&&, "
                  "or nothing for task<void>) or with the whole task<T>");
    constexpr bool task_form = task_continuation_for<Fn, T>;
    using R = typename continuation_result<Fn, T>::type;
    using U = unwrapped_t<R>;

    require_callable(f, "weft: then() with a null function");
    task_state<T>* a = task_access::checked_state(antecedent);
    if (has_option(options, continuation_options::execute_synchronously)) {
        if (has_option(options, continuation_options::run_asynchronously)) {
            throw std::invalid_argument("weft: execute_synchronously and run_asynchronously conflict");
        }
        if (named && !named.is_inline()) {
            throw std::invalid_argument("weft: execute_synchronously with a non-inline scheduler");
        }
        named = any_scheduler(inline_scheduler{});
    }
    if (!task_form && has_option(options, continuation_options::only_on_error)) {
        throw std::invalid_argument("weft: only_on_error needs the task form (f(task<T>)): a value "
                                    "continuation never sees an error");
    }
    const any_scheduler captured = current_scheduler();
    if (has_option(options, continuation_options::run_asynchronously)) {
        // placement §1b: the first candidate that can take a hop
        const any_scheduler& source = a->source_policy();
        const bool has_target =
            named ? !named.is_inline() : ((source && !source.is_inline()) || (captured && !captured.is_inline()));
        if (!has_target) {
            throw std::invalid_argument("weft: run_asynchronously needs a scheduler to hop to: name "
                                        "one, or attach from a scheduler's thread");
        }
    }
    using state_t = then_state<T, U, Fn, task_form, WithToken>;
    auto* st = new state_t(std::forward<F>(f), *a, named, captured, options);
    task<U> result = task_access::adopt<U>(st);
    if constexpr (WithToken) {
        try {
            st->watch(*token);
        } catch (...) {
            st->abandon();
            throw;
        }
    }
    st->arm();
    return result;
}

} // namespace detail

template<typename T>
template<typename F>
auto task<T>::then(F&& f, continuation_options options) const {
    return detail::attach_then<false>(*this, any_scheduler{}, std::forward<F>(f), options);
}

template<typename T>
template<typename S, typename F>
    requires scheduler<std::remove_cvref_t<S>>
auto task<T>::then(S&& sched, F&& f, continuation_options options) const {
    any_scheduler named(std::forward<S>(sched));
    detail::require_scheduler(named, "weft: then() with an empty scheduler");
    return detail::attach_then<false>(*this, named, std::forward<F>(f), options);
}

template<typename T>
template<typename F>
auto task<T>::then(F&& f, const cancellation_token& token, continuation_options options) const {
    return detail::attach_then<true>(*this, any_scheduler{}, std::forward<F>(f), options, &token);
}

template<typename T>
template<typename S, typename F>
    requires scheduler<std::remove_cvref_t<S>>
auto task<T>::then(S&& sched, F&& f, const cancellation_token& token, continuation_options options) const {
    any_scheduler named(std::forward<S>(sched));
    detail::require_scheduler(named, "weft: then() with an empty scheduler");
    return detail::attach_then<true>(*this, named, std::forward<F>(f), options, &token);
}

} // namespace weft

#include <weft/detail/task_coroutine.hpp>
