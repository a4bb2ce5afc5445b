// weft/detail/sync/waiter.hpp — what every coordination primitive and channel shares: a waiter
// (a pending task a primitive completes), the FIFO it queues in, and the core that owns the lock.
//
// Design note: the waiter protocol
// ===========
// §1 A wait that cannot be satisfied at once allocates a waiter: a task_state<T> with list links.
//    The caller gets its task (one reader); the queue owns a keeper until the waiter is finished.
//    Everything about a waiter's place in a queue (queued, its links, its list) is guarded by
//    its core's mutex, and the core outlives every waiter (each holds a reference to it), so a
//    token callback, a deadline or request_cancel() that arrives after the primitive is gone
//    still finds a lock to take, and a waiter that is no longer queued.
// §2 One winner. A waiter leaves its queue exactly once, under the lock: granted (the primitive
//    writes its value — a permit, an item, a guard — into the waiter's storage there), or
//    withdrawn (token, deadline, request_cancel, the primitive's destruction). Whoever unlinks
//    it finishes it; everyone else finds queued == false and does nothing. So a waiter canceled
//    at the moment of a release either got the permit (its task succeeds) or did not (the
//    permit went to the next waiter): nothing is lost or given twice.
// §3 Finished outside the lock. Unlinked waiters are collected in a finish_batch and finished
//    after the lock is released: the registrations are dropped (waiting, at most, for a token
//    callback that is about to find the waiter gone), the status is published, the keeper is
//    released. No continuation ever runs under a primitive's lock.
// §4 Resumption. A waiter's task asks its continuations to hop (hops_continuations: placement
//    §1b, .NET's RunContinuationsAsynchronously): a coroutine on a strand comes back to the
//    strand, one on the pool to the pool, and release() returns before the woken waiter runs. A
//    chain of a million hand-offs (unlock wakes the next, which unlocks...) therefore never
//    nests: each is its own scheduled item. A waiter with nowhere to hop (a then() attached on a
//    plain thread) runs on the releasing thread, after the lock is released, under the
//    recursion guard.
// §5 Registration before visibility. The token (and deadline) callbacks are registered before
//    the waiter is linked, so no granting thread can touch a registration that is still being
//    written; a token that fires in between marks the waiter `withdrawn` and the link step
//    finishes it instead of queueing it.
// Tests: tests/sync/*_test.cpp, tests/stress/sync_stress.cpp.
// Decision record: docs/decisions/0011-coordination.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>

namespace weft::detail {

class sync_core;
class waiter_list;
class select_group;

/// Why a waiter leaves its queue without being granted.
enum class withdraw_reason : std::uint8_t {
    canceled,
    timed_out,
    disposed
};

/// The non-template part of a waiter. Fields marked "guarded" belong to core->mutex.
class waiter_base {
public:
    using finish_fn = void (*)(waiter_base*) noexcept;
    using withdraw_fn = void (*)(waiter_base*, withdraw_reason) noexcept;

    waiter_base(sync_core* core, finish_fn on_finish, withdraw_fn on_withdraw) noexcept;
    waiter_base(const waiter_base&) = delete;
    waiter_base& operator=(const waiter_base&) = delete;

    // --- guarded by core->mutex ---------------------------------------------------------
    waiter_base* prev = nullptr;
    waiter_base* next = nullptr;
    waiter_list* list = nullptr; // the queue it is in while queued
    bool queued = false;
    bool taken = false;     // it left its queue (or never entered it): §2's one winner
    bool withdrawn = false; // a token fired before it was linked (§5)
    withdraw_reason why = withdraw_reason::canceled;
    std::uint8_t outcome = 0;      // the status finish() publishes
    std::size_t amount = 1;        // what it asks for (permits)
    std::uint8_t kind = 0;         // the primitive's own tag (reader or writer; a timed wait)
    select_group* group = nullptr; // a select arm: claim it before taking an item

    // --- owned by whoever unlinked it (§2), then by finish() -----------------------------
    waiter_base* batch_next = nullptr;

    // --- written before it is linked, read by finish() -----------------------------------
    cancellation_registration on_token;
    std::optional<cancellation_source> deadline;
    cancellation_registration on_deadline;

