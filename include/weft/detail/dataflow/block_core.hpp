// weft/detail/dataflow/block_core.hpp — what every dataflow block shares: the ports blocks talk
// through, the scheduled jobs a block runs, and the completion state machine.
//
// Design note: dataflow blocks
// ===========
// §1 Ports. A block's input is a target_port<T>, its output a source_port<T>. A link is a
//    source's record of a target. Messages on a source have consecutive ids; a source offers
//    only its head message, and a target answers: accepted (it consumed the message during the
//    call), declined, postponed (it recorded the offer and may consume it later) or declined
//    permanently (it is completed: the source drops the link).
// §2 No lock is held across blocks. Each block has one mutex (its core's, a sync_core), and a
//    block never calls another block while holding it: an offer is made with the source's lock
//    released, and the target, to accept, reserves room under its own lock, releases it, and
//    calls source.consume(id), which takes the message only if it is still the head (and not
//    reserved by another target). So any graph, cycles included, cannot deadlock on locks, and
//    a message goes to exactly one target: the one whose consume popped it.
// §3 The propagator. At most one thread offers a source's head at a time (`offering`, under the
//    lock); anything that could change the outcome (a new head, a new link, a released
//    reservation) while it runs sets `reoffer`, and it loops instead of stopping. It stops when
//    every link postponed or declined the head: the head waits. A postponing target consumes
//    it later (when it has room); a consume from outside the propagator restarts it for the new
//    head as a scheduled job, so a chain of blocks never recurses on one stack.
// §4 Back-pressure. A bounded block counts what it holds (input, bodies running, output not yet
//    consumed) and postpones offers when full; when room appears, a scheduled `pull` job
//    consumes the postponed offers (oldest first, alternating with waiting send()s). Nothing
//    is dropped: a postponed message stays at its source's head.
// §5 Two-phase consumption (non-greedy batch and join). The target reserves the offered head
//    of every source it needs, in one global order (by port address), consumes them all if
//    every reservation held, and releases them otherwise. A source's reserved head is not
//    given to anyone else. The fixed order means two groups competing for the same sources
//    never each hold one: one of them gets the first, the other fails there holding nothing.
// §6 Work. A block's bodies, propagation and pulls run as jobs on the block's scheduler (a
//    pool, a strand, an io_context: placement rule 1, counted as a named hop). A job that the
//    scheduler refuses or discards faults the block with that error: no message is silently
//    stranded.
// §7 Completion. complete(): the block declines new offers and completes once it holds nothing
//    and runs nothing. fault(e) and a body's exception: buffered messages are dropped and the
//    block completes faulted (several errors: aggregate_error). Cancellation (the options'
//    token, or a canceled source with propagate_completion): dropped, completed canceled.
//    Completion reaches the targets linked with propagate_completion after the block's own
//    completion() finished; a target with several such sources completes when all have.
// Tests: tests/dataflow/*_test.cpp, tests/stress/dataflow_stress.cpp.
// Decision record: docs/decisions/0013-dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/dataflow/options.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/placement.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>
#include <weft/work_item.hpp>

#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace weft::detail::dataflow {

class block_core;

/// The type of a side a block does not have (an action block's output).
struct none {};

/// A target's answer to an offer (§1).
enum class offer_result : std::uint8_t {
    accepted,
    declined,
    postponed,
    declined_permanently
};

template<typename T>
class target_port;

/// The output of a block, as its targets see it (§1, §5).
template<typename T>
class source_port {
public:
    explicit source_port(block_core& owner) noexcept : owner_(&owner) {}
    source_port(const source_port&) = delete;
    source_port& operator=(const source_port&) = delete;

