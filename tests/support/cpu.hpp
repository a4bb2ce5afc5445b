// tests/support/cpu.hpp — the CPU time this process uses over a while (idle-cost tests).
#pragma once

#include <chrono>
#include <thread>

#include <sys/resource.h>

namespace weft_test {

/// Microseconds of CPU (user + system, every thread) the process spends during `d` of sleep.
inline long cpu_us_while_sleeping(std::chrono::milliseconds d) {
    auto cpu_us = [] {
        rusage r{};
        ::getrusage(RUSAGE_SELF, &r);
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
    };
    const long before = cpu_us();
    std::this_thread::sleep_for(d);
    return cpu_us() - before;
}

} // namespace weft_test
