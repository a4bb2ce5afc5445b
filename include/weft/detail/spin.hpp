// weft/detail/spin.hpp — CPU relax hint and a time-bounded spin used before parking.
// Design note: performance.md's lesson "spin briefly before parking": a futex wake across
// vCPUs costs ~7 us on the target machines, a spin hand-off ~0.2 us.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>

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

/// Spins until `ready()` holds or `budget` has passed; returns the last `ready()`.
template<typename Ready>
bool spin_until(Ready&& ready, std::chrono::nanoseconds budget = default_spin_for) noexcept {
    if (ready()) {
        return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + budget;
    for (;;) {
        for (int i = 0; i < 32; ++i) {
            cpu_relax();
            if (ready()) {
                return true;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return ready();
        }
    }
}

}  // namespace weft::detail
