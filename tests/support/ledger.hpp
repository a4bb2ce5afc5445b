// tests/support/ledger.hpp — how often each index of [0, n) ran: the exactly-once check of the
// loop tests.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft_test {

struct ledger {
    explicit ledger(std::size_t n) : hits(n) {}
    std::vector<std::atomic<std::uint32_t>> hits;
    void mark(std::size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); }
    /// How many indices ran exactly `times` times.
    std::size_t count(std::uint32_t times) const {
        return static_cast<std::size_t>(
            std::count_if(hits.begin(), hits.end(), [times](const auto& h) { return h.load() == times; }));
    }
    /// How many indices did not run exactly once.
    std::size_t wrong() const { return hits.size() - count(1); }
};

} // namespace weft_test
