// weft/detail/task_state.hpp — the shared state behind task<T>: status word, continuation
// list, result storage, reference count, and blocking waits.
// Design note: docs/decisions/0001-task-model.md. The protocol, in short:
//   status_  pending/running -> completing (one winner, CAS) -> succeeded|failed|canceled.
//            The winner writes the result, then stores the final status (release).
//   head_    a Treiber stack of continuation nodes. publish() swaps in the completed marker
//            (acq_rel) and runs every node it took, in attach order. attach() pushes with a CAS
//            and returns false once it sees the marker; the attacher then runs its node itself.
//            So every node runs exactly once, whoever wins the race (tests: stress/).
//   refs_    every handle, queued work item and running coroutine owns one reference; so does
//            a continuation once it has been told to run (then_state takes it in
//            on_antecedent). Invariant: a pending state is kept alive by its producer (promise,
//            queued item, running coroutine, combinator) until it has published, and whoever
//            calls publish() holds a reference throughout it — so a continuation waiting in the
//            list needs no reference of its own.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/down_cast.hpp>
#include <weft/detail/atomic.hpp>
#include <weft/detail/futex.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/state_allocator.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/errors.hpp>
#include <weft/placement.hpp>
#include <weft/scheduler.hpp>
#include <weft/unobserved.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace weft {

/// The life of a task, as state queries report it (.NET TaskStatus, simplified).
enum class task_status : std::uint8_t {
    pending,    ///< created or queued; its work has not started (or: waiting on a promise)
    running,    ///< its work is executing, or its result is being published
    succeeded,  ///< RanToCompletion
    failed,     ///< Faulted: get() rethrows the stored exception
    canceled,   ///< Canceled: get() throws weft::operation_canceled
};

namespace detail {

/// A node in a task's continuation list. `on_complete` runs exactly once, after the task is
/// complete, on the completing thread or (if attach() returned false) on the attaching one.
struct continuation {
    using complete_fn = void (*)(continuation* self) noexcept;
    continuation* next = nullptr;
    complete_fn on_complete = nullptr;
};

inline constinit continuation completed_marker_node{};

/// What a blocking wait on a scheduler's own thread does instead of sleeping: run queued work.
/// Installed per thread by schedulers whose threads may block in get()/wait().
class wait_helper {
public:
    /// Runs one queued item if there is one; false if none was found.
    virtual bool help_one() noexcept = 0;
    /// Blocks until `done` is non-zero, new work may be available, or `deadline` passes.
    virtual void park_until(const atomic<std::uint32_t>& done,
                            std::chrono::steady_clock::time_point deadline) noexcept = 0;
    /// Wakes this helper's threads parked in park_until() so they re-check their `done` flag.
    virtual void wake_parked() noexcept = 0;

protected:
    ~wait_helper() = default;
};

WEFT_TLS_ACCESSOR inline wait_helper*& current_wait_helper() noexcept {
    static thread_local wait_helper* helper = nullptr;
    WEFT_TLS_OPAQUE();
    return helper;
}

/// A blocked waiter, linked into the task's continuation list.
/// flag_: 0 waiting (awake), 1 done, 2 waiting and asleep in futex.
/// helper_: the waiting thread's wait helper (a pool worker, a run loop), which notify() wakes.
/// The helper may be destroyed as soon as its waiter returns, so whoever takes helper_ (an
/// exchange) owns the right to call it: notify() takes it and, once done with it, sets
/// notifier_done_; a waiter that finds helper_ already taken waits for notifier_done_ before it
/// returns. A timed waiter that gives up takes helper_ itself, and notify() then leaves it alone.
struct waiter_node : continuation {
    atomic<std::uint32_t> flag_{0};
    atomic<wait_helper*> helper_{nullptr};
    atomic<std::uint32_t> notifier_done_{0};
    bool on_heap_ = false;           // timed waits: the waiter may abandon the node
    atomic<std::uint32_t> refs_{2};  // on_heap_ only: the waiter and the continuation list

