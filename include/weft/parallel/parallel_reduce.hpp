// weft/parallel/parallel_reduce.hpp — parallel_reduce in TBB's form (identity, range body,
// combine) and in std::transform_reduce's (init once, transform, combine), with a
// deterministic mode (.NET: Parallel.For with localInit/localFinally, PLINQ Aggregate).
// Design note: docs/decisions/0012-parallel-loops.md §4.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/index_loop.hpp>
#include <weft/parallel/blocked_range.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/parallel/parallel_for.hpp>
#include <weft/thread_pool.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

namespace detail::parallel {

/// The most blocks a deterministic reduce cuts a range into when no grain is given.
inline constexpr std::uint64_t deterministic_blocks = 1024;

/// Partial results of contiguous runs of positions, each with where its run starts. Combining
/// them sorted by start keeps the order of the range: only associativity is needed.
template<typename T>
struct ordered_pieces {
    std::mutex mutex; // guards pieces
    std::vector<std::pair<std::uint64_t, T>> pieces;

    void add(std::vector<std::pair<std::uint64_t, T>>& mine) {
        std::lock_guard lock(mutex);
        for (auto& p : mine) {
            pieces.push_back(std::move(p));
        }
    }
    /// `start` combined with every piece, in range order.
    template<typename Combine>
    T fold(T start, Combine& combine) {
        std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& p : pieces) {
            start = std::invoke(combine, std::move(start), std::move(p.second));
        }
        return start;
    }
};

/// One participant's side: extends its current run while chunks come in order, else starts a
/// new piece. `Step(b, e, std::optional<T>& acc)` folds positions [b, e) into acc (empty: fresh).
template<typename T, typename Step>
struct reduce_runner {
    Step* step;
    ordered_pieces<T>* out;
    std::vector<std::pair<std::uint64_t, T>> mine{};
    std::optional<T> acc{};
    std::uint64_t run_begin = 0, run_end = 0;

    void operator()(std::uint64_t b, std::uint64_t e) {
        if (acc && b != run_end) {
            mine.emplace_back(run_begin, std::move(*acc));
            acc.reset();
        }
        if (!acc) {
            run_begin = b;
        }
        (*step)(b, e, acc);
        run_end = e;
    }
    void finish() {
        if (acc) {
            mine.emplace_back(run_begin, std::move(*acc));
            acc.reset();
        }
        out->add(mine);
    }
};

/// Runs the reduction of positions [0, n) and returns `start` combined with every part in order.
template<typename T, typename Step, typename Combine>
T reduce_positions(thread_pool& pool, std::uint64_t n, T start, Step& step, Combine& combine, loop_options o) {
    ordered_pieces<T> pieces;
    bool completed = true;
    std::uint64_t lowest = no_break;
    if (!o.deterministic) {
        auto factory = [&](loop_core&) {
            return reduce_runner<T, Step>{&step, &pieces};
        };
        run_index_loop(pool, n, o, factory, completed, lowest);
        return pieces.fold(std::move(start), combine);
    }
    // fixed blocks, one piece each: the same cut whatever the pool and the timing
    const std::uint64_t block =
        o.grain > 1 ? o.grain
                    : std::max<std::uint64_t>(1, n / deterministic_blocks + (n % deterministic_blocks != 0 ? 1U : 0U));
    const std::uint64_t blocks = n / block + (n % block != 0 ? 1U : 0U);
    auto one_block = [&](std::uint64_t j, std::optional<T>& acc) {
        const std::uint64_t b = j * block;
        const std::uint64_t e = n - b > block ? b + block : n;
        step(b, e, acc);
    };
    struct block_runner {
        decltype(one_block)* run;
        ordered_pieces<T>* out;
        std::vector<std::pair<std::uint64_t, T>> mine{};
        void operator()(std::uint64_t b, std::uint64_t e) {
            for (std::uint64_t j = b; j < e; ++j) {
                std::optional<T> acc;
                (*run)(j, acc);
                mine.emplace_back(j, std::move(*acc));
            }
        }
        void finish() { out->add(mine); }
    };
    auto factory = [&](loop_core&) {
        return block_runner{&one_block, &pieces};
    };
    o.grain = 1;
    o.split = partitioner::simple;
    run_index_loop(pool, blocks, o, factory, completed, lowest);
    return pieces.fold(std::move(start), combine);
}

} // namespace detail::parallel

