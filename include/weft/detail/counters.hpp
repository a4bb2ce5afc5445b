// weft/detail/counters.hpp — statistics counters shared by every engine (the pool's workers,
// the reactors, the placement blocks, strands, gates, run loops) and the copy into the plain
// stats structs users read.
// Design note: a counter is a statistic, never a synchronisation variable: every access is
// relaxed. bump() is for a counter with one writer at a time (a load and a store, no
// read-modify-write: the writer's protocol says who may write); add() for many writers. A
// block of counters is indexed by an enum whose order matches a table of the stats struct's
// fields, so copying a block into a struct and summing structs are written once, here.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

class stat_counter {
public:
    /// One writer at a time.
    void bump(std::uint64_t n = 1) noexcept {
        // order: relaxed — a single writer (see the design note); readers only take totals
        value_.store(value_.load(relaxed) + n, relaxed);
    }
    /// Any number of writers.
    void add(std::uint64_t n = 1) noexcept {
        value_.fetch_add(n, relaxed); // order: relaxed — a statistic
    }
    /// Takes back an add() (an item counted, then refused).
    void sub(std::uint64_t n = 1) noexcept {
        value_.fetch_sub(n, relaxed); // order: relaxed — a statistic
    }
    /// Any thread; exact once the writers are quiet.
    std::uint64_t load() const noexcept {
        return value_.load(relaxed); // order: relaxed — a statistic
    }

private:
    atomic<std::uint64_t> value_{0};
};

/// The fields of a stats struct, in the order of the enum that indexes its counter block.
template<typename Stats, std::size_t N>
using stat_fields = std::array<std::uint64_t Stats::*, N>;

/// Adds every listed field of `from` to `into` (totals over workers or threads).
template<typename Stats, std::size_t N>
void add_stats(Stats& into, const Stats& from, const stat_fields<Stats, N>& fields) noexcept {
    for (auto field : fields) {
        into.*field += from.*field;
    }
}

/// One counter per field of Stats, indexed by Id (an enum class whose values are 0..N-1, in
/// the order of the fields table).
template<typename Id, std::size_t N>
class counter_block {
public:
    stat_counter& operator[](Id id) noexcept { return counters_[static_cast<std::size_t>(id)]; }
    const stat_counter& operator[](Id id) const noexcept { return counters_[static_cast<std::size_t>(id)]; }

    /// Adds every counter to its field of `out`.
    template<typename Stats>
    void add_to(Stats& out, const stat_fields<Stats, N>& fields) const noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            out.*fields[i] += counters_[i].load();
        }
    }

private:
    std::array<stat_counter, N> counters_{};
};

} // namespace weft::detail
