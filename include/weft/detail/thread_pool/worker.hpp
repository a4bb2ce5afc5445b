// weft/detail/thread_pool/worker.hpp — one participant of the pool (a worker or a spare): its
// deque, LIFO slot, owner-only state and counters, and the pool's tuning constants.
// Design note: weft/detail/thread_pool/pool_core.hpp (§2 terms, §3 the order a worker picks
// work in, §5 helping waits).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/thread_pool/spares.hpp>
#include <weft/detail/thread_pool/work_stealing_deque.hpp>
#include <weft/pool_options.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <pthread.h>
#include <sched.h>

namespace weft::detail {

class pool_core;

struct alignas(WEFT_CACHE_LINE) worker_data final : wait_helper {
    pool_core* core = nullptr;
    std::size_t index = 0;
    bool spare = false;
    work_stealing_deque<work_item*> deque; // read by thieves: kept off the owner's lines below
    // --- owner thread only -------------------------------------------------------------------
    alignas(WEFT_CACHE_LINE) work_item* slot = nullptr;
    unsigned slot_streak = 0;
    unsigned picks_to_injector = 61; // fairness_interval
    unsigned help_depth = 0;
    unsigned blocking_depth = 0;
    any_scheduler* current_slot = nullptr; // this thread's current_scheduler() (set in thread_main)
    bool spinning = false;
    std::minstd_rand rng;
    std::int64_t last_take_ns = 0;  // when this worker last took a batch from the injector
    std::size_t last_take_size = 0; // and how many items it took
    /// Spin (not park) until then when idle: set by a parallel loop's helper as it leaves, since
    /// loops come in bursts and a parked thread wakes slowly (pool_core.hpp §4; decision 0012).
    std::chrono::steady_clock::time_point linger_until{};
    // --- written by the owner (bump), read by stats() ------------------------------------------
    alignas(WEFT_CACHE_LINE) counter_block<worker_counter, worker_stats_fields.size()> counters;
    // --- a retired spare sleeps on this (§8, spares.hpp) ----------------------------------------
    atomic<std::uint32_t> retire_word{spare_set::retire_sleeping};

    bool help_one() noexcept override;
    void run_item_as_pool(work_item* item) noexcept;
    void park_until(const atomic<std::uint32_t>& done,
                    std::chrono::steady_clock::time_point deadline) noexcept override;
    void wake_parked() noexcept override;
};

inline constexpr unsigned slot_streak_cap = 32;
inline constexpr std::size_t injector_batch = 16;
inline constexpr std::int64_t long_injected_item_ns = 20'000;
inline constexpr unsigned fairness_interval = 61;
inline constexpr unsigned max_help_depth = 512;

WEFT_TLS_ACCESSOR inline worker_data*& current_worker() noexcept {
    static thread_local worker_data* w = nullptr;
    WEFT_TLS_OPAQUE();
    return w;
}

inline void pin_thread(const std::vector<int>& cpus, std::size_t index) noexcept {
    if (cpus.empty()) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpu = cpus[index % cpus.size()];
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        return;
    }
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); // a bad CPU number: not pinned
}

} // namespace weft::detail
