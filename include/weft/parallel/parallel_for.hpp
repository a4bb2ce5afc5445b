// weft/parallel/parallel_for.hpp — parallel_for over indices (with a step), blocked ranges in
// one and two dimensions, and with thread-local state (.NET Parallel.For, TBB parallel_for).
// Design note: docs/decisions/0012-parallel-loops.md; the engine: detail/parallel/index_loop.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/index_loop.hpp>
#include <weft/parallel/blocked_range.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/parallel/loop_state.hpp>
#include <weft/thread_pool.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail::parallel {

/// Position k of a loop from `first` by `step`, computed modulo 2^bits (no overflow).
template<std::integral I>
struct index_map {
    using U = std::make_unsigned_t<I>;
    U first;
    U step;
    I at(std::uint64_t k) const noexcept {
        return static_cast<I>(static_cast<U>(first + static_cast<U>(static_cast<U>(k) * step)));
    }
};

template<std::integral C, std::integral A>
C checked_index(A a) {
    if (!std::in_range<C>(a)) {
        throw std::invalid_argument("weft: parallel_for bound out of the range of the common index type");
    }
    return static_cast<C>(a);
}

/// The number of iterations of `for (i = first; step > 0 ? i < last : i > last; i += step)`.
template<std::integral I>
std::uint64_t iteration_count(I first, I last, I step) {
    using U = std::make_unsigned_t<I>;
    if (step == 0) {
        throw std::invalid_argument("weft: parallel_for with a step of 0");
    }
    if (step > 0) {
        if (last <= first) {
            return 0;
        }
        const U distance = static_cast<U>(static_cast<U>(last) - static_cast<U>(first));
        return static_cast<std::uint64_t>((distance - 1U) / static_cast<U>(step)) + 1U;
    }
    if (last >= first) {
        return 0;
    }
    const U distance = static_cast<U>(static_cast<U>(first) - static_cast<U>(last));
    const U magnitude = static_cast<U>(U{0} - static_cast<U>(step));
    return static_cast<std::uint64_t>((distance - 1U) / magnitude) + 1U;
}

/// Runs `body(index)` or `body(index, state)` (with `local...` appended) for each position.
template<std::integral I, typename Body, typename... Local>
void run_positions(Body& body,
                   const index_map<I>& map,
                   loop_core& core,
                   loop_state& state,
                   std::uint64_t b,
                   std::uint64_t e,
                   Local&... local) {
    if constexpr (std::is_invocable_v<Body&, I, loop_state&, Local&...>) {
        for (std::uint64_t k = b; k < e; ++k) {
            if (k >= core.limit()) {
                core.mark_dropped();
                return;
            }
            state.at(k);
            std::invoke(body, map.at(k), state, local...);
        }
    } else {
        (void)core;
        (void)state;
        for (std::uint64_t k = b; k < e; ++k) {
            std::invoke(body, map.at(k), local...);
        }
    }
}

template<std::integral I, typename Body>
struct index_runner {
    Body* body;
    index_map<I> map;
    loop_core* core;
    loop_state state;
    void operator()(std::uint64_t b, std::uint64_t e) { run_positions<I>(*body, map, *core, state, b, e); }
    void finish() noexcept {}
};

template<std::integral I, typename Body, typename Init, typename Finally>
struct local_runner {
    using local_type = std::decay_t<std::invoke_result_t<Init&>>;
    Body* body;
    Init* init;
    Finally* fin;
    index_map<I> map;
    loop_core* core;
    loop_state state;
    std::optional<local_type> local{};
    void operator()(std::uint64_t b, std::uint64_t e) {
        if (!local) {
            local.emplace(std::invoke(*init));
        }
        run_positions<I>(*body, map, *core, state, b, e, *local);
    }
    void finish() {
        if (local) {
            std::invoke(*fin, *local);
        }
    }
};

template<std::integral I>
loop_result<I> make_result(const index_map<I>& map, bool completed, std::uint64_t lowest) {
    loop_result<I> r;
    r.completed = completed;
    if (lowest != no_break) {
        r.lowest_break_iteration = map.at(lowest);
    }
    return r;
}

template<std::integral I, typename Body>
loop_result<I> index_loop_of(thread_pool& pool, I first, I last, I step, Body& body, const loop_options& o) {
    static_assert(std::is_invocable_v<Body&, I> || std::is_invocable_v<Body&, I, loop_state&>,
                  "weft: parallel_for needs body(index) or body(index, weft::loop_state&)");
    const std::uint64_t n = iteration_count(first, last, step);
    const index_map<I> map{static_cast<typename index_map<I>::U>(first), static_cast<typename index_map<I>::U>(step)};
    auto factory = [&body, map](loop_core& core) {
        return index_runner<I, Body>{&body, map, &core, loop_state(core)};
    };
    bool completed = true;
    std::uint64_t lowest = no_break;
    run_index_loop(pool, n, o, factory, completed, lowest);
    return make_result(map, completed, lowest);
}

