// weft/work_item.hpp — the type-erased unit of work every scheduler queues.
// Design note: docs/decisions/0002-continuation-placement.md (ownership of work items).
// SPDX-License-Identifier: MIT
#pragma once

namespace weft {

/// An intrusive, type-erased piece of work. A scheduler that accepts one (its schedule()
/// returned normally) owns it and must call exactly one of run() or discard(), exactly once.
/// discard() is for work that will never run (shutdown, a destroyed strand): it completes the
/// owning task as canceled and frees the closure. Neither call throws.
///
/// Thread safety: an item is owned by one queue or one thread at a time.
/// Lifetime:      the item frees itself inside run()/discard(); do not touch it afterwards.
class work_item {
public:
    using invoke_fn = void (*)(work_item* self, bool run) noexcept;

    explicit work_item(invoke_fn fn) noexcept : invoke_(fn) {}

    void run() noexcept { invoke_(this, true); }
    void discard() noexcept { invoke_(this, false); }

    /// Intrusive link for the queue that currently owns the item.
    work_item* next = nullptr;

protected:
    ~work_item() = default;
    work_item(const work_item&) = default;
    work_item& operator=(const work_item&) = default;

private:
    invoke_fn invoke_;
};

} // namespace weft