    block_core& owner() const noexcept { return *owner_; }
    /// The message `id` if it is still the head and not reserved by another target; it leaves
    /// the source (broadcast: a copy). Any thread, no lock held.
    virtual std::optional<T> consume(std::uint64_t id, target_port<T>& by) = 0;
    /// Holds the head `id` for `by` until consume() or release(). False if it is gone or held.
    virtual bool reserve(std::uint64_t id, target_port<T>& by) = 0;
    virtual void release(std::uint64_t id, target_port<T>& by) = 0;

protected:
    ~source_port() = default;

private:
    block_core* owner_;
};

/// The input of a block, as its sources see it.
template<typename T>
class target_port {
public:
    explicit target_port(block_core& owner) noexcept : owner_(&owner) {}
    target_port(const target_port&) = delete;
    target_port& operator=(const target_port&) = delete;

    block_core& owner() const noexcept { return *owner_; }
    /// `from` offers its head `id`. No lock held by the caller (§2).
    virtual offer_result offer(source_port<T>& from, std::uint64_t id) = 0;

protected:
    ~target_port() = default;

private:
    block_core* owner_;
};

/// The kinds of job a block schedules (§6); each block interprets them.
enum class job_kind : std::uint8_t {
    process,   ///< run bodies (transform, action)
    propagate, ///< offer the output's head (§3)
    pull,      ///< consume postponed offers now that there is room (§4)
    group      ///< non-greedy batch or join: try to take a whole group (§5)
};

/// The state every block shares: its lock, scheduler, options, and completion (§7).
class block_core : public sync_core {
public:
    block_core(any_scheduler s, const dataflow_options& o) : sched(s), options(o) {
        require_scheduler(s, "weft: a dataflow block with an empty scheduler");
        if (o.max_degree_of_parallelism == 0) {
            throw std::invalid_argument("weft: dataflow max_degree_of_parallelism of 0");
        }
        if (o.max_messages_per_task == 0) {
            throw std::invalid_argument("weft: dataflow max_messages_per_task of 0");
        }
    }

    const any_scheduler sched;
    const dataflow_options options;
    cancellation_registration on_token; ///< the options' token; unregistered by the block's handle

    /// Registers the options' token (once the block is fully built: the callback cancels it).
    void arm_token() {
        if (options.token.can_be_canceled()) {
            on_token = options.token.register_callback([this] { cancel(); });
        }
    }

    // --- guarded by mutex ------------------------------------------------------------------
    bool declining = false; ///< complete(), fault or cancel: no new input
    bool dropping = false;  ///< fault or cancel: buffered messages are gone
    bool canceled = false;
    bool finished = false; ///< completion() is settled (and sinks told)
    std::vector<std::exception_ptr> errors;
    waiter_list done_waiters;               ///< completion() tasks
    std::vector<ref_ptr<block_core>> sinks; ///< propagate_completion targets
    std::uint32_t completion_sources = 0;   ///< sources linked with propagate_completion
    std::uint32_t completion_sources_done = 0;

    // --- the block's own parts, called under the lock -------------------------------------
    /// Holds no message and runs nothing: a declining block that is quiescent is finished.
    virtual bool quiescent_locked() const noexcept = 0;
    /// Fault or cancel: drops every buffered message; fails waiting senders (false) and
    /// receivers (the block's error or the end).
    virtual void drop_locked(finish_batch& batch) noexcept = 0;
    /// Called once when the block starts declining: settle waiting senders and postponed offers,
    /// flush a partial batch.
    virtual void on_declining_locked(finish_batch&) noexcept {}
    /// Called once when the block is finished: ends waiting receivers.
    virtual void on_finished_locked(finish_batch&) noexcept {}
    /// Runs one scheduled job (§6). Lock not held.
    virtual void run_job(job_kind kind) noexcept = 0;
    /// A message left the block's output (consumed or received): under the lock, then after it.
    virtual void on_output_taken_locked() noexcept {}
    virtual void after_output_taken() {}
    /// Called once after the block started declining, with the lock released (flush a batch).
    virtual void after_declining() {}
    /// Drops every outgoing link (the block's handle is destroyed).
    virtual void unlink_outputs() {}

