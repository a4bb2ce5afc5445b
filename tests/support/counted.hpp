// tests/support/counted.hpp — objects that count their constructions and destructions, so a
// test can prove every closure and value was destroyed exactly once.
#pragma once

#include <atomic>

namespace weft_test {

struct lifetime_counts {
    std::atomic<int> constructed{0};
    std::atomic<int> destroyed{0};
    int alive() const { return constructed.load() - destroyed.load(); }
};

/// Copyable and movable; every instance (including moved-from ones) is counted.
class counted {
public:
    explicit counted(lifetime_counts& c) : counts_(&c) { counts_->constructed.fetch_add(1); }
    counted(const counted& o) : counts_(o.counts_) { counts_->constructed.fetch_add(1); }
    counted(counted&& o) noexcept : counts_(o.counts_) { counts_->constructed.fetch_add(1); }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) noexcept = default;
    ~counted() { counts_->destroyed.fetch_add(1); }

private:
    lifetime_counts* counts_;
};

} // namespace weft_test
