// Tests for weft/local_task.hpp: structured fork-join on the pool.
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

namespace {
long long fib_local(weft::thread_pool& pool, int n) {
    if (n < 2) {
        return n;
    }
    weft::local_task child{pool, [&pool, n] {
                               return fib_local(pool, n - 1);
                           }};
    const long long b = fib_local(pool, n - 2);
    return child.get() + b;
}
} // namespace

TEST_CASE("local_task fork-join computes fib on 1 and 2 workers and from outside the pool", "[local_task]") {
    for (std::size_t workers : {1U, 2U}) {
        weft::thread_pool pool{weft::pool_options{.threads = workers}};
        auto t = weft::spawn(pool, [&pool] { return fib_local(pool, 20); });
        CHECK(t.get() == 6765);
        CHECK(fib_local(pool, 15) == 610); // the root joins from outside (blocks, no helping)
    }
}

TEST_CASE("local_task rethrows its exception from get() and reports it when nobody asked", "[local_task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto t = weft::spawn(pool, [&pool] {
        weft::local_task child{pool, []() -> int {
                                   throw std::logic_error("child");
                               }};
        return child.get();
    });
    CHECK_THROWS_AS(t.get(), std::logic_error);

    std::atomic<int> reported{0};
    static std::atomic<int>* sink = nullptr;
    sink = &reported;
    auto previous = weft::set_unobserved_exception_handler([](std::exception_ptr) noexcept { sink->fetch_add(1); });
    weft::spawn(pool, [&pool] {
        weft::local_task child{pool, [] {
                                   throw std::logic_error("dropped");
                               }};
    }).get();
    weft::set_unobserved_exception_handler(previous);
    CHECK(reported.load() == 1);
}

TEST_CASE("a local_task's destructor joins it, and void children work", "[local_task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<int> ran{0};
    weft::spawn(pool, [&] {
        for (int i = 0; i < 100; ++i) {
            weft::local_task child{pool, [&] {
                                       ran.fetch_add(1);
                                   }};
        } // each destructor waits for its child
        CHECK(ran.load() == 100);
    }).get();
    CHECK(ran.load() == 100);
}

TEST_CASE("a local_task on a pool that stopped accepting work throws shutdown_error", "[local_task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    pool.shutdown();
    std::atomic<bool> ran{false};
    CHECK_THROWS_AS((weft::local_task{pool,
                                      [&] {
                                          ran.store(true);
                                      }}),
                    weft::shutdown_error);
    CHECK_FALSE(ran.load());
}
