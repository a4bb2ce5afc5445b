// weft/detail/first_completed.hpp — co_await first_completed(a, b): resume when either of two
// tasks is complete, holding no reference to either.
// Design note: with_deadline races its task against a timer, then waits for the task alone.
// when_any would do, but it allocates a result state that keeps a handle to each input until
// the slower one completes; here the awaiting frame owns both tasks, and the nodes linked into
// their lists own only a small race block, freed by the last of its three owners (two nodes,
// the awaiter). The first node to run resumes the coroutine, placed as a co_await is (the
// captured scheduler, else inline). Both nodes may sit on one task: a wait for it alone.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/placement.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/scheduler.hpp>
#include <weft/work_item.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

/// co_await first_completed(a, b) -> 0 or 1, whichever was complete first. The awaiting frame
/// must own both tasks until the co_await returns.
class first_completed_awaiter {
    struct race;

public:
    first_completed_awaiter(state_base& a, state_base& b) : race_(new race(a, b)) {}
    first_completed_awaiter(const first_completed_awaiter&) = delete;
    first_completed_awaiter& operator=(const first_completed_awaiter&) = delete;
    ~first_completed_awaiter() {
        if (!suspended_) { // ready at once: the nodes were never linked, their references go too
            race_->release();
            race_->release();
        }
        race_->release();
    }

    bool await_ready() const noexcept { return race_->states[0]->is_ready() || race_->states[1]->is_ready(); }

    /// Once the first node is linked, another thread may win and resume the frame (destroying
    /// this awaiter): from then on only locals are touched, and the block is kept alive by the
    /// node not linked yet.
    bool await_suspend(std::coroutine_handle<> h) noexcept {
        suspended_ = true; // from here each node is linked, or released below
        race* r = race_;
        r->handle = h;
        r->captured = current_scheduler();
        linking() = r;
        won_here() = false;
        for (std::size_t i = 0; i < 2; ++i) {
            if (won_here()) {
                r->release(); // node i is never linked
                continue;
            }
            if (!r->states[i]->attach(&r->nodes[i])) {
                race::on_complete_node(&r->nodes[i]); // complete already: decided here
            }
        }
        const bool here = won_here();
        linking() = nullptr;
        return !here; // won on this thread while linking: go on without suspending
    }

    /// Which was complete first: 0 or 1 (0 when both are).
    std::size_t await_resume() const noexcept { return race_->states[0]->is_ready() ? 0 : 1; }

private:
    struct node : continuation {
        race* owner = nullptr;
    };
    struct race : work_item {
        race(state_base& a, state_base& b) noexcept : work_item(&resume), states{&a, &b} {
            for (node& n : nodes) {
                n.owner = this;
                n.on_complete = &on_complete_node;
            }
        }
        state_base* states[2];
        node nodes[2];
        std::coroutine_handle<> handle;
        any_scheduler captured;
        atomic<std::uint32_t> refs{3}; // the two nodes and the awaiter
        atomic<bool> fired{false};     // the first node to run wins

        void release() noexcept {
            // order: acq_rel — the last owner frees, after every other owner's accesses
            if (refs.fetch_sub(1, acq_rel) == 1) {
                delete this;
            }
        }
        static void on_complete_node(continuation* c) noexcept {
            race* self = detail::down_cast<node>(c)->owner;
            // order: acq_rel — exactly one node wins; it sees await_suspend's writes (the
            //        handle, published to it by attach()'s release CAS or by program order)
            if (!self->fired.exchange(true, acq_rel)) {
                if (linking() == self) {
                    won_here() = true; // await_suspend returns false: no resume from here
                } else {
                    dispatch_continuation(self, any_scheduler{}, any_scheduler{}, self->captured, false);
                }
            }
            self->release();
        }
        static void resume(work_item* w, bool) noexcept {
            // a discarded hop resumes too: await_resume only reads the states, which are complete
            detail::down_cast<race>(w)->handle.resume();
        }
    };

    static const race*& linking() noexcept {
        static thread_local const race* r = nullptr;
        return r;
    }
    static bool& won_here() noexcept {
        static thread_local bool won = false;
        return won;
    }

    race* race_;
    bool suspended_ = false;
};

} // namespace weft::detail
