// weft/detail/futex.hpp — thin wrappers over Linux futex(2) for 32-bit atomics.
// Design note: waiters loop on their own predicate, so spurious or stale wake-ups are harmless.
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
inline void futex_wait_for(atomic<std::uint32_t>& word,
                           std::uint32_t expected,
                           std::chrono::nanoseconds timeout) noexcept {
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

}  // namespace weft::detail
