// weft/detail/thread_pool/pool_core.hpp — the thread pool's engine: queues, workers, parking.
//
// Design note
// ===========
// §1 Summary. N worker threads. Work submitted from a worker goes to that worker (a LIFO slot,
//    then its own deque); work from any other thread goes to one shared injection queue. An idle
//    worker takes, in order: its slot, its deque (newest first), the injection queue, then
//    steals the oldest item of another worker's deque. It spins briefly, then parks.
//    This is the stand-in engine of the task-core milestone: queues are mutex-guarded ring
//    buffers, not Chase–Lev deques. The interface (schedule, help-while-waiting, shutdown,
//    stats) is the one the work-stealing engine keeps when it replaces this file.
//
// §2 Terms.
//    slot      one item, owner-only, no lock: the most recent submission from this worker, run
//              next (message-passing locality: a continuation runs where its antecedent ran).
//    deque     per-worker ring buffer under the worker's mutex; the owner pushes/pops the back,
//              thieves take the front.
//    injector  the shared FIFO for submissions from threads that are not workers.
//    sleeper   a worker (or a helping waiter, §5) registered in sleepers_ and about to block,
//              or blocked, on idle_cv_.
//
// §3 Life of a task. schedule(w) on a worker: w -> slot; the previous slot item -> the back of
//    the deque (now stealable) and a wake-up (§4). schedule(w) elsewhere: injector + wake-up.
//    The worker runs what it finds (order in §1); every `fairness_interval` picks it looks at the
//    injector first, and a slot item that has run `slot_streak_cap` times in a row is demoted
//    to the deque, so a ping-pong pair on the slot cannot starve the other queues.
//
// §4 Wake-ups (no lost wake-up). Two sides:
//    submitter: (S1) push under the queue's mutex; (S2) StoreLoad barrier, then load sleepers_;
//               (S3) if non-zero: lock idle_mutex_, ++wake_epoch_, notify one.
//    parker:    (P1) lock idle_mutex_; (P2) sleepers_ += 1 (seq_cst RMW); (P3) record
//               wake_epoch_; re-check every queue under its mutex; (P4) if empty, wait until
//               wake_epoch_ changes.
//    If S2 reads 0, the parker's P2 is later in the seq_cst order than S2's barrier, so P3's
//    re-check (which takes the queue's mutex after S1 released it) sees the item. If S2 reads
//    non-zero, S3 bumps the epoch under idle_mutex_; the parker either has not recorded the
//    epoch yet (P3 sees the bump... or the item) or is waiting for it.
//
// §5 Helping waits. A worker blocked in task::get()/wait() runs queued work instead of
//    sleeping (wait_helper). When there is none it parks as in §4, with one more wake-up
//    reason: the awaited task's completion calls wake_parked(), which bumps the epoch and
//    notifies all. Helping nests at most max_help_depth (512) deep, which bounds the stack a chain of
//    waits can take; a deeper waiter blocks without helping (see thread_pool.md).
//
// §6 Invariants.
//    I1 an accepted item is in exactly one place: a slot, a deque, the injector, or running,
//       and it is run or discarded exactly once.
//    I2 if a queue other than a slot is non-empty, a worker is awake or will be woken (§4).
//    I3 a slot item belongs to a worker that is running a task (it never parks with one).
//    I4 after done_ is set no worker runs anything; it is set only when closing_, every
//       worker is parked idle, and every queue is empty.
//
// §7 Shutdown. (1) closing_ = true under idle_mutex_: submissions from non-workers throw
//    shutdown_error; in cancel mode every later submission throws and every dequeued item is
//    discarded. (2) notify all. (3) Workers keep running (drain) until the last one to go idle
//    finds every queue empty (I4) and sets done_; all exit. (4) The owner joins them, unless
//    it is one of them (shutdown from the pool's own task): then threads are detached and the
//    core, shared by every worker, is freed by the last one out.
//
// §8 Rejected. A single mutex/condvar queue (the peers' "simple pool": every spawn contends
//    one lock; 5-50x slower on fork-join). Waking on every push (thundering wake-ups: §4 only
//    wakes when someone sleeps). Blocking get() on workers (deadlocks a 1-worker pool).
//
// Lock order: idle_mutex_ before any queue mutex; never hold a queue mutex while running work.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

