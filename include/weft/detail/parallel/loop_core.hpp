// weft/detail/parallel/loop_core.hpp — what every parallel loop shares: its participants, the
// helpers that recruit pool workers, the loop's control word and its outcome.
//
// Design note (docs/decisions/0012-parallel-loops.md has the reasons)
// ===========
// §1 Participants. The caller is participant 0 and always runs iterations itself; helpers are
//    work items on the pool that join when a worker runs them. A loop never waits for a helper
//    to start: if the pool is busy or blocked, the caller (and whoever joined) takes over the
//    work meant for the missing ones, so a loop finishes on a pool whose workers all block.
// §2 Joining and finishing. `active_` counts the participants inside the loop (bit 31: the
//    caller sleeps on it). A helper joins only while it is non-zero (a CAS), and leaves when it
//    finds no work. Work is in a source (slots, a shared iterator) or held by an active
//    participant; a participant leaves only after seeing the source empty, so whoever brings
//    `active_` to zero is the last and no work is left. The caller returns only then; a helper
//    that runs later fails to join and touches nothing but this object, kept alive by its
//    reference (the body, on the caller's stack, is reached only with work in hand).
// §3 Recruiting. Helpers form a tree: the caller posts two, each helper that joins posts two
//    more, up to `participants - 1`, so wake-ups are spread over threads instead of one caller
//    paying for all. From a worker of the pool they go on its own deque (idle workers steal
//    them); at the end the caller pops back the ones nobody took, so nested loops on a busy pool
//    leave nothing behind. A worker that helped spins up to `helper_linger` before it parks (the
//    pool's default is 20 us): loops come in bursts, and a parked thread is slow to come back.
// §4 Control. `limit_` is the first iteration (ordinal) that must not start: stop, cancel and a
//    failure set it to 0, break_loop at k lowers it to k + 1. Sources clamp every claim to it and
//    index bodies that take a loop_state check it before each iteration.
// §5 Outcome. Failures are kept in order of arrival (an operation_canceled thrown while the
//    loop's token is canceled is the cancellation, not a failure). The caller throws
//    aggregate_error with all of them; else operation_canceled if the token stopped iterations
//    that would have run; else returns completed/lowest break.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/futex.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/thread_pool/pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/thread_pool.hpp>
#include <weft/work_item.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace weft::detail::parallel {

inline constexpr std::uint64_t no_break = ~std::uint64_t{0};

/// How long a worker that helped a loop keeps spinning, idle, before it parks (§3).
inline constexpr std::chrono::microseconds helper_linger{500};

/// How many threads a loop of `chunks` possible chunks may use on `pool`, the caller included.
inline unsigned participants_for(thread_pool& pool, const loop_options& o, std::uint64_t chunks) {
    std::size_t n = o.max_degree != 0 ? o.max_degree : pool.size();
    const bool on_pool = pool.runs_on_this_thread();
    n = std::min(n, pool.size() + (on_pool ? 0U : 1U)); // the caller plus every worker at most
    n = std::min<std::uint64_t>(n, std::max<std::uint64_t>(chunks, 1));
    return static_cast<unsigned>(std::max<std::size_t>(n, 1));
}

class loop_core : public ref_counted<loop_core> {
public:
    loop_core(thread_pool& pool, const loop_options& o, unsigned participants)
        : pool_(&detail::pool_access::core(pool))
        , token_(o.token)
        , participants_(participants)
        , helpers_(participants > 1 ? std::make_unique<helper[]>(participants - 1) : nullptr) {
        for (unsigned i = 0; i + 1 < participants; ++i) {
            helpers_[i].core = this;
        }
    }
    virtual ~loop_core() = default;
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    unsigned participants() const noexcept { return participants_; }

    // ---- §4 control -------------------------------------------------------------------------
    std::uint64_t limit() const noexcept {
        return limit_.load(relaxed); // order: relaxed — a late read lets one more iteration start
    }
    bool token_canceled() const noexcept { return token_.is_cancellation_requested(); }