    static constexpr std::uint32_t awake = 0, done = 1, asleep = 2;

    waiter_node() noexcept { on_complete = &notify; }

    void set_helper(wait_helper* h) noexcept {
        helper_.store(h, relaxed);  // order: relaxed — published by attach()'s release CAS
    }

    /// The waiter, before it returns: if notify() took the helper, wait until it is done with
    /// it (a short, bounded section: a futex wake and the helper's wake-up call).
    void release_helper() noexcept {
        // order: acq_rel — pairs with notify()'s exchange: exactly one of us gets the helper
        if (helper_.exchange(nullptr, acq_rel) != nullptr) {
            return;  // notify() never took it and never will
        }
        // order: acquire — pairs with notify()'s release store after its last use of the helper;
        //        spin_until yields after a moment, in case the notifier shares our CPU
        while (!spin_until([this] { return notifier_done_.load(acquire) != 0; })) {
        }
    }

    static void notify(continuation* c) noexcept {
        auto* self = detail::down_cast<waiter_node>(c);
        const bool on_heap = self->on_heap_;
        // order: acq_rel — see release_helper()
        wait_helper* helper = self->helper_.exchange(nullptr, acq_rel);
        // order: acq_rel — release: the waiter that sees `done` sees the task's result (it was
        //        published before this node ran); acquire: we read `asleep` written by the waiter.
        //        Without a helper, a stack node may be gone after this; below we use only its
        //        address (futex). With one, the waiter waits for notifier_done_.
        const std::uint32_t old = self->flag_.exchange(done, acq_rel);
        if (old == asleep) {
            futex_wake_all(self->flag_);
        }
        if (helper != nullptr) {
            helper->wake_parked();
            // order: release — our last use of the helper (and of a stack node) is before this
            self->notifier_done_.store(1, release);
        }
        // order: acq_rel — the last owner deletes and sees the other owner's accesses
        if (on_heap && self->refs_.fetch_sub(1, acq_rel) == 1) {
            delete self;
        }
    }
};

/// Non-template part of a task's shared state. Allocated through the per-thread state caches.
class state_base : public pooled_allocation {
public:
    using destroy_fn = void (*)(state_base*) noexcept;

    // Raw status values. `completing` is internal: the winner is writing the result.
    static constexpr std::uint8_t st_pending = 0, st_running = 1, st_completing = 2,
                                  st_succeeded = 3, st_failed = 4, st_canceled = 5;

    state_base(destroy_fn destroy, std::uint32_t refs, std::uint8_t status) noexcept
        : refs_(refs), status_(status), destroy_(destroy) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;

    // --- references -------------------------------------------------------------------
    void add_ref() noexcept {
        refs_.fetch_add(1, relaxed);  // order: relaxed — the caller already holds a reference
    }
    void release_ref() noexcept {
        // order: acq_rel — release: our accesses happen before destruction; acquire: the
        //        destroying thread sees every other owner's accesses
        if (refs_.fetch_sub(1, acq_rel) == 1) {
            if (status_.load(relaxed) == st_failed && !observed_.load(relaxed)) {
                report_unobserved(error_);  // order: relaxed ×2 — we are the last owner
            }
            destroy_cascade(this);
        }
    }
    /// Exact when it returns 1 and the caller holds a reference: nobody else can copy one.
    std::uint32_t use_count() const noexcept {
        return refs_.load(acquire);  // order: acquire — pairs with release()'s release
    }

    // --- status -------------------------------------------------------------------------
    std::uint8_t raw_status() const noexcept {
        return status_.load(acquire);  // order: acquire — pairs with publish()'s release store
    }
    bool is_ready() const noexcept { return raw_status() >= st_succeeded; }
    task_status status() const noexcept {
        switch (raw_status()) {
        case st_pending:
            return task_status::pending;
        case st_running:
        case st_completing:
            return task_status::running;
        case st_succeeded:
            return task_status::succeeded;
        case st_failed:
            return task_status::failed;
        default:
            return task_status::canceled;
        }
    }

