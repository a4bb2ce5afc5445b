// weft/detail/parallel/index_loop.hpp — the source of iterations for loops over [0, n): one
// range slot per participant, chunks claimed from one's own slot, ranges stolen from others'.
//
// Design note (loop_core.hpp §1–§5 for what every loop shares)
// ===========
// §6 Slots. Slot j starts with the j-th contiguous share of [0, n) (memory-bound loops stream
//    their own part, as OpenMP's static schedule does). A slot is [begin, end) under a small spin
//    lock; its owner claims chunks at the front, a thief takes the back half of the slot with the
//    most left. Both ends are atomics so a thief can pick the largest slot without locking each.
//    A stolen range moves into the thief's own slot, so it can be stolen again; between the two
//    locks it is held by an active participant (§2 still holds). The share of a helper that never
//    came is taken the same way, which is how the caller finishes alone on a blocked pool.
// §7 Chunk size. Chunks and steals cut only at multiples of `grain` from the start, so every
//    chunk but the range's last holds at least `grain` iterations. simple: `grain`. fixed: `grain` if set, else the whole share, and stealing only
//    from slots whose owner never joined. automatic: starts at `grain`, doubles while a chunk
//    takes under half the target time and halves above twice it (never under `grain`), so a
//    chunk costs one uncontended lock and one clock read per ~16 us of work whatever the body
//    costs, and what a participant holds unstealable at the end is one chunk.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/loop_core.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace weft::detail::parallel {

/// A test-and-test-and-set lock held for a few instructions (a claim or a steal).
class slot_lock {
public:
    void lock() noexcept {
        unsigned spins = 0;
        // order: acquire — the slot's range as the last holder left it
        while (held_.exchange(true, acquire)) {
            while (held_.load(relaxed)) { // order: relaxed — spin until it looks free
                if (++spins % 64 == 0) {
                    ::sched_yield(); // the holder may be preempted on our CPU
                } else {
                    cpu_relax();
                }
            }
        }
    }
    void unlock() noexcept { held_.store(false, release); } // order: release — pairs with lock()

private:
    atomic<bool> held_{false};
};

struct alignas(WEFT_CACHE_LINE) range_slot {
    slot_lock lock;
    atomic<std::uint64_t> begin{0}; // written under lock; read anywhere as a hint
    atomic<std::uint64_t> end{0};   // written under lock; read anywhere as a hint
    atomic<bool> joined{false};     // its participant came (partitioner::fixed steals only others)

    std::uint64_t remaining_hint() const noexcept {
        const std::uint64_t b = begin.load(relaxed); // order: relaxed — a hint; the lock decides
        const std::uint64_t e = end.load(relaxed);   // order: relaxed — a hint; the lock decides
        return e > b ? e - b : 0;
    }
};

