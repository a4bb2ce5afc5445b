// weft/scheduler.hpp — the scheduler concept, inline_scheduler, any_scheduler and
// current_scheduler(): the pluggable "where does this run" layer.
// Design note: docs/decisions/0002-continuation-placement.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/trampoline.hpp>
#include <weft/work_item.hpp>

#include <concepts>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

namespace weft {

/// Any type that can take a type-erased work item. schedule(w) either takes ownership of `w`
/// (and later calls exactly one of w->run() / w->discard()) or throws without taking it
/// (weft::shutdown_error when the scheduler is shut down). A scheduler may also provide
/// `bool runs_on_this_thread() const noexcept`; when it says true, placement may run a
/// continuation bound for it inline instead of hopping. A serial or thread-bound scheduler
/// (a strand, a UI loop) declares `static constexpr bool keeps_context = true;`: work that was
/// running on it and awaits anything comes back to it, whatever the completing source's policy
/// (docs/guide/placement.md, "Context kept across awaits").
template<typename S>
concept scheduler = requires(S& s, work_item* w) {
    s.schedule(w);
};

/// Runs work immediately on the calling thread (.NET TaskContinuationOptions.ExecuteSynchronously),
/// under the per-thread recursion guard: a deep synchronous chain never overflows the stack.
///
/// Thread safety: stateless; safe from any thread.
/// Lifetime:      none to manage.
/// Blocking:      schedule() runs the item before returning (or defers it to the outermost
///                inline run on this thread when nested too deeply).
/// Exceptions:    none; work items never throw.
struct inline_scheduler {
    void schedule(work_item* w) const noexcept { detail::run_inline(w); }
    bool runs_on_this_thread() const noexcept { return true; }
    friend bool operator==(inline_scheduler, inline_scheduler) noexcept { return true; }
};

namespace detail {

template<typename S>
bool scheduler_runs_here(const S& s) noexcept {
    if constexpr (requires {
                      { s.runs_on_this_thread() } -> std::convertible_to<bool>;
                  }) {
        return static_cast<bool>(s.runs_on_this_thread());
    } else {
        return false;
    }
}

/// True for a scheduler type that declares `static constexpr bool keeps_context = true`.
template<typename S>
constexpr bool scheduler_keeps_context() noexcept {
    if constexpr (requires {
                      { S::keeps_context } -> std::convertible_to<bool>;
                  }) {
        return static_cast<bool>(S::keeps_context);
    } else {
        return false;
    }
}

/// A scheduler whose waiting items can run its other queued items (a strand): see
/// any_scheduler::help_waiting_item().
template<typename S>
bool scheduler_help_one(S& s) noexcept {
    if constexpr (requires {
                      { s.help_waiting_item() } -> std::convertible_to<bool>;
                  }) {
        return s.help_waiting_item();
    } else {
        return false;
    }
}

struct scheduler_vtable {
    void (*schedule)(void* self, work_item* w);
    bool (*runs_here)(const void* self) noexcept;
    bool (*help_one)(void* self) noexcept;
    bool is_inline;
    bool keeps_context;
    bool helps_waits;
};

template<typename S>
inline constexpr scheduler_vtable vtable_for{
    [](void* self, work_item* w) { static_cast<S*>(self)->schedule(w); },
    [](const void* self) noexcept { return scheduler_runs_here(*static_cast<const S*>(self)); },
    [](void* self) noexcept { return scheduler_help_one(*static_cast<S*>(self)); },
    std::is_same_v<S, inline_scheduler>,
    scheduler_keeps_context<S>(),
    requires(S& s){s.help_waiting_item();
} // namespace detail
,
}; // namespace weft

template<typename S>
inline S empty_scheduler_instance{};

} // namespace detail

/// A non-owning, type-erased reference to a scheduler: two pointers, cheap to copy.
/// An empty handle means "no scheduler". Schedulers that are empty types (inline_scheduler,
/// user-written stateless ones) may be passed as temporaries; any other scheduler is held by
/// reference and must outlive the handle and every work item given to it.
///
/// Thread safety: a handle is a value; the scheduler's own rules apply to schedule().
class any_scheduler {
public:
    any_scheduler() noexcept = default;