    /// pending -> running. False if the task was canceled (or completed) first.
    bool try_start() noexcept {
        std::uint8_t expected = st_pending;
        // order: acq_rel — the winner of start-vs-cancel sees what the loser wrote before
        return status_.compare_exchange_strong(expected, st_running, acq_rel, acquire);
    }

    /// pending -> completing only: how cancellation of queued work takes the write right
    /// without racing work that already started.
    bool try_claim_pending() noexcept {
        std::uint8_t expected = st_pending;
        // order: acq_rel — see try_start(); the two CAS on pending decide start vs cancel
        return status_.compare_exchange_strong(expected, st_completing, acq_rel, acquire);
    }

    /// pending/running -> completing: the single right to write the result.
    bool try_claim() noexcept {
        std::uint8_t s = status_.load(relaxed);  // order: relaxed — the CAS decides
        while (s < st_completing) {
            // order: acquire on success — we see the state the previous step left
            if (status_.compare_exchange_weak(s, st_completing, acquire, relaxed)) {
                return true;
            }
        }
        return false;
    }

    /// Stores the final status and runs every attached continuation, in attach order.
    /// Precondition: the caller won try_claim() (or owns the state exclusively) and holds a
    /// reference for the duration of the call.
    /// Cascades (a continuation completing a task whose continuation completes another...) go
    /// through the per-thread recursion guard: past max_inline_depth nested publishes, the
    /// dispatch is queued on this thread and run by the outermost one, so a million-link
    /// chain uses a bounded stack whatever kind of node each link is.
    void publish(std::uint8_t final_status) noexcept {
        status_.store(final_status, release);  // order: release — publishes the result
        // order: acq_rel — acquire: the nodes' fields written by attachers (their release CAS);
        //        release: attachers that later fail their CAS see the result through the marker
        continuation* list = head_.exchange(&completed_marker_node, acq_rel);
        if (list == nullptr) {
            return;
        }
        dispatch_.list = list;
        if (!run_inline(&dispatch_)) {
            add_ref();  // deferred: keep the state alive until the outermost run reaches it
            dispatch_.holds_ref = true;
            count_placement(placement_counter::deferred);
        }
    }
    /// Adds `c` to run at completion. Returns false if the task is already complete, in which
    /// case `c` was not linked and the caller must run it.
    bool attach(continuation* c) noexcept {
        continuation* head = head_.load(acquire);  // order: acquire — see publish()
        do {
            if (head == &completed_marker_node) {
                return false;
            }
            c->next = head;
            // order: release on success — publishes *c to publish()'s acquire exchange;
            //        acquire on failure — may read the marker, see publish()
        } while (!head_.compare_exchange_weak(head, c, release, acquire));
        return true;
    }

    // --- errors -------------------------------------------------------------------------
    void mark_observed() noexcept {
        observed_.store(true, relaxed);  // order: relaxed — read only by the last owner
    }
    /// The stored exception (failed or canceled), marking it observed.
    std::exception_ptr take_error() noexcept {
        mark_observed();
        return error_;
    }
    /// Throws the stored error if the task failed or was canceled (marks it observed).
    void rethrow_if_error() {
        const std::uint8_t s = raw_status();
        if (s == st_failed || s == st_canceled) {
            mark_observed();
            std::rethrow_exception(error_);
        }
    }

    /// The completing source's placement policy (rule 2); empty for most states.
    const any_scheduler& source_policy() const noexcept { return source_policy_; }

