// weft/spawn.hpp — weft::spawn(scheduler, f, args..., [token]): run f on a scheduler and get
// its task (.NET Task.Run / TaskFactory.StartNew).
// Design note: docs/decisions/0001-task-model.md §"Spawn and cancellation of queued work".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/diag/registry.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>

#include <functional>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

/// A name for a spawned task, shown in weft::diag's dumps and traces:
/// `weft::spawn(pool, weft::task_name{"fetch user"}, f, args...)`. Without one, a dump shows the
/// function's type (for a lambda, the function it was written in).
struct task_name {
    std::string_view text;
};

namespace detail {

/// The name the next spawn on this thread takes (set by spawn(s, task_name, ...) around its call).
inline std::string_view& pending_task_name() noexcept {
    static thread_local std::string_view name;
    return name;
}

template<typename U, typename Fn, typename Args, bool PassToken>
class spawn_state final : public work_state<U> {
public:
    spawn_state(Fn fn, Args args, cancellation_token token)
        : work_state<U>(state_base::ops_of<&destroy, &cancel_hook>, &invoke)
        , fn_(std::move(fn))
        , args_(std::move(args))
        , token_(std::move(token)) {}

    /// Called before the item is scheduled: a cancellation that arrives while the item waits
    /// in a queue completes the task canceled at once, so waiters never wait on the queue.
    void watch_token() {
        if (token_.can_be_canceled()) {
            registration_ = token_.register_callback([this] { cancel_if_pending(); });
        }
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<spawn_state>(detail::down_cast<task_state<U>>(s));
    }

    /// request_cancel(): work that has not started is dropped, as a canceled token drops it.
    /// The queued item's reference keeps the state alive through the publish.
    static void cancel_hook(state_base* s) noexcept {
        detail::down_cast<spawn_state>(detail::down_cast<task_state<U>>(s))->cancel_if_pending();
    }

    void cancel_if_pending() noexcept {
        if (this->try_claim_pending()) {
            this->error_ = std::make_exception_ptr(operation_canceled{});
            this->publish(state_base::st_canceled);
        }
    }

public:
    /// Registers this spawn (registry on): named, its function's type, queued on `sched`.
    [[gnu::noinline]] void begin_record(const void* sched) noexcept {
        diag_ = diag::new_record(diag::record_kind::spawned, static_cast<state_base*>(this), nullptr, nullptr, 0);
        if (diag_ != nullptr) {
            diag_->callable = &typeid(Fn);
            diag_->status.store(diag::record_state::queued, relaxed); // order: relaxed — dumps only
            diag_->scheduler.store(sched, relaxed);                   // order: relaxed — dumps only
            try {
                diag_->name.assign(pending_task_name());
                if (diag_->name.empty()) {
                    diag_->trace_name = typeid(Fn).name();
                    diag_->trace_name_mangled = true;
                } else if (diag::trace_on()) {
                    diag_->trace_name = diag::trace_sessions::instance().intern(diag_->name);
                }
            } catch (...) {
                // out of memory for the name: the record keeps the function's type
            }
            if (diag::trace_on()) {
                diag_->spawn_flow = diag::next_flow_id();
                diag::flow_start("spawn", "spawn", diag_->spawn_flow);
            }
            diag::publish_record(diag_);
        }
    }
    void end_record() noexcept { diag::end_record(std::exchange(diag_, nullptr)); }

private:
    static void invoke(work_item* w, bool run) noexcept {
        auto* self = detail::down_cast<spawn_state>(detail::down_cast<work_state<U>>(w));
        const bool start = run && !self->token_.is_cancellation_requested() && self->try_start();
        // After this no cancel callback is running on another thread, and none will start.
        self->registration_.unregister();
        if (!start) {
            if constexpr (diag::compiled_in) {
                self->end_record();
            }
            self->fn_.reset();
            self->cancel_unrun(); // no-op on the status if the token's callback already did it
            return;
        }
        if constexpr (diag::compiled_in) {
            if (self->diag_ != nullptr) [[unlikely]] {
                invoke_recorded(self);
                return;
            }
        }
        // The closure and the arguments are used in place: nothing is moved here, so a type
        // whose move constructor throws cannot throw out of this noexcept function. run_and_
        // complete may free the state: the token is copied out first.
        std::apply(
            [&](auto&&... a) {
                if constexpr (PassToken) {
                    cancellation_token token = self->token_;
                    self->run_and_complete(self->fn_, std::forward<decltype(a)>(a)..., token);
                } else {
                    self->run_and_complete(self->fn_, std::forward<decltype(a)>(a)...);
                }
            },
            std::move(self->args_));
    }

