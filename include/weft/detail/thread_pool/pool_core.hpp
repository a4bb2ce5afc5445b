// weft/detail/thread_pool/pool_core.hpp — the thread pool's engine: queues, workers, parking.
//
// Design note
// ===========
// §1 Summary. N workers, each with a Chase–Lev deque and a one-item LIFO slot. Work submitted
//    on a worker stays on that worker (slot, then deque), where idle workers steal it; work from
//    any other thread goes to one wait-free injection queue. A worker with nothing to do spins
//    briefly (while any worker sleeps, at most half of them), then parks; the wake-up protocol
//    is in idle_set.hpp. A worker that must block inside a task (weft::blocking) has its place taken
//    by a spare thread, up to a bound.
//
// §2 Terms.
//    participant  a worker or an active spare; the idle protocol numbers them 0..capacity-1.
//    slot         one item, owner-only: the latest submission from this worker, run next
//                 (message-passing locality: a continuation runs where its antecedent ran).
//    deque        work_stealing_deque.hpp; the owner pushes and pops the bottom, thieves steal the top.
//    injector     detail/mpsc_queue.hpp; many producers, one consumer at a time taking a batch.
//    spinning     looking for work without sleeping; sleeping: registered in the idle set.
//    spare        a thread started (or un-retired) while a worker is inside weft::blocking.
//
// §3 Life of a task. schedule(w) on a worker: w -> slot; the previous slot item -> the deque,
//    then a wake-up check (§4 S1–S3). schedule(w) elsewhere: injector + wake-up check. A worker
//    picks, in order: every 61st pick the injector (fairness); its slot, unless the slot has
//    run `slot_streak_cap` times in a row while other work waits (then the slot item is moved
//    behind that work, so a ping-pong pair cannot starve the rest); its deque (newest first);
//    a batch of up to 16 from the injector (the first runs, the rest go to its deque, where
//    others may steal them); one item stolen from a random victim, trying each once. The batch
//    is one item when the last batch took over `long_injected_item_ns` per item: items that
//    long gain nothing from amortising the take, and a batch of them makes the ones at its
//    end (or stolen from its newest end) wait behind the whole batch — the I/O continuation
//    tails of docs/benchmarks.md. One clock read per take, none per item.
//
// §4 Wake-ups: idle_set.hpp, steps S1–S3 and P1–P4. Every place that makes work visible calls
//    idle_.notify_work() after the store that publishes it (keeps I2).
//
// §5 Helping waits. A worker blocked in task::get()/wait() (or joining a local_task) runs queued
//    work instead of sleeping (wait_helper). With nothing to run it parks in the idle set as a
//    non-idle sleeper, so new work or its task's completion (wake_parked) wakes it. Helping
//    nests at most max_help_depth (512) deep; a deeper waiter sleeps for its task only.
//
// §6 Invariants.
//    I1 an accepted item is in exactly one place: a slot, a deque, the injector, or running
//       (or in a thief's or a batch-taker's hands), and it is run or discarded exactly once.
//    I2 if any deque or the injector is non-empty, some participant is running, spinning, or
//       will be woken (§4).
//    I3 a slot item belongs to a participant that is running (it never parks with one).
//    I4 done_ is set only when closing, no external submission is in flight, every active
//       participant is an idle sleeper and every queue is empty; after it nothing runs.
//    I5 (idle_set.hpp) the sleeper count equals the sleeper list, under the idle lock.
//
// §7 Shutdown. (1) close(): admission_ gets its closing bit; from then on a submission from
//    outside throws shutdown_error (and one already past the check finishes its push, counted
//    in admission_); in cancel mode every later submission throws and every dequeued item is
//    discarded (its task completes canceled). (2) Everyone is woken. (3) Workers run until the
//    last active participant about to sleep finds I4's condition under the idle lock; it sets
//    done_ and wakes all; all exit, spares included. (4) The owner joins the threads, unless it
//    is one of them (shutdown from the pool's own task): then they are detached and the core,
//    shared by every thread, is freed by the last one out.
//    The injector's empty_hint() may say "empty" while a worker is consuming (mpsc_queue.hpp
//    M2); that is harmless here: an active consumer looks at the queue again before it can
//    park, step (3) requires every participant to be parked, and a parking worker's re-check
//    (§4, idle_set.hpp P2) sees a producer's exchange on the injector's tail.
//
// §8 Blocking regions. weft::blocking(f) on a worker: (1) its slot item moves to its deque
//    (stealable); (2) blocked_ += 1; (3) if fewer spares run than workers block, and fewer than
//    max_blocking_threads, a spare is started or un-retired; (4) f runs; (5) blocked_ -= 1. A
//    spare that finds no work while spares outnumber blocked workers retires (sleeps outside
//    the idle set until needed or until shutdown). Beyond the bound, f blocks uncompensated.
//
// §9 Rejected. Mutex-guarded deques (the task-core stand-in: a lock per push/pop; 2-3x the
//    instructions per task). Batch steal from another worker's deque (steal-half does not
//    compose with Chase–Lev's unsynchronised owner pop; tokio/Go use bounded ring queues for
//    it). A mutex injector (every external submission contends with the consumers).
//    Waking on every push (thundering herd: §4 wakes only when nobody spins). A stealable LIFO
//    slot (an extra atomic per message-passing hop; tokio made the same choice). Blocking
//    get() on workers (deadlocks a 1-worker pool).
//
// §10 References. Chase & Lev, SPAA 2005; Lê et al., PPoPP 2013; Norris & Demsky, OOPSLA 2013
//    (the resize bug); tokio's multi-thread scheduler (searching workers, LIFO slot cap);
//    Go's runtime (spinning Ms, global run-queue check every 61 ticks).
//
// §11 Tests. I1: tests/stress/thread_pool_stress.cpp (exactly-once ledger) and
//    tests/stress/pool_shutdown_stress.cpp (random shutdowns); I2/I5: tests/model/idle_model.cpp
//    (Relacy), the "park.after_check" hook tests in tests/thread_pool_test.cpp (a submission and
//    a shutdown inside the window) and the foreign wake-up stress; I4/§7: the shutdown tests;
//    §8: the blocking-region tests; the deque: tests/model/deque_model.cpp and
//    tests/detail/work_stealing_deque_test.cpp; §3 fairness: the ping-pong hog test.
//
// Lock order: the idle lock before spare_set's threads mutex (never both: compensate() takes them
// one after the other); no lock is held while work runs.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/blocking_wait.hpp>
#include <weft/detail/counters.hpp>
#include <weft/detail/diag/trace.hpp>
#include <weft/detail/mpsc_queue.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/test_hooks.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/detail/thread_pool/idle_set.hpp>
#include <weft/detail/thread_pool/spares.hpp>
#include <weft/detail/thread_pool/worker.hpp>
#include <weft/errors.hpp>
#include <weft/pool_options.hpp>
#include <weft/scheduler.hpp>
#include <weft/unobserved.hpp>
#include <weft/work_item.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace weft::detail {

