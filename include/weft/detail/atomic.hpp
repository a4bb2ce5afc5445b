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
/// For a plain field that a lock-free structure reads and writes atomically in one phase of its
/// life (work_item::next inside the injection queue) and plainly in another.
template<typename T>
using atomic_ref = std::atomic_ref<T>;

using std::memory_order;
inline constexpr memory_order relaxed = std::memory_order_relaxed;
inline constexpr memory_order acquire = std::memory_order_acquire;
inline constexpr memory_order release = std::memory_order_release;
inline constexpr memory_order acq_rel = std::memory_order_acq_rel;
inline constexpr memory_order seq_cst = std::memory_order_seq_cst;

/// A StoreLoad barrier between a store the caller made and a later load of `word`.
/// Normal builds: a seq_cst fence. TSan builds: a seq_cst read-modify-write of `word`
/// itself, which always reads the latest value and which TSan models; the TSan suite runs with
/// no suppressions (docs/decisions/0003-dependency-policy.md), so no fence is hidden from it.
/// `order` applies to the load (relaxed or acquire).
template<typename T>
inline T store_load_barrier_then_load(atomic<T>& word, memory_order order = relaxed) noexcept {
#if WEFT_TSAN
    (void)order;
    return word.fetch_add(T{0}, seq_cst); // order: seq_cst RMW stands in for the fence
#else
    std::atomic_thread_fence(seq_cst); // order: StoreLoad; pairs with the seq_cst RMW or fence
                                       // the other side of the protocol makes
    return word.load(order);           // order: as the caller asks; the fence orders it
#endif
}

/// A full fence between a read-modify-write the caller made and its later loads of other words.
/// TSan builds keep the real fence too (the algorithm needs it at run time); TSan only cannot
/// see it, which is harmless because every happens-before edge weft relies on is carried by an
/// acquire/release operation that TSan does see.
inline void full_fence() noexcept {
#if defined(__GNUC__) && !defined(__clang__) && WEFT_TSAN && defined(__x86_64__)
    asm volatile("mfence" ::: "memory"); // g++ -Wtsan warns on thread fences under TSan
#else
    std::atomic_thread_fence(seq_cst); // order: StoreLoad between the caller's RMW and its loads
#endif
}

} // namespace weft::detail
