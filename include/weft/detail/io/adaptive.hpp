// weft/detail/io/adaptive.hpp — the adaptive continuation policy of one reactor
// (io_policy::adaptive): run an I/O continuation inline on the I/O thread while continuations
// are short, else hop it to the fallback scheduler.
// Design note: §7 of the reactor note (weft/detail/io/reactor.hpp) points here; the rules:
// A1 only continuations that ran inline are timed (a hop's cost says nothing about the work);
//    each sample, capped at 8 budgets (a run the OS preempted for a whole time slice must not
//    decide alone), feeds a 1/8 moving average.
// A2 one continuation over the budget makes the rest of that loop turn hop: the connections
//    behind it in the batch do not wait for another long one.
// A3 an average over the budget makes every continuation hop, except a probe now and then
//    that runs inline and is timed: 1 ms after the last short probe, and after a long one
//    twice the last gap (up to 64 ms). When the average falls back under the budget,
//    continuations run inline again. So steady long work pays one long inline run per probe
//    gap, not one per few completions, and a burst of long work is forgotten in a few ms.
// A4 a hop must be able to add a core: a context with as many I/O threads as cores
//    (io_options::adaptive_cores, default the CPUs the process may run on) runs every
//    continuation inline, whatever A2/A3 say. Under load its I/O threads keep every core
//    busy, so a hop only moves work onto a core an I/O thread needs, adding a hand-over per
//    request and a second queue to wait in (the placement suite's two-I/O-thread rows:
//    inline beat the pool at every C, in throughput and p99). Fixed at construction
//    (reactor_config::hop_adds_a_core). Rejected: counting the I/O threads awake at each
//    decision — in hop mode the I/O threads sleep between requests (their work is on the
//    pool), so the count says "a core is free" and the policy never leaves hop mode
//    (measured: no change from A1–A3). Not handled: load concentrated on fewer I/O threads
//    than cores (connections go round robin, so it takes few connections, where every policy
//    is level).
// Where the decision is made: reactor::finish() asks decide() once per completion of an
// adaptive op, before it completes the task, and keeps the verdict while the task completes;
// the adaptive scheduler (weft/detail/io/core.hpp) only reads it. After the completion,
// finish() calls sample() if the continuation did run inline (A1).
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstdint>

namespace weft::detail::io {

/// A1–A3 for one reactor; reactor thread only.
class adaptive_policy {
public:
    explicit adaptive_policy(std::int64_t budget_ns) noexcept : budget_ns_(budget_ns) {}

    /// A new loop turn: A2's overrun is forgotten.
    void new_turn() noexcept { overrun_ = false; }

    /// May a continuation completed at `now_ns` run inline? (A2, A3)
    bool decide(std::int64_t now_ns) const noexcept {
        if (overrun_) {
            return false; // A2
        }
        return !hopping_ || now_ns >= next_probe_ns_; // A3: hop, except a probe
    }

    /// One inline continuation took [t0, t1) (A1), updating A2 and A3.
    void sample(std::int64_t t0, std::int64_t t1) noexcept {
        const std::int64_t dt = std::min(t1 - t0, 8 * budget_ns_); // A1: at most 8 budgets
        ewma_ns_ += (dt - ewma_ns_) / 8;
        if (dt > budget_ns_) {
            overrun_ = true; // A2
        }
        if (!hopping_) {
            if (ewma_ns_ > budget_ns_) {
                hopping_ = true; // A3
                probe_gap_ns_ = first_probe_gap_ns;
                next_probe_ns_ = t1 + probe_gap_ns_;
            }
            return;
        }
        if (ewma_ns_ <= budget_ns_) {
            hopping_ = false; // the probes say continuations are short again
            return;
        }
        // a long probe: the work is still long, probe less often; a short one: soon again
        probe_gap_ns_ = dt > budget_ns_ ? std::min(probe_gap_ns_ * 2, last_probe_gap_ns) : first_probe_gap_ns;
        next_probe_ns_ = t1 + probe_gap_ns_;
    }

private:
    static constexpr std::int64_t first_probe_gap_ns = 1'000'000;
    static constexpr std::int64_t last_probe_gap_ns = 64'000'000;

    std::int64_t budget_ns_;
    bool overrun_ = false;     ///< A2: this loop turn had an overrun
    bool hopping_ = false;     ///< A3: the average is over budget
    std::int64_t ewma_ns_ = 0; ///< 1/8 moving average of inline continuation times
    std::int64_t probe_gap_ns_ = first_probe_gap_ns;
    std::int64_t next_probe_ns_ = 0;
};

} // namespace weft::detail::io