namespace weft {

/// How shutdown treats work that has not started.
enum class shutdown_mode {
    drain,   ///< run everything queued, and what it spawns, until the pool is quiet
    cancel,  ///< discard everything queued (its tasks complete canceled); running work finishes
};

/// Counters of one worker (totals are their sum). Read while running they are approximate.
struct worker_stats {
    std::uint64_t tasks_run = 0;
    std::uint64_t slot_hits = 0;
    std::uint64_t steals = 0;
    std::uint64_t failed_steals = 0;
    std::uint64_t parks = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t discarded = 0;
};

struct pool_stats {
    std::vector<worker_stats> workers;
    std::uint64_t injections = 0;  ///< submissions from threads that are not workers
    worker_stats total() const noexcept {
        worker_stats t;
        for (const auto& w : workers) {
            t.tasks_run += w.tasks_run;
            t.slot_hits += w.slot_hits;
            t.steals += w.steals;
            t.failed_steals += w.failed_steals;
            t.parks += w.parks;
            t.wakeups += w.wakeups;
            t.discarded += w.discarded;
        }
        return t;
    }
};

struct pool_options {
    std::size_t threads = 0;            ///< 0: std::thread::hardware_concurrency()
    std::string name = "weft";          ///< thread name prefix (name-<index>, cut to 15 bytes)
    std::function<void(std::size_t)> on_thread_start{};  ///< runs on each worker before any work
    std::function<void(std::size_t)> on_thread_stop{};   ///< runs on each worker as it exits
};

namespace detail {

/// A growable ring buffer of work items; the caller provides the locking.
class item_ring {
public:
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    void push_back(work_item* w) {
        if (size_ == buf_.size()) {
            grow();
        }
        buf_[(head_ + size_) & (buf_.size() - 1)] = w;
        ++size_;
    }
    work_item* pop_back() noexcept {
        if (size_ == 0) {
            return nullptr;
        }
        --size_;
        return buf_[(head_ + size_) & (buf_.size() - 1)];
    }
    work_item* pop_front() noexcept {
        if (size_ == 0) {
            return nullptr;
        }
        work_item* w = buf_[head_];
        head_ = (head_ + 1) & (buf_.size() - 1);
        --size_;
        return w;
    }
    /// Grows now so that `extra` more pushes cannot allocate (cannot throw).
    void reserve_for(std::size_t extra) {
        while (buf_.size() - size_ < extra) {
            grow();
        }
    }
    void push_front(work_item* w) {
        if (size_ == buf_.size()) {
            grow();
        }
        head_ = (head_ + buf_.size() - 1) & (buf_.size() - 1);
        buf_[head_] = w;
        ++size_;
    }

private:
    void grow() {
        std::vector<work_item*> next(buf_.empty() ? 64 : buf_.size() * 2);
        for (std::size_t i = 0; i < size_; ++i) {
            next[i] = buf_[(head_ + i) & (buf_.size() - 1)];
        }
        buf_.swap(next);
        head_ = 0;
    }
    std::vector<work_item*> buf_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/// A queue with its own lock and a lock-free emptiness hint.
struct locked_queue {
    std::mutex mutex;
    // --- guarded by mutex ------------------------------------------------------------------
    item_ring items;
    // --- written under mutex, read without it ------------------------------------------------
    atomic<std::size_t> size_hint{0};  // a stale value only costs a wasted lock or a later look

    void push_back(work_item* w) {
        std::lock_guard lock(mutex);
        items.push_back(w);
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint; §4 re-checks locked
    }
    /// Pushes unless `closed` is set; the flag is read under this queue's mutex, so a push
    /// that wins is seen by the shutdown's final emptiness check (pool_core §7).
    bool push_back_unless(work_item* w, const atomic<bool>& closed) {
        std::lock_guard lock(mutex);
        if (closed.load(relaxed)) {  // order: relaxed — the mutex orders it against close()
            return false;
        }
        items.push_back(w);
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
        return true;
    }
    work_item* pop_back() {
        if (size_hint.load(relaxed) == 0) {  // order: relaxed — a hint
            return nullptr;
        }
        std::lock_guard lock(mutex);
        work_item* w = items.pop_back();
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
        return w;
    }
    work_item* pop_front() {
        if (size_hint.load(relaxed) == 0) {  // order: relaxed — a hint
            return nullptr;
        }
        std::lock_guard lock(mutex);
        work_item* w = items.pop_front();
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
        return w;
    }
    /// Takes up to `max` items from the front; returns how many.
    std::size_t pop_front_batch(work_item** out, std::size_t max) {
        if (size_hint.load(relaxed) == 0) {  // order: relaxed — a hint
            return 0;
        }
        std::lock_guard lock(mutex);
        std::size_t n = 0;
        while (n < max) {
            work_item* w = items.pop_front();
            if (w == nullptr) {
                break;
            }
            out[n++] = w;
        }
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
        return n;
    }
    void push_front(work_item* w) {
        std::lock_guard lock(mutex);
        items.push_front(w);
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
    }
    void reserve_for(std::size_t extra) {
        std::lock_guard lock(mutex);
        items.reserve_for(extra);
    }
    /// Appends `n` items under one lock acquisition. Does not allocate after reserve_for(n)
    /// by the only thread that pushes to this queue.
    void push_back_many(work_item* const* ws, std::size_t n) {
        std::lock_guard lock(mutex);
        for (std::size_t i = 0; i < n; ++i) {
            items.push_back(ws[i]);
        }
        size_hint.store(items.size(), relaxed);  // order: relaxed — a hint
    }
    bool empty_locked_check() {
        std::lock_guard lock(mutex);
        return items.empty();
    }
};

class pool_core;

struct alignas(WEFT_CACHE_LINE) worker_data final : wait_helper {
    pool_core* core = nullptr;
    std::size_t index = 0;
    locked_queue deque;  // read by thieves: kept off the lines the owner writes on every task
    // --- owner thread only -------------------------------------------------------------------
    alignas(WEFT_CACHE_LINE) work_item* slot = nullptr;
    unsigned slot_streak = 0;
    unsigned picks = 0;
    unsigned help_depth = 0;
    std::minstd_rand rng;
    // --- written by the owner (relaxed, single writer), read by stats() ----------------------
    alignas(WEFT_CACHE_LINE) atomic<std::uint64_t> tasks_run{0}, slot_hits{0}, steals{0}, failed_steals{0}, parks{0},
        wakeups{0}, discarded{0};

