// weft/resume_on.hpp — co_await weft::resume_on(s): continue the coroutine on scheduler `s`.
// Design note: weft/detail/placement.hpp (an explicit hop is rule 1).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/placement.hpp>
#include <weft/scheduler.hpp>

#include <type_traits>
#include <utility>

namespace weft {

/// An awaitable that resumes the awaiting coroutine on `s` (.NET `await TaskScheduler` hop /
/// concurrencpp resume_on). Throws std::invalid_argument for an empty any_scheduler, shutdown_error at the co_await if `s` refuses the work, and
/// operation_canceled if `s` accepted it but later discarded it (cancel-mode shutdown).
template<typename S>
    requires scheduler<std::remove_cvref_t<S>> detail::resume_on_awaiter resume_on(S&& s) {
        return detail::resume_on_awaiter(any_scheduler(std::forward<S>(s)));
    }

} // namespace weft
