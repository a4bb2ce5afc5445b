// weft/detail/thread_pool/idle_set.hpp — who is spinning, who sleeps, and who to wake.
//
// Design note (the wake-up protocol; pool_core.hpp §4 refers here)
// ===========
// Participants are numbered 0..capacity-1 (the pool's workers). Each is, at any time, running,
// spinning (looking for work without sleeping), or sleeping (registered here, maybe blocked in
// a futex). One word, `state_`, counts spinners (low half) and sleepers (high half); the list
// of sleepers and every change of the sleeper count are made under `mutex_`, so
//   I5: under mutex_, sleepers(state_) == number of entries in the sleeper list   (checked)
// Spinner counts change without the lock.
//
// Producer (after it made work visible: a deque push, an injection):
//   S1 publish the work (the caller's store);
//   S2 full fence, then load state_                       (barrier_then_load)
//   S3 if sleepers > 0 and spinners == 0: wake_one().
// Parker (a participant that found nothing):
//   P1 under mutex_: arm its parker word, enter the list, state_ += sleeper (- spinner if it was
//      one) with a seq_cst read-modify-write;
//   P2 full fence, then re-check every queue (the caller's `recheck`); if anything is there,
//      leave the list (P4) and return;
//   P3 sleep on its parker word until a waker sets it;
//   P4 under mutex_: if still in the list, leave it (sleepers -= 1): it was a spurious or
//      foreign wake-up; if not, a waker took it out and already counted it as a spinner.
// Why no wake-up is lost: S2's fence and P2's fence are ordered. If the parker's is first, the
// producer's load sees the parker registered in P1 (and no spinner, unless another spinner
// exists, which will itself either find the work or pass through P1–P2), so S3 wakes someone.
// If the producer's is first, P2's re-check sees the work published in S1.
// Spinner hand-off (tokio's searcher rule): producers skip the wake-up while anyone spins, so a
// spinner that finds work and was the last one wakes a sleeper (stop_spinning): the work the
// producers did not wake anyone for may be more than one spinner can take. A spinner announces
// itself only while someone sleeps (try_start_spinning): with no sleeper there is no wake-up
// to spare, and not announcing keeps state_ read-mostly while workers keep pace with producers.
// A woken participant becomes a spinner at once (the waker moves the count), so a burst of
// submissions wakes one thread, not all of them (no thundering herd).
// Parker word: 0 armed, 1 notified, 2 asleep in the futex. Any thread may notify a parker (an
// awaited task's completion does, for a worker waiting in get()); only the list says whether it
// was woken as a spinner.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/thread_pool/platform.hpp>

#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace weft::detail {

template<typename P = std_platform>
class idle_set {
public:
    explicit idle_set(std::size_t capacity)
        : parkers_(std::make_unique<parker[]>(capacity))
        , list_(std::make_unique<std::size_t[]>(capacity))
        , in_list_(std::make_unique<std::uint8_t[]>(capacity)) {}

    idle_set(const idle_set&) = delete;
    idle_set& operator=(const idle_set&) = delete;

