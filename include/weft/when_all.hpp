// weft/when_all.hpp — when_all: a task that completes when every input task has (.NET Task.WhenAll).
// Design note: docs/decisions/0001-task-model.md §"Combinators".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/down_cast.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>
#include <weft/with_cancellation.hpp>

#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

/// The value when_all yields for a task<void> input in the variadic form.
struct void_result {
    friend bool operator==(void_result, void_result) noexcept { return true; }
};

namespace detail {

template<typename T>
using when_all_element_t = std::conditional_t<std::is_void_v<T>, void_result, T>;

/// Fan-in state: one continuation node per input, one counter. The last input to complete
/// (the one that brings `remaining_` to zero) builds the result. Input nodes run inline on
/// whichever thread completes that input; they only count. Placement applies to the
/// combined task's own continuations.
template<typename R>
class fan_in_state : public task_state<R> {
public:
    struct node : continuation {
        fan_in_state* owner = nullptr;
    };

    fan_in_state(std::size_t inputs, const state_base::state_ops& ops)
        : task_state<R>(ops, 1, 1, state_base::st_pending)
        , remaining_(inputs + 1)
        , nodes_(inputs) {
        for (auto& n : nodes_) {
            n.owner = this;
            n.on_complete = &on_input;
        }
    }

    /// Call once after every input has been attached (or found complete): releases the
    /// extra count that kept the result from being built while attaching, and the counts of
    /// the inputs that were already complete (one atomic operation for all of them).
    void arm_done() noexcept { arrive(1 + already_complete_); }

    /// Links node i to `input`, or counts it as already complete (counted in arm_done()).
    void attach_input(std::size_t i, state_base& input) noexcept {
        if (input.is_ready() || !input.attach(&nodes_[i])) {
            ++already_complete_;
        }
    }

protected:
    virtual void build() noexcept = 0; // all inputs complete: set the result and publish
    ~fan_in_state() = default;

private:
    static void on_input(continuation* c) noexcept { detail::down_cast<node>(c)->owner->arrive(1); }

    void arrive(std::size_t count) noexcept {
        // order: acq_rel — release: this input's completion happens before the build;
        //        acquire: the builder sees every input's result
        if (remaining_.fetch_sub(count, acq_rel) == count) {
            build();
            this->release_keeper(); // the machinery reference
        }
    }

    atomic<std::size_t> remaining_;
    std::vector<node> nodes_;
    std::size_t already_complete_ = 0; // written only by the thread arming the state
};

/// Collects errors in input order; decides the combined outcome (.NET: any fault -> faulted
/// with every exception; else any cancel -> canceled; else succeeded).
template<typename StateRange>
std::uint8_t combine_outcome(const StateRange& states, std::exception_ptr& out) {
    std::vector<std::exception_ptr> errors;
    bool canceled = false;
    std::exception_ptr first_cancel;
    for (state_base* s : states) {
        const auto st = s->raw_status();
        if (st == state_base::st_failed) {
            errors.push_back(s->take_error());
        } else if (st == state_base::st_canceled) {
            if (!canceled) {
                first_cancel = s->take_error();
            } else {
                s->mark_observed();
            }
            canceled = true;
        }
    }
    if (!errors.empty()) {
        out = std::make_exception_ptr(aggregate_error(std::move(errors)));
        return state_base::st_failed;
    }
    if (canceled) {
        out = first_cancel;
        return state_base::st_canceled;
    }
    return state_base::st_succeeded;
}

/// A move-only input's value: moved as its only reader (the handle then gives its reference
/// back as a keeper's), else shared_value_error (task_state::take_value).
template<typename T>
T take_move_only(task<T>& t) {
    task_state<T>* s = task_access::state(t);
    bool took = false;
    T value = s->take_value(took);
    if (took) {
        task_access::release(t);
        s->release_keeper();
    }
    return value;
}

template<typename... Ts>
class when_all_tuple_state final : public fan_in_state<std::tuple<when_all_element_t<Ts>...>> {
    using result_t = std::tuple<when_all_element_t<Ts>...>;
    using base = fan_in_state<result_t>;

public:
    explicit when_all_tuple_state(task<Ts>... inputs)
        : base(sizeof...(Ts), state_base::ops_of<&destroy>)
        , inputs_(std::move(inputs)...) {}

    void start() noexcept {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (this->attach_input(I, *task_access::state(std::get<I>(inputs_))), ...);
        }
        (std::index_sequence_for<Ts...>{});
        this->arm_done();
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<when_all_tuple_state>(detail::down_cast<task_state<result_t>>(s));
    }

    template<typename T>
    static when_all_element_t<T> take(task<T>& t) {
        task_state<T>* s = task_access::state(t);
        if constexpr (std::is_void_v<T>) {
            return void_result{};
        } else if constexpr (std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
            return s->value_ref();
        } else {
            return take_move_only(t);
        }
    }

