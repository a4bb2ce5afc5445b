// weft/local_task.hpp — structured fork-join: a child task whose state lives in the parent's frame.
// Design note: a local_task is itself the work item (no heap, no reference count). On a worker
// it goes straight onto that worker's deque; join pops it back and runs it inline when nobody
// stole it (strict nesting makes it the newest item), and otherwise helps with other work until
// the thief finishes it (pool_core §5). The completion word carries who waits: 0 pending, 1 done,
// 2 a non-worker sleeps on it (futex), 3 + i worker i waits in the pool's idle set.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/futex.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/detail/thread_pool/pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/thread_pool.hpp>
#include <weft/unobserved.hpp>
#include <weft/work_item.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace weft {

/// A child computation run on a thread_pool, joined by its parent, with its state in the
/// parent's frame (async++'s local_spawn, TBB's task_group::run with a stack object).
///
/// Thread safety: one owner; get()/wait() from the owner only.
/// Lifetime:      the destructor joins (waits for the child); never outlives the frame that
///                made it. Not copyable or movable.
/// Blocking:      wait()/get() on a worker run the child inline or other work (no deadlock
///                with 1 worker); elsewhere they block.
/// Exceptions:    the constructor throws shutdown_error if the pool no longer accepts work
///                (the callable is then not run); get() rethrows what the callable threw, or
///                throws operation_canceled when shutdown(cancel) discarded it. An exception
///                nobody observed with get() goes to the unobserved-exception handler.
template<typename T, typename F>
class local_task final : private work_item {
public:
    using value_type = T;

    template<typename G>
    local_task(thread_pool& pool, G&& fn) : work_item(&invoke)
                                          , fn_(std::forward<G>(fn)) {
        core_ = &detail::pool_access::core(pool);
        detail::worker_data* w = detail::current_worker();
        if (w != nullptr && w->core == core_) {
            core_->push_local(*w, this);
        } else {
            pool.schedule(this);
        }
    }

    local_task(const local_task&) = delete;
    local_task& operator=(const local_task&) = delete;

    ~local_task() {
        wait();
        if (status_ == status::succeeded) {
            if constexpr (!std::is_void_v<T>) {
                std::destroy_at(std::addressof(value_.value));
            }
        } else if (status_ == status::failed && !observed_) {
            report_unobserved(error_);
        }
    }

    /// Waits for the child (running it here if it is still queued on this worker).
    void wait() noexcept {
        if (flag_.load(detail::acquire) == done) { // order: acquire — pairs with complete()
            return;
        }
        detail::worker_data* w = detail::current_worker();
        if (w != nullptr && w->core == core_) {
            join_on_worker(*w);
        } else {
            join_elsewhere();
        }
    }

    /// The child's result (a reference to it, valid while this object lives); rethrows.
    std::add_lvalue_reference_t<T> get() {
        wait();
        observed_ = true;
        if (status_ == status::failed) {
            std::rethrow_exception(error_);
        }
        if (status_ == status::canceled) {
            throw operation_canceled{};
        }
        if constexpr (!std::is_void_v<T>) {
            return value_.value;
        }
    }

    bool is_ready() const noexcept { return flag_.load(detail::acquire) == done; } // order: acquire — see wait

private:
    enum class status : std::uint8_t {
        pending,
        succeeded,
        failed,
        canceled
    };
    // a one-shot event (detail/futex.hpp), with a mark of our own: worker i waits in the idle set
    static constexpr std::uint32_t pending_flag = detail::event_unset, done = detail::event_set, worker_waits = 3;

    void run_body() noexcept {
        try {
            if constexpr (std::is_void_v<T>) {
                std::invoke(fn_);
            } else {
                std::construct_at(std::addressof(value_.value), std::invoke(fn_));
            }
            status_ = status::succeeded;
        } catch (...) {
            error_ = std::current_exception();
            status_ = status::failed;
        }
    }

    static void invoke(work_item* self, bool run) noexcept {
        auto* t = static_cast<local_task*>(self);
        if (run) {
            t->run_body();
        } else {
            t->status_ = status::canceled;
        }
        t->complete();
    }

    /// Publishes the result and wakes the joiner. The object may be gone once flag_ is done.
    void complete() noexcept {
        detail::pool_core* core = core_;
        auto* word = &flag_;
        // the result is visible to the joiner; we read who waits (only the word's address is
        // used after the exchange: harmless if it is gone)
        const std::uint32_t old = detail::event_set_and_wake(*word);
        if (old >= worker_waits) {
            core->idle().notify(old - worker_waits);
        }
    }

    void join_on_worker(detail::worker_data& w) noexcept {
        // Fast path: nobody stole it, so (strict nesting) it is the newest item on our deque.
        // Newer items above it (work spawned and not joined) run first, as help.
        while (work_item* item = w.deque.pop()) {
            w.core->run_item(w, item);
            if (item == this) {
                return;
            }
            if (flag_.load(detail::acquire) == done) { // order: acquire — pairs with complete()
                return;
            }
        }
        std::uint32_t expected = pending_flag;
        // order: acq_rel — release: nothing of ours to publish; acquire on failure: the result
        const auto waiting = static_cast<std::uint32_t>(worker_waits + w.index);
        if (!flag_.compare_exchange_strong(expected, waiting, detail::acq_rel, detail::acquire)) {
            return; // done meanwhile
        }
        while (flag_.load(detail::acquire) != done) { // order: acquire — pairs with complete()
            if (!w.help_one()) {
                w.park_until(flag_, std::chrono::steady_clock::time_point::max());
            }
        }
    }

    void join_elsewhere() noexcept {
        detail::event_wait(flag_, pending_flag); // sees the result when already done
    }

    F fn_;
    detail::pool_core* core_ = nullptr;
    detail::atomic<std::uint32_t> flag_{pending_flag};
    status status_ = status::pending; // written before flag_ becomes done, read after
    bool observed_ = false;
    std::exception_ptr error_;
    struct no_value {};
    detail::manual_storage<std::conditional_t<std::is_void_v<T>, no_value, T>> value_;
};

template<typename F>
local_task(thread_pool&, F) -> local_task<std::invoke_result_t<std::decay_t<F>&>, std::decay_t<F>>;

} // namespace weft