    // --- completion without a value -----------------------------------------------------
    bool try_set_exception(std::exception_ptr e) noexcept {
        if (!try_claim()) {
            return false;
        }
        error_ = e ? std::move(e) : std::make_exception_ptr(std::logic_error("weft: null exception_ptr"));
        publish(st_failed);
        return true;
    }
    bool try_set_canceled(std::exception_ptr e = {}) noexcept {
        if (!try_claim()) {
            return false;
        }
        error_ = e ? std::move(e) : std::make_exception_ptr(operation_canceled{});
        publish(st_canceled);
        return true;
    }
    /// Records the exception in flight: operation_canceled cancels, anything else fails.
    /// Precondition: the caller holds the write right (claimed or exclusive).
    std::uint8_t store_current_exception() noexcept {
        error_ = std::current_exception();
        try {
            throw;
        } catch (const operation_canceled&) {
            return st_canceled;
        } catch (...) {
            return st_failed;
        }
    }

    void wait() noexcept;
    bool wait_until(std::chrono::steady_clock::time_point deadline) noexcept;

protected:
    ~state_base() = default;
    void set_source_policy(any_scheduler s) noexcept { source_policy_ = s; }

    std::exception_ptr error_;  // written by the completion winner before publish()

private:
    /// Destroying a state may release the last reference to another (a coroutine frame holds
    /// the task it awaited; a continuation its antecedent), and so on down a million-link
    /// chain. Nested destructions on one thread are queued and run by the outermost one.
    struct destroy_queue {
        bool active = false;
        work_item_fifo pending;  // linked through the states' idle dispatch_ items
    };
    WEFT_TLS_ACCESSOR static destroy_queue& this_thread_destroy_queue() noexcept {
        static thread_local destroy_queue q;
        WEFT_TLS_OPAQUE();
        return q;
    }
    static void destroy_cascade(state_base* s) noexcept {
        destroy_queue& q = this_thread_destroy_queue();
        if (q.active) {
            q.pending.push(&s->dispatch_);
            return;
        }
        q.active = true;
        s->destroy_(s);
        while (work_item* item = q.pending.pop()) {
            state_base* next = detail::down_cast<dispatch_item>(item)->owner;
            next->destroy_(next);
        }
        q.active = false;
    }

    /// Runs a published state's continuation list (possibly deferred by the recursion guard).
    struct dispatch_item final : work_item {
        explicit dispatch_item(state_base* o) noexcept : work_item(&invoke), owner(o) {}
        state_base* owner;
        continuation* list = nullptr;
        bool holds_ref = false;
        static void invoke(work_item* w, bool) noexcept {
            auto* self = detail::down_cast<dispatch_item>(w);
            state_base* owner = self->owner;
            continuation* list = std::exchange(self->list, nullptr);
            const bool release_after = std::exchange(self->holds_ref, false);
            continuation* reversed = nullptr;
            while (list != nullptr) {
                continuation* next = list->next;
                list->next = reversed;
                reversed = list;
                list = next;
            }
            while (reversed != nullptr) {
                continuation* next = reversed->next;
                reversed->on_complete(reversed);  // may free the node
                reversed = next;
            }
            if (release_after) {
                owner->release_ref();
            }
        }
    };

