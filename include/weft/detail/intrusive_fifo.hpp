// weft/detail/intrusive_fifo.hpp — a singly linked FIFO through a link field of the items
// themselves: pushing allocates nothing. One thread's only (or guarded by its owner's lock).
// Users: work_item_fifo (trampoline.hpp: the recursion guard, run loops, gates, the destroy
// cascade) and op_fifo (detail/io/op.hpp: wait queues, the ready list, the blocking pool).
// Design note: none beyond this; no atomics.
// SPDX-License-Identifier: MIT
#pragma once

namespace weft::detail {

/// `Link::next(T*)` returns a reference to the item's link field.
template<typename T, typename Link>
struct intrusive_fifo {
    T* head = nullptr;
    T* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }

    void push(T* item) noexcept {
        Link::next(item) = nullptr;
        if (tail != nullptr) {
            Link::next(tail) = item;
        } else {
            head = item;
        }
        tail = item;
    }

    T* pop() noexcept {
        T* item = head;
        if (item != nullptr) {
            head = Link::next(item);
            if (head == nullptr) {
                tail = nullptr;
            }
            Link::next(item) = nullptr;
        }
        return item;
    }

    /// Unlinks `item` if it is here (a linear search); true if it was.
    bool remove(T* item) noexcept {
        T* prev = nullptr;
        for (T* p = head; p != nullptr; prev = p, p = Link::next(p)) {
            if (p == item) {
                (prev == nullptr ? head : Link::next(prev)) = Link::next(p);
                if (tail == p) {
                    tail = prev;
                }
                Link::next(p) = nullptr;
                return true;
            }
        }
        return false;
    }
};

} // namespace weft::detail