class pool_core : public std::enable_shared_from_this<pool_core> {
public:
    pool_core(std::size_t workers, std::size_t spares, std::shared_ptr<const pool_options> options)
        : workers_(workers)
        , capacity_(workers + spares)
        , options_(std::move(options))
        , slots_(std::make_unique<worker_data[]>(workers + spares))
        , spares_(workers, spares)
        , idle_(workers + spares) {
        for (std::size_t i = 0; i < capacity_; ++i) {
            slots_[i].core = this;
            slots_[i].index = i;
            slots_[i].spare = i >= workers;
            slots_[i].rng.seed(static_cast<unsigned>(i * 7919 + 17));
        }
        active_hint_.store(workers, relaxed); // order: relaxed — before any thread starts
    }

    pool_core(const pool_core&) = delete;
    pool_core& operator=(const pool_core&) = delete;

    std::size_t size() const noexcept { return workers_; }

    bool runs_on_this_thread() const noexcept {
        worker_data* w = current_worker();
        return w != nullptr && w->core == this;
    }

    /// §3.
    void schedule(work_item* w) {
        worker_data* self = current_worker();
        if (self != nullptr && self->core == this) {
            if (cancel_mode_.load(relaxed)) { // order: relaxed — a late read only lets one
                throw shutdown_error{};       //        more item be discarded (§7)
            }
            if (self->blocking_depth != 0) {
                self->deque.push(w); // this thread is about to block: leave it stealable (§8)
                notify_local();
                return;
            }
            if (work_item* previous = self->slot) {
                self->deque.push(previous); // first: if it throws, nothing moved
                self->slot = w;
                notify_local(); // keeps I2
            } else {
                self->slot = w;
            }
            return;
        }
        schedule_external(w);
    }