/// Tiles are numbered down bands of `tile_band` tile columns: consecutive tiles share their
/// columns and move down the rows, so a chunk of them touches a compact block of both the rows
/// and the columns (a transpose reads and writes near where it did last).
inline constexpr std::uint64_t tile_band = 8;

/// The (tile row, tile column) of tile number `t`.
inline std::pair<std::uint64_t, std::uint64_t>
tile_at(std::uint64_t t, std::uint64_t tile_rows, std::uint64_t tile_cols) noexcept {
    const std::uint64_t full_bands = tile_cols / tile_band;
    if (full_bands == 0) {
        return {t / tile_cols, t % tile_cols}; // one band, narrower than tile_band
    }
    const std::uint64_t per_band = tile_rows * tile_band; // at most the tile count: no overflow
    const std::uint64_t band = t / per_band;
    if (band < full_bands) {
        const std::uint64_t within = t - band * per_band;
        return {within / tile_band, band * tile_band + within % tile_band};
    }
    const std::uint64_t width = tile_cols - full_bands * tile_band;
    const std::uint64_t within = t - full_bands * per_band;
    return {within / width, full_bands * tile_band + within % width};
}

/// The tile grain of one dimension of a blocked_range2d.
inline std::uint64_t tile_grain(std::size_t grain) noexcept {
    return grain > 1 ? grain : 64;
}

} // namespace detail::parallel

/// Runs `body(i)` (or `body(i, state)`, state a weft::loop_state&) for every i in [first, last),
/// on `pool`'s workers and the calling thread. The body is called concurrently from several
/// threads. Returns when every started iteration has finished.
/// Throws: aggregate_error with every exception the iterations threw (no new iteration starts
/// after the first); operation_canceled if `o.token` stopped iterations that would have run;
/// std::invalid_argument for a bound the common index type cannot hold.
template<std::integral A, std::integral B, typename Body>
auto parallel_for(thread_pool& pool, A first, B last, Body&& body, const loop_options& o = {}) {
    using I = std::common_type_t<A, B>;
    const I f = detail::parallel::checked_index<I>(first);
    const I l = detail::parallel::checked_index<I>(last);
    return detail::parallel::index_loop_of<I>(pool, f, l, I{1}, body, o);
}

/// The same by `step` (negative: downwards while i > last). A step of 0 throws
/// std::invalid_argument. Indices never overflow: the loop counts its iterations first.
template<std::integral A, std::integral B, std::integral S, typename Body>
auto parallel_for(thread_pool& pool, A first, B last, S step, Body&& body, const loop_options& o = {}) {
    using I = std::common_type_t<A, B>;
    const I f = detail::parallel::checked_index<I>(first);
    const I l = detail::parallel::checked_index<I>(last);
    if constexpr (std::is_unsigned_v<I>) {
        if (step < 0) {
            throw std::invalid_argument("weft: parallel_for with a negative step over an unsigned index");
        }
    }
    const I s = detail::parallel::checked_index<I>(step);
    return detail::parallel::index_loop_of<I>(pool, f, l, s, body, o);
}

/// Runs `body(sub)` on sub-ranges of `range` that together cover it once (TBB's form: the body
/// loops over its sub-range itself). The chunk size starts at max(range.grain(), o.grain).
template<std::integral I, typename Body>
    requires std::is_invocable_v < Body&, const blocked_range<I>
& > void parallel_for(thread_pool& pool, const blocked_range<I>& range, Body&& body, loop_options o = {}) {
    using detail::parallel::loop_core;
    o.grain = std::max(o.grain, range.grain());
    const detail::parallel::index_map<I> map{static_cast<std::make_unsigned_t<I>>(range.begin()), 1U};
    struct runner {
        std::remove_reference_t<Body>* body;
        detail::parallel::index_map<I> map;
        void operator()(std::uint64_t b, std::uint64_t e) {
            std::invoke(*body, blocked_range<I>(map.at(b), map.at(e)));
        }
        void finish() noexcept {}
    };
    auto factory = [&body, map](loop_core&) {
        return runner{&body, map};
    };
    bool completed = true;
    std::uint64_t lowest = detail::parallel::no_break;
    detail::parallel::run_index_loop(pool, static_cast<std::uint64_t>(range.size()), o, factory, completed, lowest);
}

/// Runs `body(tile)` on tiles of `range` that together cover it once: tiles of
/// rows().grain() x cols().grain() (64 for a grain left at 1); chunks of neighbouring tiles
/// (bands of 8 tile columns, walked down the rows).
/// Throws std::length_error if the tiles cannot be counted in 64 bits.
template<std::integral R, std::integral C, typename Body>
    requires std::is_invocable_v < Body&, const blocked_range2d<R, C>
