// benchmarks/placement/spin_work.hpp — "C microseconds of CPU work" that is the same amount of
// work wherever it runs: a calibrated count of dependent arithmetic steps, not a clock loop (a
// clock loop would do less work when its thread is preempted, flattering the slow placement).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace placement {

/// `steps` dependent multiply-xor steps; the result is returned so the work cannot be dropped.
inline std::uint64_t spin_steps(std::uint64_t steps, std::uint64_t seed) {
    std::uint64_t x = seed | 1;
    for (std::uint64_t i = 0; i < steps; ++i) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ULL;
        asm volatile("" : "+r"(x));
    }
    return x;
}

/// Steps per nanosecond on this thread: the fastest of several timed runs (the least disturbed).
inline double calibrate_steps_per_ns() {
    using clock = std::chrono::steady_clock;
    constexpr std::uint64_t steps = 2'000'000;
    double best_ns = 1e300;
    std::uint64_t sink = 0;
    for (int i = 0; i < 7; ++i) {
        const auto t0 = clock::now();
        sink += spin_steps(steps, static_cast<std::uint64_t>(i));
        const double ns = std::chrono::duration<double, std::nano>(clock::now() - t0).count();
        best_ns = std::min(best_ns, ns);
    }
    asm volatile("" : : "r"(sink));
    return static_cast<double>(steps) / best_ns;
}

} // namespace placement