    void build() noexcept override {
        std::exception_ptr error;
        std::uint8_t outcome = std::apply(
            [&](const auto&... t) {
                state_base* states[] = {task_access::state(t)...};
                return combine_outcome(states, error);
            },
            inputs_);
        if (outcome != state_base::st_succeeded) {
            this->error_ = error;
            this->publish(outcome);
        } else {
            try {
                outcome = std::apply([&](auto&... t) { return this->emplace(take(t)...); }, inputs_);
            } catch (...) {
                outcome = this->store_current_exception();
            }
            this->publish(outcome);
        }
        inputs_ = {}; // drop the inputs' references
    }

    std::tuple<task<Ts>...> inputs_;
};

template<typename T>
class when_all_range_state final
    : public fan_in_state<
          std::conditional_t<std::is_void_v<T>, void, std::vector<std::conditional_t<std::is_void_v<T>, int, T>>>> {
public:
    using result_t =
        std::conditional_t<std::is_void_v<T>, void, std::vector<std::conditional_t<std::is_void_v<T>, int, T>>>;
    using base = fan_in_state<result_t>;

    explicit when_all_range_state(std::vector<task<T>> inputs)
        : base(inputs.size(), state_base::ops_of<&destroy>)
        , inputs_(std::move(inputs)) {}

    void start() noexcept {
        for (std::size_t i = 0; i < inputs_.size(); ++i) {
            this->attach_input(i, *task_access::state(inputs_[i]));
        }
        this->arm_done();
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<when_all_range_state>(detail::down_cast<task_state<result_t>>(s));
    }

    void build() noexcept override {
        std::vector<state_base*> states;
        std::exception_ptr error;
        std::uint8_t outcome = state_base::st_succeeded;
        try {
            states.reserve(inputs_.size());
            for (auto& t : inputs_) {
                states.push_back(task_access::state(t));
            }
            outcome = combine_outcome(states, error);
            if (outcome == state_base::st_succeeded) {
                if constexpr (std::is_void_v<T>) {
                    outcome = this->emplace();
                } else {
                    result_t values;
                    values.reserve(inputs_.size());
                    for (auto& t : inputs_) {
                        if constexpr (std::is_copy_constructible_v<T>) {
                            values.push_back(task_access::state(t)->value_ref());
                        } else {
                            values.push_back(take_move_only(t));
                        }
                    }
                    outcome = this->emplace(std::move(values));
                }
            } else {
                this->error_ = error;
            }
        } catch (...) {
            outcome = this->store_current_exception();
        }
        this->publish(outcome);
        inputs_.clear();
    }

    std::vector<task<T>> inputs_;
};

template<typename T>
auto make_when_all_range(std::vector<task<T>> inputs) {
    for (const auto& t : inputs) {
        task_access::checked_state(t); // throws no_state for an empty handle
    }
    using state_t = when_all_range_state<T>;
    auto* st = new state_t(std::move(inputs));
    auto result = task_access::adopt<typename state_t::result_t>(st);
    st->start();
    return result;
}

} // namespace detail

/// A task of every input's value, as a tuple (task<void> inputs give void_result). If any input
/// failed, it fails with aggregate_error holding every input's exception in input order; else,
/// if any was canceled, it is canceled; it completes only after every input has.
template<typename... Ts>
task<std::tuple<detail::when_all_element_t<Ts>...>> when_all(task<Ts>... inputs) {
    (detail::task_access::checked_state(inputs), ...);
    using state_t = detail::when_all_tuple_state<Ts...>;
    auto* st = new state_t(std::move(inputs)...);
    auto result = detail::task_access::adopt<std::tuple<detail::when_all_element_t<Ts>...>>(st);
    st->start();
    return result;
}

/// A task of every input's value, in input order (task<void> for void inputs). Outcome rules
/// as for the variadic form. An empty range gives an already-succeeded task.
template<typename T>
auto when_all(std::vector<task<T>> inputs) {
    return detail::make_when_all_range<T>(std::move(inputs));
}

/// Any input range of tasks.
template<std::ranges::input_range Range>
    requires detail::is_task_v<std::ranges::range_value_t<Range>> &&
        (!std::is_same_v<std::remove_cvref_t<Range>, std::vector<std::ranges::range_value_t<Range>>>)auto when_all(
            Range&& inputs) {
        using T = typename std::ranges::range_value_t<Range>::value_type;
        std::vector<task<T>> v;
        for (auto&& t : inputs) {
            v.push_back(t);
        }
        return detail::make_when_all_range<T>(std::move(v));
    }

    /// With a token: completes canceled as soon as `token` is canceled (if not every input is done
    /// by then), and then asks every input to end, as with_cancellation does.
    template<typename T>
    auto when_all(const cancellation_token& token, std::vector<task<T>> inputs) {
        std::vector<detail::cancel_target> targets = detail::cancel_targets_of(inputs);
        return detail::cancel_on(token, detail::make_when_all_range<T>(std::move(inputs)), std::move(targets));
    }
    template<typename... Ts>
    task<std::tuple<detail::when_all_element_t<Ts>...>> when_all(const cancellation_token& token, task<Ts>... inputs) {
        std::vector<detail::cancel_target> targets{detail::cancel_target::of(inputs)...};
        return detail::cancel_on(token, when_all(std::move(inputs)...), std::move(targets));
    }

} // namespace weft
