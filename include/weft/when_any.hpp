// weft/when_any.hpp — when_any: a task that completes when the first input does (.NET Task.WhenAny).
// Design note: docs/decisions/0001-task-model.md §"Combinators".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/task.hpp>
#include <weft/with_cancellation.hpp>

#include <cstddef>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

/// The winner of a when_any over a range: its position and the task itself (which may have
/// succeeded, failed or been canceled: when_any itself always succeeds).
template<typename T>
struct when_any_result {
    std::size_t index;
    task<T> winner;
};

/// The winner of a variadic when_any: its position and every input task.
template<typename... Ts>
struct when_any_tuple_result {
    std::size_t index;
    std::tuple<task<Ts>...> tasks;
};

/// when_any(cancel_losers, ...): once the winner is known, every other input is asked to end
/// (an I/O operation is canceled, queued spawned work dropped: state_base::request_cancel).
struct cancel_losers_t {
    explicit cancel_losers_t() = default;
};
inline constexpr cancel_losers_t cancel_losers{};

namespace detail {

/// First-past-the-post: every input gets a node; the first node to run claims the result, the
/// others only drop their reference. The state lives until every node has run, so a late
/// input never touches freed memory.
template<typename R>
class race_state : public task_state<R> {
public:
    struct node : continuation {
        race_state* owner = nullptr;
        std::size_t index = 0;
    };

    race_state(std::size_t inputs,
               const state_base::state_ops& ops,
               void (*win)(race_state*, std::size_t) noexcept,
               bool cancel_losers)
        : task_state<R>(ops, 1, static_cast<std::uint32_t>(inputs), state_base::st_pending)
        , cancel_losers_(cancel_losers)
        , nodes_(inputs)
        , win_(win) {
        for (std::size_t i = 0; i < inputs; ++i) {
            nodes_[i].owner = this;
            nodes_[i].index = i;
            nodes_[i].on_complete = &on_input;
        }
    }

    void attach_input(std::size_t i, state_base& input) noexcept {
        if (!input.attach(&nodes_[i])) {
            on_input(&nodes_[i]);
        }
    }

protected:
    const bool cancel_losers_;

private:
    static void on_input(continuation* c) noexcept {
        auto* n = detail::down_cast<node>(c);
        race_state* self = n->owner;
        if (self->try_claim()) {
            self->win_(self, n->index);
        }
        self->release_keeper(); // this input's reference
    }

    std::vector<node> nodes_;
    void (*win_)(race_state*, std::size_t) noexcept;
};

template<typename T>
class when_any_range_state final : public race_state<when_any_result<T>> {
    using base = race_state<when_any_result<T>>;

public:
    when_any_range_state(std::vector<task<T>> inputs, bool cancel_losers)
        : base(inputs.size(), state_base::ops_of<&destroy>, &win, cancel_losers)
        , inputs_(std::move(inputs)) {}

    void start() noexcept {
        for (std::size_t i = 0; i < inputs_.size(); ++i) {
            this->attach_input(i, *task_access::state(inputs_[i]));
        }
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<when_any_range_state>(detail::down_cast<task_state<when_any_result<T>>>(s));
    }
    static void win(base* b, std::size_t index) noexcept {
        auto* self = detail::down_cast<when_any_range_state>(b);
        // inputs_ is immutable after construction; the winner's handle is copied out
        self->complete_with_value(when_any_result<T>{index, self->inputs_[index]});
        if (self->cancel_losers_) { // this input's reference keeps the state (and inputs_) alive
            for (std::size_t i = 0; i < self->inputs_.size(); ++i) {
                if (i != index) {
                    task_access::state(self->inputs_[i])->request_cancel();
                }
            }
        }
    }

    const std::vector<task<T>> inputs_;
};

template<typename... Ts>
class when_any_tuple_state final : public race_state<when_any_tuple_result<Ts...>> {
    using result_t = when_any_tuple_result<Ts...>;
    using base = race_state<result_t>;

public:
    explicit when_any_tuple_state(bool cancel_losers, const task<Ts>&... inputs)
        : base(sizeof...(Ts), state_base::ops_of<&destroy>, &win, cancel_losers)
        , inputs_(inputs...) {}

