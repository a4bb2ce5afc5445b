// weft/sync/channel.hpp — channel<T>: an async producer/consumer queue, bounded or unbounded
// (.NET System.Threading.Channels; BlockingCollection through the blocking facade).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/channels.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace weft {

/// What a bounded channel does with a write when it is full (.NET BoundedChannelFullMode).
enum class full_mode : std::uint8_t {
    wait,        ///< write() waits for room; try_write() fails
    drop_oldest, ///< the oldest buffered item is dropped to make room
    drop_newest, ///< the newest buffered item is dropped to make room
    drop_write,  ///< the item being written is dropped (the write still succeeds)
};

struct channel_options {
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
    /// Items buffered at most. 0 (wait mode only): a rendezvous, each write waits for its reader.
    std::size_t capacity = unbounded;
    full_mode when_full = full_mode::wait;
    /// Hints (.NET SingleReader/SingleWriter): accepted and recorded; the implementation is
    /// the same multi-producer, multi-consumer one either way.
    bool single_reader = false;
    bool single_writer = false;
};

namespace detail {
template<typename... T>
class select_state;
}

/// A FIFO of T between tasks. Every item written is read exactly once, in write order per
/// writer (and in one total order: the channel's), or counted in dropped() by a full mode.
///
/// Writes: write() completes once the item is in the channel (a reader took it, or it is
///   buffered); in wait mode with the channel full it waits, in order of arrival. A write
///   canceled by its token wrote nothing (its item is destroyed; try_write keeps yours).
/// Reads: read() completes with the oldest item; after complete() the readers drain what is
///   left, then each read ends: an empty optional, or the error complete() was given, thrown.
///   A read canceled by its token took nothing. The loop: `while (auto v = co_await ch.read())`.
/// complete(): no more writes (write() then fails with channel_closed; waiting writers fail
///   too, their items never entered); completion() completes once it is drained.
/// Resumption: as every weft waiter: a continuation hops (placement §1b).
/// Thread safety: every member from any thread, any number of readers and writers.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
/// Exceptions:    a drop mode with capacity 0: std::invalid_argument.
template<typename T>
class channel {
public:
    channel() : channel(channel_options{}) {}
    explicit channel(channel_options options) : core_(detail::ref_ptr<core>::adopt(new core(options))) {
        if (options.capacity == 0 && options.when_full != full_mode::wait) {
            throw std::invalid_argument("weft: a channel of capacity 0 (rendezvous) needs full_mode::wait");
        }
    }
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    ~channel() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->readers, core_->writers, core_->drained);
    }

    /// Writes `v`: completes once it is in the channel. Fails with channel_closed after
    /// complete(); canceled (nothing written) if `token` fires while it waits for room.
    [[nodiscard]] task<void> write(T v, cancellation_token token = {}) {
        return write_impl(std::move(token), nullptr, v, false);
    }

    /// Writes `v` now if it fits (or a drop mode makes room); false when full in wait mode or
    /// completed (then `v` is left as it was).
    bool try_write(T&& v) { return try_write_impl(v); }
    bool try_write(const T& v) {
        T copy(v);
        return try_write_impl(copy);
    }

    /// Reads the oldest item; an empty optional at the end; the completion error, thrown, at
    /// the end of a channel completed with one. Canceled (nothing taken) if `token` fires.
    [[nodiscard]] task<std::optional<T>> read(cancellation_token token = {}) {
        return read_impl(std::move(token), nullptr);
    }

    /// An item if one is there now; an empty optional otherwise (also at the end).
    std::optional<T> try_read() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        std::optional<T> out;
        core_->take_locked(out, batch);
        return out;
    }

    /// No more writes. `error` (optional) is what readers see at the end instead of an empty
    /// optional. False if the channel was completed already (the first call wins).
    bool complete(std::exception_ptr error = {}) {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        if (core_->completed) {
            return false;
        }
        core_->completed = true;
        core_->error = std::move(error);
        while (detail::waiter_base* w = detail::pop_live(core_->writers, batch)) {
            static_cast<writer_waiter*>(w)->fail(std::make_exception_ptr(channel_closed{}));
            batch.add(w);
        }
        core_->settle_locked(batch);
        return true;
    }

    /// Completes once the channel is completed and every item was read (.NET
    /// Reader.Completion); fails with the completion error, if one was given.
    [[nodiscard]] task<void> completion() {
        {
            std::lock_guard lock(core_->mutex);
            if (core_->drained_locked()) {
                return core_->error ? detail::failed_task<void>(core_->error) : detail::ready_task<void>();
            }
        }
        return detail::wait_slow<void>(
            *core_, core_->drained, {}, [this](detail::waiter<void>& w, detail::finish_batch&) {
                if (!core_->drained_locked()) {
                    return false;
                }
                core_->end_drained(w);
                return true;
            });
    }

    /// Blocking facade for plain threads (.NET BlockingCollection): write(v).get(), and the
    /// value of read(). On a pool worker the wait helps; on an I/O thread it throws
    /// deadlock_error (docs/guide/composition.md).
    void write_blocking(T v) { write(std::move(v)).get(); }
    std::optional<T> read_blocking() { return read().get(); }

    bool is_completed() const {
        std::lock_guard lock(core_->mutex);
        return core_->completed;
    }
    /// Items buffered now (waiting writers' items not counted).
    std::size_t size() const {
        std::lock_guard lock(core_->mutex);
        return core_->buffer.size();
    }
    std::size_t capacity() const noexcept { return core_->options.capacity; }
    const channel_options& options() const noexcept { return core_->options; }
    /// Items dropped by the full mode so far.
    std::uint64_t dropped() const {
        std::lock_guard lock(core_->mutex);
        return core_->dropped;
    }
    std::size_t waiting_readers() const {
        std::lock_guard lock(core_->mutex);
        return core_->readers.size();
    }
    std::size_t waiting_writers() const {
        std::lock_guard lock(core_->mutex);
        return core_->writers.size();
    }

