// Tests for weft/blocking.hpp: blocking regions on a pool are compensated by spare threads (the
// pool note, pool_core.hpp §8; detail/thread_pool/spares.hpp).
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
#include <cstring>
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

TEST_CASE("a worker that blocks inside weft::blocking is compensated: a 1-worker pool still runs work",
          "[thread_pool][blocking]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1, .max_blocking_threads = 1}};
    std::promise<void> release; // a std::future wait blocks for real (a weft wait would help)
    auto released = release.get_future();
    auto blocker = weft::spawn(pool, [&] {
        // Blocks the only worker until a task queued after it runs: needs the spare thread.
        return weft::blocking([&] { return released.wait_for(30s) == std::future_status::ready; });
    });
    auto other = weft::spawn(pool, [&] {
        char name[16] = {};
        ::pthread_getname_np(::pthread_self(), name, sizeof name);
        release.set_value();
        return std::string(name); // the spare: named after the workers
    });
    REQUIRE(blocker.get());
    CHECK(other.get() == "weft-1");
    CHECK(pool.stats().spares_started == 1);
    CHECK(pool.stats().workers.size() == 2);

    // The spare retires, and a second region reuses it instead of starting another thread.
    std::promise<void> release2;
    auto released2 = release2.get_future();
    auto blocker2 = weft::spawn(
        pool, [&] { return weft::blocking([&] { return released2.wait_for(30s) == std::future_status::ready; }); });
    auto other2 = weft::spawn(pool, [&] { release2.set_value(); });
    REQUIRE(blocker2.get());
    other2.get();
    CHECK(pool.stats().spares_started == 1);
}

TEST_CASE("without spare threads a blocking region is not compensated", "[thread_pool][blocking]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1, .max_blocking_threads = 0}};
    std::atomic<bool> other_ran{false};
    auto blocker = weft::spawn(pool, [&] {
        return weft::blocking([&] {
            std::this_thread::sleep_for(50ms); // nobody else can run meanwhile: there is no thread
            return other_ran.load();
        });
    });
    auto other = weft::spawn(pool, [&] { other_ran.store(true); });
    CHECK_FALSE(blocker.get());
    other.get();
    CHECK(other_ran.load());
    CHECK(pool.stats().spares_started == 0);
}

TEST_CASE("weft::blocking outside a pool just calls the function and passes exceptions on", "[thread_pool][blocking]") {
    CHECK(weft::blocking([] { return 5; }) == 5);
    CHECK_THROWS_AS(weft::blocking([]() -> int { throw std::runtime_error("x"); }), std::runtime_error);
}

TEST_CASE("shutdown from a spare thread's task while a worker is inside a blocking region", "[thread_pool][blocking]") {
    std::atomic<int> ran{0};
    std::promise<void> release; // a real block: a weft wait would help and run the stopper itself
    auto released = release.get_future();
    weft::task<bool> blocker;
    weft::task<void> stopper;
    {
        weft::thread_pool pool{weft::pool_options{.threads = 1, .max_blocking_threads = 1}};
        blocker = weft::spawn(
            pool, [&] { return weft::blocking([&] { return released.wait_for(30s) == std::future_status::ready; }); });
        stopper = weft::spawn(pool, [&] { // runs on the spare: the only worker is blocked
            pool.shutdown();              // from the pool's own thread: detaches, never joins
            ran.fetch_add(1);
            release.set_value();
        });
        REQUIRE(stopper.wait_for(30s));
        REQUIRE(blocker.get());
    } // the destructor: threads already detached; it must neither hang nor terminate
    CHECK(ran.load() == 1);
}
