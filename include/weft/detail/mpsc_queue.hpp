// weft/detail/mpsc_queue.hpp — a wait-free multi-producer queue of work items with one consumer
// at a time: the pool's injector, a strand's queue, a reactor's incoming queue.
//
// Design note
// ===========
// M1 Roles. Many producers (any thread); one consumer at a time: either by construction (a
//    strand's drain owner, a reactor's own thread: pop_batch_exclusive) or by taking
//    `consumer_lock_` (the pool's workers: try_pop_batch). Producers are wait-free: one
//    exchange on `tail_` and one store. The queue is intrusive (it links work_item::next), so
//    a push allocates nothing. It is Vyukov's intrusive MPSC queue with a stub node (our own
//    code).
// M2 Emptiness. The queue is empty exactly when both `head_` and `tail_` are the stub. `tail_`
//    alone is not enough: when the consumer re-links the stub behind the last item it takes, a
//    producer may have slipped an item in between, which then sits *before* the stub (found by
//    the pool's random-shutdown stress test: a drained pool left 16 items behind). `head_` is
//    written only by the consumer; a reader that races a consumer may see "empty" while that
//    consumer is active — each user must make that harmless (the pool's argument is §7 of its
//    note, pool_core.hpp). A producer's exchange on `tail_` is seen by empty_hint() at once.
// M3 Busy. A producer that has exchanged `tail_` but not yet linked its item makes the queue
//    look non-empty while the consumer cannot take the item yet. pop returns nothing then; the
//    consumer looks again later (the producer's wake-up, if any, follows its link).
// Tests: tests/detail/mpsc_queue_test.cpp; under the pool, tests/stress/.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/work_item.hpp>

#include <cstddef>

namespace weft::detail {

class mpsc_queue {
public:
    mpsc_queue() noexcept : stub_(&stub_invoke) {
        tail_.store(&stub_, relaxed); // order: relaxed — before any other thread sees the queue
        head_.store(&stub_, relaxed);
    }

    mpsc_queue(const mpsc_queue&) = delete;
    mpsc_queue& operator=(const mpsc_queue&) = delete;

    /// Any thread; wait-free.
    void push(work_item* w) noexcept { link(w); }

    /// True when the queue may hold items (exact when quiet).
    bool empty_hint() const noexcept {
        // order: acquire ×2 — tail_ pairs with push's exchange; head_ with the consumer's release
        return tail_.load(acquire) == &stub_ && head_.load(acquire) == &stub_;
    }

    /// Takes up to `max` items into `out` if no other thread is consuming; returns how many.
    std::size_t try_pop_batch(work_item** out, std::size_t max) noexcept {
        if (empty_hint()) {
            return 0;
        }
        // order: acquire — pairs with the release below: the previous consumer's head_ update
        if (consumer_lock_.exchange(true, acquire)) {
            return 0;
        }
        const std::size_t n = pop_batch_exclusive(out, max);
        consumer_lock_.store(false, release); // order: release — pairs with the acquire above
        return n;
    }

    /// Takes up to `max` items into `out`, for a caller that is the only consumer by
    /// construction (a strand's drain: one at a time, each ordered after the previous one by
    /// the strand's own acq_rel counter), so without the consumer lock.
    std::size_t pop_batch_exclusive(work_item** out, std::size_t max) noexcept {
        std::size_t n = 0;
        while (n < max) {
            work_item* w = pop_one();
            if (w == nullptr) {
                break;
            }
            out[n++] = w;
        }
        return n;
    }

private:
    static work_item* next_of(work_item* w) noexcept {
        // order: acquire — pairs with link()'s release store: the item's contents are visible
        return atomic_ref<work_item*>(w->next).load(acquire);
    }

    void link(work_item* w) noexcept {
        atomic_ref<work_item*>(w->next).store(nullptr, relaxed); // order: relaxed — published below
        // order: acq_rel — release: the item is complete before it is reachable from tail_;
        //        acquire: we then write into the previous tail, which its producer finished
        work_item* prev = tail_.exchange(w, acq_rel);
        atomic_ref<work_item*>(prev->next).store(w, release); // order: release — see next_of
    }

    /// Consumer only (under consumer_lock_, or the only consumer by construction).
    work_item* pop_one() noexcept {
        work_item* h = head_.load(relaxed); // order: relaxed — only the consumer writes it
        work_item* next = next_of(h);
        if (h == &stub_) {
            if (next == nullptr) {
                return nullptr;
            }
            set_head(next);
            h = next;
            next = next_of(next);
        }
        if (next != nullptr) {
            set_head(next);
            return h;
        }
        if (tail_.load(acquire) != h) { // order: acquire — a producer is between its two steps
            return nullptr;
        }
        link(&stub_); // h is the last item: put the stub behind it, so h can be unlinked
        next = next_of(h);
        if (next != nullptr) {
            set_head(next);
            return h;
        }
        return nullptr; // another producer got in between; its item is taken on a later call
    }

    void set_head(work_item* h) noexcept {
        head_.store(h, release); // order: release — pairs with empty_hint()'s acquire
    }

    struct stub_item : work_item {
        using work_item::work_item;
    };
    static void stub_invoke(work_item*, bool) noexcept {}

    alignas(WEFT_CACHE_LINE) atomic<work_item*> tail_{nullptr}; // producers exchange it
    alignas(WEFT_CACHE_LINE) atomic<bool> consumer_lock_{false};
    stub_item stub_;
    atomic<work_item*> head_{nullptr}; // written by the consumer only (under consumer_lock_)
};

} // namespace weft::detail
