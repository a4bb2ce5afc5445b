// tests/model/rl_platform.hpp — weft's pool platform (detail/thread_pool/platform.hpp) on Relacy.
// Relacy runs every model thread as a fiber of one OS thread and explores their interleavings
// and the weak-memory outcomes of each atomic operation; this file maps weft's atomics, fences,
// mutex and futex onto its instrumented versions, so the real deque and idle protocol run in it.
// SPDX-License-Identifier: MIT
#pragma once

// Every standard and weft header must come before Relacy's: its macros (memory_order_*, $)
// would rewrite them. Models include what they test first, then this file.
#include <weft/detail/thread_pool/platform.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <relacy/relacy.hpp>

namespace weft::model {

/// The futex of the model: one mutex and condition variable per test run, set in before().
struct futex_emulation {
    rl::mutex mutex;
    rl::condition_variable cv;
};
inline futex_emulation*& current_futex() {
    static futex_emulation* f = nullptr;
    return f;
}

template<detail::planted_fault Fault = detail::planted_fault::none>
struct rl_platform {
    template<typename T>
    class atomic {
    public:
        atomic() { a_.store(T{}, rl::mo_relaxed, $); }
        atomic(T v) { a_.store(v, rl::mo_relaxed, $); } // NOLINT: mirrors std::atomic

        T load(rl::memory_order mo) const { return a_.load(mo, $); }
        void store(T v, rl::memory_order mo) { a_.store(v, mo, $); }
        T exchange(T v, rl::memory_order mo) { return a_.exchange(v, mo, $); }
        T fetch_add(T v, rl::memory_order mo) { return a_.fetch_add(v, mo, $); }
        T fetch_sub(T v, rl::memory_order mo) { return a_.fetch_sub(v, mo, $); }
        bool compare_exchange_strong(T& expected, T desired, rl::memory_order ok, rl::memory_order fail) {
            return a_.compare_exchange_strong(expected, desired, ok, $, fail, $);
        }
        bool compare_exchange_weak(T& expected, T desired, rl::memory_order ok, rl::memory_order fail) {
            return a_.compare_exchange_weak(expected, desired, ok, $, fail, $);
        }

    private:
        rl::atomic<T> a_;
    };

    class mutex {
    public:
        void lock() { m_.lock($); }
        void unlock() { m_.unlock($); }

    private:
        rl::mutex m_;
    };

    static constexpr rl::memory_order relaxed = rl::mo_relaxed;
    static constexpr rl::memory_order acquire = rl::mo_acquire;
    static constexpr rl::memory_order release = rl::mo_release;
    static constexpr rl::memory_order acq_rel = rl::mo_acq_rel;
    static constexpr rl::memory_order seq_cst = rl::mo_seq_cst;

    static constexpr detail::planted_fault fault = Fault;

    template<typename T>
    static T barrier_then_load(atomic<T>& word, rl::memory_order mo) {
        rl::atomic_thread_fence(rl::mo_seq_cst, $);
        return word.load(mo);
    }
    static void fence() { rl::atomic_thread_fence(rl::mo_seq_cst, $); }

    /// futex(2) semantics: the value check and the sleep are atomic with respect to wake().
    static void wait(atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds) {
        futex_emulation& f = *current_futex();
        f.mutex.lock($);
        while (word.load(rl::mo_relaxed) == expected) {
            f.cv.wait(f.mutex, $);
        }
        f.mutex.unlock($);
    }
    static void wake(atomic<std::uint32_t>&) {
        futex_emulation& f = *current_futex();
        f.mutex.lock($);
        f.cv.notify_all($);
        f.mutex.unlock($);
    }
    static void hook(const char*) {}
};

/// Runs `Test` with `iterations` random schedules; returns Relacy's verdict.
template<typename Test>
bool run_model(unsigned long iterations) {
    rl::test_params params;
    params.iteration_count = iterations;
    params.search_type = rl::random_scheduler_type;
    return rl::simulate<Test>(params);
}

/// Every model's main. `model [run|plant] [iterations]` (default 200,000). `run`: the real code
/// must pass (exit 0). `plant`: the version with `bug` planted must be caught — exit 0 means
/// caught, so ctest fails if a model ever stops catching its bug.
template<template<detail::planted_fault> class Test, detail::planted_fault Planted>
int model_main(int argc, char** argv, const char* bug) {
    const bool plant = argc > 1 && std::strcmp(argv[1], "plant") == 0;
    const unsigned long iterations = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200000;
    if (plant) {
        const bool passed = run_model<Test<Planted>>(iterations);
        std::printf("planted %s %s\n", bug, passed ? "NOT caught" : "caught");
        return passed ? 1 : 0;
    }
    return run_model<Test<detail::planted_fault::none>>(iterations) ? 0 : 1;
}

} // namespace weft::model
