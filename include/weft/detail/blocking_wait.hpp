// weft/detail/blocking_wait.hpp — blocking on a task: get(), wait() and wait_for() on any
// thread, and what a scheduler's own thread does instead of sleeping (wait_helper).
// Design note: a blocked waiter is a continuation node (waiter_node) in the task's list, so the
// completion that runs the list wakes it, exactly once, with the task core's own protocol
// (task_state.hpp). A waiter first runs the work deferred on its own thread (trampoline.hpp):
// it never waits on its own stack. On a pool worker or a run loop's thread it does not sleep
// while work is queued: it runs that work (wait_helper::help_one), and sleeps where its
// scheduler's wake-ups reach it (the pool's note, §5 "Helping waits"). Inside a strand item
// it first runs the strand's next items (context_wait_helper). On an I/O thread, which has no
// helper and must not block, it throws deadlock_error (forbid_blocking_scope).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/diag/registry.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/futex.hpp>
#include <weft/detail/spin.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/scheduler.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <new>

namespace weft::detail {

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

/// Set while this thread runs work for a context that a blocking wait here could deadlock: an
/// I/O thread (only it completes its context's I/O and timers). get()/wait() on a task that is
/// not complete then throw deadlock_error at once instead of hanging
/// (docs/guide/composition.md, "Blocking waits").
WEFT_TLS_ACCESSOR inline const char*& blocking_forbidden_reason() noexcept {
    static thread_local const char* reason = nullptr;
    WEFT_TLS_OPAQUE();
    return reason;
}

/// Forbids unbounded blocking waits on this thread for its lifetime (nests, restores).
class forbid_blocking_scope {
public:
    explicit forbid_blocking_scope(const char* reason) noexcept : previous_(blocking_forbidden_reason()) {
        blocking_forbidden_reason() = reason;
    }
    ~forbid_blocking_scope() { blocking_forbidden_reason() = previous_; }
    forbid_blocking_scope(const forbid_blocking_scope&) = delete;
    forbid_blocking_scope& operator=(const forbid_blocking_scope&) = delete;

private:
    const char* previous_;
};

/// Throws deadlock_error if this thread must not block. Called only on the slow path, by a
/// thread with no wait helper (a pool worker or a run loop's thread helps instead).
[[gnu::cold]] inline void check_may_block() {
    if (const char* reason = blocking_forbidden_reason(); reason != nullptr) {
        throw deadlock_error(reason);
    }
}

/// A blocked waiter, linked into the task's continuation list.
/// flag_: a one-shot event (futex.hpp): awake (unset), done (set), asleep (sleeping).
/// helper_: the waiting thread's wait helper (a pool worker, a run loop), which notify() wakes.
/// The helper may be destroyed as soon as its waiter returns, so whoever takes helper_ (an
/// exchange) owns the right to call it: notify() takes it and, once done with it, sets
/// notifier_done_; a waiter that finds helper_ already taken waits for notifier_done_ before it
/// returns. A timed waiter that gives up takes helper_ itself, and notify() then leaves it alone.
struct waiter_node : continuation {
    atomic<std::uint32_t> flag_{0};
    atomic<wait_helper*> helper_{nullptr};
    atomic<std::uint32_t> notifier_done_{0};
    bool on_heap_ = false;          // timed waits: the waiter may abandon the node
    atomic<std::uint32_t> refs_{2}; // on_heap_ only: the waiter and the continuation list

    static constexpr std::uint32_t awake = event_unset, done = event_set, asleep = event_sleeping;

    waiter_node() noexcept { on_complete = &notify; }

    void set_helper(wait_helper* h) noexcept {
        helper_.store(h, relaxed); // order: relaxed — published by attach()'s release CAS
    }

