// weft/detail/thread_pool/spares.hpp — the pool's spare threads: started (or woken from
// retirement) while workers block inside weft::blocking, so the pool keeps its parallelism.
// Design note: §8 of the pool's note (weft/detail/thread_pool/pool_core.hpp); this file is its
// bookkeeping. The pool calls it under the idle lock where marked "_locked"; the spare threads
// themselves run the pool's worker loop (pool_core::thread_main).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/futex.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace weft::detail {

class spare_set {
public:
    /// Spares use the pool's participant indexes [first, first + count).
    spare_set(std::size_t first, std::size_t count) : first_(first), running_(count), started_(count) {}
    spare_set(const spare_set&) = delete;
    spare_set& operator=(const spare_set&) = delete;

    /// A spare started while a pool thread's own shutdown() was detaching the others (a
    /// blocking region that began just before) is detached here; every pool thread holds a
    /// reference to the pool, so this runs only once they have all finished.
    ~spare_set() {
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.detach();
            }
        }
    }

    // --- §8 steps 2 and 5: workers inside a blocking region ----------------------------------
    void worker_blocks() noexcept {
        blocked_.fetch_add(1, seq_cst); // order: seq_cst — read by claim/retire under the idle lock
    }
    void worker_unblocks() noexcept {
        blocked_.fetch_sub(1, seq_cst); // order: seq_cst — as above
    }

    // --- under the idle lock --------------------------------------------------------------
    /// Spares counted as active participants (for the pool's quiescence check, I4).
    std::size_t active_locked() const noexcept { return active_; }

    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    struct claim {
        std::size_t index = none; ///< the spare to run, or none
        bool start = false;       ///< true: start its thread; false: wake it from retirement
    };
    /// §8 step 3: a spare to run for a worker that just blocked, if fewer spares run than
    /// workers block, the bound allows one and the pool is not closing.
    claim claim_locked(bool closing) noexcept {
        // order: seq_cst — see worker_blocks()
        if (closing || active_ >= running_.size() || active_ >= blocked_.load(seq_cst)) {
            return {};
        }
        for (std::size_t i = 0; i < running_.size(); ++i) {
            if (!running_[i]) {
                running_[i] = true;
                ++active_;
                const bool start = !started_[i];
                started_[i] = true;
                return {first_ + i, start};
            }
        }
        return {};
    }
    /// The claimed spare's thread could not be started: the region runs uncompensated.
    void unclaim_locked(std::size_t index) noexcept {
        running_[index - first_] = false;
        started_[index - first_] = false;
        --active_;
    }
    /// §8: spare `index` found no work; it retires (true) while spares outnumber blocked
    /// workers and the pool is neither closing nor done.
    bool retire_locked(std::size_t index, bool closing_or_done) noexcept {
        // order: seq_cst — see worker_blocks()
        if (closing_or_done || active_ <= blocked_.load(seq_cst)) {
            return false;
        }
        running_[index - first_] = false;
        --active_;
        return true;
    }
    /// Calls f(index) for every started spare that is retired (shutdown makes them leave).
    template<typename F>
    void for_each_retired_locked(F&& f) {
        for (std::size_t i = 0; i < running_.size(); ++i) {
            if (started_[i] && !running_[i]) {
                f(first_ + i);
            }
        }
    }

    // --- a retired spare's word ---------------------------------------------------------------
    static constexpr std::uint32_t retire_sleeping = 0, retire_resume = 1, retire_exit = 2;
    /// Under the idle lock: resume or end a retired spare.
    static void signal(atomic<std::uint32_t>& word, std::uint32_t how) noexcept {
        word.store(how, release); // order: release — pairs with wait_retired()'s acquire
        futex_wake_all(word);
    }
    /// The retired spare sleeps here; true when it resumes, false when it must exit.
    static bool wait_retired(atomic<std::uint32_t>& word) noexcept {
        std::uint32_t how = retire_sleeping;
        // order: acquire — pairs with signal()'s release
        while ((how = word.load(acquire)) == retire_sleeping) {
            futex_wait(word, retire_sleeping);
        }
        return how == retire_resume;
    }

    // --- the threads -----------------------------------------------------------------------
    /// Starts a spare's thread running `body`; may throw (no thread: nothing changed).
    template<typename Body>
    void start(Body&& body) {
        std::lock_guard lock(threads_mutex_);
        threads_.emplace_back(std::forward<Body>(body));
        started_count_.add();
    }
    /// Joins (or, from a pool thread, detaches) the spare threads; after the workers are gone.
    void join_or_detach(bool detach) {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(threads_mutex_);
            threads.swap(threads_);
        }
        for (auto& t : threads) {
            if (t.joinable()) {
                if (detach) {
                    t.detach();
                } else {
                    t.join();
                }
            }
        }
    }
    /// Spare threads ever started (a statistic).
    std::uint64_t started_count() const noexcept { return started_count_.load(); }

private:
    const std::size_t first_;
    atomic<std::size_t> blocked_{0}; // workers inside weft::blocking (§8)
    stat_counter started_count_;

    std::mutex threads_mutex_;
    // --- guarded by threads_mutex_ ------------------------------------------------------------
    std::vector<std::thread> threads_;

    // --- guarded by the pool's idle lock --------------------------------------------------------
    // Invariant: active_ == the number of true entries in running_; running_[i] implies started_[i].
    std::size_t active_ = 0;
    std::vector<bool> running_;
    std::vector<bool> started_;
};

} // namespace weft::detail