    /// A fork-join child (local_task): straight onto this worker's deque, so that its join can
    /// pop it back (strict nesting) and idle workers can steal it meanwhile.
    void push_local(worker_data& self, work_item* w) {
        if (cancel_mode_.load(relaxed)) { // order: relaxed — see schedule()
            throw shutdown_error{};
        }
        self.deque.push(w);
        notify_local(); // keeps I2
    }

    void schedule_external(work_item* w) {
        // order: seq_cst — the admission count is read by the quiescence check (I4)
        if ((admission_.fetch_add(2, seq_cst) & closing_bit) != 0) {
            leave_admission();
            throw shutdown_error{};
        }
        injector_.push(w);
        injections_.add();
        idle_.notify_work(); // keeps I2
        leave_admission();
    }

    void notify_local() noexcept {
        if (active_hint_.load(relaxed) > 1) { // order: relaxed — grows only under the idle lock
            idle_.notify_work();              //        before the new participant starts
        }
    }

    /// §3's order. The common case (the slot holds the next item) is inline; the rest is not.
    work_item* find_work(worker_data& w) {
        if (--w.picks_to_injector != 0) { // every fairness_interval picks the injector first
            if (work_item* item = w.slot) {
                if (++w.slot_streak < slot_streak_cap) {
                    w.slot = nullptr;
                    w.counters[worker_counter::slot_hits].bump();
                    return item;
                }
                --w.slot_streak; // find_work_slow() counts it again
            }
        }
        return find_work_slow(w);
    }

    [[gnu::noinline]] work_item* find_work_slow(worker_data& w) {
        if (w.picks_to_injector == 0) { // a countdown: no division per pick
            w.picks_to_injector = fairness_interval;
            if (work_item* item = take_from_injector(w)) {
                return item;
            }
        }
        if (work_item* item = w.slot) {
            w.slot = nullptr;
            if (++w.slot_streak < slot_streak_cap || !other_work_waiting(w)) {
                if (w.slot_streak >= slot_streak_cap) {
                    w.slot_streak = 0; // nobody else is waiting: no reason to move the chain
                }
                w.counters[worker_counter::slot_hits].bump();
                return item;
            }
            w.slot_streak = 0;
            try {
                w.deque.push(item); // demoted: the waiting work runs first (§3)
            } catch (...) {
                return item; // no memory to demote it: run it now rather than lose it (I1)
            }
            notify_local();
            if (work_item* other = take_from_injector(w)) {
                return other;
            }
        }
        w.slot_streak = 0;
        if (work_item* item = w.deque.pop()) {
            return item;
        }
        if (work_item* item = take_from_injector(w)) {
            return item;
        }
        return steal(w);
    }

    bool other_work_waiting(const worker_data& w) const noexcept {
        return w.deque.size_hint() != 0 || !injector_.empty_hint();
    }

