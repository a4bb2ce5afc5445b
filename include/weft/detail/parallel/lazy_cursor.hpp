// weft/detail/parallel/lazy_cursor.hpp — the shared iterator of a forward-range loop
// (forward_loop.hpp §8 and for_each_async): it moves past an item only when the next one is
// asked for, so a source whose increment waits for the next item never holds back one it has.
// SPDX-License-Identifier: MIT
#pragma once

#include <iterator>
#include <optional>
#include <utility>

namespace weft::detail::parallel {

/// Not thread-safe: its owner guards it with a lock.
template<std::forward_iterator It, std::sentinel_for<It> S>
class lazy_cursor {
public:
    lazy_cursor(It first, S last) : cur_(std::move(first)), end_(std::move(last)) {}

    /// The next item (its iterator), or nothing at the end. An exception from the iterator ends
    /// the cursor (its state is unknown) and propagates.
    std::optional<It> next() {
        if (exhausted_) {
            return std::nullopt;
        }
        try {
            if (handed_) {
                ++cur_; // past the item handed out last, only now
                handed_ = false;
            }
            if (cur_ == end_) {
                exhausted_ = true;
                return std::nullopt;
            }
        } catch (...) {
            exhausted_ = true;
            throw;
        }
        handed_ = true;
        return cur_;
    }

    /// Hands out nothing more (a stop, a cancellation).
    void close() noexcept { exhausted_ = true; }
    bool closed() const noexcept { return exhausted_; }

private:
    It cur_;
    S end_;
    bool handed_ = false;
    bool exhausted_ = false;
};

} // namespace weft::detail::parallel
