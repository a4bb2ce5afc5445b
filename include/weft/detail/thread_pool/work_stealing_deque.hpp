// weft/detail/thread_pool/work_stealing_deque.hpp — the per-worker Chase–Lev deque.
//
// Design note
// ===========
// One owner pushes and pops at the bottom (LIFO: the newest item runs next, while it is hot in
// the cache); any thread steals from the top (FIFO: the oldest, usually the largest piece of a
// divide-and-conquer tree). The algorithm is Chase & Lev (SPAA 2005) with the C11 orderings of
// Lê, Pop, Cohen & Zappa Nardelli (PPoPP 2013), and two changes:
//   * push reloads the ring after growing it. The paper's push keeps writing into the old ring
//     (found by CDSChecker, Norris & Demsky 2013); the Relacy model in tests/model/ fails at once
//     when that bug is planted (planted_fault::deque_push_into_stale_ring).
//   * push publishes `bottom_` with a release store instead of "release fence; relaxed store".
//     For the thief's acquire load of `bottom_` the two are equivalent, and ThreadSanitizer sees
//     a release store (it does not model fences; weft's TSan runs use no suppressions).
// Slots are atomics read and written relaxed: a thief may read a slot the owner is overwriting
// after a wrap-around; its CAS on `top_` then fails, so the torn-looking value is never used, and
// no access is a data race. Rings are never freed while the deque lives: a thief that loaded the
// old ring still reads valid memory. Retired rings are at most as large, together, as the live
// one, so the memory bound is 2x the peak size.
//
// Ownership: push/pop only on the owner thread; steal/size_hint anywhere; destroy when no thread
// can touch the deque any more.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/thread_pool/platform.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace weft::detail {

template<typename T, typename P = std_platform>
class work_stealing_deque {
    static_assert(std::is_pointer_v<T>, "the deque holds pointers (nullptr means empty)");

public:
    /// `capacity` is rounded up to a power of two, at least 2.
    explicit work_stealing_deque(std::size_t capacity = 256) {
        std::size_t c = 2;
        while (c < capacity) {
            c *= 2;
        }
        ring_.store(new ring(c), P::relaxed); // order: relaxed — published by the deque's owner
    }

    work_stealing_deque(const work_stealing_deque&) = delete;
    work_stealing_deque& operator=(const work_stealing_deque&) = delete;

    ~work_stealing_deque() {
        delete ring_.load(P::relaxed); // order: relaxed — no other thread may use the deque now
        while (retired_ != nullptr) {
            ring* r = retired_;
            retired_ = r->retired_next;
            delete r;
        }
    }

    /// Owner only. Throws std::bad_alloc if the ring must grow and cannot; then nothing changed.
    void push(T item) {
        const std::int64_t b = bottom_.load(P::relaxed); // order: relaxed — only the owner writes it
        const std::int64_t t = top_.load(P::acquire);    // order: acquire — pairs with a steal's CAS
        ring* r = ring_.load(P::relaxed);                // order: relaxed — only the owner writes it
        if (b - t > r->mask) {
            ring* grown = grow(r, t, b);
            if constexpr (P::fault != planted_fault::deque_push_into_stale_ring) {
                r = grown; // the fix to the paper: write into the ring thieves will now read
            }
        }
        r->put(b, item);
        bottom_.store(b + 1, P::release); // order: release — pairs with steal()'s acquire load
    }

    /// Owner only: grows now so that `extra` more pushes cannot allocate (then they cannot throw).
    void reserve(std::size_t extra) {
        const std::int64_t b = bottom_.load(P::relaxed); // order: relaxed — owner's own word
        const std::int64_t t = top_.load(P::acquire);    // order: acquire — as in push()
        ring* r = ring_.load(P::relaxed);                // order: relaxed — owner's own word
        while (b - t + static_cast<std::int64_t>(extra) > r->mask + 1) {
            r = grow(r, t, b);
        }
    }

