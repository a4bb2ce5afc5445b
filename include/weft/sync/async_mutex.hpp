// weft/sync/async_mutex.hpp — async_mutex: mutual exclusion that holds across co_await
// (.NET SemaphoreSlim(1, 1) with WaitAsync; cppcoro's async_mutex).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace weft {

class async_mutex;

/// Owns a lock of an async_mutex; unlocks when destroyed (std::unique_lock's shape). Empty when
/// try_lock() failed or after unlock()/release().
class async_mutex_lock {
public:
    async_mutex_lock() noexcept = default;
    async_mutex_lock(async_mutex_lock&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    async_mutex_lock& operator=(async_mutex_lock&& o) noexcept {
        if (this != &o) {
            unlock();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    ~async_mutex_lock() { unlock(); }

    bool owns_lock() const noexcept { return m_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }
    /// Unlocks now (the next waiter, if any, gets the mutex); a no-op when empty.
    inline void unlock() noexcept;
    /// Gives up ownership without unlocking: the caller calls async_mutex::unlock() later.
    async_mutex* release() noexcept { return std::exchange(m_, nullptr); }

private:
    friend class async_mutex;
    explicit async_mutex_lock(async_mutex* m) noexcept : m_(m) {}
    async_mutex* m_ = nullptr;
};

/// A mutex whose lock() is a task: a coroutine awaits it instead of blocking its thread, and
/// holds it across co_await. FIFO: unlock() hands the mutex to the oldest waiter directly (no
/// barging), and try_lock() fails while anyone waits.
///
/// Resumption: a waiter's continuation hops (placement §1b): a coroutine on a strand comes
///             back to the strand, one on the pool to the pool; unlock() returns before the
///             next holder runs, so a chain of hand-offs never nests.
/// Thread safety: every member from any thread.
/// Lifetime:      the mutex outlives its locks. Destroyed with waiters, each waiting task
///                fails with disposed_error.
/// Exceptions:    unlock() of an unlocked mutex: std::logic_error. lock(token) with a
///                canceled token: the task is canceled (operation_canceled) and holds nothing.
class async_mutex {
public:
    async_mutex() : core_(detail::ref_ptr<core>::adopt(new core)) {}
    async_mutex(const async_mutex&) = delete;
    async_mutex& operator=(const async_mutex&) = delete;
    ~async_mutex() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->waiters);
    }

    class scoped_lock_awaitable;

    /// Completes with the lock once this caller's turn comes; canceled if `token` fires first
    /// (then it holds nothing, and the mutex goes to the next waiter).
    [[nodiscard]] task<async_mutex_lock> lock(cancellation_token token = {}) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<async_mutex_lock>();
        }
        if (core_->try_acquire()) {
            return detail::ready_task<async_mutex_lock>(async_mutex_lock(this));
        }
        return lock_slow(std::move(token));
    }

    /// For `co_await` only: `auto g = co_await m.scoped_lock(token);` is `co_await m.lock(token)`
    /// without the task when the mutex is free (two compare-and-swaps in all, no allocation).
    /// When it is not, it queues at the co_await (not at this call) and waits as lock() does.
    /// Await it once, where it is made.
    [[nodiscard]] scoped_lock_awaitable scoped_lock(cancellation_token token = {}) noexcept;

private:
    task<async_mutex_lock> lock_slow(cancellation_token token) {
        return detail::wait_slow<async_mutex_lock>(
            *core_,
            core_->waiters,
            {std::move(token), {}},
            [this](detail::waiter<async_mutex_lock>& w, detail::finish_batch&) {
                // under the lock: free now (granted), or marked contended before w is linked,
                // so the holder's unlock() takes the slow path and finds w
                std::uint8_t s = core_->state.load(detail::relaxed);
                for (;;) {
                    if (s == is_free) {
                        // order: acquire — pairs with the release that freed it
                        if (core_->state.compare_exchange_weak(s, is_held, detail::acquire, detail::relaxed)) {
                            w.grant(async_mutex_lock(this));
                            return true;
                        }
                    } else if (s == is_held) {
                        // order: relaxed — the mutex (core lock) orders the queue; the CAS only
                        // makes the holder's fast unlock fail
                        if (core_->state.compare_exchange_weak(s, is_contended, detail::relaxed, detail::relaxed)) {
                            return false;
                        }
                    } else {
                        return false;
                    }
                }
            });
    }

