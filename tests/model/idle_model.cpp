// tests/model/idle_model.cpp — Relacy model of the pool's wake-up protocol (idle_set.hpp).
// Two workers and one submitter from outside. The queue is a counter of items published with a
// release store; the workers run the idle protocol exactly as pool_core does (spin state, park,
// re-check, hand-off by the last spinner). A lost wake-up leaves a worker asleep with an item
// queued and nobody else awake: Relacy reports a deadlock. after() checks every item ran once.
// Without arguments the real protocol must pass; with `plant` the classic bug (re-check before
// announcing sleep) must be caught, and exit 0 means it was.
// SPDX-License-Identifier: MIT
#include <weft/detail/thread_pool/idle_set.hpp>

#include "rl_platform.hpp" // last: see there

namespace {

constexpr int items_to_submit = 2;

template<weft::detail::planted_fault Fault>
struct idle_test : rl::test_suite<idle_test<Fault>, 3> {
    using platform = weft::model::rl_platform<Fault>;
    using idle_type = weft::detail::idle_set<platform>;

    weft::model::futex_emulation futex;
    alignas(idle_type) unsigned char storage[sizeof(idle_type)];
    idle_type* idle = nullptr;
    typename platform::template atomic<int> queued; // items published and not yet taken
    typename platform::template atomic<int> ran;    // items run
    typename platform::template atomic<bool> stop;  // set by whoever runs the last item

    void before() {
        weft::model::current_futex() = &futex;
        idle = ::new (static_cast<void*>(storage)) idle_type(2);
        queued.store(0, rl::mo_relaxed);
        ran.store(0, rl::mo_relaxed);
        stop.store(false, rl::mo_relaxed);
    }

    bool try_take() {
        int n = queued.load(rl::mo_acquire);
        while (n > 0) {
            if (queued.compare_exchange_weak(n, n - 1, rl::mo_acq_rel, rl::mo_acquire)) {
                return true;
            }
        }
        return false;
    }

    void worker(std::size_t self) {
        bool spinning = false;
        while (!stop.load(rl::mo_acquire)) {
            if (try_take()) {
                if (spinning) {
                    spinning = false;
                    idle->stop_spinning();
                }
                if (ran.fetch_add(1, rl::mo_acq_rel) + 1 == items_to_submit) {
                    stop.store(true, rl::mo_release);
                    idle->wake_all();
                }
                continue;
            }
            if (!spinning) { // a quiet or refused spin ends here too: the model does not spin
                spinning = idle->try_start_spinning(1) == idle_type::spin_start::announced;
            }
            spinning = idle->park(
                self,
                spinning,
                [&] { return queued.load(rl::mo_relaxed) > 0 || stop.load(rl::mo_acquire); },
                [] { return false; });
        }
        if (spinning) {
            idle->stop_spinning();
        }
    }

    void thread(unsigned index) {
        if (index == 2) { // the submitter: S1 publish, then S2–S3
            for (int i = 0; i < items_to_submit; ++i) {
                queued.fetch_add(1, rl::mo_release);
                idle->notify_work();
            }
            return;
        }
        worker(index);
    }

    void after() {
        RL_ASSERT(ran.load(rl::mo_relaxed) == items_to_submit);
        RL_ASSERT(idle->sleepers_now() == 0);
        idle->~idle_type();
    }
};

} // namespace

int main(int argc, char** argv) {
    return weft::model::model_main<idle_test, weft::detail::planted_fault::idle_check_before_register>(
        argc, argv, "lost wake-up");
}
