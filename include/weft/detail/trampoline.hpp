// weft/detail/trampoline.hpp — the per-thread guard that keeps inline continuation runs from
// growing the stack without bound (placement rule 4 and every "run it here" decision).
// Design note: docs/decisions/0002-continuation-placement.md §"Recursion guard".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/intrusive_fifo.hpp>
#include <weft/work_item.hpp>

namespace weft::detail {

/// Inline runs nest up to this depth; deeper ones are queued on the thread and run, in FIFO
/// order, by the outermost inline run when it unwinds. A million-link synchronous chain thus
/// uses at most this many frames.
inline constexpr unsigned max_inline_depth = 16;

struct work_item_link {
    static work_item*& next(work_item* w) noexcept { return w->next; }
};
/// An intrusive FIFO of work items, linked through work_item::next; one thread's only.
using work_item_fifo = intrusive_fifo<work_item, work_item_link>;

struct trampoline_state {
    unsigned depth = 0;
    work_item_fifo deferred; // items queued past max_inline_depth
};

WEFT_TLS_ACCESSOR inline trampoline_state& trampoline() noexcept {
    static thread_local trampoline_state state;
    WEFT_TLS_OPAQUE();
    return state;
}

/// Runs `w` on this thread now, or defers it to the outermost inline run on this thread when
/// the nesting limit is reached. Returns false when it deferred.
inline bool run_inline(work_item* w) noexcept {
    trampoline_state& t = trampoline();
    if (t.depth >= max_inline_depth) {
        t.deferred.push(w);
        return false;
    }
    ++t.depth;
    w->run();
    if (t.depth == 1) {
        while (work_item* next = t.deferred.pop()) {
            next->run();
        }
    }
    --t.depth;
    return true;
}

/// Runs every item deferred on this thread. A thread about to block calls this first, so a
/// blocking wait never waits on work parked on its own stack.
inline void run_deferred() noexcept {
    trampoline_state& t = trampoline();
    if (t.deferred.head == nullptr) {
        return; // the common case: nothing deferred (every blocking wait passes here)
    }
    ++t.depth;
    while (work_item* next = t.deferred.pop()) {
        next->run();
    }
    --t.depth;
}

} // namespace weft::detail
