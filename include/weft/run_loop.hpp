// weft/run_loop.hpp — a scheduler driven by the thread that calls run(): the UI-thread /
// SynchronizationContext analogue (asio::io_context::run, P2300's run_loop).
//
// Design note
// ===========
// One FIFO of work items under a mutex, one condition variable for the driving thread.
// - Any thread may schedule(); only one thread drives the loop at a time (run, run_one, poll).
//   Driving it from inside its own run() on the same thread is an error (std::logic_error), and
//   so is driving it from a second thread while another one drives it.
// - While a thread drives the loop, current_scheduler() there is the loop, so continuations
//   attached in its items come back to it (placement rule 3: the capture rule).
// - The driving thread's blocking waits (task.get(), wait()) run the loop's queued items while
//   they wait: the classic deadlock of .NET's `.Result` on a UI thread (the continuation the
//   wait needs is queued on the very thread that waits) cannot happen here.
// - stop() makes run() return after the item in progress; finish() makes it return once the
//   queue is empty. Both stay in force until restart(). Queued items are kept: a later run
//   or poll after restart() runs them.
// - Destruction discards what is still queued (those tasks complete canceled), including what
//   the discarding itself schedules here (continuations captured on the loop).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace weft {

class dedicated_thread;

/// A queue of work that the thread calling run() / run_one() / poll() executes, in FIFO order.
///
/// Thread safety: schedule(), stop(), finish(), restart(), stats() from any thread; one thread
///                drives the loop at a time.
/// Lifetime:      must outlive every schedule() call and every continuation captured on it;
///                must not be destroyed while a thread drives it.
/// Blocking:      run() and run_one() block while the queue is empty; schedule() never blocks.
/// Exceptions:    run(), run_one(), poll() throw std::logic_error when called from inside the
///                loop's own run (nested) or while another thread drives it. Work items never throw.
class run_loop final : private detail::wait_helper {
public:
    run_loop() = default;
    run_loop(const run_loop&) = delete;
    run_loop& operator=(const run_loop&) = delete;

    ~run_loop() {
        for (;;) {
            detail::work_item_fifo items;
            {
                std::lock_guard lock(mutex_);
                items = std::exchange(queue_, {});
            }
            if (items.head == nullptr) {
                break;
            }
            while (work_item* w = items.pop()) {
                w->discard(); // may schedule more here (continuations captured on the loop)
                discarded_.add();
            }
        }
    }

    /// See the `scheduler` concept. Never refuses.
    void schedule(work_item* w) {
        std::lock_guard lock(mutex_);
        queue_.push(w);
        ++scheduled_;
        if (sleeping_) {
            wake_.notify_one();
        }
    }

    /// Work that ran here and awaits anything comes back here (placement §1a).
    static constexpr bool keeps_context = true;
    /// True while this loop runs one of its items on the calling thread.
    bool runs_on_this_thread() const noexcept { return detail::is_current_scheduler(identity_); }

    /// Runs items until stop() (after the item in progress) or finish() (once the queue is
    /// empty); blocks while the queue is empty. Returns how many items it ran.
    std::size_t run() { return drive(mode::run); }

    /// Runs one item, blocking until there is one; false if stopped or finished first.
    bool run_one() { return drive(mode::run_one) != 0; }

    /// Runs the items that are ready, without blocking (nor running what they queue after the
    /// ones it found). Returns how many it ran.
    std::size_t poll() { return drive(mode::poll); }

    /// Makes run() and run_one() return as soon as the item in progress is done.
    void stop() { request(stop_bit); }
    /// Makes run() return once the queue is empty.
    void finish() { request(finish_bit); }
    /// Clears stop() and finish().
    void restart() {
        std::lock_guard lock(mutex_);
        requests_ = 0;
    }
    bool stopped() const {
        std::lock_guard lock(mutex_);
        return (requests_ & stop_bit) != 0;
    }

    scheduler_stats stats() const {
        std::lock_guard lock(mutex_);
        // order: relaxed ×2 — totals, exact once the loop is quiet
        return {scheduled_, ran_.load(), discarded_.load()};
    }

private:
    friend class dedicated_thread;

    enum class mode {
        run,
        run_one,
        poll
    };
    static constexpr unsigned stop_bit = 1, finish_bit = 2;

    void request(unsigned bit) {
        std::lock_guard lock(mutex_);
        requests_ |= bit;
        wake_.notify_all();
    }