    atomic<std::uint32_t> refs_;
    atomic<std::uint8_t> status_;
    atomic<bool> observed_{false};
    atomic<continuation*> head_{nullptr};
    any_scheduler source_policy_;  // immutable after construction
    destroy_fn destroy_;
    dispatch_item dispatch_{this};  // touched only by the thread that publishes
};

inline void state_base::wait() noexcept {
    if (is_ready()) {
        return;
    }
    run_deferred();  // never block on work deferred on this very thread
    if (wait_helper* helper = current_wait_helper()) {
        // A worker: the awaited task is most often the newest item of its own queue, so run
        // queued work before anything else (no spinning while the work sits here).
        while (!is_ready()) {
            if (!helper->help_one()) {
                break;
            }
        }
        if (is_ready()) {
            return;
        }
    } else if (spin_until([this] { return is_ready(); })) {
        return;
    }
    waiter_node node;
    wait_helper* const helper = current_wait_helper();
    node.set_helper(helper);
    if (!attach(&node)) {
        return;
    }
    if (helper != nullptr) {
        // A worker of a pool: run its queued work while waiting (no deadlock with 1 worker).
        while (node.flag_.load(acquire) != waiter_node::done) {  // order: acquire — see notify
            if (!helper->help_one()) {
                helper->park_until(node.flag_, std::chrono::steady_clock::time_point::max());
            }
        }
        node.release_helper();
        return;
    }
    std::uint32_t expected = waiter_node::awake;
    // order: acquire on failure — observes `done` and, through notify's release, the result
    if (node.flag_.compare_exchange_strong(expected, waiter_node::asleep, acq_rel, acquire)) {
        while (node.flag_.load(acquire) == waiter_node::asleep) {  // order: acquire — see notify
            futex_wait(node.flag_, waiter_node::asleep);
        }
    }
}

inline bool state_base::wait_until(std::chrono::steady_clock::time_point deadline) noexcept {
    using clock = std::chrono::steady_clock;
    if (is_ready()) {
        return true;
    }
    run_deferred();
    if (spin_until([this] { return is_ready(); },
                   std::min<std::chrono::nanoseconds>(default_spin_for, deadline - clock::now()))) {
        return true;
    }
    // The node may outlive this call (a timeout abandons it), so it lives on the heap with two
    // owners: this waiter and the continuation list.
    auto* node = new (std::nothrow) waiter_node;
    if (node == nullptr) {
        while (!is_ready() && clock::now() < deadline) {
            cpu_relax();
        }
        return is_ready();
    }
    wait_helper* const helper = current_wait_helper();
    node->set_helper(helper);
    node->on_heap_ = true;
    if (!attach(node)) {
        delete node;
        return true;
    }
    for (;;) {
        std::uint32_t f = node->flag_.load(acquire);  // order: acquire — see notify
        if (f == waiter_node::done) {
            break;
        }
        const auto now = clock::now();
        if (now >= deadline) {
            break;
        }
        if (helper != nullptr) {
            if (!helper->help_one()) {
                helper->park_until(node->flag_, deadline);
            }
            continue;
        }
        if (f == waiter_node::awake &&
            !node->flag_.compare_exchange_strong(f, waiter_node::asleep, acq_rel, acquire)) {
            continue;  // order: acq_rel/acquire — as in wait()
        }
        futex_wait_for(node->flag_, waiter_node::asleep, deadline - now);
    }
    const bool ready = is_ready();
    if (helper != nullptr) {
        node->release_helper();  // given up or done: the helper is not touched after we return
    }
    // order: acq_rel — the last owner deletes the node
    if (node->refs_.fetch_sub(1, acq_rel) == 1) {
        delete node;
    }
    return ready;
}

/// Uninitialised storage for a T, constructed and destroyed by hand.
template<typename T>
union manual_storage {
    manual_storage() noexcept {}
    ~manual_storage() {}
    manual_storage(const manual_storage&) = delete;
    manual_storage& operator=(const manual_storage&) = delete;
    T value;
};

/// The result part of a task's state.
template<typename T>
class task_state : public state_base {
public:
    using state_base::state_base;

    ~task_state() {
        if (raw_status() == st_succeeded) {
            storage_.value.~T();
        }
    }

    T& value_ref() noexcept { return storage_.value; }

    /// Constructs the value without publishing; returns the status to publish (succeeded, or
    /// failed/canceled when T's constructor threw). Precondition: the caller holds the write right.
    template<typename... A>
    std::uint8_t emplace(A&&... args) noexcept {
        try {
            ::new (static_cast<void*>(std::addressof(storage_.value))) T(std::forward<A>(args)...);
        } catch (...) {
            return store_current_exception();
        }
        return st_succeeded;
    }
    /// Writes the value and publishes. Precondition: the caller holds the write right.
    template<typename... A>
    void complete_with_value(A&&... args) noexcept {
        publish(emplace(std::forward<A>(args)...));
    }

