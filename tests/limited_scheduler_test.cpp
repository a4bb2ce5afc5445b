// Tests for weft/limited_scheduler.hpp and weft/concurrent_exclusive.hpp (one engine,
// weft/detail/gate.hpp): the concurrency rule under stress, writers preferred, completion,
// refusal by the base, destruction with work queued, the capture rule.
#include <weft/concurrent_exclusive.hpp>
#include <weft/limited_scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"
#include "support/occupancy.hpp"

static_assert(weft::scheduler<weft::limited_scheduler>);
static_assert(weft::scheduler<weft::concurrent_exclusive_pair::side>);

namespace {

using weft_test::occupancy;

void busy_for(int spins) {
    for (int i = 0; i < spins; ++i) {
        __asm__ __volatile__("" ::: "memory");
    }
}

} // namespace

TEST_CASE("limited_scheduler never runs more than N at once, under stress", "[limited]") {
    weft::thread_pool pool{weft::pool_options{.threads = 4}};
    for (std::size_t limit : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
        weft::limited_scheduler lim{pool, limit};
        occupancy occ;
        std::vector<weft::task<void>> tasks;
        std::vector<std::thread> producers;
        std::mutex m;
        for (int p = 0; p < 4; ++p) {
            producers.emplace_back([&] {
                std::vector<weft::task<void>> mine;
                for (int i = 0; i < 5000; ++i) {
                    mine.push_back(weft::spawn(lim, [&] {
                        occ.enter();
                        busy_for(200);
                        occ.leave();
                    }));
                }
                std::lock_guard lock(m);
                for (auto& t : mine) {
                    tasks.push_back(std::move(t));
                }
            });
        }
        for (auto& t : producers) {
            t.join();
        }
        weft::when_all(tasks).get();
        CHECK(occ.peak.load() <= static_cast<int>(limit));
        CHECK(occ.peak.load() >= 1);
        const auto st = lim.stats();
        CHECK(st.scheduled == 20000);
        CHECK(st.ran == 20000);
        CHECK(st.discarded == 0);
    }
}

TEST_CASE("limited_scheduler with N = 1 is serial and FIFO", "[limited]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::limited_scheduler lim{pool, 1};
    std::vector<int> order; // plain: serialized (TSan checks it)
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < 2000; ++i) {
        tasks.push_back(weft::spawn(lim, [&order, i] { order.push_back(i); }));
    }
    weft::when_all(tasks).get();
    REQUIRE(order.size() == 2000);
    for (int i = 0; i < 2000; ++i) {
        REQUIRE(order[static_cast<std::size_t>(i)] == i);
    }
}

TEST_CASE("limited_scheduler rejects a zero limit and an empty base", "[limited]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    CHECK_THROWS_AS(weft::limited_scheduler(pool, 0), std::invalid_argument);
    CHECK_THROWS_AS(weft::limited_scheduler(weft::any_scheduler{}, 1), std::invalid_argument);
    CHECK_THROWS_AS(weft::concurrent_exclusive_pair(pool, 0), std::invalid_argument);
}

TEST_CASE("concurrent/exclusive: an exclusive item never overlaps anything, under stress", "[limited][pair]") {
    weft::thread_pool pool{weft::pool_options{.threads = 4}};
    weft::concurrent_exclusive_pair pair{pool, 3};
    std::atomic<int> readers{0};
    std::atomic<int> writers{0};
    std::atomic<int> violations{0};
    occupancy occ;
    long shared_value = 0; // written by writers only, read by readers: TSan checks the rule
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < 20000; ++i) {
        if (i % 10 == 0) {
            tasks.push_back(weft::spawn(pair.exclusive(), [&] {
                if (writers.fetch_add(1) != 0 || readers.load() != 0) {
                    violations.fetch_add(1);
                }
                ++shared_value;
                busy_for(100);
                writers.fetch_sub(1);
            }));
        } else {
            tasks.push_back(weft::spawn(pair.concurrent(), [&] {
                readers.fetch_add(1);
                occ.enter();
                if (writers.load() != 0) {
                    violations.fetch_add(1);
                }
                volatile long seen = shared_value;
                (void)seen;
                busy_for(100);
                occ.leave();
                readers.fetch_sub(1);
            }));
        }
    }
    weft::when_all(tasks).get();
    CHECK(violations == 0);
    CHECK(shared_value == 2000);
    CHECK(occ.peak.load() <= 3);
    CHECK(pair.stats().ran == 20000);
}

TEST_CASE("concurrent/exclusive: a waiting writer goes before readers that came after it", "[limited][pair]") {
    weft::thread_pool pool{weft::pool_options{.threads = 4}};
    weft::concurrent_exclusive_pair pair{pool, 4};
    std::latch readers_in{2};
    std::latch release{1};
    std::mutex m;
    std::vector<char> order;
    auto note = [&](char c) {
        std::lock_guard lock(m);
        order.push_back(c);
    };
    auto r1 = weft::spawn(pair.concurrent(), [&] {
        readers_in.count_down();
        release.wait();
    });
    auto r2 = weft::spawn(pair.concurrent(), [&] {
        readers_in.count_down();
        release.wait();
    });
    readers_in.wait(); // both readers run
    auto w = weft::spawn(pair.exclusive(), [&] { note('W'); });
    auto r3 = weft::spawn(pair.concurrent(), [&] { note('R'); }); // arrives after the writer
    release.count_down();
    weft::when_all(r1, r2, w, r3).get();
    CHECK(order == std::vector<char>{'W', 'R'});
}

