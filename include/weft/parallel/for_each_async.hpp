// weft/parallel/for_each_async.hpp — for_each_async: a for-each whose body returns a task, with
// at most `limit` bodies in flight, as a task (.NET 6 Parallel.ForEachAsync).
// Design note: docs/decisions/0012-parallel-loops.md §6. `limit` lanes, each a coroutine that
// takes the next item under a lock, starts the body on the pool and awaits its task, so a body
// waiting on I/O holds no thread. The first failure cancels the loop's token (linked to the
// caller's), which every body receives; an operation_canceled that follows it is the
// cancellation, not a failure, so the error list holds only the real failures.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/parallel/lazy_cursor.hpp>
#include <weft/errors.hpp>
#include <weft/resume_on.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

namespace detail::parallel {

template<typename It, typename S, typename Body>
struct async_loop {
    async_loop(thread_pool& p, It first, S last, Body b, const cancellation_token& parent)
        : pool(&p)
        , body(std::move(b))
        , source(cancellation_source::linked(parent))
        , cursor(std::move(first), std::move(last)) {}

    thread_pool* pool;
    Body body;
    cancellation_source source; // canceled by the caller's token or the first failure

    std::mutex mutex; // guards the fields below
    lazy_cursor<It, S> cursor;
    bool skipped = false; // items left untaken by a cancellation
    std::vector<std::exception_ptr> errors;

    /// The next item, or nothing when the source is done or the loop canceled.
    std::optional<It> take() {
        {
            std::lock_guard lock(mutex);
            try {
                std::optional<It> it = cursor.next();
                if (it && source.is_cancellation_requested()) {
                    cursor.close();
                    skipped = true;
                    return std::nullopt;
                }
                return it;
            } catch (...) { // the cursor closed itself
                errors.push_back(std::current_exception());
            }
        }
        source.cancel(); // outside our lock: its callbacks may resume lanes that take() again
        return std::nullopt;
    }

    void failed(std::exception_ptr e) {
        bool cancellation = false;
        try {
            std::rethrow_exception(e);
        } catch (const operation_canceled&) {
            cancellation = source.is_cancellation_requested();
        } catch (...) {
        }
        {
            std::lock_guard lock(mutex);
            if (cancellation) {
                skipped = true; // the body ended early: part of its work did not happen
            } else {
                errors.push_back(std::move(e));
            }
        }
        if (!cancellation) {
            source.cancel(); // callbacks run outside our lock
        }
    }

    task<void> start_body(It& it) {
        if constexpr (std::is_invocable_v<Body&, std::iter_reference_t<It>, cancellation_token>) {
            return std::invoke(body, *it, source.token());
        } else {
            return std::invoke(body, *it);
        }
    }
};

template<typename It, typename S, typename Body>
task<void> async_lane(std::shared_ptr<async_loop<It, S, Body>> loop) {
    co_await resume_on(*loop->pool); // the caller never runs a body: for_each_async returns at once
    for (;;) {
        if (!loop->pool->runs_on_this_thread()) {
            co_await resume_on(*loop->pool); // bodies start on the pool, not on an I/O thread
        }
        std::optional<It> it = loop->take();
        if (!it) {
            co_return;
        }
        std::exception_ptr error;
        try {
            co_await loop->start_body(*it);
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            loop->failed(std::move(error));
        }
    }
}

template<typename It, typename S, typename Body>
task<void> run_async_loop(std::shared_ptr<async_loop<It, S, Body>> loop, std::size_t limit) {
    std::vector<task<void>> lanes;
    std::exception_ptr start_error;
    try {
        lanes.reserve(limit);
        for (std::size_t i = 0; i < limit; ++i) {
            lanes.push_back(async_lane(loop));
        }
    } catch (...) { // no memory for another lane, or the pool refused: the lanes we have finish
        start_error = std::current_exception();
        loop->failed(start_error);
    }
    for (auto& lane : lanes) {
        try {
            co_await lane;
        } catch (...) {
            loop->failed(std::current_exception()); // resume_on refused (shutdown)
        }
    }
    std::lock_guard lock(loop->mutex);
    if (!loop->errors.empty()) {
        throw aggregate_error(std::move(loop->errors));
    }
    if (loop->skipped) {
        throw operation_canceled{};
    }
}

} // namespace detail::parallel

/// Runs `body(item)` or `body(item, token)` (returning task<void>) for every item of
/// [first, last), with at most `limit` bodies in flight; each body starts on `pool`. The
/// range must outlive the returned task. The token a body receives is canceled by `token` and
/// by the first failure; then no new body starts.
/// The task: succeeds when every body succeeded; fails with aggregate_error holding every
/// failure (an operation_canceled after the loop's token was canceled is not one); else is
/// canceled if `token` stopped items from running. `limit` 0 throws std::invalid_argument.
template<std::forward_iterator It, std::sentinel_for<It> S, typename Body>
task<void> for_each_async(
    thread_pool& pool, It first, S last, std::size_t limit, Body body, const cancellation_token& token = {}) {
    static_assert(std::is_invocable_r_v<task<void>, Body&, std::iter_reference_t<It>, cancellation_token> ||
                      std::is_invocable_r_v<task<void>, Body&, std::iter_reference_t<It>>,
                  "weft: for_each_async needs body(item) or body(item, cancellation_token) returning task<void>");
    if (limit == 0) {
        throw std::invalid_argument("weft: for_each_async with a limit of 0");
    }
    auto loop = std::make_shared<detail::parallel::async_loop<It, S, Body>>(
        pool, std::move(first), std::move(last), std::move(body), token);
    return detail::parallel::run_async_loop(std::move(loop), limit);
}

/// The same over a range (an lvalue that must outlive the task).
template<std::ranges::forward_range R, typename Body>
task<void>
for_each_async(thread_pool& pool, R& range, std::size_t limit, Body body, const cancellation_token& token = {}) {
    return for_each_async(pool, std::ranges::begin(range), std::ranges::end(range), limit, std::move(body), token);
}

} // namespace weft