    /// Up to injector_batch items: the first runs now, the rest go to this worker's deque.
    work_item* take_from_injector(worker_data& w) {
        if (injector_.empty_hint()) {
            return nullptr;
        }
        w.deque.reserve(injector_batch); // may throw here, before anything was taken (I1)
        work_item* batch[injector_batch];
        const std::int64_t now =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        const bool long_items =
            w.last_take_size != 0 &&
            now - w.last_take_ns > long_injected_item_ns * static_cast<std::int64_t>(w.last_take_size);
        const std::size_t n = injector_.try_pop_batch(batch, long_items ? 1 : injector_batch);
        if (n == 0) {
            return nullptr;
        }
        w.last_take_ns = now;
        w.last_take_size = n;
        w.counters[worker_counter::injected].bump(n);
        for (std::size_t i = n; i > 1; --i) {
            w.deque.push(batch[i - 1]); // reserved: cannot throw; oldest ends up nearest the bottom
        }
        if (n > 1) {
            notify_local(); // keeps I2
        }
        return batch[0];
    }

    work_item* steal(worker_data& w) {
        const std::size_t n = capacity_;
        if (n < 2) {
            return nullptr;
        }
        const std::size_t start = w.rng() % n;
        for (std::size_t k = 0; k < n; ++k) {
            worker_data& victim = slots_[(start + k) % n];
            if (&victim == &w || victim.deque.size_hint() == 0) {
                continue; // the hint skips the steal's fence for an empty victim
            }
            if (work_item* item = victim.deque.steal()) {
                w.counters[worker_counter::steals].bump();
                if (diag::trace_on()) [[unlikely]] {
                    diag::emit('i', "steal", 0, "pool");
                }
                return item;
            }
        }
        w.counters[worker_counter::failed_steals].bump();
        return nullptr;
    }

    void run_item(worker_data& w, work_item* item) noexcept {
        if (cancel_mode_.load(relaxed)) { // order: relaxed — see schedule()
            w.counters[worker_counter::discarded].bump();
            item->discard();
            return;
        }
        w.counters[worker_counter::tasks_run].bump();
        item->run();
    }

    /// Anything a participant could take, from any thread (a hint; exact when quiet).
    bool has_work_hint(const worker_data& w) const noexcept {
        if (w.slot != nullptr || !injector_.empty_hint()) {
            return true;
        }
        for (std::size_t i = 0; i < capacity_; ++i) {
            if (slots_[i].deque.size_hint() != 0) {
                return true;
            }
        }
        return false;
    }

    bool done() const noexcept { return done_.load(acquire); } // order: acquire — pairs with finish()

