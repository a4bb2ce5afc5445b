// weft/detail/futex.hpp — thin wrappers over Linux futex(2) for 32-bit atomics.
// Design note: waiters loop on their own predicate, so spurious or stale wake-ups are harmless.
// One-shot events (a blocked get()'s waiter node, a local_task's join) share one protocol on a
// 32-bit word: 0 unset, 1 set, 2 unset and a thread sleeps (or is about to); values from 3 up
// are the owner's own "unset, and someone else waits" marks. The waiter moves the word from
// unset to sleeping with a CAS and sleeps while it reads sleeping; the setter exchanges in
// set and wakes the word only if it took sleeping from it. Either the CAS fails (the waiter
// sees set and does not sleep) or the exchange sees sleeping (the setter wakes it): no lost
// wake-up. The pool's parker words (thread_pool/idle_set.hpp) follow the same protocol
// through the platform seam that the model checker replaces, so they do not use these.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::detail {

inline void futex_wait(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    static_assert(sizeof(atomic<std::uint32_t>) == sizeof(std::uint32_t));
    ::syscall(SYS_futex, static_cast<void*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

/// Waits at most `timeout`; returns when woken, on timeout, or spuriously.
inline void
futex_wait_for(atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept {
    if (timeout.count() <= 0) {
        return;
    }
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    ::syscall(SYS_futex, static_cast<void*>(&word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

inline void futex_wake_one(atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, static_cast<void*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

inline void futex_wake_all(atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, static_cast<void*>(&word), FUTEX_WAKE_PRIVATE, 0x7fffffff, nullptr, nullptr, 0);
}

inline constexpr std::uint32_t event_unset = 0, event_set = 1, event_sleeping = 2;

/// The waiter's side: marks the word sleeping (if it still holds `from`) and sleeps until the
/// word is set. Returns at once if it was set first (or holds another mark than `from`).
inline void event_wait(atomic<std::uint32_t>& word, std::uint32_t from = event_unset) noexcept {
    std::uint32_t expected = from;
    // order: acquire on failure — sees what the setter published before its exchange
    if (word.compare_exchange_strong(expected, event_sleeping, acq_rel, acquire)) {
        while (word.load(acquire) == event_sleeping) { // order: acquire — pairs with event_set_and_wake
            futex_wait(word, event_sleeping);
        }
    }
}

/// The setter's side: sets the word, wakes its sleeper; returns the value it replaced. Only
/// the word's address is used after the exchange: the waiter (and the word) may be gone.
inline std::uint32_t event_set_and_wake(atomic<std::uint32_t>& word) noexcept {
    // order: acq_rel — release: what the setter wrote before is visible to the waiter that
    //        sees `set`; acquire: the setter sees the waiter's mark
    const std::uint32_t old = word.exchange(event_set, acq_rel);
    if (old == event_sleeping) {
        futex_wake_all(word);
    }
    return old;
}

} // namespace weft::detail
