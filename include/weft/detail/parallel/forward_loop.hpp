// weft/detail/parallel/forward_loop.hpp — the source of iterations for a forward range: one
// shared iterator under a mutex, handed out in chunks.
//
// Design note (loop_core.hpp §1–§5 for what every loop shares)
// ===========
// §8 The iterator moves past an item only when the next chunk is claimed, not when the item is
//    handed out (lazy_cursor.hpp): with chunks of one (partitioner::simple, grain 1), a source whose increment
//    blocks until the next item exists (a queue being filled) never holds back an item already
//    there. Chunk sizes adapt as for index loops (automatic) or stay at `grain`, at most 1024.
//    An exception from the iterator ends the source (its state is unknown) and fails the loop.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/parallel/index_loop.hpp>
#include <weft/detail/parallel/lazy_cursor.hpp>
#include <weft/detail/parallel/loop_core.hpp>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace weft::detail::parallel {

inline constexpr std::uint64_t max_forward_chunk = 1024;

/// Factory: `f(loop_core&)` makes a runner; runner(position, iterator) runs one item.
template<std::forward_iterator It, std::sentinel_for<It> S, typename Factory>
class forward_loop final : public loop_core {
public:
    forward_loop(thread_pool& pool, const loop_options& o, unsigned participants, It first, S last, Factory& f)
        : loop_core(pool, o, participants)
        , factory_(&f)
        , adaptive_(o.split == partitioner::automatic)
        , grain_(std::clamp<std::uint64_t>(o.grain, 1, max_forward_chunk))
        , cursor_(std::move(first), std::move(last)) {}

protected:
    void participate(unsigned) noexcept override {
        std::optional<decltype((*factory_)(std::declval<loop_core&>()))> runner;
        std::vector<It> items;
        try {
            runner.emplace((*factory_)(static_cast<loop_core&>(*this)));
            items.reserve(adaptive_ ? max_forward_chunk : grain_);
        } catch (...) {
            fail(std::current_exception());
            return;
        }
        std::uint64_t size = grain_;
        for (;;) {
            if (token_canceled()) {
                cancel_now();
            }
            items.clear();
            const std::uint64_t first = claim(size, items);
            if (items.empty()) {
                break;
            }
            const auto started = adaptive_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
            try {
                for (std::uint64_t i = 0; i < items.size(); ++i) {
                    if (first + i >= limit()) {
                        mark_dropped();
                        break;
                    }
                    (*runner)(first + i, items[i]);
                }
            } catch (...) {
                fail(std::current_exception());
            }
            if (adaptive_) {
                size = adapted_chunk(size, std::chrono::steady_clock::now() - started, grain_, max_forward_chunk);
            }
        }
        try {
            runner->finish();
        } catch (...) {
            fail(std::current_exception());
        }
    }

private:
    /// Up to `size` items into `items`; returns the position of the first.
    std::uint64_t claim(std::uint64_t size, std::vector<It>& items) noexcept {
        std::lock_guard lock(mutex_);
        const std::uint64_t first = next_position_;
        try {
            while (items.size() < size) {
                std::optional<It> it = cursor_.next();
                if (!it) {
                    break;
                }
                if (next_position_ >= limit()) {
                    cursor_.close();
                    mark_dropped();
                    break;
                }
                items.push_back(std::move(*it));
                ++next_position_;
            }
        } catch (...) { // the cursor closed itself
            fail(std::current_exception());
        }
        return first;
    }

    Factory* factory_; // on the caller's stack: reached only with work in hand (§2)
    const bool adaptive_;
    const std::uint64_t grain_;

    std::mutex mutex_; // guards the fields below
    lazy_cursor<It, S> cursor_;
    std::uint64_t next_position_ = 0;
};

} // namespace weft::detail::parallel
