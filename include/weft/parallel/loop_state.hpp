// weft/parallel/loop_state.hpp — what an iteration can ask of its loop: stop it, break at itself,
// and whether to end early (.NET ParallelLoopState).
// Design note: docs/decisions/0012-parallel-loops.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/loop_core.hpp>

#include <cstdint>
#include <optional>

namespace weft {

/// Passed to a loop body that takes it as its last argument, one per participant. Positions
/// are 0-based counts from the start of the loop (for `parallel_for(pool, 10, 20, ...)`,
/// index 15 is position 5).
///
/// Thread safety: one participant's object, used by the iteration it was passed to.
/// Exceptions:    stop() after break_loop() (or the reverse) in the same loop throws
///                std::logic_error, which fails the loop like any exception from the body.
class loop_state {
public:
    /// No iteration starts after this one (those running finish).
    void stop() { core_->stop(); }
    /// Every iteration before this one still runs; none after it starts (those running finish).
    /// With several breaks, the lowest wins.
    void break_loop() { core_->break_at(position_); }

    bool is_stopped() const noexcept { return core_->is_stopped(); }
    /// An iteration threw.
    bool is_exceptional() const noexcept { return core_->is_exceptional(); }
    /// The lowest position that called break_loop() so far.
    std::optional<std::uint64_t> lowest_break_position() const noexcept {
        const std::uint64_t k = core_->lowest_break();
        return k == detail::parallel::no_break ? std::nullopt : std::optional<std::uint64_t>(k);
    }
    /// This iteration would not start now (stop, a lower break, a failure, cancellation): a long
    /// body may return early.
    bool should_exit_current_iteration() const noexcept {
        return position_ >= core_->limit() || core_->token_canceled();
    }
    /// This iteration's position.
    std::uint64_t position() const noexcept { return position_; }

    explicit loop_state(detail::parallel::loop_core& core) noexcept : core_(&core) {}
    /// The engine sets the position before each iteration.
    void at(std::uint64_t position) noexcept { position_ = position; }

private:
    detail::parallel::loop_core* core_;
    std::uint64_t position_ = 0;
};

} // namespace weft