    sync_core* core() const noexcept { return core_; }
    void finish() noexcept { finish_(this); }
    /// Writes the outcome of a withdrawal (an error, or a timed-out value). Under the lock.
    void prepare_withdraw(withdraw_reason r) noexcept { prepare_withdraw_(this, r); }

protected:
    ~waiter_base();

private:
    sync_core* core_;
    finish_fn finish_;
    withdraw_fn prepare_withdraw_;
};

/// An intrusive FIFO of waiters. Guarded by the owning core's mutex.
class waiter_list {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    waiter_base* front() const noexcept { return head_; }
    void push_back(waiter_base* w) noexcept {
        w->prev = tail_;
        w->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = w;
        tail_ = w;
        w->list = this;
        w->queued = true;
        ++size_;
    }
    void remove(waiter_base* w) noexcept {
        (w->prev != nullptr ? w->prev->next : head_) = w->next;
        (w->next != nullptr ? w->next->prev : tail_) = w->prev;
        w->prev = w->next = nullptr;
        w->list = nullptr;
        w->queued = false;
        w->taken = true;
        --size_;
    }
    waiter_base* pop_front() noexcept {
        waiter_base* w = head_;
        if (w != nullptr) {
            remove(w);
        }
        return w;
    }

private:
    waiter_base* head_ = nullptr;
    waiter_base* tail_ = nullptr;
    std::size_t size_ = 0;
};

/// Waiters unlinked under a lock, finished after it is released (§3). In unlink order.
class finish_batch {
public:
    finish_batch() = default;
    finish_batch(const finish_batch&) = delete;
    finish_batch& operator=(const finish_batch&) = delete;
    ~finish_batch() { finish_all(); }

    void add(waiter_base* w) noexcept {
        w->batch_next = nullptr;
        (tail_ != nullptr ? tail_->batch_next : head_) = w;
        tail_ = w;
    }
    /// Visits the waiters in order (to grant them outside the lock: they are ours, §2).
    template<typename F>
    void for_each(F f) noexcept {
        for (waiter_base* w = head_; w != nullptr; w = w->batch_next) {
            f(w);
        }
    }
    /// Call with the lock released.
    void finish_all() noexcept {
        while (waiter_base* w = head_) {
            head_ = w->batch_next;
            if (head_ == nullptr) {
                tail_ = nullptr;
            }
            w->finish();
        }
    }

private:
    waiter_base* head_ = nullptr;
    waiter_base* tail_ = nullptr;
};

/// The lock and queues of one primitive. Reference-counted: the primitive owns one reference and
/// each waiter one, so a late callback always finds the core (§1).
class sync_core : public ref_counted<sync_core> {
public:
    sync_core() = default;
    virtual ~sync_core() = default;
    sync_core(const sync_core&) = delete;
    sync_core& operator=(const sync_core&) = delete;

    /// Takes `w` out of its queue, if it is still there, and finishes it with `why`. Any thread,
    /// the lock not held. A token callback, a deadline, request_cancel().
    void withdraw(waiter_base* w, withdraw_reason why) noexcept {
        finish_batch batch;
        std::lock_guard lock(mutex);
        if (w->taken) {
            return; // granted or withdrawn already (§2)
        }
        if (!w->queued) {
            w->withdrawn = true; // not linked yet (§5): the link step finishes it
            w->why = why;
            return;
        }
        w->list->remove(w);
        w->prepare_withdraw(why);
        batch.add(w);
        after_withdraw_locked(batch); // a withdrawn head may unblock the waiters behind it
    }                                 // unlock, then batch finishes