    void stop() {
        if ((flags_.fetch_or(stopped, relaxed) & broken) != 0) { // order: relaxed — flag word
            throw std::logic_error("weft: stop() after break_loop() in the same loop");
        }
        lower_limit(0);
    }
    void break_at(std::uint64_t k) {
        if ((flags_.fetch_or(broken, relaxed) & stopped) != 0) { // order: relaxed — flag word
            throw std::logic_error("weft: break_loop() after stop() in the same loop");
        }
        std::uint64_t cur = lowest_break_.load(relaxed); // order: relaxed — a minimum
        while (k < cur && !lowest_break_.compare_exchange_weak(cur, k, relaxed)) {
        }
        lower_limit(k + 1);
    }
    void cancel_now() noexcept {
        flags_.fetch_or(canceled, relaxed); // order: relaxed — read after the loop finished
        lower_limit(0);
    }
    /// Keeps a failure (§5). Called inside the catch handler of the body's exception.
    void fail(std::exception_ptr e) noexcept {
        if (token_canceled() && is_cancellation(e)) {
            mark_dropped(); // the body ended early: its work is not all done
            cancel_now();
            return;
        }
        {
            std::lock_guard lock(errors_mutex_);
            try {
                errors_.push_back(e);
            } catch (...) { // no memory to keep it in the list: it is still reported (outcome)
                unlisted_ = std::move(e);
            }
        }
        if (stop_on_failure_) {
            lower_limit(0);
        }
        flags_.fetch_or(failed, release); // order: release — whoever sees `failed` sees the limit
    }
    void keep_going_on_failure() noexcept { stop_on_failure_ = false; }
    /// A source threw away iterations that had not started (stop, break, cancel, failure).
    void mark_dropped() noexcept { dropped_.store(true, relaxed); } // order: relaxed — read after the finish

    bool is_stopped() const noexcept { return (flags_.load(relaxed) & stopped) != 0; } // order: relaxed — a flag
    bool is_exceptional() const noexcept {
        return (flags_.load(acquire) & failed) != 0; // order: acquire — pairs with fail()
    }
    std::uint64_t lowest_break() const noexcept { return lowest_break_.load(relaxed); } // order: relaxed — a minimum

    // ---- §1–§3 participants -----------------------------------------------------------------
    /// The caller's part: recruit, run, leave, wait for the others, take back unused helpers.
    void run_as_caller() noexcept {
        recruit(2);
        participate(0);
        leave();
        wait_until_finished();
        reclaim_unused_helpers();
    }

    /// Throws what §5 says; otherwise fills `completed` and `lowest`.
    void outcome(bool& completed, std::uint64_t& lowest) {
        if (unlisted_) {
            std::rethrow_exception(unlisted_);
        }
        if (!errors_.empty()) {
            throw aggregate_error(std::move(errors_));
        }
        const std::uint32_t f = flags_.load(relaxed);        // order: relaxed — after the finish's acquire
        if ((f & canceled) != 0 && dropped_.load(relaxed)) { // order: relaxed — the same
            throw operation_canceled{};
        }
        completed = (f & (stopped | broken)) == 0;
        lowest = lowest_break();
    }

protected:
    /// Runs iterations until the source has none for this participant (slot `me`).
    virtual void participate(unsigned me) noexcept = 0;

private:
    static constexpr std::uint32_t stopped = 1, broken = 2, canceled = 4, failed = 8;
    static constexpr std::uint32_t sleeping = 1U << 31, count_mask = sleeping - 1;

    struct helper final : work_item {
        helper() noexcept : work_item(&invoke) {}
        loop_core* core = nullptr;
        static void invoke(work_item* self, bool run) noexcept {
            loop_core* c = static_cast<helper&>(*self).core;
            if (run) {
                c->run_as_helper();
            }
            c->release_ref(); // the reference its posting took
        }
    };

    static bool is_cancellation(const std::exception_ptr& e) noexcept {
        try {
            std::rethrow_exception(e);
        } catch (const operation_canceled&) {
            return true;
        } catch (...) {
            return false;
        }
    }

    void lower_limit(std::uint64_t to) noexcept {
        std::uint64_t cur = limit_.load(relaxed); // order: relaxed — a minimum; see limit()
        while (to < cur && !limit_.compare_exchange_weak(cur, to, relaxed)) {
        }
    }