inline constexpr std::chrono::nanoseconds chunk_target{16'000};

/// §7: an adaptive participant's next chunk size from the time its last chunk took: doubled
/// under half the target (while under `cap`), halved over twice it (never under `grain`).
inline std::uint64_t
adapted_chunk(std::uint64_t size, std::chrono::nanoseconds took, std::uint64_t grain, std::uint64_t cap) noexcept {
    if (took < chunk_target / 2 && size < cap) {
        return size * 2;
    }
    if (took > chunk_target * 2 && size / 2 >= grain) {
        return size / 2;
    }
    return size;
}

/// Factory: `f(loop_core&)` makes a participant's runner; runner(b, e) runs iterations [b, e) (it may
/// throw) and runner.finish() ends the participant's part (thread-local state's finally).
template<typename Factory>
class index_loop final : public loop_core {
public:
    index_loop(thread_pool& pool, const loop_options& o, std::uint64_t n, unsigned participants, Factory& f)
        : loop_core(pool, o, participants)
        , factory_(&f)
        , split_(o.split)
        , grain_(std::max<std::uint64_t>(o.grain, 1))
        , user_grain_(o.grain > 1)
        , slots_(std::make_unique<range_slot[]>(participants)) {
        // shares cut at multiples of the grain (§7: every chunk but the range's last is whole)
        const std::uint64_t units = n / grain_ + (n % grain_ != 0 ? 1U : 0U);
        const std::uint64_t share = units / participants, extra = units % participants;
        std::uint64_t at = 0;
        for (unsigned j = 0; j < participants; ++j) {
            const std::uint64_t size = share + (j < extra ? 1U : 0U);
            const std::uint64_t end = n / grain_ < at + size ? n : (at + size) * grain_;
            slots_[j].begin.store(at > n / grain_ ? n : at * grain_,
                                  relaxed);    // order: relaxed — published by the helpers' posting
            slots_[j].end.store(end, relaxed); // order: relaxed — the same
            at += size;
        }
    }

protected:
    void participate(unsigned me) noexcept override {
        range_slot& own = slots_[me];
        own.joined.store(true, relaxed); // order: relaxed — a hint for partitioner::fixed thieves
        std::optional<decltype((*factory_)(std::declval<loop_core&>()))> runner;
        try {
            runner.emplace((*factory_)(static_cast<loop_core&>(*this)));
        } catch (...) {
            fail(std::current_exception());
            return; // our share is still in our slot: the others take it (or drop it, limit 0)
        }
        std::uint64_t size = initial_chunk();
        const bool adaptive = split_ == partitioner::automatic;
        for (;;) {
            if (token_canceled()) {
                cancel_now();
            }
            std::uint64_t b = 0, e = 0;
            if (!claim(own, size, b, e)) {
                if (!steal_into(me)) {
                    break;
                }
                continue;
            }
            const auto started = adaptive ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
            try {
                (*runner)(b, e);
            } catch (...) {
                fail(std::current_exception());
            }
            if (adaptive) {
                size = adapted_chunk(size, std::chrono::steady_clock::now() - started, grain_, std::uint64_t{1} << 40);
            }
        }
        try {
            runner->finish();
        } catch (...) {
            fail(std::current_exception());
        }
    }

private:
    std::uint64_t initial_chunk() const noexcept {
        if (split_ == partitioner::fixed && !user_grain_) {
            return no_break; // the whole share at once
        }
        return grain_;
    }

    /// Under the slot's lock: drops what lies at or past the limit (§4).
    void clamp_locked(range_slot& s, std::uint64_t b, std::uint64_t& e) noexcept {
        const std::uint64_t lim = limit();
        if (e > lim) {
            const std::uint64_t kept = std::max(b, lim);
            if (kept < e) {
                mark_dropped();
            }
            e = kept;
            s.end.store(e, relaxed); // order: relaxed — under the lock
        }
    }

    bool claim(range_slot& s, std::uint64_t size, std::uint64_t& b, std::uint64_t& e) noexcept {
        s.lock.lock();
        b = s.begin.load(relaxed);               // order: relaxed — under the lock
        std::uint64_t end = s.end.load(relaxed); // order: relaxed — under the lock
        clamp_locked(s, b, end);
        if (b >= end) {
            s.lock.unlock();
            return false;
        }
        e = end - b > size ? b + size : end;
        s.begin.store(e, relaxed); // order: relaxed — under the lock
        s.lock.unlock();
        return true;
    }

    /// §6: moves the back half of the fullest other slot into ours; false when all are empty.
    bool steal_into(unsigned me) noexcept {
        const bool only_absent = split_ == partitioner::fixed;
        for (;;) {
            unsigned victim = me;
            std::uint64_t most = 0;
            for (unsigned j = 0; j < participants(); ++j) {
                if (j == me || (only_absent && slots_[j].joined.load(relaxed))) { // order: relaxed — a hint
                    continue;
                }
                const std::uint64_t r = slots_[j].remaining_hint();
                if (r > most) {
                    most = r;
                    victim = j;
                }
            }
            if (victim == me) {
                return false;
            }
            range_slot& v = slots_[victim];
            v.lock.lock();
            const std::uint64_t b = v.begin.load(relaxed); // order: relaxed — under the lock
            std::uint64_t e = v.end.load(relaxed);         // order: relaxed — under the lock
            clamp_locked(v, b, e);
            if (b >= e) {
                v.lock.unlock();
                continue; // the hint was stale: look again
            }
            // the victim keeps the front half in whole grains; a single grain goes whole
            const std::uint64_t left = e - b;
            const std::uint64_t units = left / grain_ + (left % grain_ != 0 ? 1U : 0U);
            const std::uint64_t from = only_absent ? b : b + (units / 2) * grain_;
            v.end.store(from, relaxed); // order: relaxed — under the lock
            v.lock.unlock();
            range_slot& own = slots_[me];
            own.lock.lock();
            own.begin.store(from, relaxed); // order: relaxed — under the lock
            own.end.store(e, relaxed);      // order: relaxed — under the lock
            own.lock.unlock();
            return true;
        }
    }

    Factory* factory_; // on the caller's stack: reached only with work in hand (§2)
    const partitioner split_;
    const std::uint64_t grain_;
    const bool user_grain_;
    std::unique_ptr<range_slot[]> slots_;
};

/// Runs a loop of `n` iterations; `factory` makes each participant's runner. Returns
/// completed/lowest break or throws (loop_core.hpp §5).
template<typename Factory>
void run_index_loop(thread_pool& pool,
                    std::uint64_t n,
                    const loop_options& o,
                    Factory& factory,
                    bool& completed,
                    std::uint64_t& lowest,
                    bool keep_going_on_failure = false) {
    completed = true;
    lowest = no_break;
    if (n == 0) {
        return;
    }
    const std::uint64_t grain = std::max<std::uint64_t>(o.grain, 1);
    const unsigned participants = participants_for(pool, o, n / grain + (n % grain != 0 ? 1U : 0U));
    loop_ref<index_loop<Factory>> loop(new index_loop<Factory>(pool, o, n, participants, factory));
    if (keep_going_on_failure) {
        loop->keep_going_on_failure();
    }
    loop->run_as_caller();
    loop->outcome(completed, lowest);
}

} // namespace weft::detail::parallel