    /// Owner only. The newest item, or nullptr.
    T pop() noexcept {
        const std::int64_t b = bottom_.load(P::relaxed) - 1; // order: relaxed — owner's own word
        ring* r = ring_.load(P::relaxed);                    // order: relaxed — owner's own word
        bottom_.store(b, P::relaxed); // order: relaxed — the barrier below orders it before top_
        // order: seq_cst fence — StoreLoad: a thief either sees the lowered bottom_ or we see its
        //        raised top_ (pairs with the fence in steal())
        std::int64_t t = P::barrier_then_load(top_, P::relaxed);
        if (t > b) {
            bottom_.store(b + 1, P::relaxed); // order: relaxed — it was empty; restore
            return nullptr;
        }
        T item = r->get(b);
        if (t == b) {
            // The last item: a thief may be taking it too; the CAS on top_ decides.
            // order: seq_cst — total order with the thieves' CAS on top_
            if (!top_.compare_exchange_strong(t, t + 1, P::seq_cst, P::relaxed)) {
                item = nullptr;
            }
            bottom_.store(b + 1, P::relaxed); // order: relaxed — owner's own word
        }
        return item;
    }

    /// Owner only. The newest item without taking it (a thief may take it meanwhile if it is the
    /// last one: pop() then says so with nullptr), or nullptr if the deque looks empty.
    T peek() const noexcept {
        const std::int64_t b = bottom_.load(P::relaxed) - 1; // order: relaxed — owner's own word
        const std::int64_t t = top_.load(P::relaxed);        // order: relaxed — a hint; pop() decides
        if (t > b) {
            return nullptr;
        }
        return ring_.load(P::relaxed)->get(b); // order: relaxed — owner's own ring
    }

    /// Any thread. The oldest item, or nullptr if the deque was empty or another thread won it.
    T steal() noexcept {
        std::int64_t t = top_.load(P::acquire); // order: acquire — pairs with other thieves' CAS
        // order: seq_cst fence, then acquire — the fence pairs with pop()'s; the acquire pairs
        //        with push()'s release store, so the slot and the item it points to are visible
        const std::int64_t b = P::barrier_then_load(bottom_, P::acquire);
        if (t >= b) {
            return nullptr;
        }
        ring* r = ring_.load(P::acquire); // order: acquire — pairs with grow()'s release store
        T item = r->get(t);
        // order: seq_cst — total order with pop() and other thieves on top_
        if (!top_.compare_exchange_strong(t, t + 1, P::seq_cst, P::relaxed)) {
            return nullptr;
        }
        return item;
    }

    /// Any thread. Approximate (exact when quiet); never negative.
    std::size_t size_hint() const noexcept {
        const std::int64_t b = bottom_.load(P::relaxed); // order: relaxed — a hint
        const std::int64_t t = top_.load(P::relaxed);    // order: relaxed — a hint
        return b > t ? static_cast<std::size_t>(b - t) : 0;
    }

    /// Any thread: the current ring's capacity (tests).
    std::size_t capacity() const noexcept {
        return static_cast<std::size_t>(ring_.load(P::acquire)->mask + 1); // order: acquire — see steal
    }

private:
    struct ring {
        explicit ring(std::size_t capacity)
            : mask(static_cast<std::int64_t>(capacity) - 1)
            , slots(std::make_unique<typename P::template atomic<T>[]>(capacity)) {}
        T get(std::int64_t i) const noexcept {
            return slots[static_cast<std::size_t>(i & mask)].load(P::relaxed); // order: relaxed — see note
        }
        void put(std::int64_t i, T v) noexcept {
            slots[static_cast<std::size_t>(i & mask)].store(v, P::relaxed); // order: relaxed — see note
        }
        const std::int64_t mask;
        std::unique_ptr<typename P::template atomic<T>[]> slots;
        ring* retired_next = nullptr;
    };

    /// Owner only: a ring twice as large holding [t, b); the old one is retired, not freed.
    ring* grow(ring* old, std::int64_t t, std::int64_t b) {
        auto* grown = new ring(static_cast<std::size_t>(old->mask + 1) * 2);
        for (std::int64_t i = t; i < b; ++i) {
            grown->put(i, old->get(i));
        }
        ring_.store(grown, P::release); // order: release — pairs with steal()'s acquire load
        old->retired_next = retired_;
        retired_ = old;
        return grown;
    }

    alignas(WEFT_CACHE_LINE) typename P::template atomic<std::int64_t> top_{0};    // thieves and owner CAS it
    alignas(WEFT_CACHE_LINE) typename P::template atomic<std::int64_t> bottom_{0}; // owner writes
    typename P::template atomic<ring*> ring_{nullptr};                             // owner writes
    ring* retired_ = nullptr;                                                      // owner only
};

} // namespace weft::detail
