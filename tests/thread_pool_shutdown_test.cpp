// Tests for thread_pool shutdown (the pool note, pool_core.hpp §7): drain and cancel, refusal
// after shutdown, shutdown from the pool's own task, no lost wake-up in the park window.
#include <weft/blocking.hpp>
#include <weft/local_task.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/unobserved.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/counted.hpp"
#include "support/cpu.hpp"
#include "support/test_hook.hpp"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

using namespace std::chrono_literals;

TEST_CASE("shutdown(drain) runs everything queued and everything it spawns", "[thread_pool]") {
    std::atomic<int> ran{0};
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    for (int i = 0; i < 1000; ++i) {
        (void)weft::spawn(pool, [&] {
            ++ran;
            (void)weft::spawn(pool, [&] { ++ran; }); // from a worker: accepted while draining
        });
    }
    pool.shutdown(weft::shutdown_mode::drain);
    CHECK(ran == 2000);
}

namespace {
std::atomic<bool> blocker_may_finish{false};
} // namespace

TEST_CASE("shutdown(cancel) completes queued tasks canceled and destroys each closure once", "[thread_pool]") {
    weft_test::lifetime_counts closures;
    std::vector<weft::task<void>> tasks;
    std::atomic<bool> started{false};
    blocker_may_finish = false;
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto blocker = weft::spawn(pool, [&] {
        started = true;
        while (!blocker_may_finish) {
            std::this_thread::yield();
        }
    });
    while (!started) {
        std::this_thread::yield();
    }
    for (int i = 0; i < 100; ++i) {
        tasks.push_back(weft::spawn(pool, [c = weft_test::counted(closures)] {}));
    }
    {
        // The blocker may finish only once the pool is closed in cancel mode: no timing.
        weft_test::scoped_hook hook([](const char* name) {
            if (std::string_view(name) == "pool.closed") {
                blocker_may_finish = true;
            }
        });
        pool.shutdown(weft::shutdown_mode::cancel);
    }
    blocker.get();
    for (auto& t : tasks) {
        CHECK(t.is_canceled());
    }
    CHECK(closures.alive() == 0);
    CHECK(pool.stats().total().discarded == 100);
}

TEST_CASE("submitting from outside after shutdown fails with shutdown_error", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    pool.shutdown();
    CHECK_THROWS_AS(weft::spawn(pool, [] {}), weft::shutdown_error);
    pool.shutdown(); // idempotent
}

TEST_CASE("shutdown or destruction from the pool's own task does not self-join", "[thread_pool]") {
    SECTION("shutdown()") {
        weft::thread_pool pool{weft::pool_options{.threads = 2}};
        auto t = weft::spawn(pool, [&pool] { pool.shutdown(); });
        CHECK(t.wait_for(30s));
    }
    SECTION("destructor") {
        auto pool = std::make_shared<std::unique_ptr<weft::thread_pool>>(
            std::make_unique<weft::thread_pool>(weft::pool_options{.threads = 2}));
        weft::promise<void> done;
        auto done_task = done.get_task();
        (void)weft::spawn(**pool, [pool, d = std::make_shared<weft::promise<void>>(std::move(done))] {
            pool->reset(); // destroys the pool from one of its workers
            d->set_value();
        });
        CHECK(done_task.wait_for(30s));
    }
}

/// The worker's first park, held right after its re-check found nothing.
constexpr const char* park_window = "park.after_check";

TEST_CASE("no lost wake-up: work submitted while the worker is between its re-check and its sleep runs",
          "[thread_pool][hook]") {
    weft_test::hold_first_at hold(park_window);
    weft::thread_pool pool{weft::pool_options{.threads = 1, .max_blocking_threads = 0}};
    REQUIRE(hold.wait_until_held());
    auto t = weft::spawn(pool, [] { return 7; }); // lands in the window: checked, not yet asleep
    hold.release();
    REQUIRE(t.wait_for(10s)); // a lost wake-up would leave it queued with the worker asleep
    CHECK(t.get() == 7);
}

TEST_CASE("shutdown while the only worker sits between its re-check and its sleep completes, 20 times each way",
          "[thread_pool][hook]") {
    for (int round = 0; round < 20; ++round) {
        for (auto mode : {weft::shutdown_mode::drain, weft::shutdown_mode::cancel}) {
            weft_test::hold_first_at hold(park_window);
            weft::thread_pool pool{weft::pool_options{.threads = 1, .max_blocking_threads = 0}};
            REQUIRE(hold.wait_until_held());
            auto queued = weft::spawn(pool, [] { return 1; }); // queued inside the window
            std::atomic<bool> closing{false};
            auto closer = std::async(std::launch::async, [&] {
                closing.store(true);
                pool.shutdown(mode); // closes while the worker is still inside the window
            });
            while (!closing.load()) {
                std::this_thread::yield();
            }
            for (int i = 0; i < 100; ++i) {
                std::this_thread::yield(); // let close() begin; either order must end well
            }
            hold.release();
            REQUIRE(closer.wait_for(10s) == std::future_status::ready); // no hang
            REQUIRE(queued.is_ready());
            if (mode == weft::shutdown_mode::drain) {
                CHECK(queued.get() == 1); // drain runs what was accepted
            } else {
                CHECK((queued.is_canceled() || queued.is_succeeded()));
            }
        }
    }
}