TEST_CASE("concurrent/exclusive: complete() refuses new work and completion() waits for the queue", "[limited][pair]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::concurrent_exclusive_pair pair{pool, 2};
    std::latch release{1};
    auto blocker = weft::spawn(pair.exclusive(), [&] { release.wait(); });
    std::atomic<int> ran{0};
    std::vector<weft::task<void>> queued;
    for (int i = 0; i < 10; ++i) {
        queued.push_back(weft::spawn(pair.concurrent(), [&] { ran.fetch_add(1); }));
    }
    pair.complete();
    CHECK_THROWS_AS(weft::spawn(pair.concurrent(), [] {}), weft::shutdown_error);
    CHECK_THROWS_AS(weft::spawn(pair.exclusive(), [] {}), weft::shutdown_error);
    auto done = pair.completion();
    CHECK_FALSE(done.is_ready());
    release.count_down();
    done.get();
    CHECK(ran == 10);
    CHECK(blocker.is_succeeded());
}

TEST_CASE("limited_scheduler destroyed with work queued completes that work canceled", "[limited]") {
    weft_test::manual_scheduler base;
    std::vector<weft::task<int>> tasks;
    {
        weft::limited_scheduler lim{base, 1};
        for (int i = 0; i < 4; ++i) {
            tasks.push_back(weft::spawn(lim, [i] { return i; }));
        }
        CHECK(base.queued() == 1); // one runner: the limit is 1
    }
    base.run_all(); // the runner outlives the scheduler: its item runs, the rest were discarded
    CHECK(tasks[0].get() == 0);
    for (std::size_t i = 1; i < tasks.size(); ++i) {
        CHECK(tasks[i].is_canceled());
    }
}

TEST_CASE("a gate whose base refuses or discards the work cancels it, never hangs", "[limited]") {
    SECTION("refused at schedule: thrown back, nothing taken") {
        weft_test::manual_scheduler base;
        base.close();
        weft::limited_scheduler lim{base, 2};
        CHECK_THROWS_AS(weft::spawn(lim, [] { return 1; }), weft::shutdown_error);
        CHECK(lim.stats().scheduled == 0);
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        pool.shutdown();
        weft::concurrent_exclusive_pair pair{pool, 1};
        CHECK_THROWS_AS(weft::spawn(pair.exclusive(), [] {}), weft::shutdown_error);
        CHECK_THROWS_AS(weft::spawn(pair.concurrent(), [] {}), weft::shutdown_error);
    }
    SECTION("queued behind a running item when the base shuts down: canceled") {
        weft_test::manual_scheduler base;
        weft::limited_scheduler lim{base, 1};
        auto a = weft::spawn(lim, [] { return 1; });
        auto b = weft::spawn(lim, [] { return 2; }); // queued: the limit is 1
        base.close();
        base.discard_all(); // a's runner is discarded: a, then b, complete canceled
        CHECK(a.is_canceled());
        CHECK(b.is_canceled());
        CHECK(lim.stats().discarded == 2);
    }
    SECTION("discarded later, with more queued behind") {
        weft_test::manual_scheduler base;
        weft::concurrent_exclusive_pair pair{base, 1};
        auto a = weft::spawn(pair.concurrent(), [] { return 1; });
        auto b = weft::spawn(pair.exclusive(), [] { return 2; });
        auto c = weft::spawn(pair.concurrent(), [] { return 3; });
        base.close();
        base.discard_all();
        CHECK(a.is_canceled());
        CHECK(b.is_canceled());
        CHECK(c.is_canceled());
    }
}

TEST_CASE("continuations attached on a side come back to that side", "[limited][pair]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::concurrent_exclusive_pair pair{pool, 2};
    weft::limited_scheduler lim{pool, 1};
    auto on_exclusive = weft::spawn(pair.exclusive(), [&] {
        return weft::spawn(pool, [] { return 1; }).then([&](int) {
            return weft::current_scheduler() == weft::any_scheduler(pair.exclusive()) &&
                   pair.exclusive().runs_on_this_thread() && !pair.concurrent().runs_on_this_thread();
        });
    });
    CHECK(on_exclusive.get());
    auto on_limited = weft::spawn(
        lim, [&] { return weft::spawn(pool, [] { return 1; }).then([&](int) { return lim.runs_on_this_thread(); }); });
    CHECK(on_limited.get());
}

TEST_CASE("a runner gives the base's thread back after a budget of items", "[limited]") {
    weft_test::manual_scheduler base;
    weft::limited_scheduler lim{base, 1};
    std::vector<weft::task<void>> tasks;
    const unsigned n = weft::detail::gate::runner_budget * 2 + 1;
    for (unsigned i = 0; i < n; ++i) {
        tasks.push_back(weft::spawn(lim, [] {}));
    }
    unsigned visits = 0;
    while (base.run_one()) {
        ++visits;
    }
    CHECK(visits == 3);
    CHECK(lim.stats().ran == n);
}
