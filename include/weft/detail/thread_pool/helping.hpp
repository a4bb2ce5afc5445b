// weft/detail/thread_pool/helping.hpp — a pool thread blocked in get()/wait() (or joining a
// local_task) runs queued work instead of sleeping, and parks where new work wakes it.
// Design note: §5 of the pool's note (weft/detail/thread_pool/pool_core.hpp), whose end
// includes this file: these are worker_data's wait_helper functions, which need the whole
// pool_core (included first here too, so this file also compiles alone).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/thread_pool/pool_core.hpp>
#include <weft/detail/thread_pool/worker.hpp>
#include <weft/scheduler.hpp>

#include <algorithm>
#include <chrono>

namespace weft::detail {

inline bool worker_data::help_one() noexcept {
    if (help_depth >= max_help_depth) {
        return false;
    }
    work_item* item = nullptr;
    try {
        item = core->find_work(*this);
    } catch (...) {
        return false;
    }
    if (item == nullptr) {
        return false;
    }
    ++help_depth;
    if (current_slot->identity() == core->self_handle().identity()) {
        core->run_item(*this, item);
    } else {
        run_item_as_pool(item);
    }
    --help_depth;
    return true;
}

/// Helping from inside work of another scheduler that runs on this worker (a strand's drain, a
/// limited scheduler's runner): the helped item is the pool's, and must see the pool as
/// current — not the strand, whose item is only blocked, not finished. Off the fast path.
[[gnu::noinline]] inline void worker_data::run_item_as_pool(work_item* item) noexcept {
    scheduler_scope scope(core->self_handle());
    core->run_item(*this, item);
}

inline void worker_data::park_until(const atomic<std::uint32_t>& done,
                                    std::chrono::steady_clock::time_point deadline) noexcept {
    const bool can_help = help_depth < max_help_depth;
    // order: acquire (done) — see waiter_node::notify
    auto finished = [&] {
        return done.load(acquire) == waiter_node::done;
    };
    if (spin_until([&] { return finished() || (can_help && core->has_work_hint(*this)); })) {
        return;
    }
    std::chrono::nanoseconds timeout(-1);
    if (deadline != std::chrono::steady_clock::time_point::max()) {
        timeout = std::max(std::chrono::nanoseconds(0),
                           std::chrono::nanoseconds(deadline - std::chrono::steady_clock::now()));
        if (timeout.count() == 0) {
            return;
        }
    }
    counters[worker_counter::parks].bump();
    if (!can_help) {
        core->idle().wait_for_notify(index, finished, timeout);
        return;
    }
    const bool as_spinner = core->idle().park(
        index,
        false,
        [&] { return finished() || core->has_work_hint(*this); },
        [] { return false; },
        timeout,
        /*idle=*/false);
    if (as_spinner) {
        core->idle().stop_spinning(); // we go back to our task, not to the search
    }
}

inline void worker_data::wake_parked() noexcept {
    core->idle().notify(index);
}

} // namespace weft::detail
