// weft/detail/task_state.hpp — the shared state behind task<T>: status word, continuation
// list, result storage, reference count.
// Blocking waits (get(), wait()) are in blocking_wait.hpp; where continuations run, in
// placement.hpp.
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
//            calls publish() holds a reference throughout it (a promise takes one for its
//            set_*): once the status is stored, another thread may drop every other reference
//            while the list is still being run — so a continuation waiting in the list needs
//            no reference of its own.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/placement_counters.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/state_allocator.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/task_status.hpp>
#include <weft/unobserved.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// A node in a task's continuation list. `on_complete` runs exactly once, after the task is
/// complete, on the completing thread or (if attach() returned false) on the attaching one.
struct continuation {
    using complete_fn = void (*)(continuation* self) noexcept;
    continuation* next = nullptr;
    complete_fn on_complete = nullptr;
};

inline constinit continuation completed_marker_node{};

/// Non-template part of a task's shared state. Allocated through the per-thread state caches.
class state_base : public pooled_allocation {
public:
    using destroy_fn = void (*)(state_base*) noexcept;

    // Raw status values. `completing` is internal: the winner is writing the result.
    static constexpr std::uint8_t st_pending = 0, st_running = 1, st_completing = 2, st_succeeded = 3, st_failed = 4,
                                  st_canceled = 5;

    using cancel_fn = void (*)(state_base*) noexcept;
    /// What a kind of state does that the base cannot: one static table per kind (ops_of).
    struct state_ops {
        destroy_fn destroy;
        cancel_fn cancel; ///< request_cancel(): producers that can stop early; else nullptr
    };
    template<destroy_fn Destroy, cancel_fn Cancel = nullptr>
    static constexpr state_ops ops_of{Destroy, Cancel};

    /// `readers`: handles (and the like) created with the state; `keepers`: its producers.
    state_base(const state_ops& ops, std::uint32_t readers, std::uint32_t keepers, std::uint8_t status) noexcept
        : refs_(readers * reader_unit + keepers * keeper_unit)
        , status_(status)
        , ops_(&ops) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;

    // --- references -------------------------------------------------------------------
    // Two kinds share refs_: readers (bits 0-31: handles, a then() continuation from the moment
    // it is attached, a combinator's inputs: whoever may read the value) and keepers (bits
    // 32-63: a producer, a queued item, an op in flight, a promise object: they keep the state
    // alive and never read the value). The state is destroyed when the whole word reaches 0.
    // A sole reader that moves the value out turns its reference into a keeper (try_take), so
    // no reader of a moved-from value is left; taken_ then refuses the one keeper that can mint
    // readers (promise::get_task).
    static constexpr std::uint64_t reader_unit = 1, keeper_unit = std::uint64_t{1} << 32;
    static constexpr std::uint64_t reader_mask = keeper_unit - 1;

    void add_ref() noexcept {
        refs_.fetch_add(reader_unit, relaxed); // order: relaxed — the caller already holds one
    }
    void release_ref() noexcept { drop<reader_unit>(); }
    void add_keeper() noexcept {
        refs_.fetch_add(keeper_unit, relaxed); // order: relaxed — the caller already holds one
    }
    void release_keeper() noexcept { drop<keeper_unit>(); }

    /// A new reader from a keeper that may mint them (promise::get_task): refused, with
    /// shared_value_error, once the value was taken (it would read a moved-from value).
    void add_reader_or_throw() {
        // order: acq_rel — reads-from try_take's CAS when that came first (no reader left),
        //        and then sees taken_, stored before it
        if ((refs_.fetch_add(reader_unit, acq_rel) & reader_mask) == 0 && taken_.load(relaxed)) {
            release_ref();
            throw shared_value_error("weft: the task's value was moved out by its only reader");
        }
    }

    /// The caller, a reader, takes the value if it is the only reader: no handle, no
    /// continuation, no combinator can read it any more (keepers never do). On success the
    /// caller's reader reference has become a keeper reference: it must release it with
    /// release_keeper(), and may move the value out.
    bool try_take() noexcept {
        // Stored first, so that a get_task() that sees no reader left also sees it; withdrawn
        // if the take fails (then a reader exists, and get_task() does not look at it).
        taken_.store(true, relaxed);           // order: relaxed — published by the CAS below
        std::uint64_t v = refs_.load(relaxed); // order: relaxed — the CAS decides
        while ((v & reader_mask) == 1) {
            // order: acq_rel — acquire: every other reader's accesses (they released their
            //        reference) come before our move; release: publishes taken_
            if (refs_.compare_exchange_weak(v, v - reader_unit + keeper_unit, acq_rel, relaxed)) {
                return true;
            }
        }
        taken_.store(false, relaxed); // order: relaxed — no reader-less state saw it: see above
        return false;
    }
    /// Readers only (exact when it returns 1 and the caller is a reader).
    std::uint32_t readers() const noexcept {
        // order: acquire — pairs with drop()'s release
        return static_cast<std::uint32_t>(refs_.load(acquire) & reader_mask);
    }