& > void parallel_for(thread_pool& pool, const blocked_range2d<R, C>& range, Body&& body, const loop_options& o = {}) {
    using detail::parallel::loop_core;
    if (range.empty()) {
        return;
    }
    const std::uint64_t rg = detail::parallel::tile_grain(range.rows().grain());
    const std::uint64_t cg = detail::parallel::tile_grain(range.cols().grain());
    const std::uint64_t rows = static_cast<std::uint64_t>(range.rows().size());
    const std::uint64_t cols = static_cast<std::uint64_t>(range.cols().size());
    const std::uint64_t tile_rows = rows / rg + (rows % rg != 0 ? 1U : 0U);
    const std::uint64_t tile_cols = cols / cg + (cols % cg != 0 ? 1U : 0U);
    std::uint64_t tiles = 0;
    if (__builtin_mul_overflow(tile_rows, tile_cols, &tiles)) {
        throw std::length_error("weft: parallel_for over a blocked_range2d with too many tiles");
    }
    struct runner {
        std::remove_reference_t<Body>* body;
        const blocked_range2d<R, C>* whole;
        std::uint64_t rg, cg, tile_rows, tile_cols, rows, cols;
        void operator()(std::uint64_t b, std::uint64_t e) {
            const detail::parallel::index_map<R> rmap{static_cast<std::make_unsigned_t<R>>(whole->rows().begin()), 1U};
            const detail::parallel::index_map<C> cmap{static_cast<std::make_unsigned_t<C>>(whole->cols().begin()), 1U};
            for (std::uint64_t t = b; t < e; ++t) {
                const auto [tr, tc] = detail::parallel::tile_at(t, tile_rows, tile_cols);
                const std::uint64_t r0 = tr * rg, c0 = tc * cg;
                const std::uint64_t r1 = rows - r0 > rg ? r0 + rg : rows, c1 = cols - c0 > cg ? c0 + cg : cols;
                std::invoke(*body,
                            blocked_range2d<R, C>(blocked_range<R>(rmap.at(r0), rmap.at(r1)),
                                                  blocked_range<C>(cmap.at(c0), cmap.at(c1))));
            }
        }
        void finish() noexcept {}
    };
    auto factory = [&](loop_core&) {
        return runner{&body, &range, rg, cg, tile_rows, tile_cols, rows, cols};
    };
    loop_options chunked = o;
    chunked.grain = 1; // the tile is the grain
    bool completed = true;
    std::uint64_t lowest = detail::parallel::no_break;
    detail::parallel::run_index_loop(pool, tiles, chunked, factory, completed, lowest);
}

/// parallel_for with thread-local state (.NET's localInit/localFinally, TBB's combinable): each
/// participant that runs iterations makes `init()` once, passes it to `body(i, local)` (or
/// `body(i, state, local)`) for each of its iterations, and hands it to `fin(local)` after its
/// last one. `fin` runs on the participant's thread, concurrently with other `fin`s.
template<std::integral A, std::integral B, typename Init, typename Body, typename Finally>
auto parallel_for_local(
    thread_pool& pool, A first, B last, Init&& init, Body&& body, Finally&& fin, const loop_options& o = {}) {
    using I = std::common_type_t<A, B>;
    using detail::parallel::loop_core;
    using L = std::decay_t<std::invoke_result_t<Init&>>;
    static_assert(std::is_invocable_v<Body&, I, L&> || std::is_invocable_v<Body&, I, loop_state&, L&>,
                  "weft: parallel_for_local needs body(index, local&) or body(index, weft::loop_state&, local&)");
    static_assert(std::is_invocable_v<Finally&, L&>, "weft: parallel_for_local needs fin(local&)");
    const I f = detail::parallel::checked_index<I>(first);
    const I l = detail::parallel::checked_index<I>(last);
    const std::uint64_t n = detail::parallel::iteration_count<I>(f, l, I{1});
    const detail::parallel::index_map<I> map{static_cast<std::make_unsigned_t<I>>(f), 1U};
    using runner = detail::parallel::
        local_runner<I, std::remove_reference_t<Body>, std::remove_reference_t<Init>, std::remove_reference_t<Finally>>;
    auto factory = [&](loop_core& core) {
        return runner{&body, &init, &fin, map, &core, loop_state(core)};
    };
    bool completed = true;
    std::uint64_t lowest = detail::parallel::no_break;
    detail::parallel::run_index_loop(pool, n, o, factory, completed, lowest);
    return detail::parallel::make_result(map, completed, lowest);
}

} // namespace weft
