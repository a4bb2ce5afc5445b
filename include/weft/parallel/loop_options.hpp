// weft/parallel/loop_options.hpp — how a parallel loop splits its range, how wide it runs, what
// cancels it, and what it reports (.NET ParallelOptions and ParallelLoopResult, TBB's
// partitioners).
// Design note: docs/decisions/0012-parallel-loops.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>

#include <cstddef>
#include <optional>

namespace weft {

/// How a loop cuts its iterations into chunks (TBB's auto_partitioner, static_partitioner and
/// simple_partitioner).
enum class partitioner {
    /// Each participant starts on a contiguous share and takes chunks from it whose size adapts
    /// to the time they take (from `grain` up, aiming at ~16 us); a participant with nothing
    /// left steals the back half of the largest share left. The default.
    automatic,
    /// Each participant runs its contiguous share (cut into chunks of `grain` when one is set,
    /// else whole); nobody steals from a participant that started, only a share whose thread
    /// never came is taken over. OpenMP's schedule(static).
    fixed,
    /// Chunks of exactly `grain` iterations, with stealing (TBB's simple_partitioner).
    simple,
};

/// Options of every parallel loop.
struct loop_options {
    /// The smallest chunk, in iterations (0 and 1 both mean 1). Cancellation and stop() are seen
    /// between chunks, so a chunk is also the most that runs after them per participant.
    std::size_t grain = 0;
    partitioner split = partitioner::automatic;
    /// The most threads that run iterations at once, the caller included (.NET's
    /// MaxDegreeOfParallelism). 0: the pool's size.
    std::size_t max_degree = 0;
    /// Canceled: no new chunk starts; the loop throws operation_canceled unless every
    /// iteration had run anyway.
    cancellation_token token{};
    /// parallel_reduce only: cut the range into blocks that depend on the range and the grain
    /// alone, and combine their results in order, so the result is the same on every run and
    /// every pool size (bit for bit, floating point included).
    bool deterministic = false;
};

/// What a loop that did not throw reports (.NET ParallelLoopResult).
template<typename Index>
struct loop_result {
    /// Every iteration ran: no stop(), no break_loop().
    bool completed = true;
    /// The lowest index that called break_loop(), if any did.
    std::optional<Index> lowest_break_iteration;
};

} // namespace weft