    /// The waiter, before it returns: if notify() took the helper, wait until it is done with
    /// it (a short, bounded section: a futex wake and the helper's wake-up call).
    void release_helper() noexcept {
        // order: acq_rel — pairs with notify()'s exchange: exactly one of us gets the helper
        if (helper_.exchange(nullptr, acq_rel) != nullptr) {
            return; // notify() never took it and never will
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
        // The waiter that sees `done` sees the task's result (published before this node ran).
        // Without a helper, a stack node may be gone after this (the event uses only its
        // address). With one, the waiter waits for notifier_done_.
        event_set_and_wake(self->flag_);
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

/// What a blocking wait inside an item of a scheduler that helps its own waits (a strand) does:
/// runs that scheduler's next queued items on this thread, in order (any_scheduler::
/// help_waiting_item), then the work of the helper below it (a pool worker's). Nothing wakes
/// it when an item is queued on that scheduler, so it parks 1 ms at most before it looks again.
class context_wait_helper final : public wait_helper {
public:
    context_wait_helper(const any_scheduler& context, wait_helper* below) noexcept : context_(context), below_(below) {}

    bool help_one() noexcept override {
        return context_.help_waiting_item() || (below_ != nullptr && below_->help_one());
    }
    void park_until(const atomic<std::uint32_t>& done,
                    std::chrono::steady_clock::time_point deadline) noexcept override {
        const auto until = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(1));
        if (below_ != nullptr) {
            below_->park_until(done, until);
            return;
        }
        // the waiter's own flag: notify() sets it (and wakes a sleeper) when the task ends
        futex_wait_for(const_cast<atomic<std::uint32_t>&>(done), event_unset, until - std::chrono::steady_clock::now());
    }
    void wake_parked() noexcept override {
        if (below_ != nullptr) {
            below_->wake_parked();
        }
    }

private:
    const any_scheduler& context_;
    wait_helper* below_;
};

/// Waits for `s` through `helper`: runs its work while `s` is not complete, parks where its
/// wake-ups reach it.
inline void wait_helping(state_base& s, wait_helper* helper) noexcept {
    waiter_node node;
    node.set_helper(helper);
    if (!s.attach(&node)) {
        return;
    }
    while (node.flag_.load(acquire) != waiter_node::done) { // order: acquire — see notify
        if (!helper->help_one()) {
            helper->park_until(node.flag_, std::chrono::steady_clock::time_point::max());
        }
    }
    node.release_helper();
}

inline void blocking_wait_unrecorded(state_base& s, wait_helper* helper);

/// The wait with the registry on: the waiting task shows as blocked, and a wait that closes a
/// cycle of blocking waits throws deadlock_error naming the tasks instead of hanging.
[[gnu::noinline]] inline void blocking_wait_recorded(state_base& s, wait_helper* helper) {
    diag::blocked_scope blocked(static_cast<const state_base*>(&s), [](std::string why) { throw deadlock_error(why); });
    blocking_wait_unrecorded(s, helper);
}

/// Blocks until `s` is complete (task::get(), task::wait()). With `checked`, a thread that
/// must not block (an I/O thread) gets deadlock_error instead, if `s` is not complete.
inline void blocking_wait(state_base& s, bool checked = true) {
    if (s.is_ready()) {
        return;
    }
    run_deferred(); // never block on work deferred on this very thread
    wait_helper* const helper = current_wait_helper();
    if (helper != nullptr) {
        // A worker: the awaited task is most often the newest item of its own queue, so run
        // queued work before anything else (no spinning while the work sits here).
        while (!s.is_ready()) {
            if (!helper->help_one()) {
                break;
            }
        }
        if (s.is_ready()) {
            return;
        }
    }
    // About to wait. An I/O thread (no helper) must not, even inside a strand item running
    // there: helping the strand cannot complete the I/O the wait may need.
    if (helper == nullptr && checked) {
        check_may_block();
    }
    if (diag::registry_on()) [[unlikely]] {
        blocking_wait_recorded(s, helper);
        return;
    }
    blocking_wait_unrecorded(s, helper);
}

/// The wait itself, once nothing is left to help with on the way in.
inline void blocking_wait_unrecorded(state_base& s, wait_helper* helper) {
    // Inside a strand item, the strand's own queue may hold what we wait for.
    const any_scheduler context = current_scheduler();
    if (context.helps_waits()) {
        context_wait_helper on_context(context, helper);
        wait_helping(s, &on_context);
        return;
    }
    if (helper != nullptr) {
        wait_helping(s, helper); // a pool worker or a run loop: no deadlock with one thread
        return;
    }
    if (spin_until([&s] { return s.is_ready(); })) {
        return;
    }
    waiter_node node;
    if (!s.attach(&node)) {
        return;
    }
    event_wait(node.flag_); // observes `done` and, through notify's release, the result
}

/// Blocks until `s` is complete or `deadline` passed; true if complete.
inline bool blocking_wait_until(state_base& s, std::chrono::steady_clock::time_point deadline) noexcept {
    using clock = std::chrono::steady_clock;
    if (s.is_ready()) {
        return true;
    }
    run_deferred();
    if (spin_until([&s] { return s.is_ready(); },
                   std::min<std::chrono::nanoseconds>(default_spin_for, deadline - clock::now()))) {
        return true;
    }
    // The node may outlive this call (a timeout abandons it), so it lives on the heap with two
    // owners: this waiter and the continuation list.
    auto* node = new (std::nothrow) waiter_node;
    if (node == nullptr) {
        while (!s.is_ready() && clock::now() < deadline) {
            cpu_relax();
        }
        return s.is_ready();
    }
    wait_helper* const helper = current_wait_helper();
    node->set_helper(helper);
    node->on_heap_ = true;
    if (!s.attach(node)) {
        delete node;
        return true;
    }
    for (;;) {
        std::uint32_t f = node->flag_.load(acquire); // order: acquire — see notify
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
        if (f == waiter_node::awake && !node->flag_.compare_exchange_strong(f, waiter_node::asleep, acq_rel, acquire)) {
            continue; // order: acq_rel/acquire — as in wait()
        }
        futex_wait_for(node->flag_, waiter_node::asleep, deadline - now);
    }
    const bool ready = s.is_ready();
    if (helper != nullptr) {
        node->release_helper(); // given up or done: the helper is not touched after we return
    }
    // order: acq_rel — the last owner deletes the node
    if (node->refs_.fetch_sub(1, acq_rel) == 1) {
        delete node;
    }
    return ready;
}

} // namespace weft::detail