    void run_as_helper() noexcept {
        std::uint32_t cur = active_.load(relaxed); // order: relaxed — the CAS decides
        do {
            if ((cur & count_mask) == 0) {
                return; // §2: the loop is over; touch nothing else
            }
            // order: acquire — sees the caller's set-up of the source and body
        } while (!active_.compare_exchange_weak(cur, cur + 1, acquire, relaxed));
        const unsigned me = next_slot_.fetch_add(1, relaxed); // order: relaxed — a ticket
        recruit(2);
        participate(me);
        leave();
        // §3: loops come in bursts; a worker that helped spins a while before it parks, so the
        // next loop finds it awake (a parked thread takes ~0.2-1 ms to come back on a VM)
        if (worker_data* w = current_worker(); w != nullptr && w->core == pool_) {
            w->linger_until = std::chrono::steady_clock::now() + helper_linger;
        }
    }

    void leave() noexcept {
        // order: acq_rel — release: our iterations' writes to whoever sees the count reach 0;
        //        acquire: the last leaver sees everyone's
        const std::uint32_t old = active_.fetch_sub(1, acq_rel);
        if ((old & count_mask) == 1 && (old & sleeping) != 0) {
            futex_wake_all(active_);
        }
    }

    void wait_until_finished() noexcept {
        auto finished = [this] {
            return (active_.load(acquire) & count_mask) == 0; // order: acquire — pairs with leave()
        };
        if (spin_until(finished)) {
            return;
        }
        std::uint32_t cur = active_.load(acquire); // order: acquire — pairs with leave()
        while ((cur & count_mask) != 0) {
            // order: acquire on failure — the next value to look at
            if ((cur & sleeping) == 0 && !active_.compare_exchange_weak(cur, cur | sleeping, acquire, acquire)) {
                continue;
            }
            futex_wait(active_, cur | sleeping);
            cur = active_.load(acquire); // order: acquire — pairs with leave()
        }
    }

    void recruit(unsigned how_many) noexcept {
        for (unsigned i = 0; i < how_many && limit() != 0; ++i) {
            unsigned n = posted_.load(relaxed); // order: relaxed — the CAS hands out helpers
            do {
                if (n + 1 >= participants_) {
                    return;
                }
            } while (!posted_.compare_exchange_weak(n, n + 1, relaxed));
            add_ref(); // the helper's
            try {
                worker_data* w = current_worker();
                if (w != nullptr && w->core == pool_) {
                    pool_->push_local(*w, &helpers_[n]);
                } else {
                    pool_->schedule(&helpers_[n]);
                }
            } catch (...) { // shut down, or no memory: the participants we have do the work
                release_ref();
                return;
            }
        }
    }

    /// §3: pops this loop's helpers that are still on top of the caller's own deque.
    void reclaim_unused_helpers() noexcept {
        worker_data* w = current_worker();
        if (w == nullptr || w->core != pool_ || !helpers_) {
            return;
        }
        const work_item* first = &helpers_[0];
        const work_item* last = first + (participants_ - 1);
        for (;;) {
            work_item* top = w->deque.peek();
            if (top == nullptr || std::less<>{}(top, first) || !std::less<>{}(top, last)) {
                return;
            }
            work_item* item = w->deque.pop();
            if (item == nullptr) {
                return;
            }
            item->run(); // fails to join (§2) and lets its reference go
        }
    }

    pool_core* pool_;
    cancellation_token token_;
    const unsigned participants_;
    bool stop_on_failure_ = true; // set before any helper exists
    std::unique_ptr<helper[]> helpers_;

    atomic<std::uint64_t> limit_{no_break};        // §4
    atomic<std::uint64_t> lowest_break_{no_break}; // §4
    atomic<std::uint32_t> flags_{0};
    atomic<bool> dropped_{false};
    atomic<std::uint32_t> active_{1}; // §2: the caller is in from the start
    atomic<unsigned> posted_{0};      // §3: helpers posted
    atomic<unsigned> next_slot_{1};   // §1: the slot a joining helper takes

    std::mutex errors_mutex_; // guards errors_
    std::vector<std::exception_ptr> errors_;
    std::exception_ptr unlisted_;
};

/// Holds the caller's reference to a loop.
template<typename Loop>
struct loop_ref {
    Loop* loop;
    explicit loop_ref(Loop* l) noexcept : loop(l) {}
    loop_ref(const loop_ref&) = delete;
    loop_ref& operator=(const loop_ref&) = delete;
    ~loop_ref() { loop->release_ref(); }
    Loop* operator->() const noexcept { return loop; }
};

} // namespace weft::detail::parallel