public:
    /// Locks if the mutex is free (then nobody waits); an empty lock otherwise.
    async_mutex_lock try_lock() noexcept { return core_->try_acquire() ? async_mutex_lock(this) : async_mutex_lock(); }

    /// Unlocks: the oldest waiter gets the mutex (its task completes), or it becomes free.
    void unlock() {
        std::uint8_t s = is_held;
        // order: release — publishes the critical section to the next fast-path holder
        if (core_->state.compare_exchange_strong(s, is_free, detail::release, detail::relaxed)) {
            return;
        }
        if (s == is_free) {
            throw std::logic_error("weft: async_mutex::unlock() of an unlocked mutex");
        }
        detail::finish_batch batch; // contended: hand over under the lock
        std::lock_guard lock(core_->mutex);
        if (detail::waiter_base* w = core_->waiters.pop_front()) {
            static_cast<detail::waiter<async_mutex_lock>*>(w)->grant(async_mutex_lock(this)); // stays locked
            batch.add(w);
            if (core_->waiters.empty()) {
                core_->state.store(is_held, detail::relaxed); // the new holder may unlock fast
            }
        } else {
            core_->state.store(is_free, detail::release); // order: release — as above
        }
    }

    bool is_locked() const noexcept { return core_->state.load(detail::relaxed) != is_free; }
    /// Tasks waiting for the lock now.
    std::size_t waiters() const {
        std::lock_guard lock(core_->mutex);
        return core_->waiters.size();
    }

private:
    // state: free; held (nobody queued: unlock() is one CAS); contended (held, and waiters
    // may be queued: unlock() hands over under the lock). free implies nobody waits, so the
    // fast paths never barge past a waiter.
    static constexpr std::uint8_t is_free = 0, is_held = 1, is_contended = 2;

    struct core final : detail::sync_core {
        /// free -> held, the fast path of lock() and try_lock().
        bool try_acquire() noexcept {
            std::uint8_t s = is_free;
            // order: acquire — pairs with the release in unlock(): the previous holder's writes
            return state.compare_exchange_strong(s, is_held, detail::acquire, detail::relaxed);
        }
        void after_withdraw_locked(detail::finish_batch&) noexcept override {
            if (waiters.empty() && state.load(detail::relaxed) == is_contended) {
                state.store(is_held, detail::relaxed); // nobody left to hand over to
            }
        }

        detail::atomic<std::uint8_t> state{is_free}; // order: see try_acquire() and unlock()
        // --- guarded by mutex ----------------------------------------------------------
        detail::waiter_list waiters; // a withdrawn waiter never held the mutex: nothing to hand on
    };

    detail::ref_ptr<core> core_;
};

/// What async_mutex::scoped_lock() returns: takes a free mutex in await_ready (the coroutine
/// goes on without suspending, as after a completed task); otherwise awaits lock()'s slow path.
class async_mutex::scoped_lock_awaitable {
public:
    scoped_lock_awaitable(const scoped_lock_awaitable&) = delete;
    scoped_lock_awaitable& operator=(const scoped_lock_awaitable&) = delete;

    bool await_ready() {
        if (!token_.is_cancellation_requested() && m_->core_->try_acquire()) {
            return true;
        }
        waiting_.emplace(m_->lock_slow(std::move(token_)));
        return waiting_->await_ready();
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return waiting_->await_suspend(h); }
    async_mutex_lock await_resume() { return waiting_ ? waiting_->await_resume() : async_mutex_lock(m_); }

private:
    friend class async_mutex;
    scoped_lock_awaitable(async_mutex* m, cancellation_token token) noexcept : m_(m), token_(std::move(token)) {}

    async_mutex* m_;
    cancellation_token token_;
    std::optional<detail::task_awaiter<async_mutex_lock, true>> waiting_;
};

inline async_mutex::scoped_lock_awaitable async_mutex::scoped_lock(cancellation_token token) noexcept {
    return scoped_lock_awaitable(this, std::move(token));
}

inline void async_mutex_lock::unlock() noexcept {
    if (async_mutex* m = std::exchange(m_, nullptr)) {
        m->unlock(); // cannot throw: a lock object's mutex is locked
    }
}

} // namespace weft