private:
    template<typename... U>
    friend class detail::select_state;

    enum class offer : std::uint8_t {
        done,
        full,
        closed
    };
    using reader_waiter = detail::waiter<std::optional<T>>;
    /// A waiting write's item: its own (write()), or the caller's, borrowed by a select's write
    /// arm and moved from only if that arm wins.
    struct pending_item {
        std::optional<T> own;
        T* borrowed = nullptr;
        T& get() noexcept { return borrowed != nullptr ? *borrowed : *own; }
    };
    using writer_waiter = detail::waiter<void, pending_item>;

    struct core final : detail::sync_core {
        explicit core(channel_options o) : options(o) {}

        const channel_options options;
        // --- guarded by mutex ----------------------------------------------------------
        std::deque<T> buffer;
        detail::waiter_list readers; // amount unused; group: a select arm
        detail::waiter_list writers; // payload: the item (wait mode only); group: a select arm
        detail::waiter_list drained; // completion()
        bool completed = false;
        std::exception_ptr error;
        std::uint64_t dropped = 0;

        /// Puts `v` in the channel if it can; `v` is moved from only on done.
        offer offer_locked(T& v, detail::finish_batch& batch) {
            if (completed) {
                return offer::closed;
            }
            if (detail::waiter_base* r = detail::pop_live(readers, batch)) {
                static_cast<reader_waiter*>(r)->grant(std::in_place, std::move(v));
                batch.add(r);
                return offer::done;
            }
            if (buffer.size() < options.capacity) {
                buffer.push_back(std::move(v));
                return offer::done;
            }
            switch (options.when_full) {
            case full_mode::wait:
                return offer::full;
            case full_mode::drop_oldest:
                buffer.pop_front();
                buffer.push_back(std::move(v));
                break;
            case full_mode::drop_newest:
                buffer.pop_back();
                buffer.push_back(std::move(v));
                break;
            case full_mode::drop_write:
                break; // `v` is left to the caller, who drops it
            }
            ++dropped;
            return offer::done;
        }

        /// Takes the next item into `out`; true when the read has an outcome (an item, or
        /// the end: `out` empty). A waiting writer's item refills the buffer.
        bool take_locked(std::optional<T>& out, detail::finish_batch& batch) {
            if (!buffer.empty()) {
                out.emplace(std::move(buffer.front()));
                buffer.pop_front();
                if (detail::waiter_base* w = detail::pop_live(writers, batch)) {
                    auto* writer = static_cast<writer_waiter*>(w);
                    buffer.push_back(std::move(writer->payload.get()));
                    writer->grant();
                    batch.add(w);
                }
                settle_locked(batch);
                return true;
            }
            // a rendezvous (capacity 0: no select write arms there, so a live writer found here
            // is the reader's to take, whatever the reader's own select decided before)
            if (detail::waiter_base* w = writers.pop_front()) {
                auto* writer = static_cast<writer_waiter*>(w);
                out.emplace(std::move(writer->payload.get()));
                writer->grant();
                batch.add(w);
                settle_locked(batch);
                return true;
            }
            return completed;
        }

        bool drained_locked() const noexcept { return completed && buffer.empty() && writers.empty(); }
        void end_drained(detail::waiter<void>& w) noexcept {
            if (error) {
                w.fail(error);
            } else {
                w.grant();
            }
        }
        /// After completion and once drained: every waiting reader sees the end, and
        /// completion() completes.
        void settle_locked(detail::finish_batch& batch) noexcept {
            if (!drained_locked()) {
                return;
            }
            while (detail::waiter_base* w = detail::pop_live(readers, batch)) {
                auto* reader = static_cast<reader_waiter*>(w);
                if (error) {
                    reader->fail(error);
                } else {
                    reader->grant(std::nullopt);
                }
                batch.add(w);
            }
            while (detail::waiter_base* w = drained.pop_front()) {
                end_drained(*static_cast<detail::waiter<void>*>(w));
                batch.add(w);
            }
        }
    };

    task<void> closed_task() const { return detail::failed_task<void>(std::make_exception_ptr(channel_closed{})); }

    bool try_write_impl(T& v) {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        return core_->offer_locked(v, batch) == offer::done;
    }

    /// A write, or a select's write arm (`group`, `borrowed`: the item stays the caller's until
    /// the arm wins). An arm claims its select before it puts anything in the channel; on a
    /// buffered channel a writable one always has room then (readers wait only on an empty
    /// buffer), so a claimed arm always delivers.
    task<void> write_impl(cancellation_token token, detail::select_group* group, T& v, bool borrowed) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<void>(); // wrote nothing
        }
        detail::finish_batch batch;
        {
            std::lock_guard lock(core_->mutex);
            if (writable_locked()) {
                if (group != nullptr && !group->try_decide()) {
                    return detail::canceled_task<void>(); // another arm won
                }
                switch (core_->offer_locked(v, batch)) {
                case offer::done:
                    return detail::ready_task<void>();
                case offer::closed:
                    return closed_task();
                case offer::full:
                    break; // capacity 0 without a reader: not writable_locked(), not here
                }
            }
        }
        batch.finish_all();
        return detail::wait_slow<void, pending_item>(
            *core_,
            core_->writers,
            {std::move(token), {}},
            [this](writer_waiter& w, detail::finish_batch& grants) {
                if (!writable_locked()) {
                    return false;
                }
                if (w.group != nullptr && !w.group->try_decide()) {
                    w.prepare_withdraw(detail::withdraw_reason::canceled);
                    return true;
                }
                switch (core_->offer_locked(w.payload.get(), grants)) {
                case offer::done:
                    w.grant();
                    return true;
                case offer::closed:
                    w.fail(std::make_exception_ptr(channel_closed{}));
                    return true;
                case offer::full: // capacity 0 and only lost select arms waiting: no arm here
                    return false;
                }
                return false;
            },
            [&v, group, borrowed](writer_waiter& w) {
                w.group = group;
                if (borrowed) {
                    w.payload.borrowed = &v;
                } else {
                    w.payload.own.emplace(std::move(v));
                }
            });
    }
    /// True when a write now has an outcome without waiting: the channel is completed, a
    /// reader waits, the buffer has room, or a drop mode makes room.
    bool writable_locked() const noexcept {
        const auto& c = *core_;
        return c.completed || !c.readers.empty() || c.buffer.size() < c.options.capacity ||
               c.options.when_full != full_mode::wait;
    }

    /// A read, or a select's arm (`group`): an arm claims its select before it takes anything.
    task<std::optional<T>> read_impl(cancellation_token token, detail::select_group* group) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<std::optional<T>>(); // took nothing
        }
        detail::finish_batch batch;
        {
            std::lock_guard lock(core_->mutex);
            std::optional<T> out;
            if (ready_locked() && (group == nullptr || group->try_decide())) {
                core_->take_locked(out, batch);
                return read_outcome(std::move(out));
            }
            if (group != nullptr && ready_locked()) {
                return detail::canceled_task<std::optional<T>>(); // another arm won
            }
        }
        return detail::wait_slow<std::optional<T>>(
            *core_,
            core_->readers,
            {std::move(token), {}},
            [this](reader_waiter& w, detail::finish_batch& grants) {
                if (!ready_locked()) {
                    return false;
                }
                if (w.group != nullptr && !w.group->try_decide()) {
                    w.prepare_withdraw(detail::withdraw_reason::canceled);
                    return true;
                }
                std::optional<T> out;
                core_->take_locked(out, grants);
                if (out || !core_->error) {
                    w.grant(std::move(out));
                } else {
                    w.fail(core_->error);
                }
                return true;
            },
            [group](reader_waiter& w) { w.group = group; });
    }
    bool ready_locked() const noexcept { return !core_->buffer.empty() || !core_->writers.empty() || core_->completed; }
    task<std::optional<T>> read_outcome(std::optional<T>&& out) {
        if (!out && core_->error) {
            return detail::failed_task<std::optional<T>>(core_->error);
        }
        return detail::ready_task<std::optional<T>>(std::move(out));
    }

    detail::ref_ptr<core> core_;
};

} // namespace weft