    /// Marks the calling thread as the driver for its lifetime; refuses nesting and a second driver.
    class driver_guard {
    public:
        explicit driver_guard(run_loop& loop) : loop_(loop) {
            {
                std::lock_guard lock(loop.mutex_);
                if (loop.driver_ == std::this_thread::get_id()) {
                    throw std::logic_error("weft: run_loop driven from inside its own run() "
                                           "(nested run, run_one or poll is not supported)");
                }
                if (loop.driver_ != std::thread::id{}) {
                    throw std::logic_error("weft: run_loop is already driven by another thread");
                }
                loop.driver_ = std::this_thread::get_id();
            }
            previous_helper_ = std::exchange(detail::current_wait_helper(), static_cast<detail::wait_helper*>(&loop));
        }
        ~driver_guard() {
            detail::current_wait_helper() = previous_helper_;
            std::lock_guard lock(loop_.mutex_);
            loop_.driver_ = std::thread::id{};
        }
        driver_guard(const driver_guard&) = delete;
        driver_guard& operator=(const driver_guard&) = delete;

    private:
        run_loop& loop_;
        detail::wait_helper* previous_helper_ = nullptr;
    };

    std::size_t drive(mode m) {
        driver_guard guard(*this);
        scheduler_scope scope(identity_handle_ ? identity_handle_ : any_scheduler(*this));
        std::size_t ran = 0;
        std::size_t budget = static_cast<std::size_t>(-1);
        if (m == mode::poll) {
            std::lock_guard lock(mutex_);
            budget = count_queued_locked();
        }
        while (ran < budget) {
            work_item* w = next(m == mode::poll ? wait::no : wait::yes);
            if (w == nullptr) {
                break;
            }
            run_item(w);
            ++ran;
            if (m == mode::run_one) {
                break;
            }
        }
        return ran;
    }

    void run_item(work_item* w) noexcept {
        ran_.add(); // counted before it runs
        w->run();
    }

    enum class wait {
        no,
        yes
    };

    work_item* next(wait how) {
        std::unique_lock lock(mutex_);
        for (;;) {
            if ((requests_ & stop_bit) != 0) {
                return nullptr;
            }
            if (work_item* w = queue_.pop()) {
                return w;
            }
            if ((requests_ & finish_bit) != 0 || how == wait::no) {
                return nullptr;
            }
            ++sleeping_;
            wake_.wait(lock);
            --sleeping_;
        }
    }

    std::size_t count_queued_locked() const noexcept {
        std::size_t n = 0;
        for (const work_item* w = queue_.head; w != nullptr; w = w->next) {
            ++n;
        }
        return n;
    }

    // --- wait_helper: the driving thread's blocking waits run queued items ----------------
    bool help_one() noexcept override {
        work_item* w = nullptr;
        {
            std::lock_guard lock(mutex_);
            w = queue_.pop();
        }
        if (w == nullptr) {
            return false;
        }
        // The helped item is the loop's: the loop is current while it runs, whatever the
        // waiting item had made current.
        scheduler_scope scope(identity_handle_ ? identity_handle_ : any_scheduler(*this));
        run_item(w);
        return true;
    }
    void park_until(const detail::atomic<std::uint32_t>& done,
                    std::chrono::steady_clock::time_point deadline) noexcept override {
        std::unique_lock lock(mutex_);
        ++sleeping_;
        // order: acquire — pairs with waiter_node::notify's release; wake_parked() locks the
        //        mutex after setting `done`, so the check under the lock cannot miss it
        while (done.load(detail::acquire) == 0 && queue_.head == nullptr) {
            if (deadline == std::chrono::steady_clock::time_point::max()) {
                wake_.wait(lock); // no conversion of an infinite deadline
            } else if (wake_.wait_until(lock, deadline) == std::cv_status::timeout) {
                break;
            }
        }
        --sleeping_;
    }
    void wake_parked() noexcept override {
        std::lock_guard lock(mutex_);
        wake_.notify_all();
    }

    /// Set by dedicated_thread: the identity current_scheduler() reports on the loop's thread.
    void set_identity(any_scheduler handle) noexcept {
        identity_handle_ = handle;
        identity_ = handle.identity();
    }

    mutable std::mutex mutex_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    detail::work_item_fifo queue_;
    std::thread::id driver_{};
    unsigned requests_ = 0; // stop_bit | finish_bit
    unsigned sleeping_ = 0; // threads waiting on wake_ (the driver, in next() or park_until())
    std::uint64_t scheduled_ = 0;
    std::condition_variable wake_;
    // --- not guarded -------------------------------------------------------------------------
    detail::stat_counter ran_; // written by the driving thread only
    detail::stat_counter discarded_;
    any_scheduler identity_handle_; // set before any thread drives the loop
    const void* identity_ = this;
};

} // namespace weft
