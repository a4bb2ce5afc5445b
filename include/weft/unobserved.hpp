// weft/unobserved.hpp — what happens to an error nobody observed (.NET UnobservedTaskException).
// Design note: docs/decisions/0001-task-model.md §"Nothing is swallowed".
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace weft {

/// Receives an exception that no one observed: a faulted task destroyed without get(),
/// co_await, exception() or a continuation having seen its error; an exception thrown by a
/// cancellation callback run on a timer thread; a throwing unobserved handler's own error is
/// printed, never rethrown. Called on the thread that dropped the last reference.
using unobserved_exception_handler = std::function<void(std::exception_ptr)>;

namespace detail {

inline void print_unobserved(std::exception_ptr e) noexcept {
    try {
        std::rethrow_exception(std::move(e));
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "weft: unobserved exception: %s\n", ex.what());
    } catch (...) {
        std::fprintf(stderr, "weft: unobserved exception of a non-std type\n");
    }
}

struct unobserved_slot {
    std::mutex mutex;
    // --- guarded by mutex ---------------------------------------------------------------
    // Invariant: never empty; shared_ptr so a call in progress keeps the old handler alive
    // while another thread replaces it.
    std::shared_ptr<const unobserved_exception_handler> handler =
        std::make_shared<const unobserved_exception_handler>(print_unobserved);

    /// Never destroyed: a task released by a thread that outlives main() may still report.
    static unobserved_slot& get() noexcept {
        static unobserved_slot* slot = new unobserved_slot;
        return *slot;
    }
};

} // namespace detail

/// Replaces the handler; returns the previous one. An empty handler restores the default
/// (print each unobserved exception once, one line, to stderr).
inline unobserved_exception_handler set_unobserved_exception_handler(unobserved_exception_handler h) {
    auto next = std::make_shared<const unobserved_exception_handler>(
        h ? std::move(h) : unobserved_exception_handler(detail::print_unobserved));
    auto& slot = detail::unobserved_slot::get();
    std::lock_guard lock(slot.mutex);
    auto previous = std::exchange(slot.handler, std::move(next));
    return *previous;
}

/// Hands `e` to the current handler. Never throws: a throwing handler is reported on stderr.
inline void report_unobserved(std::exception_ptr e) noexcept {
    std::shared_ptr<const unobserved_exception_handler> h;
    try {
        auto& slot = detail::unobserved_slot::get();
        std::lock_guard lock(slot.mutex);
        h = slot.handler;
    } catch (...) {
        detail::print_unobserved(e);
        return;
    }
    try {
        (*h)(e);
    } catch (...) {
        std::fprintf(stderr, "weft: the unobserved-exception handler threw; original error:\n");
        detail::print_unobserved(e);
    }
}

} // namespace weft
