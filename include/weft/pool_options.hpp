// weft/pool_options.hpp — what a thread_pool is configured with and reports: pool_options,
// shutdown_mode, pool_stats and worker_stats.
// Design note: weft/detail/thread_pool/pool_core.hpp; guide: docs/guide/thread_pool.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/counters.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace weft {

/// How shutdown treats work that has not started.
enum class shutdown_mode {
    drain,  ///< run everything queued, and what it spawns, until the pool is quiet
    cancel, ///< discard everything queued (its tasks complete canceled); running work finishes
};

/// Counters of one worker (totals are their sum). Read while running they are approximate.
struct worker_stats {
    std::uint64_t tasks_run = 0;
    std::uint64_t slot_hits = 0; ///< items run from the LIFO slot
    std::uint64_t steals = 0;
    std::uint64_t failed_steals = 0; ///< rounds over every victim that found nothing
    std::uint64_t parks = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t injected = 0; ///< items this worker took from the injection queue
    std::uint64_t discarded = 0;
};

namespace detail {

/// A worker's counters (detail/thread_pool/worker.hpp), in the order of worker_stats_fields.
enum class worker_counter : std::uint8_t {
    tasks_run,
    slot_hits,
    steals,
    failed_steals,
    parks,
    wakeups,
    injected,
    discarded,
};
inline constexpr stat_fields<worker_stats, 8> worker_stats_fields = {
    &worker_stats::tasks_run,
    &worker_stats::slot_hits,
    &worker_stats::steals,
    &worker_stats::failed_steals,
    &worker_stats::parks,
    &worker_stats::wakeups,
    &worker_stats::injected,
    &worker_stats::discarded,
};

} // namespace detail

struct pool_stats {
    std::vector<worker_stats> workers; ///< the workers, then every spare that ever started
    std::uint64_t injections = 0;      ///< submissions from threads that are not workers
    std::uint64_t spares_started = 0;  ///< threads started to compensate blocking regions
    worker_stats total() const noexcept {
        worker_stats t;
        for (const auto& w : workers) {
            detail::add_stats(t, w, detail::worker_stats_fields);
        }
        return t;
    }
};

struct pool_options {
    std::size_t threads = 0;                            ///< 0: std::thread::hardware_concurrency()
    std::string name = "weft";                          ///< thread name prefix (name-<index>, cut to 15 bytes)
    std::function<void(std::size_t)> on_thread_start{}; ///< runs on each thread before any work
    std::function<void(std::size_t)> on_thread_stop{};  ///< runs on each thread as it exits
    /// Threads the pool may add while workers are inside weft::blocking (the pool's note, §8). SIZE_MAX (the
    /// default): as many as `threads`; otherwise at most thread_pool::max_spare_threads.
    std::size_t max_blocking_threads = static_cast<std::size_t>(-1);
    /// CPU affinity: thread i runs on CPU cpus[i % cpus.size()]; empty: not pinned.
    std::vector<int> cpus{};
};

} // namespace weft
