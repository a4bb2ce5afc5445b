// weft/task_status.hpp — the life of a task, as task::status() reports it.
// Design note: weft/detail/task_state.hpp (the status word and its transitions).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

namespace weft {

/// The life of a task, as state queries report it (.NET TaskStatus, simplified).
enum class task_status : std::uint8_t {
    pending,   ///< created or queued; its work has not started (or: waiting on a promise)
    running,   ///< its work is executing, or its result is being published
    succeeded, ///< RanToCompletion
    failed,    ///< Faulted: get() rethrows the stored exception
    canceled,  ///< Canceled: get() throws weft::operation_canceled
};

} // namespace weft