    // --- the completion state machine (§7), lock not held ---------------------------------
    void complete() {
        finish_batch batch;
        std::vector<ref_ptr<block_core>> tell;
        {
            std::lock_guard lock(mutex);
            if (declining) {
                return;
            }
            start_declining_locked(batch);
            try_finish_locked(batch, tell);
        }
        batch.finish_all();
        after_declining();
        tell_sinks(tell);
    }
    void fault(std::exception_ptr e) { end_abnormally(std::move(e), false); }
    void cancel() { end_abnormally(std::make_exception_ptr(operation_canceled{}), true); }

    /// The completion error the sinks and waiters see (none: success). Under the lock.
    std::exception_ptr completion_error_locked() const {
        if (errors.empty()) {
            return canceled ? std::make_exception_ptr(operation_canceled{}) : std::exception_ptr{};
        }
        if (errors.size() == 1) {
            return errors.front();
        }
        return std::make_exception_ptr(aggregate_error(errors));
    }

    /// The status a failed wait publishes: canceled for a canceled block. Under the lock.
    std::uint8_t completion_status_locked() const noexcept {
        return canceled && errors.empty() ? state_base::st_canceled : state_base::st_failed;
    }

    /// After a change that may have made the block quiescent. Lock not held.
    void check_finished() {
        // order: acquire — pairs with the release in start_declining_locked. A thread that changed
        //        the block under the lock and reads false here changed it before complete() took
        //        the lock, so complete()'s own check saw the change: no finish is missed.
        if (!declining_seen_.load(acquire)) {
            return;
        }
        finish_batch batch;
        std::vector<ref_ptr<block_core>> tell;
        {
            std::lock_guard lock(mutex);
            try_finish_locked(batch, tell);
        }
        batch.finish_all();
        tell_sinks(tell);
    }

    task<void> completion() {
        {
            std::lock_guard lock(mutex);
            if (finished) {
                return settled_task();
            }
        }
        return wait_slow<void>(*this, done_waiters, {}, [this](waiter<void>& w, finish_batch&) {
            if (!finished) {
                return false;
            }
            settle(w);
            return true;
        });
    }

    // --- completion propagation along links ------------------------------------------------
    /// A source linked to this block with propagate_completion.
    void attach_completion_source() {
        std::lock_guard lock(mutex);
        ++completion_sources;
    }
    /// A source that had attached is gone without finishing (unlinked): it no longer counts.
    void detach_completion_source() {
        bool all_done = false;
        {
            std::lock_guard lock(mutex);
            --completion_sources;
            all_done = completion_sources > 0 && completion_sources_done == completion_sources;
        }
        if (all_done) {
            complete();
        }
    }
    /// A source that had attached finished: success counts towards completion; a fault faults
    /// this block, a cancellation cancels it.
    void source_finished(std::exception_ptr error, bool was_canceled) {
        if (was_canceled) {
            cancel();
            return;
        }
        if (error) {
            fault(std::move(error));
            return;
        }
        bool all_done = false;
        {
            std::lock_guard lock(mutex);
            ++completion_sources_done;
            all_done = completion_sources_done == completion_sources;
        }
        if (all_done) {
            complete();
        }
    }
    /// Adds a sink; if this block is finished already, tells it at once.
    void add_sink(ref_ptr<block_core> target) {
        target->attach_completion_source();
        std::exception_ptr error;
        bool was_canceled = false;
        {
            std::lock_guard lock(mutex);
            if (!finished) {
                sinks.push_back(std::move(target));
                return;
            }
            error = completion_error_locked();
            was_canceled = canceled;
        }
        target->source_finished(std::move(error), was_canceled);
    }
    /// Removes a sink that has not been told yet (an unlink); true if it was there.
    bool remove_sink(block_core* target) {
        std::lock_guard lock(mutex);
        for (auto it = sinks.begin(); it != sinks.end(); ++it) {
            if (it->get() == target) {
                sinks.erase(it);
                return true;
            }
        }
        return false;
    }