    bool help_one() noexcept override;
    void park_until(const atomic<std::uint32_t>& done, std::chrono::steady_clock::time_point deadline) noexcept override;
    void wake_parked() noexcept override;
};

inline void bump(atomic<std::uint64_t>& counter) noexcept {
    counter.store(counter.load(relaxed) + 1, relaxed);  // order: relaxed — single writer
}

inline constexpr unsigned slot_streak_cap = 32;
inline constexpr std::size_t injector_batch = 16;
inline constexpr unsigned fairness_interval = 61;
inline constexpr unsigned max_help_depth = 512;

WEFT_TLS_ACCESSOR inline worker_data*& current_worker() noexcept {
    static thread_local worker_data* w = nullptr;
    WEFT_TLS_OPAQUE();
    return w;
}

class pool_core : public std::enable_shared_from_this<pool_core> {
public:
    explicit pool_core(std::size_t n) : workers_(n) {
        for (std::size_t i = 0; i < n; ++i) {
            workers_[i].core = this;
            workers_[i].index = i;
            workers_[i].rng.seed(static_cast<unsigned>(i * 7919 + 17));
        }
    }

    std::size_t size() const noexcept { return workers_.size(); }

    bool runs_on_this_thread() const noexcept {
        worker_data* w = current_worker();
        return w != nullptr && w->core == this;
    }

    void schedule(work_item* w) {
        worker_data* self = current_worker();
        if (self != nullptr && self->core == this) {
            if (cancel_mode_.load(relaxed)) {  // order: relaxed — set under idle_mutex_; a late
                throw shutdown_error{};        //        read only lets one more item be discarded
            }
            if (work_item* previous = self->slot) {
                self->deque.push_back(previous);  // first: if it throws, nothing moved
                self->slot = w;
                notify_one();
            } else {
                self->slot = w;
            }
            return;
        }
        if (!injector_.push_back_unless(w, closing_)) {
            throw shutdown_error{};
        }
        bump_shared(injections_);
        notify_one();
    }

    /// §4 S2–S3.
    void notify_one() noexcept {
        if (store_load_barrier_then_load(sleepers_) == 0) {
            return;
        }
        {
            std::lock_guard lock(idle_mutex_);
            ++wake_epoch_;
        }
        idle_cv_.notify_one();
    }
    void notify_all() noexcept {
        {
            std::lock_guard lock(idle_mutex_);
            ++wake_epoch_;
        }
        idle_cv_.notify_all();
    }

    work_item* find_work(worker_data& w) {
        if ((++w.picks % fairness_interval) == 0) {
            if (work_item* item = injector_.pop_front()) {
                return item;
            }
        }
        if (work_item* item = w.slot) {
            w.slot = nullptr;
            if (++w.slot_streak < slot_streak_cap || !other_work_waiting(w)) {
                if (w.slot_streak >= slot_streak_cap) {
                    w.slot_streak = 0;  // nobody else is waiting: no reason to move the chain
                }
                bump(w.slot_hits);
                return item;
            }
            try {
                w.deque.push_front(item);  // demoted behind the waiting work: let it in (§3)
            } catch (...) {
                return item;  // no memory to demote it: run it now rather than lose it (I1)
            }
            notify_one();
        }
        w.slot_streak = 0;
        if (work_item* item = w.deque.pop_back()) {
            return item;
        }
        if (work_item* item = take_from_injector(w)) {
            return item;
        }
        return steal(w);
    }

