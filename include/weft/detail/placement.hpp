// weft/detail/placement.hpp — the placement rule as code: where a continuation, or a
// co_await resumption, runs.
//
// Design note: the placement rule
// ===========
// §1 The rule. Every continuation and every co_await resumption is placed by the first rule
//    that applies (weft::placement_rule): (1) named — then(s, f), execute_synchronously,
//    co_await resume_on(s); (2) source — the completing source's own policy (a promise made
//    with a scheduler, an I/O op's io_policy); (3) captured — current_scheduler() when the
//    continuation was attached; (4) completing — inline on the thread that completed the
//    antecedent. dispatch_continuation() below is the only place rules 1–4 are applied; the
//    task core (task.hpp, task_coroutine.hpp) and the reactor (detail/io/reactor.hpp) call it.
// §1a Context kept. A captured scheduler that keeps its context (keeps_context: strand,
//    run_loop, dedicated_thread, limited_scheduler, the concurrent/exclusive sides, a user's
//    scheduler that declares it) is tried before (2): strand-protected state stays protected
//    across an await on I/O, a timer or a promise, even when the source says "inline". The pool
//    and io_context do not keep context (the IOCP model), so their captures stay behind (2)
//    and the C = 0 inline cell of the placement suite takes no hop. Counted as captured, and
//    in context_kept when a source policy was overridden.
// §1b run_asynchronously skips the inline candidates: it goes to the first of named, source,
//    captured that can take a hop (attach_then checks that one exists).
// §2 Inline or hop. If the chosen scheduler is inline_scheduler, or it runs_on_this_thread()
//    and run_asynchronously was not asked for, the work runs inline, directly: every chain
//    passes through state_base::publish(), which runs under the per-thread recursion guard
//    (trampoline.hpp), so one guard per link bounds the stack already. Otherwise it hops
//    (schedule()). resume_on() always hops (a loop of resume_on() lets other work in), except
//    to inline_scheduler.
// §3 Refusal. A scheduler that refuses a hop (shut down) gets the item discarded: the
//    continuation's task completes canceled, or the coroutine resumes with
//    operation_canceled (resume_on: the scheduler's own error). Never a hang, never a drop.
// §4 Counting. Every decision is counted on the deciding thread (placement_counters.hpp) and
//    shown to the observer, before the hop: once schedule() returns, the item may already
//    have run (and freed the scheduler handle it carried) on another thread, and a trace must
//    show the decision before the work it placed. A refused hop counts as a hop and as refused.
// §5 Tests: tests/placement_test.cpp (each rule, the counters, the observer), the I/O policy
//    tests in tests/io/, tests/continuation_test.cpp (options, refusal).
// Decision record: docs/decisions/0002-continuation-placement.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/diag/trace.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/placement_counters.hpp>
#include <weft/errors.hpp>
#include <weft/placement.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <coroutine>
#include <cstdint>

namespace weft::detail {

/// A placement decision as a trace instant (trace on only: kept out of the inlined path).
[[gnu::cold, gnu::noinline]] inline void trace_placement(unsigned rule, bool ran_inline) noexcept {
    static constexpr const char* inline_names[] = {"placement: named, inline",
                                                   "placement: source, inline",
                                                   "placement: captured, inline",
                                                   "placement: completing, inline"};
    static constexpr const char* hop_names[] = {
        "placement: named, hop", "placement: source, hop", "placement: captured, hop", "placement: completing, inline"};
    diag::emit('i', ran_inline ? inline_names[rule] : hop_names[rule], 0, "placement", false, ran_inline ? 1 : 0);
}

// always_inline: on every continuation's path; the trace check must not push it out of line
[[gnu::always_inline]] inline void record_placement(placement_rule rule, bool ran_inline, const void* sched) noexcept {
    static constexpr placement_counter inline_of[] = {placement_counter::named_inline,
                                                      placement_counter::source_inline,
                                                      placement_counter::captured_inline,
                                                      placement_counter::completing_inline};
    static constexpr placement_counter hop_of[] = {placement_counter::named_hop,
                                                   placement_counter::source_hop,
                                                   placement_counter::captured_hop,
                                                   placement_counter::completing_inline};
    const auto r = static_cast<unsigned>(rule);
    count_placement(ran_inline ? inline_of[r] : hop_of[r]);
    if (diag::trace_on()) [[unlikely]] {
        trace_placement(r, ran_inline);
    }
    // order: acquire — pairs with the release in set_placement_observer, so the observer's
    //        code and data are visible before it is called
    if (placement_observer obs = placement_observer_slot().load(acquire)) {
        obs(placement_event{rule, ran_inline, sched});
    }
}

/// Decides where a continuation's work item runs (the placement rule, first match wins) and
/// runs or schedules it. Never throws: a refused hop discards the item (it completes canceled).
/// Inlined into each caller (a then link, a co_await, an I/O completion): the common case, no
/// scheduler anywhere, is a handful of tests before the direct call.
[[gnu::always_inline]] inline void dispatch_continuation(work_item* w,
                                                         const any_scheduler& named,
                                                         const any_scheduler& source,
                                                         const any_scheduler& captured,
                                                         bool force_hop) noexcept {
    placement_rule rule = placement_rule::completing;
    const any_scheduler* target = nullptr;
    if (named) {
        rule = placement_rule::named;
        target = &named;
    } else if (captured) {              // tested once: the common case, nothing anywhere, stays three tests
        if (captured.keeps_context()) { // §1a
            rule = placement_rule::captured;
            target = &captured;
            if (source) {
                count_placement(placement_counter::context_kept);
            }
        } else if (source && !(force_hop && source.is_inline())) { // §1b
            rule = placement_rule::source;
            target = &source;
        } else if (!(force_hop && captured.is_inline())) {
            rule = placement_rule::captured;
            target = &captured;
        }
    } else if (source && !(force_hop && source.is_inline())) {
        rule = placement_rule::source;
        target = &source;
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

class resume_on_awaiter : public work_item {
public:
    explicit resume_on_awaiter(any_scheduler target) : work_item(&resume), target_(target) {
        require_scheduler(target, "weft: resume_on() with an empty scheduler");
    }

    /// inline_scheduler: nothing to do. Any other scheduler: always a real hop (a yield), even
    /// from one of its own threads, so a loop of resume_on() lets other work in.
    bool await_ready() const noexcept { return target_.is_inline(); }

    // always_inline: a co_await's hot path; without it, the task coroutine's await wrapper
    // (task_coroutine.hpp) tips g++ into an out-of-line call here (+25 instructions per hop)
    [[gnu::always_inline]] void await_suspend(std::coroutine_handle<> h) {
        handle_ = h;
        record_placement(placement_rule::named, false, target_.identity());
        try {
            target_.schedule(this); // from here on, *this may already be resumed and gone
        } catch (...) {
            count_placement(placement_counter::refused);
            throw; // the coroutine resumes here and sees the scheduler's error
        }
    }

    void await_resume() const {
        if (discarded_) {
            throw operation_canceled("weft: resume_on: the scheduler discarded the resumption");
        }
    }

private:
    static void resume(work_item* w, bool run) noexcept {
        auto* self = detail::down_cast<resume_on_awaiter>(w);
        self->discarded_ = !run;
        self->handle_.resume();
    }

    any_scheduler target_;
    std::coroutine_handle<> handle_;
    bool discarded_ = false;
};

} // namespace weft::detail