    template<typename S>
        requires(scheduler<S> && !std::is_same_v<std::remove_cv_t<S>, any_scheduler>)
    any_scheduler(S& s)
    noexcept // NOLINT(google-explicit-constructor): a handle converts
        : self_(const_cast<std::remove_cv_t<S>*>(&s))
        , vtable_(&detail::vtable_for<std::remove_cv_t<S>>) {}

    template<typename S>
        requires(scheduler<S>&& std::is_empty_v<S>&& std::is_default_constructible_v<S> &&
                 !std::is_same_v<S, any_scheduler>)
    any_scheduler(S&&)
    noexcept // NOLINT(google-explicit-constructor)
        : self_(&detail::empty_scheduler_instance<S>)
        , vtable_(&detail::vtable_for<S>) {}

    /// Hands `w` to the scheduler; see the `scheduler` concept for the ownership rule.
    /// Precondition: not empty (entry points check with require_scheduler()).
    void schedule(work_item* w) const { vtable_->schedule(self_, w); }
    bool runs_on_this_thread() const noexcept { return vtable_ != nullptr && vtable_->runs_here(self_); }
    bool is_inline() const noexcept { return vtable_ != nullptr && vtable_->is_inline; }
    /// A serial or thread-bound context: what runs on it comes back to it after an await.
    bool keeps_context() const noexcept { return vtable_ != nullptr && vtable_->keeps_context; }
    /// True for a scheduler that can run its next queued item on a thread where one of its
    /// items is blocked waiting (a strand): see help_waiting_item().
    bool helps_waits() const noexcept { return vtable_ != nullptr && vtable_->helps_waits; }
    /// Called by a blocking wait inside one of this scheduler's items, on that item's thread:
    /// runs its next queued item there; false if none is queued.
    bool help_waiting_item() const noexcept { return vtable_->help_one(self_); }
    explicit operator bool() const noexcept { return vtable_ != nullptr; }
    /// The identity of the scheduler object (for traces and comparisons).
    const void* identity() const noexcept { return self_; }

    friend bool operator==(const any_scheduler& a, const any_scheduler& b) noexcept {
        return a.self_ == b.self_ && a.vtable_ == b.vtable_;
    }

private:
    void* self_ = nullptr;
    const detail::scheduler_vtable* vtable_ = nullptr;
};

namespace detail {

/// Every entry point that takes a scheduler handle rejects an empty one, naming itself.
inline void require_scheduler(const any_scheduler& s, const char* what) {
    if (!s) {
        throw std::invalid_argument(what);
    }
}

WEFT_TLS_ACCESSOR inline any_scheduler& current_scheduler_slot() noexcept {
    static thread_local any_scheduler current;
    WEFT_TLS_OPAQUE();
    return current;
}

} // namespace detail

/// The scheduler whose thread this is (the pool of a worker, the loop being run), or an empty
/// handle on a thread no scheduler owns. Continuations attached here come back to it
/// (placement rule 3, the SynchronizationContext rule).
inline any_scheduler current_scheduler() noexcept {
    return detail::current_scheduler_slot();
}

/// What a scheduler of weft's own (strand, run_loop, limited_scheduler, the concurrent/exclusive
/// pair, dedicated_thread) has done with the work items it was given. Exact once it is quiet.
/// `scheduled` counts every accepted item (hops into this scheduler); each accepted item is,
/// in the end, counted once in `ran` or once in `discarded` (completed as canceled).
struct scheduler_stats {
    std::uint64_t scheduled = 0;
    std::uint64_t ran = 0;
    std::uint64_t discarded = 0;
};

namespace detail {

/// True when the scheduler object at `self` is current on this thread (it is running one of
/// its items here): the runs_on_this_thread() of schedulers that run items on borrowed threads.
inline bool is_current_scheduler(const void* self) noexcept {
    return current_scheduler_slot().identity() == self;
}

} // namespace detail

/// Sets current_scheduler() for this thread for its lifetime, restoring the previous value.
/// Schedulers use it around the work they run; user-written schedulers should too.
class scheduler_scope {
public:
    explicit scheduler_scope(any_scheduler s) noexcept : previous_(detail::current_scheduler_slot()) {
        detail::current_scheduler_slot() = s;
    }
    ~scheduler_scope() { detail::current_scheduler_slot() = previous_; }
    scheduler_scope(const scheduler_scope&) = delete;
    scheduler_scope& operator=(const scheduler_scope&) = delete;

private:
    any_scheduler previous_;
};

} // namespace weft
