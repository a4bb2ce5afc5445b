// weft/when_any.hpp — when_any: a task that completes when the first input does (.NET Task.WhenAny).
// Design note: docs/decisions/0001-task-model.md §"Combinators".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/down_cast.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/task.hpp>

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

    race_state(std::size_t inputs, state_base::destroy_fn destroy, void (*win)(race_state*, std::size_t) noexcept)
        : task_state<R>(destroy, static_cast<std::uint32_t>(1 + inputs), state_base::st_pending)
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

private:
    static void on_input(continuation* c) noexcept {
        auto* n = detail::down_cast<node>(c);
        race_state* self = n->owner;
        if (self->try_claim()) {
            self->win_(self, n->index);
        }
        self->release_ref(); // this input's reference
    }

    std::vector<node> nodes_;
    void (*win_)(race_state*, std::size_t) noexcept;
};

template<typename T>
class when_any_range_state final : public race_state<when_any_result<T>> {
    using base = race_state<when_any_result<T>>;

public:
    explicit when_any_range_state(std::vector<task<T>> inputs)
        : base(inputs.size(), &destroy, &win)
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
    }

    const std::vector<task<T>> inputs_;
};

template<typename... Ts>
class when_any_tuple_state final : public race_state<when_any_tuple_result<Ts...>> {
    using result_t = when_any_tuple_result<Ts...>;
    using base = race_state<result_t>;

public:
    explicit when_any_tuple_state(const task<Ts>&... inputs)
        : base(sizeof...(Ts), &destroy, &win)
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
    }

    const std::tuple<task<Ts>...> inputs_;
};

} // namespace detail

/// Completes when the first input completes, whatever its outcome, with that input's index and
/// task. std::invalid_argument for an empty range (there would be no winner, ever).
template<typename T>
task<when_any_result<T>> when_any(std::vector<task<T>> inputs) {
    if (inputs.empty()) {
        throw std::invalid_argument("weft: when_any of no tasks would never complete");
    }
    for (const auto& t : inputs) {
        detail::task_access::checked_state(t);
    }
    auto* st = new detail::when_any_range_state<T>(std::move(inputs));
    auto result = detail::task_access::adopt<when_any_result<T>>(st);
    st->start();
    return result;
}

/// Variadic form: the winner's index and every input task.
template<typename... Ts>
    requires(sizeof...(Ts) > 0)
task<when_any_tuple_result<Ts...>> when_any(const task<Ts>&... inputs) {
    (detail::task_access::checked_state(inputs), ...);
    auto* st = new detail::when_any_tuple_state<Ts...>(inputs...);
    auto result = detail::task_access::adopt<when_any_tuple_result<Ts...>>(st);
    st->start();
    return result;
}

} // namespace weft
