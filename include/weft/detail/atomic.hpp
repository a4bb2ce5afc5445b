// weft/detail/atomic.hpp — the one seam every weft atomic goes through.
// Design note: a model-checking or chaos build may replace these aliases; nothing else in weft
// names std::atomic directly. Fences are here too, because TSan cannot see them (see below).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>

#include <atomic>

namespace weft::detail {

template<typename T>
using atomic = std::atomic<T>;

using std::memory_order;
inline constexpr memory_order relaxed = std::memory_order_relaxed;
inline constexpr memory_order acquire = std::memory_order_acquire;
inline constexpr memory_order release = std::memory_order_release;
inline constexpr memory_order acq_rel = std::memory_order_acq_rel;
inline constexpr memory_order seq_cst = std::memory_order_seq_cst;

/// A StoreLoad barrier between a store the caller made and a later load of `word`.
/// Normal builds: a seq_cst fence. TSan builds: a seq_cst read-modify-write of `word`
/// itself, which always reads the latest value and which TSan models; the reliability
/// policy is zero TSan suppressions, so the fence must never be hidden from it.
template<typename T>
inline T store_load_barrier_then_load(atomic<T>& word) noexcept {
#if WEFT_TSAN
    return word.fetch_add(T{0}, seq_cst);  // order: seq_cst RMW stands in for the fence
#else
    std::atomic_thread_fence(seq_cst);  // order: StoreLoad; pairs with the seq_cst RMW the
                                        // other side of the protocol makes on `word`
    return word.load(relaxed);          // order: relaxed — the fence above orders it
#endif
}

}  // namespace weft::detail
