// weft/parallel/parallel_for_each.hpp — parallel_for_each over random-access and forward ranges
// (.NET Parallel.ForEach, TBB parallel_for_each).
// Design note: docs/decisions/0012-parallel-loops.md; engines: detail/parallel/index_loop.hpp
// (random access) and detail/parallel/forward_loop.hpp (forward).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/forward_loop.hpp>
#include <weft/detail/parallel/index_loop.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/parallel/loop_state.hpp>
#include <weft/thread_pool.hpp>

#include <cstdint>
#include <functional>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail::parallel {

/// Calls `body(*it)` or `body(*it, state)` for the item at `position`.
template<typename Body, typename It>
void call_item(Body& body, loop_state& state, std::uint64_t position, It& it) {
    if constexpr (std::is_invocable_v<Body&, std::iter_reference_t<It>, loop_state&>) {
        state.at(position);
        std::invoke(body, *it, state);
    } else {
        static_assert(std::is_invocable_v<Body&, std::iter_reference_t<It>>,
                      "weft: parallel_for_each needs body(item) or body(item, weft::loop_state&)");
        (void)state;
        (void)position;
        std::invoke(body, *it);
    }
}

template<typename Body, typename It>
inline constexpr bool takes_state_v = std::is_invocable_v<Body&, std::iter_reference_t<It>, loop_state&>;

template<typename It, typename Body>
struct random_access_runner {
    Body* body;
    It first;
    loop_core* core;
    loop_state state;
    void operator()(std::uint64_t b, std::uint64_t e) {
        for (std::uint64_t k = b; k < e; ++k) {
            if constexpr (takes_state_v<Body, It>) {
                if (k >= core->limit()) {
                    core->mark_dropped();
                    return;
                }
            }
            It it = first + static_cast<std::iter_difference_t<It>>(k);
            call_item(*body, state, k, it);
        }
    }
    void finish() noexcept {}
};

template<typename It, typename Body>
struct forward_runner {
    Body* body;
    loop_state state;
    void operator()(std::uint64_t position, It& it) { call_item(*body, state, position, it); }
    void finish() noexcept {}
};

inline loop_result<std::uint64_t> position_result(bool completed, std::uint64_t lowest) {
    loop_result<std::uint64_t> r;
    r.completed = completed;
    if (lowest != no_break) {
        r.lowest_break_iteration = lowest;
    }
    return r;
}

} // namespace detail::parallel

/// Runs `body(item)` (or `body(item, state)`) for every item of [first, last), concurrently
/// from several threads. A random-access range is split like an index loop; a forward range is
/// handed out in chunks from one shared iterator (partitioner::simple with grain 1 takes one
/// item at a time, for sources whose increment waits for the next item). The result's
/// lowest_break_iteration is a position (0-based). Throws as parallel_for does.
template<std::forward_iterator It, std::sentinel_for<It> S, typename Body>
loop_result<std::uint64_t>
parallel_for_each(thread_pool& pool, It first, S last, Body&& body, const loop_options& o = {}) {
    using detail::parallel::loop_core;
    using B = std::remove_reference_t<Body>;
    bool completed = true;
    std::uint64_t lowest = detail::parallel::no_break;
    if constexpr (std::random_access_iterator<It> && std::sized_sentinel_for<S, It>) {
        const auto n = last - first;
        auto factory = [&body, first](loop_core& core) {
            return detail::parallel::random_access_runner<It, B>{&body, first, &core, loop_state(core)};
        };
        detail::parallel::run_index_loop(
            pool, n > 0 ? static_cast<std::uint64_t>(n) : 0U, o, factory, completed, lowest);
    } else {
        if (first == last) {
            return {};
        }
        auto factory = [&body](loop_core& core) {
            return detail::parallel::forward_runner<It, B>{&body, loop_state(core)};
        };
        using loop_type = detail::parallel::forward_loop<It, S, decltype(factory)>;
        const unsigned participants = detail::parallel::participants_for(pool, o, detail::parallel::no_break);
        detail::parallel::loop_ref<loop_type> loop(
            new loop_type(pool, o, participants, std::move(first), std::move(last), factory));
        loop->run_as_caller();
        loop->outcome(completed, lowest);
    }
    return detail::parallel::position_result(completed, lowest);
}

/// The same over a range (an lvalue: the loop reads it in place).
template<std::ranges::forward_range R, typename Body>
loop_result<std::uint64_t> parallel_for_each(thread_pool& pool, R& range, Body&& body, const loop_options& o = {}) {
    return parallel_for_each(pool, std::ranges::begin(range), std::ranges::end(range), std::forward<Body>(body), o);
}

} // namespace weft
