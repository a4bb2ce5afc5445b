// weft/parallel/parallel_invoke.hpp — run a few callables in parallel and wait for all of them
// (.NET Parallel.Invoke, TBB parallel_invoke).
// Design note: docs/decisions/0012-parallel-loops.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/index_loop.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/thread_pool.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <type_traits>

namespace weft {

/// Runs every `fs()` once, on the pool's workers and the calling thread, and returns when all
/// have finished. Every callable runs even if another throws; then aggregate_error holds every
/// exception, in the order they were thrown. A token canceled before a callable starts skips it
/// (operation_canceled). `o.split` and `o.grain` are ignored: one callable per chunk.
template<typename... F>
    requires(std::is_invocable_v<F&>&&...)
void parallel_invoke(thread_pool& pool, const loop_options& o, F&&... fs) {
    using detail::parallel::loop_core;
    auto call = [&](std::uint64_t k) {
        std::uint64_t i = 0;
        ((i++ == k ? (void)std::invoke(fs) : void()), ...);
    };
    struct runner {
        decltype(call)* run;
        void operator()(std::uint64_t b, std::uint64_t e) {
            for (std::uint64_t k = b; k < e; ++k) {
                (*run)(k);
            }
        }
        void finish() noexcept {}
    };
    auto factory = [&call](loop_core&) {
        return runner{&call};
    };
    loop_options one_each = o;
    one_each.grain = 1;
    one_each.split = partitioner::simple;
    bool completed = true;
    std::uint64_t lowest = detail::parallel::no_break;
    detail::parallel::run_index_loop(pool, sizeof...(F), one_each, factory, completed, lowest, true);
}

template<typename... F>
    requires(std::is_invocable_v<F&>&&...)
void parallel_invoke(thread_pool& pool, F&&... fs) {
    parallel_invoke(pool, loop_options{}, std::forward<F>(fs)...);
}

} // namespace weft