    bool other_work_waiting(const worker_data& w) const noexcept {
        // order: relaxed ×2 — hints; a miss only delays the demotion to the next pick
        return w.deque.size_hint.load(relaxed) != 0 || injector_.size_hint.load(relaxed) != 0;
    }

    /// One lock acquisition for up to injector_batch items: the first runs now, the rest go to
    /// this worker's deque, where other workers may steal them.
    work_item* take_from_injector(worker_data& w) {
        if (injector_.size_hint.load(relaxed) == 0) {  // order: relaxed — a hint
            return nullptr;
        }
        w.deque.reserve_for(injector_batch);  // may throw here, before anything was taken (I1)
        work_item* batch[injector_batch];
        const std::size_t n = injector_.pop_front_batch(batch, injector_batch);
        if (n == 0) {
            return nullptr;
        }
        if (n > 1) {
            w.deque.push_back_many(batch + 1, n - 1);
            notify_one();
        }
        return batch[0];
    }

    work_item* steal(worker_data& w) {
        const std::size_t n = workers_.size();
        if (n < 2) {
            return nullptr;
        }
        const std::size_t start = w.rng() % n;
        for (std::size_t k = 0; k < n; ++k) {
            worker_data& victim = workers_[(start + k) % n];
            if (&victim == &w) {
                continue;
            }
            if (work_item* item = victim.deque.pop_front()) {
                bump(w.steals);
                return item;
            }
        }
        bump(w.failed_steals);
        return nullptr;
    }

    void run_item(worker_data& w, work_item* item) noexcept {
        if (cancel_mode_.load(relaxed)) {  // order: relaxed — see schedule()
            bump(w.discarded);
            item->discard();
            return;
        }
        bump(w.tasks_run);
        item->run();
    }

    /// §4 P1–P4 for an idle worker. Returns false when the pool is done (§7).
    bool park_idle(worker_data& w) {
        std::unique_lock lock(idle_mutex_);
        sleepers_.fetch_add(1, seq_cst);  // order: seq_cst — §4 P2, pairs with S2's barrier
        const std::uint64_t epoch = wake_epoch_;
        if (any_work()) {
            sleepers_.fetch_sub(1, relaxed);  // order: relaxed — only lowers wake-ups' chance
            return true;
        }
        ++idle_;
        // any_work() just above ran after closing_ was read here or before; see close() and
        // locked_queue::push_back_unless for why no accepted item can be left behind.
        if (closing_.load(relaxed) && idle_ == workers_.size()) {  // order: relaxed — under idle_mutex_
            done_ = true;
            idle_cv_.notify_all();
        }
        bump(w.parks);
        idle_cv_.wait(lock, [&] { return done_ || wake_epoch_ != epoch; });
        --idle_;
        sleepers_.fetch_sub(1, relaxed);  // order: relaxed — see above
        if (done_) {
            return false;
        }
        bump(w.wakeups);
        return true;
    }

    /// §5: a helping waiter with nothing to run. One that may not help (at max_help_depth)
    /// waits for its task only: new work is no reason for it to wake.
    void park_waiter(worker_data& w,
                     const atomic<std::uint32_t>& done,
                     std::chrono::steady_clock::time_point deadline,
                     bool can_help) {
        // order: acquire (done) — see waiter_node::notify
        auto finished = [&] { return done.load(acquire) == waiter_node::done; };
        if (spin_until([&] { return finished() || (can_help && has_work_hint(w)); })) {
            return;
        }
        std::unique_lock lock(idle_mutex_);
        sleepers_.fetch_add(1, seq_cst);  // order: seq_cst — §4 P2
        const std::uint64_t epoch = wake_epoch_;
        if (!(can_help && any_work()) && !finished()) {
            bump(w.parks);
            // wake_parked() bumps the epoch after `done` is set, so a waiter that cannot help
            // still wakes for its own task
            auto ready = [&] { return finished() || done_ || (can_help && wake_epoch_ != epoch); };
            if (deadline == std::chrono::steady_clock::time_point::max()) {
                idle_cv_.wait(lock, ready);
            } else {
                idle_cv_.wait_until(lock, deadline, ready);
            }
        }
        sleepers_.fetch_sub(1, relaxed);  // order: relaxed — see park_idle
    }

