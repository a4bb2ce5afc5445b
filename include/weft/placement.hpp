// weft/placement.hpp — the placement rule's vocabulary, and counters and an observer hook for
// every continuation placement decision.
// Design note: weft/detail/placement.hpp (the rule as code); decision record:
// docs/decisions/0002-continuation-placement.md; guide: docs/guide/placement.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/placement_counters.hpp>

#include <cstdint>

namespace weft {

/// Which rule of the placement order decided where a continuation (or a co_await resumption)
/// runs. First match wins: named > source > captured > completing, except that a captured
/// scheduler that keeps its context (strand, run loop...) comes before the source.
enum class placement_rule : std::uint8_t {
    named,      ///< (1) a scheduler named at the call: then(s, f), execute_synchronously
    source,     ///< (2) the policy of the source that completed the antecedent
    captured,   ///< (3) the scheduler current when the continuation was attached (before (2) when
                ///<     it keeps its context: a strand, a run loop, a dedicated thread...)
    completing, ///< (4) inline on the completing thread, under the recursion guard
};

/// One placement decision, as the observer sees it.
struct placement_event {
    placement_rule rule;
    bool ran_inline;       ///< true: ran on the completing thread; false: hopped (scheduled)
    const void* scheduler; ///< identity of the scheduler chosen, nullptr for rule 4
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
    /// Of the captured decisions, those where a context-keeping scheduler (a strand, a run
    /// loop...) beat the completing source's own policy: a resumption that came back to its
    /// context instead of running where the source said (e.g. inline on an I/O thread).
    std::uint64_t context_kept = 0;

    std::uint64_t inline_runs() const noexcept {
        return named_inline + source_inline + captured_inline + completing_inline;
    }
    std::uint64_t hops() const noexcept { return named_hop + source_hop + captured_hop; }
};

/// Called for every placement decision, on the deciding thread; keep it short, it must not
/// throw. nullptr (the default) turns tracing off at the cost of one relaxed load.
using placement_observer = void (*)(const placement_event&) noexcept;

namespace detail {

/// placement_stats' fields, in the order of detail::placement_counter.
inline constexpr stat_fields<placement_stats, placement_counter_count> placement_stats_fields = {
    &placement_stats::named_inline,
    &placement_stats::named_hop,
    &placement_stats::source_inline,
    &placement_stats::source_hop,
    &placement_stats::captured_inline,
    &placement_stats::captured_hop,
    &placement_stats::completing_inline,
    &placement_stats::deferred,
    &placement_stats::refused,
    &placement_stats::context_kept,
};

inline atomic<placement_observer>& placement_observer_slot() noexcept {
    static atomic<placement_observer> slot{nullptr};
    return slot;
}

} // namespace detail

/// Sums every thread's counters. Exact once the threads that counted are quiet.
inline placement_stats placement_stats_snapshot() {
    placement_stats s;
    detail::placement_registry::get().sum_into(s, detail::placement_stats_fields);
    return s;
}

/// Installs (or, with nullptr, removes) the placement observer; returns the previous one.
inline placement_observer set_placement_observer(placement_observer obs) noexcept {
    // order: acq_rel — release publishes the new observer (pairs with record_placement's
    //        acquire); acquire hands the caller a fully visible previous one
    return detail::placement_observer_slot().exchange(obs, detail::acq_rel);
}

} // namespace weft
