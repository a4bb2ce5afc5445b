// weft/detail/timer_service.hpp — a small process-wide timer thread for cancel_after().
// Design note: one thread, started on first use, sleeps on a condition variable until the
// earliest deadline; callbacks run on it, outside the lock. The reactor's timers replace it
// for I/O (detail/io/timer_heap.hpp); this one only needs to be correct and idle when idle.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/unobserved.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace weft::detail {

class timer_service {
public:
    using clock = std::chrono::steady_clock;
    using timer_id = std::uint64_t;

    timer_service() = default;
    ~timer_service() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            timers_.clear();
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    timer_service(const timer_service&) = delete;
    timer_service& operator=(const timer_service&) = delete;

    static timer_service& global() {
        static timer_service service;
        return service;
    }

    /// Runs `fn` on the timer thread at `when` (now, if `when` has passed). Returns an id for
    /// cancel(). Exceptions from `fn` go to the unobserved-exception handler.
    timer_id schedule(clock::time_point when, std::function<void()> fn) {
        bool earliest = false;
        timer_id id = 0;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                return 0;
            }
            if (!thread_.joinable()) {
                thread_ = std::thread([this] { run(); });
            }
            id = ++last_id_;
            timers_.emplace(key{when, id}, std::move(fn));
            earliest = timers_.begin()->first.id == id;
        }
        if (earliest) {
            wake_.notify_one();
        }
        return id;
    }

    /// Removes a timer that has not fired. Returns false if it fired, is firing, or never was.
    bool cancel(timer_id id) {
        std::lock_guard lock(mutex_);
        for (auto it = timers_.begin(); it != timers_.end(); ++it) {
            if (it->first.id == id) {
                timers_.erase(it);
                return true;
            }
        }
        return false;
    }

    std::size_t pending() const {
        std::lock_guard lock(mutex_);
        return timers_.size();
    }

private:
    struct key {
        clock::time_point when;
        timer_id id;
        bool operator<(const key& o) const noexcept { return when < o.when || (when == o.when && id < o.id); }
    };

    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (timers_.empty()) {
                wake_.wait(lock);
                continue;
            }
            auto first = timers_.begin();
            if (first->first.when > clock::now()) {
                // a copy: wait_until reads its deadline again after waking, and cancel() may
                // have erased this node meanwhile (ASan caught the dangling read)
                const clock::time_point when = first->first.when;
                wake_.wait_until(lock, when);
                continue;
            }
            std::function<void()> fn = std::move(first->second);
            timers_.erase(first);
            lock.unlock();
            try {
                fn();
            } catch (...) {
                report_unobserved(std::current_exception());
            }
            fn = nullptr; // destroy the closure outside the lock too
            lock.lock();
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    // Invariant: timers_ holds exactly the timers that have neither fired nor been canceled.
    std::map<key, std::function<void()>> timers_;
    timer_id last_id_ = 0;
    bool stopping_ = false; // once true, never false again
    std::thread thread_;    // started on first schedule(), joined by the destructor
};

} // namespace weft::detail
