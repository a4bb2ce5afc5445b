// weft/blocking.hpp — a region where a pool worker may block without starving the pool.
// Design note: weft/detail/thread_pool/pool_core.hpp §8 (TaskCreationOptions.LongRunning's
// cousin: the .NET pool injects threads when its workers block; weft does it on request).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/thread_pool/pool_core.hpp>

#include <functional>
#include <type_traits>
#include <utility>

namespace weft {

/// Runs `f()` and returns its result. On a worker of a thread_pool, the pool first makes the
/// worker's queued work stealable and, while fewer spare threads run than workers are inside a
/// blocking region, starts or wakes one (at most pool_options::max_blocking_threads), so a
/// blocking system call or lock in `f` does not idle a core's worth of queued work. Anywhere
/// else it just calls `f()`. Nested regions count once. Exceptions from `f` propagate; a
/// spare thread that cannot be created leaves the region uncompensated (no error).
template<typename F>
decltype(auto) blocking(F&& f) {
    detail::worker_data* w = detail::current_worker();
    if (w == nullptr) {
        return std::invoke(std::forward<F>(f));
    }
    w->core->enter_blocking(*w);
    struct leave {
        detail::worker_data* w;
        ~leave() { w->core->exit_blocking(*w); }
    } guard{w};
    return std::invoke(std::forward<F>(f));
}

} // namespace weft