    void start() noexcept {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (this->attach_input(I, *task_access::state(std::get<I>(inputs_))), ...);
        }
        (std::index_sequence_for<Ts...>{});
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<when_any_tuple_state>(detail::down_cast<task_state<result_t>>(s));
    }
    static void win(base* b, std::size_t index) noexcept {
        auto* self = detail::down_cast<when_any_tuple_state>(b);
        self->complete_with_value(result_t{index, self->inputs_});
        if (self->cancel_losers_) {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                ((I != index ? static_cast<void>(task_access::state(std::get<I>(self->inputs_))->request_cancel())
                             : void()),
                 ...);
            }
            (std::index_sequence_for<Ts...>{});
        }
    }

    const std::tuple<task<Ts>...> inputs_;
};

} // namespace detail

namespace detail {

template<typename T>
task<when_any_result<T>> make_when_any(std::vector<task<T>> inputs, bool cancel_losers) {
    if (inputs.empty()) {
        throw std::invalid_argument("weft: when_any of no tasks would never complete");
    }
    for (const auto& t : inputs) {
        task_access::checked_state(t);
    }
    auto* st = new when_any_range_state<T>(std::move(inputs), cancel_losers);
    auto result = task_access::adopt<when_any_result<T>>(st);
    st->start();
    return result;
}

template<typename... Ts>
task<when_any_tuple_result<Ts...>> make_when_any(bool cancel_losers, const task<Ts>&... inputs) {
    (task_access::checked_state(inputs), ...);
    auto* st = new when_any_tuple_state<Ts...>(cancel_losers, inputs...);
    auto result = task_access::adopt<when_any_tuple_result<Ts...>>(st);
    st->start();
    return result;
}

} // namespace detail

/// Completes when the first input completes, whatever its outcome, with that input's index and
/// task. std::invalid_argument for an empty range (there would be no winner, ever). The losers
/// go on: when_any(cancel_losers, ...) asks them to end.
template<typename T>
task<when_any_result<T>> when_any(std::vector<task<T>> inputs) {
    return detail::make_when_any(std::move(inputs), false);
}

/// Variadic form: the winner's index and every input task.
template<typename... Ts>
    requires(sizeof...(Ts) > 0)
task<when_any_tuple_result<Ts...>> when_any(const task<Ts>&... inputs) {
    return detail::make_when_any(false, inputs...);
}

/// As when_any(inputs), and once the winner is known every other input is asked to end: an
/// I/O operation is canceled, queued spawned work is dropped (its task completes canceled);
/// other work (a coroutine, a promise) cannot be asked and goes on.
template<typename T>
task<when_any_result<T>> when_any(cancel_losers_t, std::vector<task<T>> inputs) {
    return detail::make_when_any(std::move(inputs), true);
}
template<typename... Ts>
    requires(sizeof...(Ts) > 0)
task<when_any_tuple_result<Ts...>> when_any(cancel_losers_t, const task<Ts>&... inputs) {
    return detail::make_when_any(true, inputs...);
}

/// With a token: completes canceled as soon as `token` is canceled (if no input won before),
/// and then asks every input to end, as with_cancellation does.
template<typename T>
task<when_any_result<T>> when_any(const cancellation_token& token, std::vector<task<T>> inputs) {
    std::vector<detail::cancel_target> targets = detail::cancel_targets_of(inputs);
    return detail::cancel_on(token, detail::make_when_any(std::move(inputs), false), std::move(targets));
}
template<typename... Ts>
    requires(sizeof...(Ts) > 0)
task<when_any_tuple_result<Ts...>> when_any(const cancellation_token& token, const task<Ts>&... inputs) {
    std::vector<detail::cancel_target> targets{detail::cancel_target::of(inputs)...};
    return detail::cancel_on(token, detail::make_when_any(false, inputs...), std::move(targets));
}

} // namespace weft