/// TBB's functional form: `body(sub, acc)` returns acc combined with the result of sub-range
/// `sub`; `combine(a, b)` joins two partial results, a from earlier in the range than b. Each
/// run of chunks starts from `identity`, which must be neutral (combine(identity, x) == x);
/// combine must be associative; it need not be commutative (partial results are combined in the
/// order of the range). An empty range gives `identity`.
/// Throws: aggregate_error with the bodies' exceptions; operation_canceled (token); an
/// exception from `combine` when the caller combines the parts propagates as it is.
template<std::integral I, typename T, typename Body, typename Combine>
T parallel_reduce(
    thread_pool& pool, const blocked_range<I>& range, T identity, Body&& body, Combine&& combine, loop_options o = {}) {
    static_assert(std::is_invocable_r_v<T, Body&, const blocked_range<I>&, T>,
                  "weft: parallel_reduce needs body(const blocked_range&, T) returning T");
    static_assert(std::is_invocable_r_v<T, Combine&, T, T>, "weft: parallel_reduce needs combine(T, T) returning T");
    o.grain = std::max(o.grain, range.grain());
    const detail::parallel::index_map<I> map{static_cast<std::make_unsigned_t<I>>(range.begin()), 1U};
    auto step = [&](std::uint64_t b, std::uint64_t e, std::optional<T>& acc) {
        T in = acc ? std::move(*acc) : identity;
        acc.reset(); // moved from: empty if the body throws
        acc.emplace(std::invoke(body, blocked_range<I>(map.at(b), map.at(e)), std::move(in)));
    };
    const std::uint64_t n = static_cast<std::uint64_t>(range.size());
    if (n == 0) {
        return identity;
    }
    // the first part's result is combined onto identity, which is neutral
    return detail::parallel::reduce_positions<T>(pool, n, identity, step, combine, o);
}

/// std::transform_reduce's form: `init` combined once with `transform(i)` for every i in
/// [first, last), in index order: combine must be associative, need not be commutative.
template<std::integral A, std::integral B, typename T, typename Combine, typename Transform>
T parallel_reduce(
    thread_pool& pool, A first, B last, T init, Combine&& combine, Transform&& transform, const loop_options& o = {}) {
    using I = std::common_type_t<A, B>;
    static_assert(std::is_invocable_r_v<T, Combine&, T, T>, "weft: parallel_reduce needs combine(T, T) returning T");
    static_assert(std::is_invocable_r_v<T, Transform&, I>, "weft: parallel_reduce needs transform(index) returning T");
    const I f = detail::parallel::checked_index<I>(first);
    const I l = detail::parallel::checked_index<I>(last);
    const std::uint64_t n = detail::parallel::iteration_count<I>(f, l, I{1});
    const detail::parallel::index_map<I> map{static_cast<std::make_unsigned_t<I>>(f), 1U};
    auto step = [&](std::uint64_t b, std::uint64_t e, std::optional<T>& acc) {
        std::uint64_t k = b;
        T value = acc ? std::move(*acc) : static_cast<T>(std::invoke(transform, map.at(k++)));
        acc.reset(); // moved from: empty if combine or transform throws
        for (; k < e; ++k) {
            value = std::invoke(combine, std::move(value), static_cast<T>(std::invoke(transform, map.at(k))));
        }
        acc.emplace(std::move(value));
    };
    return detail::parallel::reduce_positions<T>(pool, n, std::move(init), step, combine, o);
}

} // namespace weft