    // --- jobs (§6) ----------------------------------------------------------------------------
    /// Schedules run_job(kind) on the block's scheduler. A refusal faults the block.
    void post_job(job_kind kind) noexcept {
        job* j = nullptr;
        try {
            j = new job(this, kind);
            record_placement(placement_rule::named, false, sched.identity());
            sched.schedule(j);
        } catch (...) {
            if (j != nullptr) {
                count_placement(placement_counter::refused);
                delete j;
            }
            fault_noexcept(std::current_exception());
        }
    }
    /// fault() for contexts that cannot throw: a failure to record the error terminates, as
    /// losing it silently would break the contract.
    void fault_noexcept(std::exception_ptr e) noexcept { fault(std::move(e)); }

protected:
    ~block_core() override = default;

    /// The block stops accepting input (complete(), fault, cancel, a write-once's value).
    void start_declining_locked(finish_batch& batch) noexcept {
        declining = true;
        declining_seen_.store(true, release); // order: release — see check_finished()
        on_declining_locked(batch);
    }

private:
    atomic<bool> declining_seen_{false}; ///< `declining`, readable without the lock

    struct job final : work_item {
        job(block_core* c, job_kind k) noexcept : work_item(&invoke), core(c), kind(k) {}
        ref_ptr<block_core> core;
        job_kind kind;
        static void invoke(work_item* self, bool run) noexcept {
            auto* j = down_cast<job>(self);
            ref_ptr<block_core> c = std::move(j->core);
            const job_kind k = j->kind;
            delete j;
            if (run) {
                c->run_job(k);
            } else {
                c->fault_noexcept(
                    std::make_exception_ptr(shutdown_error("weft: a dataflow block's scheduler discarded its work")));
            }
        }
    };

    void end_abnormally(std::exception_ptr e, bool by_cancel) {
        finish_batch batch;
        std::vector<ref_ptr<block_core>> tell;
        {
            std::lock_guard lock(mutex);
            if (finished) {
                return; // completed already: a late fault changes nothing
            }
            if (by_cancel) {
                if (dropping) {
                    return; // faulted or canceled already
                }
                canceled = true;
            } else {
                errors.push_back(std::move(e));
            }
            if (!declining) {
                start_declining_locked(batch);
            }
            if (!dropping) {
                dropping = true;
                drop_locked(batch);
            }
            try_finish_locked(batch, tell);
        }
        batch.finish_all();
        tell_sinks(tell);
    }

    void try_finish_locked(finish_batch& batch, std::vector<ref_ptr<block_core>>& tell) noexcept {
        if (finished || !declining || !quiescent_locked()) {
            return;
        }
        finished = true;
        on_finished_locked(batch);
        while (waiter_base* w = done_waiters.pop_front()) {
            settle(*static_cast<waiter<void>*>(w));
            batch.add(w);
        }
        tell.swap(sinks);
    }

    /// Tells the sinks, after this block's own completion waiters were finished (§7).
    void tell_sinks(std::vector<ref_ptr<block_core>>& tell) {
        if (tell.empty()) {
            return;
        }
        std::exception_ptr error;
        bool was_canceled = false;
        {
            std::lock_guard lock(mutex);
            error = completion_error_locked();
            was_canceled = canceled && errors.empty();
        }
        for (auto& t : tell) {
            t->source_finished(error, was_canceled);
        }
    }

    void settle(waiter<void>& w) const {
        if (std::exception_ptr e = completion_error_locked()) {
            w.fail(e, completion_status_locked());
        } else {
            w.grant();
        }
    }
    task<void> settled_task() const {
        if (std::exception_ptr e = completion_error_locked()) {
            return failed_task<void>(e, completion_status_locked());
        }
        return ready_task<void>();
    }
};

} // namespace weft::detail::dataflow
