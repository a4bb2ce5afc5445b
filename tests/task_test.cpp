// Tests for weft/task.hpp: the task handle, its states, get/wait, errors.
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {
struct custom_error : std::runtime_error {
    explicit custom_error(int c) : std::runtime_error("custom"), code(c) {}
    int code;
};
} // namespace

TEST_CASE("a spawned task yields its value through get()", "[task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::task<int> t = weft::spawn(pool, [] { return 6 * 7; });
    CHECK(t.get() == 42);
    CHECK(t.is_ready());
    CHECK(t.is_succeeded());
    CHECK(t.status() == weft::task_status::succeeded);
}

TEST_CASE("get() rethrows the work's exception with its original type", "[task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto t = weft::spawn(pool, []() -> int { throw custom_error(7); });
    try {
        (void)t.get();
        FAIL("get() did not throw");
    } catch (const custom_error& e) {
        CHECK(e.code == 7);
    }
    CHECK(t.is_failed());
    CHECK(t.exception() != nullptr);
}

TEST_CASE("a handle with no state throws no_state instead of misbehaving", "[task]") {
    weft::task<int> empty;
    CHECK_FALSE(empty.valid());
    CHECK_THROWS_AS(empty.get(), weft::no_state);
    CHECK_THROWS_AS(empty.wait(), weft::no_state);
    CHECK_THROWS_AS(empty.status(), weft::no_state);
    CHECK_THROWS_AS(empty.then([](int x) { return x; }), weft::no_state);

    weft::promise<int> p;
    auto t = p.get_task();
    auto moved = std::move(t);
    CHECK_FALSE(t.valid()); // NOLINT(bugprone-use-after-move): testing the moved-from state
    CHECK_THROWS_AS(t.is_ready(), weft::no_state);
    CHECK(moved.valid());
    p.set_value(1);
    CHECK(moved.get() == 1);
}

TEST_CASE("copies of a task share one state", "[task]") {
    weft::promise<std::string> p;
    auto a = p.get_task();
    auto b = a;
    CHECK_FALSE(a.is_ready());
    p.set_value("shared");
    CHECK(b.is_ready());
    CHECK(&a.get() == &b.get());
}

TEST_CASE("task<void>, task<T&> and move-only task<T> work", "[task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    SECTION("void") {
        std::atomic<int> ran{0};
        weft::task<void> t = weft::spawn(pool, [&] { ran = 1; });
        t.get();
        CHECK(ran == 1);
    }
    SECTION("reference") {
        int target = 5;
        weft::task<int&> t = weft::spawn(pool, [&]() -> int& { return target; });
        int& r = t.get();
        CHECK(&r == &target);
    }
    SECTION("move-only") {
        weft::task<std::unique_ptr<int>> t = weft::spawn(pool, [] { return std::make_unique<int>(9); });
        std::unique_ptr<int> v = std::move(t).get();
        REQUIRE(v != nullptr);
        CHECK(*v == 9);
    }
}

TEST_CASE("status queries follow pending, running, then a final state", "[task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::promise<void> gate;
    auto gate_task = gate.get_task();
    std::atomic<bool> started{false};
    auto blocker = weft::spawn(pool, [&] {
        started = true;
        gate_task.wait();
    });
    auto queued = weft::spawn(pool, [] { return 1; });
    while (!started) {
        std::this_thread::yield();
    }
    CHECK(blocker.is_running());
    // The 1-worker pool is busy; its wait helps, so `queued` may be running or have run.
    const auto s = queued.status();
    CHECK((s == weft::task_status::pending || s == weft::task_status::running || s == weft::task_status::succeeded));
    gate.set_value();
    blocker.get();
    CHECK(queued.get() == 1);

    weft::promise<int> canceled;
    auto ct = canceled.get_task();
    CHECK(ct.is_pending());
    canceled.set_canceled();
    CHECK(ct.is_canceled());
    CHECK_THROWS_AS(ct.get(), weft::operation_canceled);
}

TEST_CASE("wait_for times out on a pending task and succeeds on a ready one", "[task]") {
    weft::promise<int> p;
    auto t = p.get_task();
    CHECK_FALSE(t.wait_for(1ms));
    CHECK_FALSE(t.wait_for(0ms)); // zero: polls
    CHECK_FALSE(t.wait_for(-5s)); // negative: polls
    CHECK_FALSE(t.wait_until(std::chrono::steady_clock::now() + 1ms));
    CHECK_FALSE(t.wait_until(std::chrono::steady_clock::time_point::min())); // past: polls
    CHECK_FALSE(t.wait_until(std::chrono::system_clock::time_point::min()));
    std::thread setter([&] {
        std::this_thread::sleep_for(5ms);
        p.set_value(3);
    });
    CHECK(t.wait_for(std::chrono::hours::max())); // no overflow; waits until set
    setter.join();
    CHECK(t.wait_for(0ms));
    CHECK(t.get() == 3);
}

TEST_CASE("a timed-out waiter leaves nothing behind when the task completes later", "[task]") {
    for (int i = 0; i < 100; ++i) {
        weft::promise<int> p;
        auto t = p.get_task();
        CHECK_FALSE(t.wait_for(10us));
        p.set_value(i); // runs the abandoned waiter node: it must free itself (ASan checks)
        CHECK(t.get() == i);
    }
}

TEST_CASE("tasks are eager: the work runs even if every handle is dropped", "[task]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::promise<void> done;
    auto done_task = done.get_task();
    (void)weft::spawn(pool, [p = std::make_shared<weft::promise<void>>(std::move(done))] { p->set_value(); });
    CHECK(done_task.wait_for(10s));
}

TEST_CASE("blocking get() from many threads on one task wakes them all", "[task]") {
    weft::promise<int> p;
    auto t = p.get_task();
    std::atomic<int> woke{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i) {
        waiters.emplace_back([&] {
            if (t.get() == 11) {
                ++woke;
            }
        });
    }
    std::this_thread::sleep_for(2ms);
    p.set_value(11);
    for (auto& w : waiters) {
        w.join();
    }
    CHECK(woke == 4);
}
