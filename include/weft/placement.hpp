// weft/placement.hpp — counters and an observer hook for every continuation placement decision.
// Design note: docs/decisions/0002-continuation-placement.md; guide: docs/guide/placement.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/atomic.hpp>

#include <cstdint>
#include <list>
#include <mutex>

namespace weft {

/// Which rule of the placement order decided where a continuation (or a co_await resumption)
/// runs. First match wins: named > source > captured > completing.
enum class placement_rule : std::uint8_t {
    named,       ///< (1) a scheduler named at the call: then(s, f), execute_synchronously
    source,      ///< (2) the policy of the source that completed the antecedent
    captured,    ///< (3) the scheduler current when the continuation was attached
    completing,  ///< (4) inline on the completing thread, under the recursion guard
};

/// One placement decision, as the observer sees it.
struct placement_event {
    placement_rule rule;
    bool ran_inline;          ///< true: ran on the completing thread; false: hopped (scheduled)
    const void* scheduler;    ///< identity of the scheduler chosen, nullptr for rule 4
};

/// Totals over every thread of the process since start (or since reset_placement_stats()).
/// inline + hop per rule; `deferred` counts inline runs that the recursion guard queued on
/// the thread instead of nesting; `refused` counts hops the target scheduler refused
/// (shut down): those continuations completed as canceled. A hop is counted (and reported to
/// the observer) when it is decided, before the target runs it; a refused one is counted
/// both as a hop and as refused.
struct placement_stats {
    std::uint64_t named_inline = 0;
    std::uint64_t named_hop = 0;
    std::uint64_t source_inline = 0;
    std::uint64_t source_hop = 0;
    std::uint64_t captured_inline = 0;
    std::uint64_t captured_hop = 0;
    std::uint64_t completing_inline = 0;
    std::uint64_t deferred = 0;
    std::uint64_t refused = 0;

    std::uint64_t inline_runs() const noexcept {
        return named_inline + source_inline + captured_inline + completing_inline;
    }
    std::uint64_t hops() const noexcept { return named_hop + source_hop + captured_hop; }
};

/// Called for every placement decision, on the deciding thread; keep it short, it must not
/// throw. nullptr (the default) turns tracing off at the cost of one relaxed load.
using placement_observer = void (*)(const placement_event&) noexcept;

namespace detail {

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
    count_
};

/// One block per thread, written only by its thread (relaxed stores, no contention), read by
/// placement_stats_snapshot() from any thread.
struct placement_block {
    atomic<std::uint64_t> counters[static_cast<unsigned>(placement_counter::count_)] = {};
};

struct placement_registry {
    std::mutex mutex;
    // --- guarded by mutex ----------------------------------------------------------------
    // Invariant: every live thread that counted something has exactly one block in `live`;
    // counts of exited threads are folded into `retired`.
    std::list<placement_block> live;
    std::uint64_t retired[static_cast<unsigned>(placement_counter::count_)] = {};

    /// Never destroyed: threads that outlive main() may still count on exit.
    static placement_registry& get() noexcept {
        static placement_registry* registry = new placement_registry;
        return *registry;
    }
};

class placement_block_owner {
public:
    placement_block_owner() {
        auto& reg = placement_registry::get();
        std::lock_guard lock(reg.mutex);
        block_ = &reg.live.emplace_back();
        it_ = std::prev(reg.live.end());
    }
    ~placement_block_owner() {
        auto& reg = placement_registry::get();
        std::lock_guard lock(reg.mutex);
        for (unsigned i = 0; i < static_cast<unsigned>(placement_counter::count_); ++i) {
            reg.retired[i] += block_->counters[i].load(relaxed);  // order: relaxed — under mutex
        }
        reg.live.erase(it_);
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

inline atomic<placement_observer>& placement_observer_slot() noexcept {
    static atomic<placement_observer> slot{nullptr};
    return slot;
}

inline void count_placement(placement_counter c) noexcept {
    auto& counter = this_thread_placement_block().counters[static_cast<unsigned>(c)];
    // order: relaxed — single writer (this thread); readers only sum approximate totals
    counter.store(counter.load(relaxed) + 1, relaxed);
}

inline void record_placement(placement_rule rule, bool ran_inline, const void* sched) noexcept {
    static constexpr placement_counter inline_of[] = {placement_counter::named_inline,
                                                      placement_counter::source_inline,
                                                      placement_counter::captured_inline,
                                                      placement_counter::completing_inline};
    static constexpr placement_counter hop_of[] = {placement_counter::named_hop,
                                                   placement_counter::source_hop,
                                                   placement_counter::captured_hop,
                                                   placement_counter::completing_inline};
    const auto r = static_cast<unsigned>(rule);
    count_placement(ran_inline ? inline_of[r] : hop_of[r]);
    // order: acquire — pairs with the release in set_placement_observer, so the observer's
    //        code and data are visible before it is called
    if (placement_observer obs = placement_observer_slot().load(acquire)) {
        obs(placement_event{rule, ran_inline, sched});
    }
}

}  // namespace detail

/// Sums every thread's counters. Exact once the threads that counted are quiet.
inline placement_stats placement_stats_snapshot() {
    auto& reg = detail::placement_registry::get();
    std::uint64_t sum[static_cast<unsigned>(detail::placement_counter::count_)] = {};
    {
        std::lock_guard lock(reg.mutex);
        for (unsigned i = 0; i < static_cast<unsigned>(detail::placement_counter::count_); ++i) {
            sum[i] = reg.retired[i];
        }
        for (auto& block : reg.live) {
            for (unsigned i = 0; i < static_cast<unsigned>(detail::placement_counter::count_); ++i) {
                sum[i] += block.counters[i].load(detail::relaxed);  // order: relaxed — a total
            }
        }
    }
    using detail::placement_counter;
    auto at = [&](placement_counter c) { return sum[static_cast<unsigned>(c)]; };
    placement_stats s;
    s.named_inline = at(placement_counter::named_inline);
    s.named_hop = at(placement_counter::named_hop);
    s.source_inline = at(placement_counter::source_inline);
    s.source_hop = at(placement_counter::source_hop);
    s.captured_inline = at(placement_counter::captured_inline);
    s.captured_hop = at(placement_counter::captured_hop);
    s.completing_inline = at(placement_counter::completing_inline);
    s.deferred = at(placement_counter::deferred);
    s.refused = at(placement_counter::refused);
    return s;
}

/// Installs (or, with nullptr, removes) the placement observer; returns the previous one.
inline placement_observer set_placement_observer(placement_observer obs) noexcept {
    // order: acq_rel — release publishes the new observer (pairs with record_placement's
    //        acquire); acquire hands the caller a fully visible previous one
    return detail::placement_observer_slot().exchange(obs, detail::acq_rel);
}

}  // namespace weft
