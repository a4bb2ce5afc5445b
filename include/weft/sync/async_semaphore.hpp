// weft/sync/async_semaphore.hpp — async_semaphore: counted permits, awaited (.NET SemaphoreSlim
// with WaitAsync(n?), Release(n)).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstddef>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

/// A counting semaphore whose acquire is a task. Strict FIFO: a queued acquire(n) that does not
/// fit blocks the acquires behind it, even small ones that would (no barging, no starvation of
/// large requests); try_acquire() fails while anyone waits. A waiter that leaves (token,
/// timeout) lets the ones behind it in at once if they fit.
///
/// Resumption: as every weft waiter: its continuation hops (placement §1b).
/// Thread safety: every member from any thread.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
/// Exceptions:    the constructor: std::invalid_argument when max is 0 or initial > max;
///                acquire(n)/try_acquire(n) with n > max: std::invalid_argument (it could
///                never succeed); release(n) past max: std::overflow_error, nothing released.
class async_semaphore {
public:
    static constexpr std::size_t no_max = std::numeric_limits<std::size_t>::max();

    explicit async_semaphore(std::size_t initial, std::size_t max = no_max)
        : core_(detail::ref_ptr<core>::adopt(new core(initial, max))) {
        if (max == 0 || initial > max) {
            throw std::invalid_argument("weft: async_semaphore needs 0 < max and initial <= max");
        }
    }
    async_semaphore(const async_semaphore&) = delete;
    async_semaphore& operator=(const async_semaphore&) = delete;
    ~async_semaphore() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->waiters);
    }

    /// Completes once `n` permits are this caller's; canceled (holding none) if `token` fires
    /// first. n == 0 completes at once.
    [[nodiscard]] task<void> acquire(std::size_t n = 1, cancellation_token token = {}) {
        return acquire_impl<void>(n, {std::move(token), {}});
    }
    [[nodiscard]] task<void> acquire(cancellation_token token) { return acquire(1, std::move(token)); }

    /// As acquire(n, token), bounded by `timeout`: true with the permits, false when the time
    /// ran out first (holding none; .NET WaitAsync(TimeSpan)). The token still cancels.
    template<typename Rep, typename Period>
    [[nodiscard]] task<bool>
    try_acquire_for(std::chrono::duration<Rep, Period> timeout, std::size_t n = 1, cancellation_token token = {}) {
        return acquire_impl<bool>(n,
                                  {std::move(token), std::chrono::ceil<std::chrono::steady_clock::duration>(timeout)});
    }

    /// Takes `n` permits if they are free and nobody waits.
    bool try_acquire(std::size_t n = 1) {
        check(n);
        std::lock_guard lock(core_->mutex);
        if (!core_->waiters.empty() || core_->available < n) {
            return false;
        }
        core_->available -= n;
        return true;
    }

    /// Returns `n` permits; the waiters they now satisfy, oldest first, complete.
    void release(std::size_t n = 1) {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        if (n > core_->max - core_->available) {
            throw std::overflow_error("weft: async_semaphore::release() past the maximum count");
        }
        core_->available += n;
        core_->grant_locked(batch);
    }

    /// Permits free now.
    std::size_t available() const {
        std::lock_guard lock(core_->mutex);
        return core_->available;
    }
    /// Tasks waiting now.
    std::size_t waiters() const {
        std::lock_guard lock(core_->mutex);
        return core_->waiters.size();
    }

private:
    struct core final : detail::sync_core {
        core(std::size_t initial, std::size_t m) noexcept : max(m), available(initial) {}

        const std::size_t max;
        // --- guarded by mutex ----------------------------------------------------------
        std::size_t available;
        detail::waiter_list waiters; // FIFO; amount = permits asked

        /// Grants from the head while the head fits.
        void grant_locked(detail::finish_batch& batch) noexcept {
            while (detail::waiter_base* w = waiters.front()) {
                if (w->amount > available) {
                    return;
                }
                available -= w->amount;
                waiters.pop_front();
                grant(w);
                batch.add(w);
            }
        }
        static void grant(detail::waiter_base* w) noexcept {
            if (w->kind == timed) {
                static_cast<detail::waiter<bool>*>(w)->grant(true);
            } else {
                static_cast<detail::waiter<void>*>(w)->grant();
            }
        }
        void after_withdraw_locked(detail::finish_batch& batch) noexcept override { grant_locked(batch); }
        static constexpr std::uint8_t timed = 1; // a waiter<bool> (try_acquire_for)
    };

    void check(std::size_t n) const {
        if (n > core_->max) {
            throw std::invalid_argument("weft: async_semaphore: more permits asked than the maximum");
        }
    }

    template<typename R>
    task<R> acquire_impl(std::size_t n, detail::wait_bounds bounds) {
        check(n);
        if (bounds.token.is_cancellation_requested()) {
            return detail::canceled_task<R>(); // before the fast path, as every wait (.NET too)
        }
        {
            std::lock_guard lock(core_->mutex);
            if (n == 0 || (core_->waiters.empty() && core_->available >= n)) {
                core_->available -= n;
                if constexpr (std::is_void_v<R>) {
                    return detail::ready_task<void>();
                } else {
                    return detail::ready_task<bool>(true);
                }
            }
        }
        return detail::wait_slow<R>(
            *core_,
            core_->waiters,
            bounds,
            [this, n](detail::waiter<R>& w, detail::finish_batch&) {
                if (!core_->waiters.empty() || core_->available < n) {
                    return false;
                }
                core_->available -= n;
                core::grant(&w);
                return true;
            },
            [n](detail::waiter<R>& w) {
                w.amount = n;
                w.kind = std::is_void_v<R> ? 0 : core::timed;
            });
    }

    detail::ref_ptr<core> core_;
};

} // namespace weft
