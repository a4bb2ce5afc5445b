// Random-point shutdown stress for the pool (the pool note, pool_core.hpp §7): each run starts a random
// workload (external submissions from two threads, nested spawns, continuations, local_task
// joins), then shuts the pool down at a random moment in a random way: destructor (drain),
// shutdown(drain), shutdown(cancel), or shutdown from inside one of its own tasks. Afterwards:
// no hang, every closure destroyed exactly once (counted), every task that was accepted is
// ready (run, or canceled), and under ASan/LSan no leak. Size: WEFT_SHUTDOWN_RUNS (default 1,000).
// The seed is printed; WEFT_SEED=<n> replays a run sequence.
#include <weft/errors.hpp>
#include <weft/local_task.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/counted.hpp"
#include "support/env.hpp"

namespace {

struct run_state {
    weft_test::lifetime_counts closures;
    std::atomic<long> ran{0};
    std::mutex mutex;
    std::vector<weft::task<void>> tasks; // guarded by mutex

    void keep(weft::task<void> t) {
        std::lock_guard lock(mutex);
        tasks.push_back(std::move(t));
    }
};

/// Submits `n` tasks; some spawn a child, some attach a continuation, some fork-join.
void submit_some(weft::thread_pool& pool, run_state& st, int n, unsigned seed) {
    std::minstd_rand rng(seed);
    for (int i = 0; i < n; ++i) {
        const auto kind = static_cast<unsigned>(rng() % 4);
        try {
            auto t = weft::spawn(pool, [&pool, &st, kind, c = weft_test::counted(st.closures)] {
                st.ran.fetch_add(1);
                if (kind == 1) { // a nested child, not awaited
                    try {
                        st.keep(
                            weft::spawn(pool, [&st, c2 = weft_test::counted(st.closures)] { st.ran.fetch_add(1); }));
                    } catch (const weft::shutdown_error&) {
                    }
                } else if (kind == 2) { // fork-join
                    try {
                        weft::local_task child{pool, [&st, c2 = weft_test::counted(st.closures)] {
                                                   st.ran.fetch_add(1);
                                               }};
                        try {
                            child.get();
                        } catch (const weft::operation_canceled&) {
                        }
                    } catch (const weft::shutdown_error&) {
                    }
                }
            });
            if (kind == 3) {
                st.keep(t.then([&st, c3 = weft_test::counted(st.closures)](weft::task<void>) { st.ran.fetch_add(1); }));
            }
            st.keep(std::move(t));
        } catch (const weft::shutdown_error&) {
            // refused: the closure was destroyed by spawn (counted below)
        }
    }
}

} // namespace

TEST_CASE("random-point shutdowns: no hang, no leak, every closure destroyed once, every task ready", "[stress]") {
    const long runs = weft_test::env_or("WEFT_SHUTDOWN_RUNS", 1000);
    const auto seed =
        static_cast<unsigned>(weft_test::env_or("WEFT_SEED", static_cast<long>(std::random_device{}() % 100000)));
    std::printf("random shutdowns: %ld runs, WEFT_SEED=%u\n", runs, seed);
    std::minstd_rand rng(seed);
    int counts[4] = {0, 0, 0, 0};
    for (long run = 0; run < runs; ++run) {
        run_state st;
        const auto mode = static_cast<unsigned>(rng() % 4);
        ++counts[mode];
        const auto workers = static_cast<std::size_t>(1 + rng() % 3);
        const int n = static_cast<int>(rng() % 200);
        const auto wait_spins = static_cast<unsigned>(rng() % 20000);
        const auto s1 = static_cast<unsigned>(rng());
        const auto s2 = static_cast<unsigned>(rng());
        {
            auto pool = std::make_unique<weft::thread_pool>(weft::pool_options{.threads = workers});
            std::thread second([&] { submit_some(*pool, st, n / 2, s2); });
            submit_some(*pool, st, n / 2, s1);
            for (unsigned i = 0; i < wait_spins; ++i) {
                std::atomic_signal_fence(std::memory_order_seq_cst); // a random point, not a sleep
            }
            switch (mode) {
            case 0:
                second.join();
                pool.reset(); // the destructor drains
                break;
            case 1:
                pool->shutdown(weft::shutdown_mode::drain);
                second.join();
                break;
            case 2:
                pool->shutdown(weft::shutdown_mode::cancel);
                second.join();
                break;
            default: {
                try {
                    weft::spawn(*pool, [&pool] { pool->shutdown(weft::shutdown_mode::drain); }).wait();
                } catch (const weft::shutdown_error&) {
                }
                second.join();
                // The inner shutdown detached the workers; they drain on their own. Wait (bounded)
                // until every closure is gone before the run's state goes out of scope.
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
                while (st.closures.alive() != 0 && std::chrono::steady_clock::now() < give_up) {
                    std::this_thread::yield();
                }
                for (auto& t : st.tasks) { // a closure is destroyed just before its task completes
                    (void)t.wait_for(std::chrono::seconds(30));
                }
                break;
            }
            }
            pool.reset();
        }
        for (auto& t : st.tasks) {
            INFO("run " << run << ", mode " << mode << ", " << workers << " workers");
            REQUIRE(t.is_ready()); // ran, failed or canceled: nobody waits forever
            if (mode != 2 && t.is_canceled()) {
                FAIL("a task was canceled by a draining shutdown, run " << run);
            }
        }
        st.tasks.clear();
        REQUIRE(st.closures.alive() == 0);
    }
    std::printf("random shutdowns: destructor %d, drain %d, cancel %d, from inside %d\n",
                counts[0],
                counts[1],
                counts[2],
                counts[3]);
}