    std::mutex mutex;

protected:
    /// Called under the lock after a waiter left without being granted.
    virtual void after_withdraw_locked(finish_batch&) noexcept {}
};

inline waiter_base::waiter_base(sync_core* core, finish_fn on_finish, withdraw_fn on_withdraw) noexcept
    : core_(core)
    , finish_(on_finish)
    , prepare_withdraw_(on_withdraw) {
    core_->add_ref();
}

inline waiter_base::~waiter_base() {
    core_->release_ref();
}

/// A pending task that a primitive completes with a T. Starts with one reader (the task the
/// caller gets) and one keeper (the queue's, released by finish()). `Payload`: what the waiter
/// brings (a channel writer's item).
template<typename T, typename Payload = std::monostate>
class waiter final
    : public task_state<T>
    , public waiter_base {
public:
    explicit waiter(sync_core* core) noexcept
        : task_state<T>(state_base::ops_of<&destroy, &cancel_hook>, 1, 1, state_base::st_pending)
        , waiter_base(core, &finish_waiter, &prepare) {
        this->set_hop_continuations(); // §4
    }

    /// Grants: writes the value. Under the lock, after unlinking.
    template<typename... A>
    void grant(A&&... args) noexcept {
        outcome = this->emplace(std::forward<A>(args)...);
    }
    /// Grants with an error (the primitive was completed with one, or disposed).
    void fail(std::exception_ptr e, std::uint8_t status = state_base::st_failed) noexcept {
        this->error_ = std::move(e);
        outcome = status;
    }

    task<T> take_task() noexcept { return task_access::adopt<T>(this); }

    [[no_unique_address]] Payload payload{}; // guarded by core->mutex while queued

private:
    static void destroy(state_base* s) noexcept { delete down_cast<waiter>(down_cast<task_state<T>>(s)); }
    static void cancel_hook(state_base* s) noexcept {
        auto* self = down_cast<waiter>(down_cast<task_state<T>>(s));
        self->core()->withdraw(self, withdraw_reason::canceled);
    }
    static void prepare(waiter_base* b, withdraw_reason why) noexcept {
        auto* self = &static_cast<waiter&>(*b); // a reference cast: b is never null, no null branch for the optimiser
        switch (why) {
        case withdraw_reason::canceled:
            self->fail(std::make_exception_ptr(operation_canceled{}), state_base::st_canceled);
            break;
        case withdraw_reason::timed_out:
            if constexpr (std::is_same_v<T, bool>) {
                self->grant(false); // try_*_for: false, as .NET's WaitAsync(TimeSpan)
            } else {
                self->fail(std::make_exception_ptr(operation_canceled("weft: the wait timed out")),
                           state_base::st_canceled);
            }
            break;
        case withdraw_reason::disposed:
            self->fail(std::make_exception_ptr(disposed_error("weft: the primitive was destroyed with waiters")));
            break;
        }
    }
    static void finish_waiter(waiter_base* b) noexcept {
        auto* self = &static_cast<waiter&>(*b); // a reference cast: b is never null, no null branch for the optimiser
        self->on_token.unregister();
        self->on_deadline.unregister();
        self->publish(self->outcome);
        self->release_keeper();
    }
};

/// A task that is complete already (the fast path of every wait).
template<typename T>
class ready_state final : public task_state<T> {
public:
    template<typename... A>
    explicit ready_state(A&&... args) noexcept
        : task_state<T>(state_base::ops_of<&destroy>, 1, 0, state_base::st_completing) {
        this->publish(this->emplace(std::forward<A>(args)...));
    }
    explicit ready_state(std::exception_ptr e, std::uint8_t status) noexcept
        : task_state<T>(state_base::ops_of<&destroy>, 1, 0, state_base::st_completing) {
        this->error_ = std::move(e);
        this->publish(status);
    }

private:
    static void destroy(state_base* s) noexcept { delete down_cast<ready_state>(down_cast<task_state<T>>(s)); }
};

template<typename T, typename... A>
task<T> ready_task(A&&... args) {
    return task_access::adopt<T>(new ready_state<T>(std::forward<A>(args)...));
}
template<typename T>
task<T> failed_task(std::exception_ptr e, std::uint8_t status = state_base::st_failed) {
    return task_access::adopt<T>(new ready_state<T>(std::move(e), status));
}
template<typename T>
task<T> canceled_task() {
    return failed_task<T>(std::make_exception_ptr(operation_canceled{}), state_base::st_canceled);
}

/// How a wait is bounded: a token, and optionally a deadline (try_*_for).
struct wait_bounds {
    cancellation_token token;
    std::optional<std::chrono::steady_clock::duration> timeout;
};

/// Registers the waiter's token and deadline callbacks (§5): before the waiter is linked.
/// A callback that fires now marks the waiter withdrawn; the caller's link step sees it.
inline void arm_waiter(waiter_base* w, const wait_bounds& b) {
    if (b.token.can_be_canceled()) {
        w->on_token = b.token.register_callback([w] { w->core()->withdraw(w, withdraw_reason::canceled); });
    }
    if (b.timeout) {
        w->deadline.emplace();
        w->on_deadline =
            w->deadline->token().register_callback([w] { w->core()->withdraw(w, withdraw_reason::timed_out); });
        w->deadline->cancel_after(*b.timeout);
    }
}

/// Links `w` at the back of `list` unless a callback withdrew it first; then it is prepared and
/// added to `batch` instead. Under the lock.
inline void link_or_finish(waiter_base* w, waiter_list& list, finish_batch& batch) noexcept {
    if (w->withdrawn) {
        w->taken = true;
        w->prepare_withdraw(w->why);
        batch.add(w);
        return;
    }
    list.push_back(w);
}

/// The shared decision of a select over several channels: the arm whose channel first claims
/// it is the one that takes an item; every other arm, found later in its queue, is dead.
class select_group {
public:
    /// True for the first caller only. Called under the claiming channel's lock (§2), so the
    /// item it takes and the claim are one step for that channel.
    bool try_decide() noexcept {
        bool expected = false;
        // order: acq_rel — one winner; the loser sees the winner's claim
        return claimed_.compare_exchange_strong(expected, true, acq_rel, acquire);
    }

protected:
    ~select_group() = default;

private:
    atomic<bool> claimed_{false};
};

/// Pops the first reader of `list` that may still take an item: a select arm whose select
/// another channel decided is finished as canceled instead (into `batch`). Under the lock.
inline waiter_base* pop_live(waiter_list& list, finish_batch& batch) noexcept {
    while (waiter_base* w = list.pop_front()) {
        if (w->group == nullptr || w->group->try_decide()) {
            return w;
        }
        w->prepare_withdraw(withdraw_reason::canceled);
        batch.add(w);
    }
    return nullptr;
}

/// The slow path of every wait: allocates the waiter, arms its token and deadline (lock not
/// held: a token that fired calls back at once), then under the lock grants it at once if
/// `try_now(waiter&, batch)` can (the state changed since the fast path; other waiters it
/// completes on the way join `batch`), else links it.
template<typename T, typename Payload = std::monostate, typename TryNow, typename Init>
task<T> wait_slow(sync_core& core, waiter_list& list, const wait_bounds& b, TryNow try_now, Init init) {
    if (b.token.is_cancellation_requested()) {
        return canceled_task<T>();
    }
    auto* w = new waiter<T, Payload>(&core);
    task<T> t = w->take_task();
    init(*w);
    try {
        arm_waiter(w, b);
    } catch (...) {
        w->on_token.unregister();
        w->release_keeper();
        throw;
    }
    finish_batch batch;
    std::lock_guard lock(core.mutex);
    if (!w->withdrawn && try_now(*w, batch)) {
        w->taken = true;
        batch.add(w);
    } else {
        link_or_finish(w, list, batch);
    }
    return t;
} // unlock, then the batch finishes

template<typename T, typename TryNow>
task<T> wait_slow(sync_core& core, waiter_list& list, const wait_bounds& b, TryNow try_now) {
    return wait_slow<T>(core, list, b, try_now, [](auto&) {});
}

/// Withdraws every queued waiter of `lists` as disposed (the primitive's destructor): each
/// waiting task fails with disposed_error. Under the lock; finish the batch after it.
template<typename... Lists>
void dispose_all_locked(finish_batch& batch, Lists&... lists) noexcept {
    (
        [&](waiter_list& l) {
            while (waiter_base* w = l.pop_front()) {
                // a select arm reports the disposal only if it wins its select
                const bool mine = w->group == nullptr || w->group->try_decide();
                w->prepare_withdraw(mine ? withdraw_reason::disposed : withdraw_reason::canceled);
                batch.add(w);
            }
        }(lists),
        ...);
}

} // namespace weft::detail
