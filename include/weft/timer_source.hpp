// weft/timer_source.hpp — where time comes from when there is no io_context: the timer_source
// interface (.NET TimeProvider) and system_timers(), the process-wide source behind
// cancel_after, weft::delay(d), periodic_timer and callback_timer.
// Design note: one thread ("weft-timer-0"), started on first use, sleeps on a condition variable
// until the earliest deadline and runs each due callback outside the lock, in deadline order
// (ties: the order they were scheduled). Timers live in an ordered map keyed (deadline, id) with
// an id -> deadline index beside it, so cancel is O(log n). The thread runs with blocking waits
// forbidden (a get() there throws deadlock_error): it serves every timer of the process, and a
// callback blocked on one would stop them all. The reactor's timers serve I/O instead
// (detail/io/timer_heap.hpp); weft::testing::manual_timer_source is the virtual clock.
// Guide: docs/guide/timers.md; decision: docs/decisions/0016-timers-and-virtual-time.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/unobserved.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace weft {

/// A clock and a way to run a callback at a time on it (.NET TimeProvider). weft's own
/// source is system_timers() (steady_clock, its own thread); weft::testing::manual_timer_source
/// is a clock a test moves by hand. Code that takes a `timer_source&` (delay, with_timeout,
/// periodic_timer, callback_timer, cancellation_source::cancel_after) obeys whichever it is given.
///
/// Thread safety: every member may be called from any thread, from inside a callback included.
/// Lifetime:      a source must outlive the timers scheduled on it (system_timers() lives until
///                the process exits).
/// Exceptions:    schedule() may throw std::bad_alloc; an exception thrown by a callback goes to
///                the unobserved-exception handler.
class timer_source {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using duration = clock::duration;
    using timer_id = std::uint64_t;

    timer_source() = default;
    timer_source(const timer_source&) = delete;
    timer_source& operator=(const timer_source&) = delete;

    /// The source's current time.
    virtual time_point now() const = 0;
    /// Runs `fn` once the source's time reaches `when` (promptly if it already has). Returns a
    /// non-zero id for cancel(), or 0 if the source is shutting down (`fn` is then destroyed
    /// without running).
    virtual timer_id schedule(time_point when, std::function<void()> fn) = 0;
    /// Removes a timer that has not started to run: true if this call removed it (its callback
    /// is destroyed, never run); false if it ran, is running, was canceled, or never was.
    virtual bool cancel(timer_id id) = 0;
    /// Timers scheduled and neither run nor canceled.
    virtual std::size_t pending() const = 0;

protected:
    ~timer_source() = default;
};

namespace detail {

/// The timers of one source, ordered by (deadline, id). Not synchronised: its owner locks.
class timer_table {
public:
    using time_point = timer_source::time_point;
    using timer_id = timer_source::timer_id;

    timer_id add(time_point when, std::function<void()> fn) {
        const timer_id id = ++last_id_;
        timers_.emplace(key{when, id}, std::move(fn));
        try {
            index_.emplace(id, when);
        } catch (...) {
            timers_.erase(key{when, id});
            throw;
        }
        return id;
    }
    /// The removed timer's callback (empty if there was none), for its owner to destroy
    /// outside the lock.
    std::function<void()> remove(timer_id id) {
        const auto found = index_.find(id);
        if (found == index_.end()) {
            return {};
        }
        const auto node = timers_.find(key{found->second, id});
        std::function<void()> fn = std::move(node->second);
        timers_.erase(node);
        index_.erase(found);
        return fn;
    }
    bool empty() const noexcept { return timers_.empty(); }
    std::size_t size() const noexcept { return timers_.size(); }
    bool is_first(timer_id id) const noexcept { return !timers_.empty() && timers_.begin()->first.id == id; }
    time_point earliest() const noexcept { return timers_.begin()->first.when; }
    /// Removes and returns the earliest timer's callback.
    std::function<void()> pop_earliest() {
        const auto first = timers_.begin();
        std::function<void()> fn = std::move(first->second);
        index_.erase(first->first.id);
        timers_.erase(first);
        return fn;
    }

private:
    struct key {
        time_point when;
        timer_id id;
        bool operator<(const key& o) const noexcept { return when < o.when || (when == o.when && id < o.id); }
    };
    // Invariant: index_ maps exactly the ids of timers_ to their deadlines.
    std::map<key, std::function<void()>> timers_;
    std::unordered_map<timer_id, time_point> index_;
    timer_id last_id_ = 0;
};

/// Runs a timer callback: an exception goes to the unobserved-exception handler.
inline void run_timer_callback(std::function<void()>& fn) noexcept {
    try {
        fn();
    } catch (...) {
        report_unobserved(std::current_exception());
    }
}

/// system_timers()'s implementation (see the design note above).
class system_timer_source final : public timer_source {
public:
    system_timer_source() = default;
    ~system_timer_source() {
        timer_table dropped; // the callbacks never run, destroyed outside the lock
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            std::swap(dropped, timers_);
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    system_timer_source(const system_timer_source&) = delete;
    system_timer_source& operator=(const system_timer_source&) = delete;

    time_point now() const override { return clock::now(); }

    timer_id schedule(time_point when, std::function<void()> fn) override {
        timer_id id = 0;
        bool earliest = false;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                return 0;
            }
            if (!thread_.joinable()) {
                thread_ = std::thread([this] { run(); });
            }
            id = timers_.add(when, std::move(fn));
            earliest = timers_.is_first(id);
        }
        if (earliest) {
            wake_.notify_one();
        }
        return id;
    }

    bool cancel(timer_id id) override {
        std::function<void()> fn;
        {
            std::lock_guard lock(mutex_);
            fn = timers_.remove(id);
        }
        return static_cast<bool>(fn); // destroyed here, outside the lock
    }

    std::size_t pending() const override {
        std::lock_guard lock(mutex_);
        return timers_.size();
    }

private:
    void run() {
        set_thread_name("weft-timer", 0);
        forbid_blocking_scope no_blocking(
            "a blocking wait on weft's timer thread (it runs every timer of the process)");
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (timers_.empty()) {
                wake_.wait(lock);
                continue;
            }
            // a copy: wait_until reads its deadline again after waking, and cancel() may have
            // erased the node meanwhile
            const time_point when = timers_.earliest();
            if (when == time_point::max()) {
                wake_.wait(lock); // "never": only an earlier timer or the end wakes it
                continue;
            }
            if (when > clock::now()) {
                wake_.wait_until(lock, when);
                continue;
            }
            std::function<void()> fn = timers_.pop_earliest();
            lock.unlock();
            run_timer_callback(fn);
            fn = nullptr; // the closure is destroyed outside the lock too
            lock.lock();
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    timer_table timers_;    // exactly the timers that have neither run nor been canceled
    bool stopping_ = false; // once true, never false again
    std::thread thread_;    // started on first schedule(), joined by the destructor
};

} // namespace detail

/// The process-wide timer source: steady_clock, callbacks on weft's timer thread (blocking
/// waits forbidden there: keep callbacks short, hand longer work to a scheduler).
inline timer_source& system_timers() {
    static detail::system_timer_source source;
    return source;
}

} // namespace weft
