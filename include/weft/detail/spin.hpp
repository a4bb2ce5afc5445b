// weft/detail/spin.hpp — CPU relax hint and a time-bounded spin used before parking.
// Design note: spin briefly before parking: a futex wake across vCPUs costs ~7 us on the
// machines weft is measured on, a spin hand-off ~0.2 us (docs/benchmarks.md, ping-pong).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>

#include <chrono>

#include <sched.h>

namespace weft::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

/// How long a waiter spins before it parks. Short enough that an idle waiter costs
/// nothing measurable, long enough to cover a cross-core hand-off.
inline constexpr std::chrono::microseconds default_spin_for{20};
/// The first part of the spin is pure (pause only); after it, each round also yields the CPU,
/// so a partner thread sharing this CPU (pinned, or an oversubscribed machine) can run and
/// complete the hand-off instead of waiting for this thread's time slice to end.
inline constexpr std::chrono::microseconds pure_spin_for{2};

/// True when this thread may run on one CPU only (pinned, or a 1-CPU machine): then pure
/// spinning only delays the partner thread, which needs this very CPU. The affinity mask is
/// re-read every 64 calls (a system call), so a changed affinity is noticed soon.
struct affinity_cache {
    unsigned calls = 0;
    bool single_cpu = false;
};
WEFT_TLS_ACCESSOR inline affinity_cache& this_thread_affinity() noexcept {
    static thread_local affinity_cache cache;
    WEFT_TLS_OPAQUE();
    return cache;
}
/// The CPUs the calling thread may run on (its affinity mask); 0 if the kernel will not say.
inline unsigned this_thread_cpu_count() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<unsigned>(CPU_COUNT(&set)) : 0;
}
inline bool single_cpu_thread() noexcept {
    affinity_cache& c = this_thread_affinity();
    if (c.calls++ % 64 == 0) {
        c.single_cpu = this_thread_cpu_count() == 1;
    }
    return c.single_cpu;
}

/// Spins until `ready()` holds or `budget` has passed; returns the last `ready()`.
template<typename Ready>
bool spin_until(Ready&& ready, std::chrono::nanoseconds budget = default_spin_for) noexcept {
    if (ready()) {
        return true;
    }
    const auto start = std::chrono::steady_clock::now();
    const std::chrono::nanoseconds pure = single_cpu_thread() ? std::chrono::nanoseconds(0) : pure_spin_for;
    for (;;) {
        for (int i = 0; i < 32; ++i) {
            cpu_relax();
            if (ready()) {
                return true;
            }
        }
        const auto spent = std::chrono::steady_clock::now() - start;
        if (spent >= budget) {
            return ready();
        }
        if (spent >= pure) {
            ::sched_yield();
        }
    }
}

} // namespace weft::detail