    bool has_work_hint(const worker_data& w) const noexcept {
        if (w.slot != nullptr || injector_.size_hint.load(relaxed) != 0) {  // order: relaxed — hint
            return true;
        }
        for (const auto& other : workers_) {
            if (other.deque.size_hint.load(relaxed) != 0) {  // order: relaxed — hint
                return true;
            }
        }
        return false;
    }

    /// Begins shutdown (§7 steps 1–2). Idempotent; a later cancel upgrades a drain.
    void close(shutdown_mode mode) {
        {
            std::lock_guard lock(idle_mutex_);
            closing_.store(true, relaxed);  // order: relaxed — readers re-check under idle_mutex_
            if (mode == shutdown_mode::cancel) {
                cancel_mode_.store(true, relaxed);  // order: relaxed — see run_item()
            }
            ++wake_epoch_;
            if (idle_ == workers_.size() && !any_work()) {
                done_ = true;
            }
        }
        idle_cv_.notify_all();
    }

    void worker_main(std::size_t index, const pool_options& options) {
        worker_data& w = workers_[index];
        current_worker() = &w;
        current_wait_helper() = &w;
        scheduler_scope scope(self_handle_);
        if (options.on_thread_start) {
            try {
                options.on_thread_start(index);
            } catch (...) {
                report_unobserved(std::current_exception());
            }
        }
        for (;;) {
            if (work_item* item = find_work(w)) {
                run_item(w, item);
                continue;
            }
            if (spin_until([&] { return has_work_hint(w); })) {
                continue;
            }
            if (!park_idle(w)) {
                break;
            }
        }
        if (options.on_thread_stop) {
            try {
                options.on_thread_stop(index);
            } catch (...) {
                report_unobserved(std::current_exception());
            }
        }
        current_wait_helper() = nullptr;
        current_worker() = nullptr;
    }

    pool_stats stats() const {
        pool_stats s;
        for (const auto& w : workers_) {
            worker_stats ws;
            ws.tasks_run = w.tasks_run.load(relaxed);  // order: relaxed — counters
            ws.slot_hits = w.slot_hits.load(relaxed);
            ws.steals = w.steals.load(relaxed);
            ws.failed_steals = w.failed_steals.load(relaxed);
            ws.parks = w.parks.load(relaxed);
            ws.wakeups = w.wakeups.load(relaxed);
            ws.discarded = w.discarded.load(relaxed);
            s.workers.push_back(ws);
        }
        s.injections = injections_.load(relaxed);  // order: relaxed — counter
        return s;
    }

    void set_self_handle(any_scheduler h) noexcept { self_handle_ = h; }

private:
    static void bump_shared(atomic<std::uint64_t>& c) noexcept {
        c.fetch_add(1, relaxed);  // order: relaxed — a statistic
    }

    /// Every queue, under its own mutex (§4 P3). Slots are owner-only and empty when parking.
    bool any_work() {
        if (!injector_.empty_locked_check()) {
            return true;
        }
        for (auto& w : workers_) {
            if (!w.deque.empty_locked_check()) {
                return true;
            }
        }
        return false;
    }

    std::vector<worker_data> workers_;  // fixed size after construction
    locked_queue injector_;
    atomic<std::uint64_t> injections_{0};
    any_scheduler self_handle_;  // the owning thread_pool, set before the threads start

    alignas(WEFT_CACHE_LINE) atomic<std::size_t> sleepers_{0};  // §4; written under idle_mutex_
    atomic<bool> closing_{false};                               // §7; written under idle_mutex_
    atomic<bool> cancel_mode_{false};                           // §7; written under idle_mutex_

    std::mutex idle_mutex_;
    std::condition_variable idle_cv_;
    // --- guarded by idle_mutex_ ------------------------------------------------------------
    // Invariant: idle_ counts workers inside park_idle's wait; done_ implies I4.
    std::uint64_t wake_epoch_ = 0;
    std::size_t idle_ = 0;
    bool done_ = false;
};

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
    core->run_item(*this, item);
    --help_depth;
    return true;
}

inline void worker_data::park_until(const atomic<std::uint32_t>& done,
                                    std::chrono::steady_clock::time_point deadline) noexcept {
    try {
        core->park_waiter(*this, done, deadline, help_depth < max_help_depth);
    } catch (...) {
        std::this_thread::yield();
    }
}

inline void worker_data::wake_parked() noexcept { core->notify_all(); }

inline void set_thread_name(const std::string& prefix, std::size_t index) noexcept {
    std::string name = prefix + "-" + std::to_string(index);
    if (name.size() > 15) {
        name.resize(15);
    }
    ::pthread_setname_np(::pthread_self(), name.c_str());
}

}  // namespace detail
}  // namespace weft