    /// How long an idle worker spins before it parks: default_spin_for, or longer while it
    /// lingers after a parallel loop (worker_data::linger_until).
    static std::chrono::nanoseconds spin_budget(worker_data& w) noexcept {
        if (w.linger_until == std::chrono::steady_clock::time_point{}) {
            return default_spin_for;
        }
        const auto left = w.linger_until - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds(default_spin_for)) {
            w.linger_until = {};
            return default_spin_for;
        }
        return left;
    }

    /// The idle loop of a worker or an active spare.
    void worker_loop(worker_data& w) {
        const auto spin_limit = static_cast<std::uint32_t>(std::max<std::size_t>(1, workers_ / 2));
        for (;;) {
            if (work_item* item = find_work(w)) {
                if (w.spinning) {
                    w.spinning = false;
                    idle_.stop_spinning(); // the last spinner hands the search on (§4)
                }
                run_item(w, item);
                continue;
            }
            if (w.spare) {
                const retired r = retire_if_surplus(w);
                if (r == retired::exit) {
                    return; // it was not counted as active any more (§8)
                }
                if (r == retired::resumed) {
                    continue;
                }
            }
            bool may_spin = w.spinning;
            if (!w.spinning) {
                const auto start = idle_.try_start_spinning(spin_limit);
                w.spinning = start == idle_set<>::spin_start::announced;
                may_spin = start != idle_set<>::spin_start::refused;
            }
            if (may_spin && spin_until([&] { return has_work_hint(w) || done(); }, spin_budget(w))) {
                if (done()) {
                    break;
                }
                continue;
            }
            w.counters[worker_counter::parks].bump();
            const bool traced = diag::trace_on();
            if (traced) [[unlikely]] {
                diag::emit('B', "park", 0, "pool");
            }
            w.spinning = idle_.park(
                w.index, w.spinning, [&] { return has_work_hint(w) || done(); }, [&] { return quiescent_locked(w); });
            if (traced) [[unlikely]] {
                diag::emit('E', nullptr, 0, "pool");
            }
            if (done()) {
                break;
            }
            w.counters[worker_counter::wakeups].bump();
        }
        if (w.spinning) {
            w.spinning = false;
            idle_.stop_spinning();
        }
        idle_.wake_all(); // I4 reached: everyone else leaves too
    }

    /// §7 step 3, under the idle lock: true (and done_ set) when the pool is quiet.
    bool quiescent_locked(const worker_data& w) {
        // order: acquire — a finished submission's push is visible (pairs with leave_admission)
        if (admission_.load(acquire) != closing_bit) {
            return false;
        }
        if (idle_.idle_sleepers_locked() != active_locked() || has_work_hint(w)) {
            return false;
        }
        done_.store(true, release); // order: release — pairs with done()
        return true;
    }

    /// Begins shutdown (§7 steps 1–2). Idempotent; a later cancel upgrades a drain.
    void close(shutdown_mode mode) {
        if (mode == shutdown_mode::cancel) {
            cancel_mode_.store(true, relaxed); // order: relaxed — see schedule()
        }
        admission_.fetch_or(closing_bit, seq_cst); // order: seq_cst — see schedule_external
        idle_.locked([&] {                         // retired spares leave (§8); under the lock, so compensate() cannot
            spares_.for_each_retired_locked([&](std::size_t i) { // un-retire one meanwhile
                spare_set::signal(slots_[i].retire_word, spare_set::retire_exit);
            });
        });
        test_hook("pool.closed"); // §7 steps 1-2 done (tests only)
        idle_.wake_all();         // everyone looks at I4 again; the last one to park decides
    }

    // --- §8 blocking regions ---------------------------------------------------------------

    void enter_blocking(worker_data& w) {
        if (w.blocking_depth != 0) {
            ++w.blocking_depth;
            return;
        }
        if (work_item* item = w.slot) {
            w.deque.push(item); // may throw: then nothing moved and the region is not entered
            w.slot = nullptr;
        }
        ++w.blocking_depth;
        notify_local();
        spares_.worker_blocks();
        compensate();
    }

    void exit_blocking(worker_data& w) noexcept {
        if (--w.blocking_depth != 0) {
            return;
        }
        spares_.worker_unblocks();
    }

    pool_stats stats() const {
        pool_stats s;
        const std::size_t started = static_cast<std::size_t>(spares_.started_count());
        for (std::size_t i = 0; i < workers_ + std::min(started, capacity_ - workers_); ++i) {
            worker_stats ws;
            slots_[i].counters.add_to(ws, worker_stats_fields);
            s.workers.push_back(ws);
        }
        s.injections = injections_.load();
        s.spares_started = started;
        return s;
    }

    void set_self_handle(any_scheduler h) noexcept { self_handle_ = h; }
    const any_scheduler& self_handle() const noexcept { return self_handle_; }

    /// The body of every pool thread (a worker or a spare).
    void thread_main(std::size_t index) {
        worker_data& w = slots_[index];
        set_thread_name(options_->name, index);
        pin_thread(options_->cpus, index);
        current_worker() = &w;
        current_wait_helper() = &w;
        w.current_slot = &current_scheduler_slot();
        scheduler_scope scope(self_handle_);
        run_hook(options_->on_thread_start, index);
        worker_loop(w);
        run_hook(options_->on_thread_stop, index);
        current_wait_helper() = nullptr;
        current_worker() = nullptr;
    }

    /// Joins (or, from a pool thread, detaches) the spare threads; after the workers are gone.
    void release_spares(bool detach) { spares_.join_or_detach(detach); }

    idle_set<>& idle() noexcept { return idle_; }

    /// Construction failed after `n` worker threads started: only they count from now on.
    void threads_started(std::size_t n) {
        idle_.locked([&] {
            workers_running_ = n;
            publish_active_locked();
        });
    }

