// Random-point shutdown stress for the schedulers that borrow a base's threads (strand,
// limited_scheduler, concurrent_exclusive_pair): two outside threads keep spawning onto all of
// them while the base pool is shut down (drain or cancel) at a random moment, and the schedulers
// are then destroyed with work possibly still queued. Afterwards: no waiter hangs, every task is
// succeeded or canceled, every closure is destroyed exactly once, and the strand's and the
// pair's rules held throughout (plain counters, which TSan checks). WEFT_SCHED_SHUTDOWN_RUNS
// (default 1,000) runs; WEFT_SEED replays a sequence.
#include <weft/concurrent_exclusive.hpp>
#include <weft/errors.hpp>
#include <weft/limited_scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
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
    long strand_inside = 0; // plain: only strand items touch it
    long strand_overlaps = 0;
    std::atomic<int> writers{0};
    std::atomic<int> readers{0};
    std::atomic<int> limited_now{0};
    std::atomic<int> violations{0};
    std::atomic<long> refused{0};
    std::mutex mutex;
    std::vector<weft::task<void>> tasks; // guarded by mutex
};

struct targets {
    weft::strand strand;
    weft::limited_scheduler limited;
    weft::concurrent_exclusive_pair pair;
    explicit targets(weft::thread_pool& pool) : strand(pool), limited(pool, 2), pair(pool, 2) {}
};

void produce(targets& to, run_state& st, int n, unsigned seed) {
    std::minstd_rand rng(seed);
    std::vector<weft::task<void>> mine;
    for (int i = 0; i < n; ++i) {
        weft_test::counted c(st.closures);
        try {
            switch (rng() % 4) {
            case 0:
                mine.push_back(weft::spawn(to.strand, [&st, c] {
                    st.strand_overlaps += ++st.strand_inside != 1;
                    --st.strand_inside;
                }));
                break;
            case 1:
                mine.push_back(weft::spawn(to.limited, [&st, c] {
                    if (st.limited_now.fetch_add(1) >= 2) {
                        st.violations.fetch_add(1);
                    }
                    st.limited_now.fetch_sub(1);
                }));
                break;
            case 2:
                mine.push_back(weft::spawn(to.pair.exclusive(), [&st, c] {
                    if (st.writers.fetch_add(1) != 0 || st.readers.load() != 0) {
                        st.violations.fetch_add(1);
                    }
                    st.writers.fetch_sub(1);
                }));
                break;
            default:
                mine.push_back(weft::spawn(to.pair.concurrent(), [&st, c] {
                    st.readers.fetch_add(1);
                    if (st.writers.load() != 0) {
                        st.violations.fetch_add(1);
                    }
                    st.readers.fetch_sub(1);
                }));
                break;
            }
        } catch (const weft::shutdown_error&) {
            st.refused.fetch_add(1);
        }
    }
    std::lock_guard lock(st.mutex);
    for (auto& t : mine) {
        st.tasks.push_back(std::move(t));
    }
}

} // namespace

TEST_CASE("strand, limited and pair over a pool shut down at a random point: nothing hangs or leaks",
          "[stress][scheduler]") {
    const long runs = weft_test::env_or("WEFT_SCHED_SHUTDOWN_RUNS", 1000);
    const auto seed = static_cast<unsigned>(weft_test::env_or("WEFT_SEED", static_cast<long>(std::random_device{}())));
    std::printf("scheduler_shutdown_stress: WEFT_SEED=%u, %ld runs\n", seed, runs);
    std::minstd_rand rng(seed);
    long canceled = 0;
    long succeeded = 0;
    for (long r = 0; r < runs; ++r) {
        run_state st;
        {
            weft::thread_pool pool{weft::pool_options{.threads = 2}};
            auto to = std::make_unique<targets>(pool);
            const unsigned s1 = static_cast<unsigned>(rng());
            const unsigned s2 = static_cast<unsigned>(rng());
            std::thread p1([&] { produce(*to, st, 300, s1); });
            std::thread p2([&] { produce(*to, st, 300, s2); });
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
            pool.shutdown(rng() % 2 == 0 ? weft::shutdown_mode::cancel : weft::shutdown_mode::drain);
            p1.join();
            p2.join();
            to.reset(); // destroyed with work possibly still queued
        }
        for (auto& t : st.tasks) {
            REQUIRE(t.wait_for(std::chrono::seconds(30))); // a hang fails here, it does not hang ctest
            REQUIRE((t.is_succeeded() || t.is_canceled()));
            (t.is_canceled() ? canceled : succeeded) += 1;
        }
        st.tasks.clear();
        REQUIRE(st.strand_overlaps == 0);
        REQUIRE(st.violations.load() == 0);
        REQUIRE(st.closures.alive() == 0);
    }
    std::printf("scheduler_shutdown_stress: %ld succeeded, %ld canceled\n", succeeded, canceled);
    CHECK(succeeded > 0);
}
