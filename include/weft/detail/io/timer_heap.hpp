// weft/detail/io/timer_heap.hpp — one reactor's timers: a binary min-heap of timer ops on their
// deadline, each op keeping its own position (heap_index) so a cancel removes it in O(log n).
// Design note: §2 (fire_timers in one loop turn) and §5 (a timer op ends once) of the reactor
// note, weft/detail/io/reactor.hpp. Reactor thread only.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/op.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace weft::detail::io {

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    /// The op with the earliest deadline. Precondition: !empty().
    io_op* top() const noexcept { return heap_.front(); }

    /// May throw std::bad_alloc (nothing changed then).
    void push(io_op* op) {
        op->heap_index = heap_.size();
        heap_.push_back(op);
        sift_up(op->heap_index);
    }
    /// Removes `op`, which is in the heap.
    void remove(io_op* op) noexcept {
        const std::size_t i = op->heap_index;
        io_op* last = heap_.back();
        heap_.pop_back();
        if (last != op) {
            heap_[i] = last;
            last->heap_index = i;
            sift_down(i);
            sift_up(last->heap_index);
        }
    }

private:
    void sift_up(std::size_t i) noexcept {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!(heap_[i]->deadline < heap_[parent]->deadline)) {
                break;
            }
            swap_at(i, parent);
            i = parent;
        }
    }
    void sift_down(std::size_t i) noexcept {
        for (;;) {
            std::size_t smallest = i;
            for (std::size_t c = 2 * i + 1; c <= 2 * i + 2 && c < heap_.size(); ++c) {
                if (heap_[c]->deadline < heap_[smallest]->deadline) {
                    smallest = c;
                }
            }
            if (smallest == i) {
                return;
            }
            swap_at(i, smallest);
            i = smallest;
        }
    }
    void swap_at(std::size_t a, std::size_t b) noexcept {
        std::swap(heap_[a], heap_[b]);
        heap_[a]->heap_index = a;
        heap_[b]->heap_index = b;
    }

    std::vector<io_op*> heap_;
};

} // namespace weft::detail::io
