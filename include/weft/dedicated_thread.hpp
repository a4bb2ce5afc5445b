// weft/dedicated_thread.hpp — threads of their own for long-running work
// (.NET TaskCreationOptions.LongRunning): dedicated_thread, and the long_running scheduler.
// Design note: docs/decisions/0005-schedulers.md (decision 8, long-running work).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/run_loop.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace weft {

namespace detail {
inline std::size_t next_dedicated_index() noexcept {
    static atomic<std::size_t> next{0};
    return next.fetch_add(1, relaxed); // order: relaxed — only a unique number for the name
}
} // namespace detail

/// A scheduler that owns one thread and runs the items given to it there, in FIFO order: for a
/// long-running or blocking loop that must not hold a pool worker, or for work that needs one
/// fixed thread (a thread-affine library). current_scheduler() on that thread is this object,
/// so continuations attached there come back to it (placement rule 3).
///
/// Thread safety: schedule() and stats() from any thread.
/// Lifetime:      must outlive every schedule() call and every continuation captured on it.
///                The destructor runs what is queued (and what that queues) until the queue is
///                empty, then joins; work that arrives after that is discarded (canceled).
///                From its own thread, the destructor cannot join: the thread is detached and
///                finishes the queue alone (work still queued must not use the object then).
/// Blocking:      schedule() never blocks; the destructor waits for the queue to drain.
/// Exceptions:    the constructor throws std::system_error if the thread cannot be started.
class dedicated_thread {
public:
    /// The thread is named `name-N` (N numbers dedicated threads process-wide).
    explicit dedicated_thread(std::string name = "weft-dt") : loop_(std::make_shared<run_loop>()) {
        loop_->set_identity(any_scheduler(*this));
        thread_ = std::thread([loop = loop_, name = std::move(name), index = detail::next_dedicated_index()] {
            detail::set_thread_name(name, index);
            loop->run();
        });
    }
    dedicated_thread(const dedicated_thread&) = delete;
    dedicated_thread& operator=(const dedicated_thread&) = delete;

    ~dedicated_thread() {
        loop_->finish();
        if (thread_.get_id() == std::this_thread::get_id()) {
            thread_.detach();
        } else {
            thread_.join();
        }
    }

    /// See the `scheduler` concept. Never refuses.
    void schedule(work_item* w) { loop_->schedule(w); }
    /// Work that ran here and awaits anything comes back here (placement §1a).
    static constexpr bool keeps_context = true;
    /// True on the dedicated thread while it runs this object's items.
    bool runs_on_this_thread() const noexcept { return detail::is_current_scheduler(this); }
    scheduler_stats stats() const { return loop_->stats(); }
    std::thread::id thread_id() const noexcept { return thread_.get_id(); }

private:
    std::shared_ptr<run_loop> loop_;
    std::thread thread_;
};

/// Runs each item on a new thread of its own that ends when the item returns: the weft form of
/// TaskCreationOptions.LongRunning, `weft::spawn(weft::long_running, f)`. No scheduler owns
/// that thread, so current_scheduler() is empty there and continuations attached in `f` run
/// inline where their antecedent completes (placement rule 4), unless they name a scheduler.
///
/// Thread safety: stateless; safe from any thread.
/// Lifetime:      the threads are detached; they end with their item (wait on the task).
/// Exceptions:    schedule() throws std::system_error, without taking the item, when the
///                thread cannot be started.
struct new_thread_scheduler {
    void schedule(work_item* w) const {
        std::thread([w, index = detail::next_dedicated_index()] {
            detail::set_thread_name("weft-long", index);
            w->run();
        }).detach();
    }
    friend bool operator==(new_thread_scheduler, new_thread_scheduler) noexcept { return true; }
};

/// `weft::spawn(weft::long_running, f)`: `f` on a thread of its own.
inline constexpr new_thread_scheduler long_running{};

} // namespace weft
