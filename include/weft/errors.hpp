// weft/errors.hpp — the exception types weft throws and stores in faulted tasks.
// Design note: docs/decisions/0001-task-model.md (which error means what).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace weft {

/// Thrown by get()/co_await on a canceled task (.NET OperationCanceledException).
/// Work that throws it completes its task as canceled rather than failed.
class operation_canceled : public std::runtime_error {
public:
    operation_canceled() : std::runtime_error("weft: operation canceled") {}
    explicit operation_canceled(const std::string& what) : std::runtime_error(what) {}
};

/// Stored in a task whose promise was destroyed without being set.
class broken_promise : public std::logic_error {
public:
    broken_promise() : std::logic_error("weft: promise destroyed before it was set") {}
};

/// Thrown by promise::set_value/set_exception/set_canceled when the task is already complete.
class promise_already_satisfied : public std::logic_error {
public:
    promise_already_satisfied() : std::logic_error("weft: promise already satisfied") {}
};

/// Thrown when a task, promise or token handle that holds no state is used
/// (default-constructed or moved-from).
class no_state : public std::logic_error {
public:
    no_state() : std::logic_error("weft: handle has no state (default-constructed or moved-from)") {}
};

/// Thrown when a scheduler refuses new work because it is shutting down or shut down.
class shutdown_error : public std::runtime_error {
public:
    shutdown_error() : std::runtime_error("weft: scheduler is shut down") {}
    explicit shutdown_error(const std::string& what) : std::runtime_error(what) {}
};

/// Thrown where a blocking wait (get(), wait()) could never finish, or could finish only by
/// work that its own thread must run: on an I/O thread. Thrown at once, instead of a silent
/// hang (docs/guide/composition.md); co_await the task instead.
class deadlock_error : public std::logic_error {
public:
    explicit deadlock_error(const std::string& what) : std::logic_error(what) {}
};

/// A task's value would be moved away from under another reader, or was moved out already:
/// moving a move-only value that other handles or continuations can still read, or minting a
/// reader with promise::get_task after its only reader moved it out (co_await std::move(t),
/// std::move(t).get()). Shared
/// results are read by const reference; only a sole reader moves
/// (docs/guide/composition.md, "Shared results").
class shared_value_error : public std::logic_error {
public:
    explicit shared_value_error(const std::string& what) : std::logic_error(what) {}
};

/// A coordination primitive or channel was destroyed while tasks still waited on it: each
/// waiting task fails with this (.NET ObjectDisposedException), never hangs.
class disposed_error : public std::logic_error {
public:
    explicit disposed_error(const std::string& what) : std::logic_error(what) {}
};

/// A write to a channel that was completed (.NET ChannelClosedException). A read sees the end
/// instead (an empty optional), or the error the channel was completed with.
class channel_closed : public std::runtime_error {
public:
    channel_closed() : std::runtime_error("weft: the channel is completed: no more writes") {}
};

/// Every exception of a group of operations, in input order (.NET AggregateException).
class aggregate_error : public std::exception {
public:
    explicit aggregate_error(std::vector<std::exception_ptr> errors)
        : errors_(std::move(errors))
        , what_(describe(errors_)) {}

    const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }
    std::size_t size() const noexcept { return errors_.size(); }
    const char* what() const noexcept override { return what_.c_str(); }

private:
    static std::string describe(const std::vector<std::exception_ptr>& errors) {
        std::string text = "weft: " + std::to_string(errors.size()) + " operation(s) failed";
        if (!errors.empty()) {
            try {
                std::rethrow_exception(errors.front());
            } catch (const std::exception& e) {
                text += "; first: ";
                text += e.what();
            } catch (...) {
                text += "; first: (non-std exception)";
            }
        }
        return text;
    }

    std::vector<std::exception_ptr> errors_;
    std::string what_;
};

/// A deadline passed before the task it guarded completed (with_timeout, with_deadline).
/// .NET: TimeoutException from Task.WaitAsync(TimeSpan).
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("weft: the operation timed out") {}
};

} // namespace weft