    static constexpr std::uint64_t one_sleeper = std::uint64_t{1} << 32;
    static std::uint32_t spinners(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s); }
    static std::uint32_t sleepers(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s >> 32); }

    /// S2–S3: call after making work visible.
    void notify_work() noexcept {
        const std::uint64_t s = P::barrier_then_load(state_, P::relaxed); // order: S2 (see note)
        if (sleepers(s) != 0 && spinners(s) == 0) {
            wake_one();
        }
    }

    enum class spin_start {
        refused,   ///< `limit` participants already spin: park instead
        quiet,     ///< nobody sleeps: spin without announcing it (no write to state_)
        announced, ///< counted as a spinner: producers skip wake-ups meanwhile
    };

    /// Before a participant spins. Announcing exists only to spare sleepers a wake-up, so while
    /// nobody sleeps a spinner stays quiet, and a worker that keeps pace with a producer does
    /// not bounce state_'s cache line on every item. A quiet spinner that a sleeper appears
    /// behind costs at most one unneeded wake-up; it never loses one (its own park re-checks).
    spin_start try_start_spinning(std::uint32_t limit) noexcept {
        std::uint64_t s = state_.load(P::relaxed); // order: relaxed — the CAS below decides
        if (sleepers(s) == 0) {
            return spin_start::quiet;
        }
        while (spinners(s) < limit) {
            // order: seq_cst — joins the total order the protocol reasons about
            if (state_.compare_exchange_weak(s, s + 1, P::seq_cst, P::relaxed)) {
                return spin_start::announced;
            }
        }
        return spin_start::refused;
    }

    /// A spinner found work (or stops looking for another reason).
    void stop_spinning() noexcept {
        const std::uint64_t s = state_.fetch_sub(1, P::seq_cst); // order: seq_cst — see note
        if (spinners(s) == 1 && sleepers(s) != 0) {
            wake_one(); // the last spinner hands the search on
        }
    }

    /// P1–P4. `recheck()` returns true when there is a reason not to sleep (work, a finished
    /// task, shutdown). `before_sleep()` runs under the lock once the re-check found nothing,
    /// and may return true to skip sleeping. Returns true when the caller was woken as a
    /// spinner (it must later call stop_spinning or park again with was_spinning = true).
    /// `idle`: the participant has nothing to do (a worker's idle loop), as opposed to one that
    /// waits for a task inside its own work; idle_sleepers_locked() counts the former.
    template<typename Recheck, typename BeforeSleep>
    bool park(std::size_t self,
              bool was_spinning,
              Recheck&& recheck,
              BeforeSleep&& before_sleep,
              std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1),
              bool idle = true) {
        parker& p = parkers_[self];
        if constexpr (P::fault == planted_fault::idle_check_before_register) {
            if (recheck()) { // planted bug: the work can arrive between this check and P1
                if (was_spinning) {
                    stop_spinning();
                }
                return false;
            }
        }
        {
            std::lock_guard lock(mutex_);
            // order: acq_rel — acquire: a notifier's release (e.g. a finished task) is visible
            //        to the re-check; exchange, so a notification already here is not lost
            p.word.exchange(0, P::acq_rel);
            list_[count_++] = self;
            in_list_[self] = idle ? listed_idle : listed_waiting;
            idle_count_ += idle ? 1U : 0U;
            const std::uint64_t delta = was_spinning ? one_sleeper - 1 : one_sleeper;
            const std::uint64_t s = state_.fetch_add(delta, P::seq_cst) + delta; // order: P1
            assert(sleepers(s) == count_ && "I5: the sleeper count matches the list");
            (void)s;
        }
        if constexpr (P::fault != planted_fault::idle_check_before_register) {
            P::fence(); // order: P2's fence, pairs with S2's
            if (recheck()) {
                return leave(self);
            }
        }
        P::hook("park.after_check");
        {
            std::lock_guard lock(mutex_);
            if (before_sleep()) {
                return leave_locked(self);
            }
        }
        for (;;) { // P3
            std::uint32_t armed = 0;
            // order: acquire on failure — a notifier's release is visible once we see its 1
            if (p.word.compare_exchange_strong(armed, 2, P::acquire, P::acquire)) {
                P::wait(p.word, 2, timeout);
            }
            // order: acquire — as above
            if (p.word.load(P::acquire) == 1 || timeout.count() >= 0) {
                break; // notified, or a timed wait (the caller re-checks its own deadline)
            }
        }
        return leave(self);
    }

    /// Wakes the most recently parked participant (its cache is the warmest), as a spinner.
    void wake_one() noexcept {
        parker* woken = nullptr;
        {
            std::lock_guard lock(mutex_);
            if (count_ == 0) {
                return;
            }
            woken = take_locked(list_[count_ - 1]);
        }
        wake_up(*woken);
    }

    /// Wakes every sleeper (shutdown).
    void wake_all() noexcept {
        std::lock_guard lock(mutex_);
        while (count_ != 0) {
            wake_up(*take_locked(list_[count_ - 1]));
        }
    }

    /// Sleeps on the parker word without entering the list: nobody wakes it for new work, only
    /// notify(self). For a waiter that may not help (pool_core §5).
    template<typename Recheck>
    void wait_for_notify(std::size_t self, Recheck&& recheck, std::chrono::nanoseconds timeout) {
        parker& p = parkers_[self];
        p.word.exchange(0, P::acq_rel); // order: acq_rel — as in park()
        P::fence();                     // order: the notifier sets its flag, then our word
        if (recheck()) {
            return;
        }
        std::uint32_t armed = 0;
        // order: acquire — as in park()
        if (p.word.compare_exchange_strong(armed, 2, P::acquire, P::acquire)) {
            P::wait(p.word, 2, timeout);
        }
    }

    /// Under the lock (inside locked() or before_sleep): sleepers that are idle.
    std::size_t idle_sleepers_locked() const noexcept { return idle_count_; }

    /// Makes participant `i` look again (its awaited task finished), without changing counts.
    void notify(std::size_t i) noexcept { wake_up(parkers_[i]); }

    /// Runs `f()` under the lock that guards the sleeper list (for the caller's own decisions
    /// that must not race a park, such as "everyone is asleep").
    template<typename F>
    decltype(auto) locked(F&& f) {
        std::lock_guard lock(mutex_);
        return f();
    }

    std::uint32_t sleepers_now() const noexcept { return sleepers(state_.load(P::relaxed)); } // order: relaxed — stats