    /// invoke() with the record current while the function runs, ended once it has returned.
    [[gnu::noinline]] static void invoke_recorded(spawn_state* self) noexcept {
        diag::task_record* const record = self->diag_;
        diag::enter(record);
        if (record->spawn_flow != 0 && diag::trace_on()) {
            diag::emit('f', "spawn", record->spawn_flow, "spawn");
        }
        auto returned = [self, record]() noexcept {
            diag::leave(record);
            self->end_record();
        };
        std::apply(
            [&](auto&&... a) {
                if constexpr (PassToken) {
                    cancellation_token token = self->token_;
                    self->run_and_complete_then(returned, self->fn_, std::forward<decltype(a)>(a)..., token);
                } else {
                    self->run_and_complete_then(returned, self->fn_, std::forward<decltype(a)>(a)...);
                }
            },
            std::move(self->args_));
    }

    std::optional<Fn> fn_;
    Args args_;
    cancellation_token token_;
    cancellation_registration registration_;
    diag::task_record* diag_ = nullptr; // this spawn's record, if the registry was on at spawn
};

template<typename S, typename F, typename... Args>
auto spawn_with_token(S& sched, cancellation_token token, F&& f, Args&&... args) {
    using Fn = std::decay_t<F>;
    using Tuple = std::tuple<std::decay_t<Args>...>;
    constexpr bool pass_token = std::is_invocable_v<Fn, std::decay_t<Args>..., cancellation_token&>;
    static_assert(pass_token || std::is_invocable_v<Fn, std::decay_t<Args>...>,
                  "weft: spawn(s, f, args...) needs f callable with args... (and, optionally, a "
                  "trailing cancellation_token&)");
    using R = typename std::conditional_t<pass_token,
                                          std::invoke_result<Fn, std::decay_t<Args>..., cancellation_token&>,
                                          std::invoke_result<Fn, std::decay_t<Args>...>>::type;
    using U = unwrapped_t<R>;
    require_callable(f, "weft: spawn() with a null function");
    if constexpr (std::is_same_v<std::remove_cv_t<S>, any_scheduler>) {
        require_scheduler(sched, "weft: spawn() on an empty any_scheduler");
    }

    using state_t = spawn_state<U, Fn, Tuple, pass_token>;
    auto* st = new state_t(std::forward<F>(f), Tuple(std::forward<Args>(args)...), std::move(token));
    task<U> result = task_access::adopt<U>(st);
    try {
        st->watch_token(); // may cancel synchronously (already-canceled token)
    } catch (...) {
        st->cancel_unrun();
        throw;
    }
    if (result.is_canceled()) {
        st->cancel_unrun(); // canceled before it was queued: never queue it
        return result;
    }
    if (diag::registry_on()) [[unlikely]] {
        st->begin_record(any_scheduler(sched).identity());
    }
    try {
        sched.schedule(detail::down_cast<work_item>(st));
    } catch (...) {
        st->end_record();
        st->cancel_unrun(); // refused: the closure is destroyed once, the error goes to the caller
        throw;
    }
    return result;
}

template<typename T>
inline constexpr bool is_token_v = std::is_same_v<std::remove_cvref_t<T>, cancellation_token>;

template<typename... Args>
constexpr bool last_is_token() noexcept {
    if constexpr (sizeof...(Args) == 0) {
        return false;
    } else {
        return is_token_v<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>;
    }
}

} // namespace detail

/// Runs `f(args...)` on `sched` and returns its task; a function returning task<U> gives
/// task<U> (unwrapped). With a trailing cancellation_token: if the token is canceled before
/// `f` starts, `f` never runs and the task completes canceled at once, even while the item
/// still sits in a queue; `f` also receives the token (as a last argument) if it accepts one.
///
/// Exceptions: shutdown_error if `sched` refuses the work (the closure is destroyed once);
///             std::invalid_argument for a null function pointer or empty std::function, or
///             an empty any_scheduler.
template<typename S, typename F, typename... Args>
    requires scheduler<std::remove_cvref_t<S>>
auto spawn(S&& sched, F&& f, Args&&... args) {
    auto&& s = sched;
    if constexpr (detail::last_is_token<Args...>()) {
        auto all = std::forward_as_tuple(std::forward<Args>(args)...);
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return detail::spawn_with_token(s,
                                            cancellation_token(std::get<sizeof...(Args) - 1>(all)),
                                            std::forward<F>(f),
                                            std::get<I>(std::move(all))...);
        }
        (std::make_index_sequence<sizeof...(Args) - 1>{});
    } else {
        return detail::spawn_with_token(s, cancellation_token{}, std::forward<F>(f), std::forward<Args>(args)...);
    }
}

/// spawn(sched, f, args...) with a name for weft::diag's dumps and traces (ignored while the
/// registry is off).
template<typename S, typename F, typename... Args>
    requires scheduler<std::remove_cvref_t<S>>
auto spawn(S&& sched, task_name name, F&& f, Args&&... args) {
    struct restore {
        std::string_view previous;
        ~restore() { detail::pending_task_name() = previous; }
    } guard{std::exchange(detail::pending_task_name(), name.text)};
    return spawn(std::forward<S>(sched), std::forward<F>(f), std::forward<Args>(args)...);
}

} // namespace weft
