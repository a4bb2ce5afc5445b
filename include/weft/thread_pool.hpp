// weft/thread_pool.hpp — the worker pool for CPU work (.NET ThreadPool), a weft scheduler.
// Design note: weft/detail/thread_pool/pool_core.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/thread_pool/pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/pool_options.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace weft {

class thread_pool;

namespace detail {
/// For the fork-join and blocking-region helpers, which reach the engine of a pool.
struct pool_access {
    static pool_core& core(thread_pool& p) noexcept;
};
} // namespace detail

/// A fixed-size pool of worker threads with per-worker queues and stealing.
///
/// Thread safety: distinct and shared objects safe (schedule, spawn, shutdown from any thread).
/// Lifetime:      must outlive work scheduled on it from outside; the destructor drains.
/// Blocking:      schedule() never blocks; get()/wait() on a worker runs other queued work;
///                shutdown() and the destructor join the workers (not when called from one).
/// Exceptions:    schedule() throws shutdown_error once shutdown began (from a non-worker; in
///                cancel mode from anyone); work items never throw.
class thread_pool {
public:
    /// The most spare threads pool_options::max_blocking_threads can ask for.
    static constexpr std::size_t max_spare_threads = 1024;

    thread_pool() : thread_pool(pool_options{}) {}

    explicit thread_pool(pool_options options) {
        std::size_t n = options.threads;
        if (n == 0) {
            n = std::thread::hardware_concurrency();
            if (n == 0) {
                n = 1;
            }
        }
        const std::size_t spares = options.max_blocking_threads == static_cast<std::size_t>(-1)
                                       ? n
                                       : std::min(options.max_blocking_threads, max_spare_threads);
        core_ =
            std::make_shared<detail::pool_core>(n, spares, std::make_shared<const pool_options>(std::move(options)));
        core_->set_self_handle(any_scheduler(*this));
        threads_.reserve(n);
        try {
            for (std::size_t i = 0; i < n; ++i) {
                threads_.emplace_back([core = core_, i] { core->thread_main(i); });
            }
        } catch (...) {
            core_->threads_started(threads_.size()); // quiescence counts the threads that exist
            shutdown(shutdown_mode::cancel);
            throw;
        }
    }

    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Drains (shutdown_mode::drain) and joins. From one of this pool's own tasks it cannot join
    /// itself: the workers are detached and exit when the pool is quiet.
    ~thread_pool() { shutdown(shutdown_mode::drain); }

    /// See the `scheduler` concept. From a worker of this pool the item runs next on this worker
    /// (or is stolen); from elsewhere it goes to the shared injection queue.
    void schedule(work_item* w) { core_->schedule(w); }

    bool runs_on_this_thread() const noexcept { return core_->runs_on_this_thread(); }

    std::size_t size() const noexcept { return core_->size(); }

    /// Stops accepting work from other threads and winds down per `mode`; then joins the
    /// workers unless called from one of them. Idempotent.
    void shutdown(shutdown_mode mode = shutdown_mode::drain) {
        core_->close(mode);
        const bool from_worker = core_->runs_on_this_thread();
        for (auto& t : threads_) {
            if (!t.joinable()) {
                continue;
            }
            if (from_worker) {
                t.detach(); // §7 step 4: the core outlives us through the workers' references
            } else {
                t.join();
            }
        }
        core_->release_spares(from_worker);
    }

    pool_stats stats() const { return core_->stats(); }

    friend bool operator==(const thread_pool& a, const thread_pool& b) noexcept { return &a == &b; }

private:
    friend struct detail::pool_access;

    std::shared_ptr<detail::pool_core> core_;
    std::vector<std::thread> threads_;
};

inline detail::pool_core& detail::pool_access::core(thread_pool& p) noexcept {
    return *p.core_;
}

} // namespace weft
