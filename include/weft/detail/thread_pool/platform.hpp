// weft/detail/thread_pool/platform.hpp — what the pool's lock-free parts need from the machine.
// Design note: the work-stealing deque and the idle protocol are templates over a platform, so
// the very code the pool runs is also the code the Relacy models in tests/model/ check (there
// the platform's atomics, fence, mutex and futex are Relacy's). `std_platform` is the real one:
// it forwards to the one atomic seam (detail/atomic.hpp) and to futex(2). A platform also names
// the faults a model may plant; the real one plants none.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/futex.hpp>
#include <weft/detail/test_hooks.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>

namespace weft::detail {

/// Faults a model can plant to prove that it catches them (never set outside tests/model/).
enum class planted_fault {
    none,
    deque_push_into_stale_ring, ///< Lê et al. 2013 as printed: push keeps the pre-grow ring
    idle_check_before_register, ///< the classic lost wake-up: re-check, then announce sleep
};

struct std_platform {
    template<typename T>
    using atomic = detail::atomic<T>;
    using mutex = std::mutex;

    static constexpr memory_order relaxed = detail::relaxed;
    static constexpr memory_order acquire = detail::acquire;
    static constexpr memory_order release = detail::release;
    static constexpr memory_order acq_rel = detail::acq_rel;
    static constexpr memory_order seq_cst = detail::seq_cst;

    static constexpr planted_fault fault = planted_fault::none;

    /// StoreLoad barrier after the caller's stores, then a load of `word`.
    template<typename T>
    static T barrier_then_load(atomic<T>& word, memory_order order) noexcept {
        return store_load_barrier_then_load(word, order);
    }
    /// A full fence after a read-modify-write, before loads of other words.
    static void fence() noexcept { full_fence(); }

    /// Sleeps while `word == expected` (spurious returns allowed); `timeout` < 0: no limit.
    static void wait(atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept {
        if (timeout.count() < 0) {
            futex_wait(word, expected);
        } else {
            futex_wait_for(word, expected, timeout);
        }
    }
    static void wake(atomic<std::uint32_t>& word) noexcept { futex_wake_one(word); }

    /// A named interleaving point (detail/test_hooks.hpp); nothing unless WEFT_TESTING.
    static void hook(const char* name) noexcept { test_hook(name); }
};

} // namespace weft::detail
