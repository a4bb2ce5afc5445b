// weft/resume_on.hpp — co_await weft::resume_on(s): continue the coroutine on scheduler `s`.
// Design note: docs/decisions/0002-continuation-placement.md (an explicit hop is rule 1).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/down_cast.hpp>
#include <weft/errors.hpp>
#include <weft/placement.hpp>
#include <weft/scheduler.hpp>

#include <coroutine>
#include <utility>

namespace weft {

namespace detail {

class resume_on_awaiter : public work_item {
public:
    explicit resume_on_awaiter(any_scheduler target) noexcept : work_item(&resume), target_(target) {}

    /// inline_scheduler: nothing to do. Any other scheduler: always a real hop (a yield), even
    /// from one of its own threads, so a loop of resume_on() lets other work in.
    bool await_ready() const noexcept { return target_.is_inline(); }

    void await_suspend(std::coroutine_handle<> h) {
        handle_ = h;
        record_placement(placement_rule::named, false, target_.identity());
        try {
            target_.schedule(this);  // from here on, *this may already be resumed and gone
        } catch (...) {
            count_placement(placement_counter::refused);
            throw;  // the coroutine resumes here and sees the scheduler's error
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

}  // namespace detail

/// An awaitable that resumes the awaiting coroutine on `s` (.NET `await TaskScheduler` hop /
/// concurrencpp resume_on). Throws shutdown_error at the co_await if `s` refuses the work, and
/// operation_canceled if `s` accepted it but later discarded it (cancel-mode shutdown).
template<typename S>
    requires scheduler<std::remove_cvref_t<S>>
detail::resume_on_awaiter resume_on(S&& s) noexcept {
    return detail::resume_on_awaiter(any_scheduler(std::forward<S>(s)));
}

}  // namespace weft
