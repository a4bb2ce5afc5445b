// weft/sync/async_barrier.hpp — async_barrier: participants meet phase after phase, with a
// completion step per phase (.NET Barrier with a post-phase action; std::barrier, awaited).
// Design note: the waiter protocol in weft/detail/sync/waiter.hpp; docs/guide/sync.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace weft {

/// A reusable meeting point for `participants` tasks. Each phase ends when the last participant
/// arrives: the completion step runs once, on that participant's thread, before anyone is
/// released; then every arrival of the phase completes with the phase's number (0, 1, 2...).
/// A completion step that throws fails every arrival of that phase with its exception; the
/// next phase starts regardless.
///
/// An arrival canceled by its token before its phase ended did not arrive (the count rolls
/// back: a timed-out participant never completes a phase with one arrival missing). One that
/// the phase already completed succeeds.
///
/// Thread safety: every member from any thread.
/// Lifetime:      destroyed with waiters, each waiting task fails with disposed_error.
/// Exceptions:    the constructor with 0 participants, arrive_and_wait()/arrive_and_drop()
///                when there are none left: std::logic_error.
class async_barrier {
public:
    using completion_step = std::function<void(std::uint64_t phase)>;

    explicit async_barrier(std::size_t participants, completion_step step = {})
        : core_(detail::ref_ptr<core>::adopt(new core(participants, std::move(step)))) {
        if (participants == 0) {
            throw std::logic_error("weft: async_barrier needs at least one participant");
        }
    }
    async_barrier(const async_barrier&) = delete;
    async_barrier& operator=(const async_barrier&) = delete;
    ~async_barrier() {
        detail::finish_batch batch;
        std::lock_guard lock(core_->mutex);
        detail::dispose_all_locked(batch, core_->waiters);
    }

    /// Arrives and completes with the phase's number when the phase ends.
    [[nodiscard]] task<std::uint64_t> arrive_and_wait(cancellation_token token = {}) {
        if (token.is_cancellation_requested()) {
            return detail::canceled_task<std::uint64_t>();
        }
        auto* w = new detail::waiter<std::uint64_t>(core_.get());
        task<std::uint64_t> t = w->take_task();
        try {
            detail::arm_waiter(w, {std::move(token), {}});
        } catch (...) {
            w->release_keeper();
            throw;
        }
        detail::finish_batch batch;
        phase_end end;
        {
            std::lock_guard lock(core_->mutex);
            if (core_->participants == 0) {
                w->taken = true;
                w->fail(std::make_exception_ptr(std::logic_error("weft: async_barrier has no participants left")));
                batch.add(w);
                return t;
            }
            detail::link_or_finish(w, core_->waiters, batch);
            if (w->queued) { // arrived: the queue is the phase's arrivals
                core_->end_phase_if_complete_locked(end);
            }
        }
        end.run(*core_);
        return t;
    }

    /// Leaves for good: this and every later phase needs one participant fewer (a phase that
    /// now has all its arrivals ends).
    void arrive_and_drop() {
        phase_end end;
        {
            std::lock_guard lock(core_->mutex);
            if (core_->participants == 0) {
                throw std::logic_error("weft: async_barrier has no participants left");
            }
            --core_->participants;
            core_->end_phase_if_complete_locked(end);
        }
        end.run(*core_);
    }

    std::uint64_t phase() const {
        std::lock_guard lock(core_->mutex);
        return core_->phase;
    }
    std::size_t participants() const {
        std::lock_guard lock(core_->mutex);
        return core_->participants;
    }
    /// Arrivals of the current phase waiting now.
    std::size_t arrived() const {
        std::lock_guard lock(core_->mutex);
        return core_->waiters.size();
    }

private:
    struct core;

    /// The arrivals of a phase that ended, released after the lock, once the step ran.
    struct phase_end {
        detail::finish_batch released; // unlinked from the core: ours alone (§2)
        std::uint64_t phase = 0;
        bool ended = false;

        void run(core& c) noexcept {
            if (!ended) {
                return;
            }
            std::exception_ptr error;
            if (c.step) { // only the ender runs it: `step` is not written after construction
                try {
                    c.step(phase);
                } catch (...) {
                    error = std::current_exception();
                }
            }
            released.for_each([&](detail::waiter_base* w) {
                auto* arrival = static_cast<detail::waiter<std::uint64_t>*>(w);
                if (error) {
                    arrival->fail(error);
                } else {
                    arrival->grant(phase);
                }
            });
            released.finish_all();
        }
    };

    struct core final : detail::sync_core {
        core(std::size_t p, completion_step s) noexcept : step(std::move(s)), participants(p) {}

        const completion_step step;
        // --- guarded by mutex ----------------------------------------------------------
        std::size_t participants;
        std::uint64_t phase = 0;
        detail::waiter_list waiters; // the arrivals of the current phase (a withdrawn one leaves it)

        void end_phase_if_complete_locked(phase_end& end) noexcept {
            if (participants == 0 || waiters.size() < participants) {
                return;
            }
            while (detail::waiter_base* w = waiters.pop_front()) { // taken: no withdrawal now
                end.released.add(w);
            }
            end.ended = true;
            end.phase = phase++;
        }
    };

    detail::ref_ptr<core> core_;
};

} // namespace weft