    template<typename... A>
    bool try_set_value(A&&... args) noexcept {
        if (!try_claim()) {
            return false;
        }
        complete_with_value(std::forward<A>(args)...);
        return true;
    }

    /// Copies (or, as the only owner of `other`, moves) other's outcome into this state.
    /// Precondition: `other` is complete; the caller holds the write right here.
    void complete_from(task_state& other) noexcept {
        const std::uint8_t s = other.raw_status();
        if (s == st_succeeded) {
            if constexpr (std::is_copy_constructible_v<T>) {
                if (other.use_count() == 1) {
                    complete_with_value(std::move(other.value_ref()));
                } else {
                    complete_with_value(other.value_ref());
                }
            } else {
                complete_with_value(std::move(other.value_ref()));
            }
            return;
        }
        error_ = other.take_error();
        publish(s);
    }

private:
    manual_storage<T> storage_;
};

template<typename T>
class task_state<T&> : public state_base {
public:
    using state_base::state_base;

    T& value_ref() noexcept { return *ptr_; }

    std::uint8_t emplace(T& ref) noexcept {
        ptr_ = std::addressof(ref);
        return st_succeeded;
    }
    void complete_with_value(T& ref) noexcept { publish(emplace(ref)); }
    bool try_set_value(T& ref) noexcept {
        if (!try_claim()) {
            return false;
        }
        complete_with_value(ref);
        return true;
    }
    void complete_from(task_state& other) noexcept {
        const std::uint8_t s = other.raw_status();
        if (s == st_succeeded) {
            complete_with_value(other.value_ref());
            return;
        }
        error_ = other.take_error();
        publish(s);
    }

private:
    T* ptr_ = nullptr;
};

template<>
class task_state<void> : public state_base {
public:
    using state_base::state_base;

    std::uint8_t emplace() noexcept { return st_succeeded; }
    void complete_with_value() noexcept { publish(st_succeeded); }
    bool try_set_value() noexcept {
        if (!try_claim()) {
            return false;
        }
        complete_with_value();
        return true;
    }
    void complete_from(task_state& other) noexcept {
        const std::uint8_t s = other.raw_status();
        if (s == st_succeeded) {
            complete_with_value();
            return;
        }
        error_ = other.take_error();
        publish(s);
    }
};

/// Decides where a continuation's work item runs (the placement rule, first match wins) and
/// runs or schedules it. Never throws: a refused hop discards the item (it completes canceled).
inline void dispatch_continuation(work_item* w,
                                  const any_scheduler& named,
                                  const any_scheduler& source,
                                  const any_scheduler& captured,
                                  bool force_hop) noexcept {
    placement_rule rule = placement_rule::completing;
    const any_scheduler* target = nullptr;
    if (named) {
        rule = placement_rule::named;
        target = &named;
    } else if (source) {
        rule = placement_rule::source;
        target = &source;
    } else if (captured) {
        rule = placement_rule::captured;
        target = &captured;
    }
    if (target == nullptr || target->is_inline() || (!force_hop && target->runs_on_this_thread())) {
        record_placement(rule, true, target != nullptr ? target->identity() : nullptr);
        // A direct call, not run_inline(): every chain passes through publish(), which runs
        // under the recursion guard, so one guard per link bounds the stack already.
        w->run();
        return;
    }
    // Recorded before the hop, as resume_on does: once schedule() returns, the item may already
    // have run (and freed `target`, which may live inside it) on another thread, and a trace
    // must show the decision before the work it placed. A refused hop also counts as refused.
    record_placement(rule, false, target->identity());
    try {
        target->schedule(w);
    } catch (...) {
        count_placement(placement_counter::refused);
        w->discard();
    }
}

}  // namespace detail
}  // namespace weft
