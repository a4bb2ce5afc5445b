// tests/support/eventually.hpp — a bounded poll: true once a condition holds, false when the
// limit passes (a hang becomes a failure, never a stuck test).
#pragma once

#include <chrono>
#include <thread>

namespace weft_test {

/// True once `pred` holds, polling (with yields) for up to `limit`. For statistics a thread
/// writes after the work it counts, or for a state another thread must reach; never in place
/// of counting what ran.
template<typename Pred>
bool eventually(Pred pred, std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > give_up) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

} // namespace weft_test
