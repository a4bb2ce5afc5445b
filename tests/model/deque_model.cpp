// tests/model/deque_model.cpp — Relacy model of weft's Chase–Lev deque (the pool's own code).
// One owner and two thieves over a deque created with capacity 2, so pushes force a grow while
// thieves steal. Every item carries a payload written before push and read after take: Relacy
// reports a data race if an ordering is too weak, and after() checks that every item was taken
// exactly once. Run without arguments: the real deque must pass. Run with `plant`: the deque
// with the published paper's resize bug (push keeps the pre-grow ring) must be caught; exit 0
// means "caught", so ctest fails if the model ever stops catching it.
// SPDX-License-Identifier: MIT
#include <weft/detail/thread_pool/work_stealing_deque.hpp>

#include "rl_platform.hpp" // last: see there

namespace {

constexpr int item_count = 5;

struct item {
    rl::var<int> payload;
    int taken = 0; // fibers of one OS thread: a plain counter is exact
};

template<weft::detail::planted_fault Fault>
struct deque_test : rl::test_suite<deque_test<Fault>, 3> {
    using platform = weft::model::rl_platform<Fault>;
    using deque_type = weft::detail::work_stealing_deque<item*, platform>;
    // Made and destroyed inside each run: Relacy tracks (and must see freed) its allocations.
    alignas(deque_type) unsigned char storage[sizeof(deque_type)];
    deque_type* deque_ptr = nullptr;
    item items[item_count];

    deque_type& deque() { return *deque_ptr; }
    void before() { deque_ptr = ::new (static_cast<void*>(storage)) deque_type(2); }

    void take(item* it) {
        if (it != nullptr) {
            RL_ASSERT(it->payload($) == static_cast<int>(it - items) + 100); // the push's write is visible
            ++it->taken;
        }
    }

    void push(int i) {
        items[i].payload($) = i + 100;
        deque().push(&items[i]);
    }

    void thread(unsigned index) {
        if (index == 0) { // owner: grows twice (2 -> 4 -> 8) while thieves steal
            push(0);
            push(1);
            push(2);
            take(deque().pop());
            push(3);
            push(4);
            take(deque().pop());
            take(deque().pop());
        } else { // thieves
            take(deque().steal());
            take(deque().steal());
        }
    }

    void after() {
        while (item* it = deque().pop()) {
            take(it);
        }
        for (const item& it : items) {
            RL_ASSERT(it.taken == 1); // exactly once: nothing lost, nothing twice
        }
        deque_ptr->~deque_type();
    }
};

} // namespace

int main(int argc, char** argv) {
    return weft::model::model_main<deque_test, weft::detail::planted_fault::deque_push_into_stale_ring>(
        argc, argv, "resize bug");
}
