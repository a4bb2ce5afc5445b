// tests/support/occupancy.hpp — how many bodies run at once, and the most that ever did.
#pragma once

#include <atomic>

namespace weft_test {

/// Raises `peak` to `value` if it is lower.
inline void raise_to(std::atomic<int>& peak, int value) {
    int p = peak.load();
    while (value > p && !peak.compare_exchange_weak(p, value)) {
    }
}

/// Counts items running at once and remembers the peak.
struct occupancy {
    std::atomic<int> now{0};
    std::atomic<int> peak{0};
    void enter() { raise_to(peak, now.fetch_add(1) + 1); }
    void leave() { now.fetch_sub(1); }
};

} // namespace weft_test
