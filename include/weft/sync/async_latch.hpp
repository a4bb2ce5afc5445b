// weft/sync/async_latch.hpp — async_latch: a one-shot countdown tasks await (.NET
// CountdownEvent; std::latch, awaited).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace weft {

/// Counts down from `count` once; when it reaches zero every waiter completes, and so does
/// every later wait(). It never resets (async_barrier is the reusable one).
///
/// Thread safety: every member from any thread.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
/// Exceptions:    count_down(n) past zero: std::logic_error, the count unchanged.
class async_latch {
public:
    explicit async_latch(std::size_t count) : core_(detail::ref_ptr<core>::adopt(new core(count))) {}
    async_latch(const async_latch&) = delete;
    async_latch& operator=(const async_latch&) = delete;
    ~async_latch() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->waiters);
    }

    /// Subtracts `n`; at zero, every waiting task completes.
    void count_down(std::size_t n = 1) {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        if (n > core_->count) {
            throw std::logic_error("weft: async_latch::count_down() below zero");
        }
        core_->count -= n;
        if (core_->count == 0) {
            while (detail::waiter_base* w = core_->waiters.pop_front()) {
                static_cast<detail::waiter<void>*>(w)->grant();
                batch.add(w);
            }
        }
    }

    /// Completes when the count is zero (at once if it is); canceled if `token` fires first.
    [[nodiscard]] task<void> wait(cancellation_token token = {}) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<void>();
        }
        {
            std::lock_guard lock(core_->mutex);
            if (core_->count == 0) {
                return detail::ready_task<void>();
            }
        }
        return detail::wait_slow<void>(
            *core_, core_->waiters, {std::move(token), {}}, [this](detail::waiter<void>& w, detail::finish_batch&) {
                if (core_->count != 0) {
                    return false;
                }
                w.grant();
                return true;
            });
    }

    /// count_down(n), then wait().
    [[nodiscard]] task<void> arrive_and_wait(std::size_t n = 1, cancellation_token token = {}) {
        count_down(n);
        return wait(std::move(token));
    }

    bool try_wait() const {
        std::lock_guard lock(core_->mutex);
        return core_->count == 0;
    }
    std::size_t count() const {
        std::lock_guard lock(core_->mutex);
        return core_->count;
    }

private:
    struct core final : detail::sync_core {
        explicit core(std::size_t c) noexcept : count(c) {}
        // --- guarded by mutex ----------------------------------------------------------
        std::size_t count;
        detail::waiter_list waiters;
    };
    detail::ref_ptr<core> core_;
};

} // namespace weft
