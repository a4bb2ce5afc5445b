// weft/sync/async_rw_lock.hpp — async_rw_lock: many readers or one writer, held across
// co_await (.NET has none built in; ReaderWriterLockSlim is thread-affine; std::shared_mutex).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace weft {

class async_rw_lock;

/// Owns a read (shared) or write (exclusive) hold on an async_rw_lock; releases it when
/// destroyed. Empty after a failed try_ or release.
class async_rw_hold {
public:
    async_rw_hold() noexcept = default;
    async_rw_hold(async_rw_hold&& o) noexcept : l_(std::exchange(o.l_, nullptr)), writer_(o.writer_) {}
    async_rw_hold& operator=(async_rw_hold&& o) noexcept {
        if (this != &o) {
            unlock();
            l_ = std::exchange(o.l_, nullptr);
            writer_ = o.writer_;
        }
        return *this;
    }
    ~async_rw_hold() { unlock(); }

    bool owns_lock() const noexcept { return l_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }
    bool is_writer() const noexcept { return writer_; }
    inline void unlock() noexcept;
    /// Gives up the hold without releasing it: the caller calls async_rw_lock::unlock() later.
    async_rw_lock* release() noexcept { return std::exchange(l_, nullptr); }

private:
    friend class async_rw_lock;
    async_rw_hold(async_rw_lock* l, bool writer) noexcept : l_(l), writer_(writer) {}
    async_rw_lock* l_ = nullptr;
    bool writer_ = false;
};

/// Readers share, a writer excludes everyone. Fair by arrival: one FIFO for both kinds; a
/// reader that arrives while a writer waits queues behind it (writers are never starved by a
/// stream of readers), and the readers queued after a writer enter together when it leaves.
/// No cap on readers holding at once.
///
/// Resumption: as every weft waiter: its continuation hops (placement §1b).
/// Thread safety: every member from any thread.
/// Lifetime:      the lock outlives its holds. Destroyed with waiters, each waiting task fails
///                with disposed_error.
class async_rw_lock {
public:
    async_rw_lock() : core_(detail::ref_ptr<core>::adopt(new core)) { core_->owner = this; }
    async_rw_lock(const async_rw_lock&) = delete;
    async_rw_lock& operator=(const async_rw_lock&) = delete;
    ~async_rw_lock() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->waiters);
    }

    /// A shared hold, once no writer holds or waits ahead of this caller.
    [[nodiscard]] task<async_rw_hold> lock_shared(cancellation_token token = {}) { return lock_impl(false, token); }
    /// The exclusive hold, once every earlier holder and waiter is done.
    [[nodiscard]] task<async_rw_hold> lock(cancellation_token token = {}) { return lock_impl(true, token); }

    async_rw_hold try_lock_shared() { return try_impl(false); }
    async_rw_hold try_lock() { return try_impl(true); }

    /// Releases a hold (what async_rw_hold does). Throws std::logic_error without one.
    void unlock(bool writer) {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        if (writer ? !core_->writer : core_->readers == 0) {
            throw std::logic_error("weft: async_rw_lock::unlock() without a matching hold");
        }
        if (writer) {
            core_->writer = false;
        } else {
            --core_->readers;
        }
        core_->grant_locked(this, batch);
    }

    std::size_t readers() const {
        std::lock_guard lock(core_->mutex);
        return core_->readers;
    }
    bool has_writer() const {
        std::lock_guard lock(core_->mutex);
        return core_->writer;
    }
    std::size_t waiters() const {
        std::lock_guard lock(core_->mutex);
        return core_->waiters.size();
    }

private:
    static constexpr std::uint8_t reader_kind = 0, writer_kind = 1;

    struct core final : detail::sync_core {
        // --- guarded by mutex ----------------------------------------------------------
        std::size_t readers = 0;
        bool writer = false;
        detail::waiter_list waiters;    // kind: reader_kind or writer_kind
        async_rw_lock* owner = nullptr; // set once, before the lock is shared

        bool fits(bool w) const noexcept { return w ? (!writer && readers == 0) : !writer; }
        void take(bool w) noexcept {
            if (w) {
                writer = true;
            } else {
                ++readers;
            }
        }
        /// Grants from the head while the head fits: a run of readers, or one writer.
        void grant_locked(async_rw_lock* l, detail::finish_batch& batch) noexcept {
            while (detail::waiter_base* w = waiters.front()) {
                const bool wants_writer = w->kind == writer_kind;
                if (!fits(wants_writer)) {
                    return;
                }
                take(wants_writer);
                waiters.pop_front();
                static_cast<detail::waiter<async_rw_hold>*>(w)->grant(async_rw_hold(l, wants_writer));
                batch.add(w);
            }
        }
        void after_withdraw_locked(detail::finish_batch& batch) noexcept override {
            if (owner != nullptr) {
                grant_locked(owner, batch); // a withdrawn writer at the head lets readers in
            }
        }
    };

    task<async_rw_hold> lock_impl(bool writer, cancellation_token& token) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<async_rw_hold>();
        }
        {
            std::lock_guard lock(core_->mutex);
            if (core_->waiters.empty() && core_->fits(writer)) {
                core_->take(writer);
                return detail::ready_task<async_rw_hold>(async_rw_hold(this, writer));
            }
        }
        return detail::wait_slow<async_rw_hold>(
            *core_,
            core_->waiters,
            {std::move(token), {}},
            [this, writer](detail::waiter<async_rw_hold>& w, detail::finish_batch&) {
                if (!core_->waiters.empty() || !core_->fits(writer)) {
                    return false;
                }
                core_->take(writer);
                w.grant(async_rw_hold(this, writer));
                return true;
            },
            [writer](detail::waiter<async_rw_hold>& w) { w.kind = writer ? writer_kind : reader_kind; });
    }
    async_rw_hold try_impl(bool writer) {
        std::lock_guard lock(core_->mutex);
        if (!core_->waiters.empty() || !core_->fits(writer)) {
            return {};
        }
        core_->take(writer);
        return async_rw_hold(this, writer);
    }

    detail::ref_ptr<core> core_;
};

inline void async_rw_hold::unlock() noexcept {
    if (async_rw_lock* l = std::exchange(l_, nullptr)) {
        l->unlock(writer_); // cannot throw: a hold's lock is held
    }
}

} // namespace weft
