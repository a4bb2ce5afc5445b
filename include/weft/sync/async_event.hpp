// weft/sync/async_event.hpp — async_manual_reset_event and async_auto_reset_event: a signal
// tasks await (.NET ManualResetEventSlim / AutoResetEvent, awaited; cppcoro's events).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <mutex>
#include <utility>

namespace weft {

namespace detail {

/// What both events share: a flag and a FIFO of waiters under one lock.
class event_base {
public:
    event_base(const event_base&) = delete;
    event_base& operator=(const event_base&) = delete;

    bool is_set() const {
        std::lock_guard lock(core_->mutex);
        return core_->set;
    }
    /// Tasks waiting now.
    std::size_t waiters() const {
        std::lock_guard lock(core_->mutex);
        return core_->waiters.size();
    }

protected:
    explicit event_base(bool initially_set) : core_(ref_ptr<core>::adopt(new core(initially_set))) {}
    ~event_base() {
        finish_batch batch;
        std::lock_guard lock(core_->mutex);
        dispose_all_locked(batch, core_->waiters);
    }

    /// Completes when the event is set; `consume` (auto-reset) resets it for this waiter.
    task<void> wait_impl(cancellation_token token, bool consume) {
        if (token.is_cancellation_requested()) {
            return canceled_task<void>(); // consumes no signal
        }
        {
            std::lock_guard lock(core_->mutex);
            if (core_->set) {
                core_->set = !consume;
                return ready_task<void>();
            }
        }
        return wait_slow<void>(
            *core_, core_->waiters, {std::move(token), {}}, [this, consume](waiter<void>& w, finish_batch&) {
                if (!core_->set) {
                    return false;
                }
                core_->set = !consume;
                w.grant();
                return true;
            });
    }

    struct core final : sync_core {
        explicit core(bool s) noexcept : set(s) {}
        // --- guarded by mutex ----------------------------------------------------------
        bool set;
        waiter_list waiters;
    };
    ref_ptr<core> core_;
};

} // namespace detail

/// Once set, every waiter completes, and so does every wait() until reset(). set() completes
/// exactly the tasks waiting at that moment, all at once (under one lock: no waiter that
/// registers after set() returns is "woken" by it, and none waiting before it is missed).
///
/// Thread safety: every member from any thread. set() ∥ reset() ∥ wait() linearize on one lock.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
class async_manual_reset_event : public detail::event_base {
public:
    explicit async_manual_reset_event(bool initially_set = false) : event_base(initially_set) {}

    /// Completes once the event is set (at once if it is); canceled if `token` fires first.
    [[nodiscard]] task<void> wait(cancellation_token token = {}) { return wait_impl(std::move(token), false); }

    /// Sets the event and completes every waiting task.
    void set() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        core_->set = true;
        while (detail::waiter_base* w = core_->waiters.pop_front()) {
            static_cast<detail::waiter<void>*>(w)->grant();
            batch.add(w);
        }
    }
    /// Clears the event: later waits wait again.
    void reset() {
        std::lock_guard lock(core_->mutex);
        core_->set = false;
    }
};

/// Each set() releases exactly one waiter (the oldest), or, when none waits, leaves the event
/// set for the next wait(), which consumes it. N sets against N waits complete exactly N.
/// Setting a set event does nothing (it does not count: use async_semaphore for that).
///
/// Thread safety: every member from any thread.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
class async_auto_reset_event : public detail::event_base {
public:
    explicit async_auto_reset_event(bool initially_set = false) : event_base(initially_set) {}

    /// Completes once a set() is this caller's; canceled (consuming nothing) if `token` fires.
    [[nodiscard]] task<void> wait(cancellation_token token = {}) { return wait_impl(std::move(token), true); }

    void set() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        if (detail::waiter_base* w = core_->waiters.pop_front()) {
            static_cast<detail::waiter<void>*>(w)->grant();
            batch.add(w);
        } else {
            core_->set = true;
        }
    }
    void reset() {
        std::lock_guard lock(core_->mutex);
        core_->set = false;
    }
};

} // namespace weft