    // --- status -------------------------------------------------------------------------
    std::uint8_t raw_status() const noexcept {
        return status_.load(acquire); // order: acquire — pairs with publish()'s release store
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
        std::uint8_t s = status_.load(relaxed); // order: relaxed — the CAS decides
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
        status_.store(final_status, release); // order: release — publishes the result
        // order: acq_rel — acquire: the nodes' fields written by attachers (their release CAS);
        //        release: attachers that later fail their CAS see the result through the marker
        continuation* list = head_.exchange(&completed_marker_node, acq_rel);
        if (list == nullptr) {
            return;
        }
        dispatch_.list = list;
        if (!run_inline(&dispatch_)) {
            add_keeper(); // deferred: keep the state alive until the outermost run reaches it
            dispatch_.holds_ref = true;
            count_placement(placement_counter::deferred);
        }
    }
    /// Adds `c` to run at completion. Returns false if the task is already complete, in which
    /// case `c` was not linked and the caller must run it.
    bool attach(continuation* c) noexcept {
        continuation* head = head_.load(acquire); // order: acquire — see publish()
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
        observed_.store(true, relaxed); // order: relaxed — read only by the last owner
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
    /// True when the source asks every continuation to hop, as run_asynchronously does
    /// (.NET RunContinuationsAsynchronously): a coordination primitive's waiters, so that
    /// release() returns before the woken waiter runs (placement §1b).
    bool hops_continuations() const noexcept { return hop_continuations_; }

    /// Asks this task's producer to end it early, as its token would: an I/O operation is
    /// canceled, queued work is dropped (the task completes canceled, soon or at once). How
    /// with_timeout, when_any's cancel_losers and task_group cancel what they were given.
    /// False when the producer cannot be asked (a promise, a coroutine, running work: pass
    /// those a token); a no-op on a complete task. Any thread; the caller holds a reference.
    bool request_cancel() noexcept {
        if (ops_->cancel == nullptr) {
            return false;
        }
        if (!is_ready()) {
            ops_->cancel(this);
        }
        return true;
    }

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

protected:
    ~state_base() = default;
    void set_source_policy(any_scheduler s) noexcept { source_policy_ = s; }
    void set_hop_continuations() noexcept { hop_continuations_ = true; }

    std::exception_ptr error_; // written by the completion winner before publish()

private:
    /// The decrement inline (every task drops two references), the destruction out of line.
    template<std::uint64_t Unit>
    [[gnu::always_inline]] void drop() noexcept {
        // order: acq_rel — release: our accesses happen before destruction; acquire: the
        //        destroying thread sees every other owner's accesses
        if (refs_.fetch_sub(Unit, acq_rel) == Unit) {
            destroy_last();
        }
    }
    [[gnu::noinline]] void destroy_last() noexcept {
        if (status_.load(relaxed) == st_failed && !observed_.load(relaxed)) {
            report_unobserved(error_); // order: relaxed ×2 — we are the last owner
        }
        destroy_cascade(this);
    }

    /// Destroying a state may release the last reference to another (a coroutine frame holds
    /// the task it awaited; a continuation its antecedent), and so on down a million-link
    /// chain. Nested destructions on one thread are queued and run by the outermost one.
    struct destroy_queue {
        bool active = false;
        work_item_fifo pending; // linked through the states' idle dispatch_ items
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
        s->ops_->destroy(s);
        while (work_item* item = q.pending.pop()) {
            state_base* next = detail::down_cast<dispatch_item>(item)->owner;
            next->ops_->destroy(next);
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
                reversed->on_complete(reversed); // may free the node
                reversed = next;
            }
            if (release_after) {
                owner->release_keeper();
            }
        }
    };

    atomic<std::uint64_t> refs_; // readers and keepers: see add_ref()
    atomic<std::uint8_t> status_;
    atomic<bool> observed_{false};
    atomic<bool> taken_{false}; // try_take; read by add_reader_or_throw
    atomic<continuation*> head_{nullptr};
    any_scheduler source_policy_;    // immutable after construction
    bool hop_continuations_ = false; // immutable after construction
    const state_ops* ops_;           // immutable after construction
    dispatch_item dispatch_{this};   // touched only by the thread that publishes
};

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

    /// The value for a reader that takes it by value: moved out when the caller is its only
    /// reader (try_take: `took` is then true, and the caller's reference is a keeper's), else
    /// copied; a move-only value that other readers can still see is shared_value_error.
    /// Precondition: succeeded, and the caller is a reader.
    T take_value(bool& took) {
        took = this->try_take();
        if (took) {
            return std::move(value_ref());
        }
        if constexpr (std::is_copy_constructible_v<T>) {
            return value_ref();
        } else {
            throw shared_value_error("weft: a move-only value that other handles or continuations can still read "
                                     "cannot be moved out (read it by const reference, or drop the other handles)");
        }
    }

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

    /// Moves (as `other`'s only reader: `took`, see take_value) or copies other's outcome into
    /// this state. Precondition: `other` is complete; the caller is its reader and holds the
    /// write right here.
    void complete_from(task_state& other, bool& took) noexcept {
        took = false;
        const std::uint8_t s = other.raw_status();
        if (s == st_succeeded) {
            try {
                complete_with_value(other.take_value(took));
            } catch (...) { // move-only and shared
                error_ = std::current_exception();
                publish(st_failed);
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
    void complete_from(task_state& other, bool& took) noexcept {
        took = false;
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
    void complete_from(task_state& other, bool& took) noexcept {
        took = false;
        const std::uint8_t s = other.raw_status();
        if (s == st_succeeded) {
            complete_with_value();
            return;
        }
        error_ = other.take_error();
        publish(s);
    }
};

} // namespace weft::detail
