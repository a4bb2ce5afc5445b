// weft/detail/placement_counters.hpp — where placement decisions are counted: one counter block
// per thread, written only by its thread, summed on demand (weft::placement_stats_snapshot).
// Design note: the rule that makes the decisions is in weft/detail/placement.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/counters.hpp>

#include <cstddef>
#include <iterator>
#include <list>
#include <mutex>

namespace weft::detail {

/// One counter per placement_stats field, in placement_stats_fields' order.
enum class placement_counter : unsigned {
    named_inline,
    named_hop,
    source_inline,
    source_hop,
    captured_inline,
    captured_hop,
    completing_inline,
    deferred,
    refused,
    context_kept,
};
inline constexpr std::size_t placement_counter_count = 10;

/// One block per thread, written only by its thread (bump), read by any.
using placement_block = counter_block<placement_counter, placement_counter_count>;

class placement_registry {
public:
    /// Never destroyed: threads that outlive main() may still count on exit.
    static placement_registry& get() noexcept {
        static placement_registry* registry = new placement_registry;
        return *registry;
    }

    /// Adds every live block and the retired counts to `out`.
    template<typename Stats>
    void sum_into(Stats& out, const stat_fields<Stats, placement_counter_count>& fields) {
        std::lock_guard lock(mutex_);
        retired_.add_to(out, fields);
        for (const auto& block : live_) {
            block.add_to(out, fields);
        }
    }

private:
    friend class placement_block_owner;

    std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    // Invariant: every live thread that counted something has exactly one block in live_;
    // counts of exited threads are folded into retired_.
    std::list<placement_block> live_;
    placement_block retired_;
};

class placement_block_owner {
public:
    placement_block_owner() {
        auto& reg = placement_registry::get();
        std::lock_guard lock(reg.mutex_);
        block_ = &reg.live_.emplace_back();
        it_ = std::prev(reg.live_.end());
    }
    ~placement_block_owner() {
        auto& reg = placement_registry::get();
        std::lock_guard lock(reg.mutex_);
        for (std::size_t i = 0; i < placement_counter_count; ++i) {
            const auto c = static_cast<placement_counter>(i);
            reg.retired_[c].bump((*block_)[c].load()); // under mutex_: one writer
        }
        reg.live_.erase(it_);
    }
    placement_block_owner(const placement_block_owner&) = delete;
    placement_block_owner& operator=(const placement_block_owner&) = delete;
    placement_block* block() const noexcept { return block_; }

private:
    placement_block* block_ = nullptr;
    std::list<placement_block>::iterator it_;
};

WEFT_TLS_ACCESSOR inline placement_block& this_thread_placement_block() {
    static thread_local placement_block_owner owner;
    WEFT_TLS_OPAQUE();
    return *owner.block();
}

inline void count_placement(placement_counter c) noexcept {
    this_thread_placement_block()[c].bump(); // single writer: this thread
}

} // namespace weft::detail