private:
    static constexpr std::uint8_t not_listed = 0, listed_idle = 1, listed_waiting = 2;

    struct alignas(WEFT_CACHE_LINE) parker {
        typename P::template atomic<std::uint32_t> word{0};
    };

    /// P4 from outside the lock.
    bool leave(std::size_t self) noexcept {
        std::lock_guard lock(mutex_);
        return leave_locked(self);
    }
    bool leave_locked(std::size_t self) noexcept {
        if (in_list_[self] == not_listed) {
            return true; // a waker took us out and counted us as a spinner
        }
        idle_count_ -= in_list_[self] == listed_idle ? 1U : 0U;
        for (std::size_t i = 0; i < count_; ++i) {
            if (list_[i] == self) {
                list_[i] = list_[--count_];
                break;
            }
        }
        in_list_[self] = not_listed;
        const std::uint64_t s = state_.fetch_sub(one_sleeper, P::seq_cst) - one_sleeper; // order: seq_cst — P4
        assert(sleepers(s) == count_ && "I5: the sleeper count matches the list");
        (void)s;
        return false;
    }

    parker* take_locked(std::size_t i) noexcept {
        --count_;
        idle_count_ -= in_list_[i] == listed_idle ? 1U : 0U;
        in_list_[i] = not_listed;
        // order: seq_cst — the sleeper becomes a spinner in one step (no window with neither)
        const std::uint64_t s = state_.fetch_add(1 - one_sleeper, P::seq_cst) + 1 - one_sleeper;
        assert(sleepers(s) == count_ && "I5: the sleeper count matches the list");
        (void)s;
        return &parkers_[i];
    }

    static void wake_up(parker& p) noexcept {
        // order: acq_rel — release: what the waker did before is visible to the woken thread
        if (p.word.exchange(1, P::acq_rel) == 2) {
            P::wake(p.word);
        }
    }

    alignas(WEFT_CACHE_LINE) typename P::template atomic<std::uint64_t> state_{0};
    std::unique_ptr<parker[]> parkers_;

    alignas(WEFT_CACHE_LINE) typename P::mutex mutex_;
    // --- guarded by mutex_ ---------------------------------------------------------------
    std::unique_ptr<std::size_t[]> list_;     // sleepers, most recent last
    std::unique_ptr<std::uint8_t[]> in_list_; // per participant: not_listed, listed_idle, listed_waiting
    std::size_t count_ = 0;
    std::size_t idle_count_ = 0;
};

} // namespace weft::detail