private:
    static constexpr std::uint64_t closing_bit = 1;

    /// Under the idle lock: the participants that count for quiescence (I4).
    std::size_t active_locked() const noexcept { return workers_running_ + spares_.active_locked(); }
    void publish_active_locked() noexcept {
        active_hint_.store(active_locked(), relaxed); // order: relaxed — a hint (notify_local)
    }

    void leave_admission() noexcept {
        // order: acq_rel — release: our push is visible to the quiescence check that reads the
        //        decremented count; acquire: we read the closing bit set before
        if (admission_.fetch_sub(2, acq_rel) == (closing_bit | 2)) {
            idle_.wake_one(); // the last submission in flight after close: re-check I4
        }
    }

    static void run_hook(const std::function<void(std::size_t)>& hook, std::size_t index) noexcept {
        if (!hook) {
            return;
        }
        try {
            hook(index);
        } catch (...) {
            report_unobserved(std::current_exception());
        }
    }

    bool closing() const noexcept {
        return (admission_.load(relaxed) & closing_bit) != 0; // order: relaxed — set before
    }                                                         // close() takes the idle lock

    /// §8 step 3.
    void compensate() {
        spare_set::claim c;
        idle_.locked([&] {
            c = spares_.claim_locked(closing());
            if (c.index == spare_set::none) {
                return;
            }
            publish_active_locked();
            if (!c.start) {
                spare_set::signal(slots_[c.index].retire_word, spare_set::retire_resume);
            }
        });
        if (c.index == spare_set::none || !c.start) {
            return;
        }
        try {
            spares_.start([core = shared_from_this(), index = c.index] { core->thread_main(index); });
        } catch (...) {
            idle_.locked([&] { // no thread: the region runs uncompensated
                spares_.unclaim_locked(c.index);
                publish_active_locked();
            });
        }
    }

    /// §8: a spare with nothing to do retires while spares outnumber blocked workers.
    enum class retired {
        no,
        resumed,
        exit
    };
    retired retire_if_surplus(worker_data& w) {
        bool retire = false;
        idle_.locked([&] {
            retire = spares_.retire_locked(w.index, done() || closing());
            if (retire) {
                publish_active_locked();
                w.retire_word.store(spare_set::retire_sleeping, relaxed); // order: relaxed — under the lock
            }
        });
        if (!retire) {
            return retired::no;
        }
        if (w.spinning) {
            w.spinning = false;
            idle_.stop_spinning();
        }
        return spare_set::wait_retired(w.retire_word) ? retired::resumed : retired::exit;
    }

    const std::size_t workers_;
    const std::size_t capacity_; // workers + spare slots
    std::shared_ptr<const pool_options> options_;
    std::unique_ptr<worker_data[]> slots_; // fixed after construction
    mpsc_queue injector_;
    stat_counter injections_;
    any_scheduler self_handle_; // the owning thread_pool, set before the threads start

    alignas(WEFT_CACHE_LINE) atomic<std::uint64_t> admission_{0}; // closing bit + 2 per submission in flight
    atomic<bool> cancel_mode_{false};
    atomic<bool> done_{false}; // §7; set under the idle lock
    atomic<std::size_t> active_hint_{0};

    spare_set spares_; // §8

    idle_set<> idle_;
    // --- guarded by the idle lock (idle_.locked / park's before_sleep) ------------------------
    std::size_t workers_running_ = workers_; // all of them, unless construction failed part-way
};

} // namespace weft::detail

// The helping waits (§5): worker_data's wait_helper side, which needs pool_core complete.
#include <weft/detail/thread_pool/helping.hpp>
