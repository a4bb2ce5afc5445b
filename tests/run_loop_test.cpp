// Tests for weft/run_loop.hpp: the caller-driven loop (run, run_one, poll, stop, finish), the
// capture rule, the nesting error, blocking waits on the loop thread, destruction.
#include <weft/promise.hpp>
#include <weft/resume_on.hpp>
#include <weft/run_loop.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/thread_tag.hpp"

static_assert(weft::scheduler<weft::run_loop>);

TEST_CASE("run_loop: poll runs what is ready, in order, without blocking", "[run_loop]") {
    weft::run_loop loop;
    std::vector<int> order;
    auto a = weft::spawn(loop, [&] { order.push_back(1); });
    auto b = weft::spawn(loop, [&] {
        order.push_back(2);
        (void)weft::spawn(loop, [&] { order.push_back(3); }); // queued behind: not this poll's
    });
    CHECK(order.empty());
    CHECK(loop.poll() == 2);
    CHECK(order == std::vector<int>{1, 2});
    CHECK(loop.poll() == 1);
    CHECK(loop.poll() == 0);
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK(a.is_succeeded());
    CHECK(b.is_succeeded());
    const auto st = loop.stats();
    CHECK(st.scheduled == 3);
    CHECK(st.ran == 3);
}

TEST_CASE("run_loop: run_one blocks for work from another thread, run returns on stop", "[run_loop]") {
    weft::run_loop loop;
    std::thread producer([&] { (void)weft::spawn(loop, [] {}); });
    CHECK(loop.run_one()); // blocks until the producer's item arrives
    producer.join();

    std::atomic<int> ran{0};
    std::thread feeder([&] {
        for (int i = 0; i < 100; ++i) {
            (void)weft::spawn(loop, [&] { ran.fetch_add(1); });
        }
        (void)weft::spawn(loop, [&] { loop.stop(); });
    });
    CHECK(loop.run() == 101);
    feeder.join();
    CHECK(ran == 100);
    CHECK(loop.stopped());
    // stopped stays in force until restart()
    (void)weft::spawn(loop, [] {});
    CHECK_FALSE(loop.run_one());
    CHECK(loop.poll() == 0);
    loop.restart();
    CHECK(loop.poll() == 1);
}

TEST_CASE("run_loop: stop from another thread wakes an idle run()", "[run_loop]") {
    weft::run_loop loop;
    std::thread stopper([&] {
        weft::spawn(loop, [] {}).wait(); // run() is running once this completes
        loop.stop();
    });
    CHECK(loop.run() == 1);
    stopper.join();
}

TEST_CASE("run_loop: finish makes run return once the queue is empty", "[run_loop]") {
    weft::run_loop loop;
    int n = 0;
    for (int i = 0; i < 5; ++i) {
        (void)weft::spawn(loop, [&] { ++n; });
    }
    loop.finish();
    CHECK(loop.run() == 5);
    CHECK(n == 5);
}

TEST_CASE("run_loop: continuations attached on the loop come back to it (then and co_await)", "[run_loop]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::run_loop loop;
    const long loop_thread = weft_test::this_thread_tag();
    weft::task<bool> via_then = weft::spawn(loop, [&] {
        return weft::spawn(pool, [] { return weft_test::this_thread_tag(); }).then([&](long worker) {
            return worker != loop_thread && weft_test::this_thread_tag() == loop_thread && loop.runs_on_this_thread();
        });
    });
    auto coro = [&]() -> weft::task<bool> {
        const long worker = co_await weft::spawn(pool, [] { return weft_test::this_thread_tag(); });
        co_return worker != loop_thread&& weft_test::this_thread_tag() == loop_thread&& weft::current_scheduler() ==
            weft::any_scheduler(loop);
    };
    weft::task<bool> via_await = weft::spawn(loop, coro);
    while (!(via_then.is_ready() && via_await.is_ready())) {
        loop.run_one();
    }
    CHECK(via_then.get());
    CHECK(via_await.get());
    CHECK_FALSE(static_cast<bool>(weft::current_scheduler())); // reset after the loop returned
}

TEST_CASE("run_loop: an explicit scheduler overrides the capture", "[run_loop]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::run_loop loop;
    const long loop_thread = weft_test::this_thread_tag();
    auto t = weft::spawn(loop, [&] {
        weft::promise<int> p;
        auto cont = p.get_task().then(pool, [&](int) { return weft_test::this_thread_tag() != loop_thread; });
        p.set_value(1);
        return cont;
    });
    CHECK(loop.run_one()); // the spawned item; the continuation runs on the pool, not here
    CHECK(t.get());
}

TEST_CASE("run_loop: co_await resume_on(pool) leaves the loop, and the capture follows", "[run_loop]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::run_loop loop;
    const long loop_thread = weft_test::this_thread_tag();
    auto coro = [&]() -> weft::task<bool> {
        const bool on_loop = weft_test::this_thread_tag() == loop_thread;
        co_await weft::resume_on(pool); // the explicit override: rule 1
        const bool on_pool = pool.runs_on_this_thread();
        weft::promise<int> p;
        auto later = p.get_task();
        std::thread setter([&p] { p.set_value(1); });
        co_await later; // captured now: the pool, not the loop
        setter.join();
        co_return on_loop&& on_pool&& pool.runs_on_this_thread() &&
            weft::current_scheduler() == weft::any_scheduler(pool);
    };
    auto t = weft::spawn(loop, coro);
    CHECK(loop.run_one()); // starts the coroutine; it leaves the loop at its first co_await
    CHECK(t.get());
    CHECK(loop.poll() == 0); // nothing came back to the loop
}

TEST_CASE("run_loop: run inside run on the same loop fails clearly", "[run_loop]") {
    weft::run_loop loop;
    auto nested = weft::spawn(loop, [&] {
        CHECK_THROWS_AS(loop.run(), std::logic_error);
        CHECK_THROWS_AS(loop.run_one(), std::logic_error);
        CHECK_THROWS_AS(loop.poll(), std::logic_error);
        return 1;
    });
    CHECK(loop.poll() == 1);
    CHECK(nested.get() == 1);
    // a second thread may not drive the loop while one does
    std::atomic<bool> threw{false};
    auto probe = weft::spawn(loop, [&] {
        std::thread other([&] {
            try {
                loop.poll();
            } catch (const std::logic_error&) {
                threw = true;
            }
        });
        other.join();
    });
    loop.poll();
    probe.get();
    CHECK(threw);
}

TEST_CASE("run_loop: a blocking get on the loop thread runs the loop instead of deadlocking", "[run_loop]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::run_loop loop;
    auto t = weft::spawn(loop, [&] {
        // the continuation is captured on the loop: it can only run on this very thread
        auto inner = weft::spawn(pool, [] { return 20; }).then([](int x) { return x + 1; });
        return inner.get(); // .NET's .Result on a UI thread deadlocks here; weft helps
    });
    while (!t.is_ready()) {
        loop.run_one();
    }
    CHECK(t.get() == 21);
}

TEST_CASE("run_loop: destroyed with work queued, the tasks complete canceled", "[run_loop]") {
    std::vector<weft::task<int>> tasks;
    weft::task<int> later;
    weft::task<int> captured;
    {
        weft::run_loop loop;
        auto attach = weft::spawn(loop, [&] {
            // captured on the loop; its antecedent is canceled by the destruction below, whose
            // discarding then schedules this continuation here again, to be discarded too
            captured = later.then([](int x) { return x; });
        });
        later = weft::spawn(loop, [] { return 9; });
        for (int i = 0; i < 3; ++i) {
            tasks.push_back(weft::spawn(loop, [i] { return i; }));
        }
        CHECK(loop.run_one()); // runs `attach` only
        CHECK(attach.is_succeeded());
    }
    CHECK(later.is_canceled());
    for (auto& t : tasks) {
        CHECK(t.is_canceled());
    }
    captured.wait(); // never hangs
    CHECK(captured.is_canceled());
    CHECK_THROWS_AS(captured.get(), weft::operation_canceled);
}

TEST_CASE("run_loop: a foreign thread's post wakes a sleeping run promptly, many times", "[run_loop]") {
    weft::run_loop loop;
    constexpr int rounds = 2000;
    std::atomic<int> seen{0};
    std::thread poster([&] {
        for (int i = 0; i < rounds; ++i) {
            weft::spawn(loop, [&] { seen.fetch_add(1); }).wait(); // waits for the loop each time
        }
        loop.stop();
    });
    loop.run();
    poster.join();
    CHECK(seen == rounds);
}

TEST_CASE("run_loop: a timed wait that gave up on the loop thread does not touch the loop later", "[run_loop]") {
    weft::promise<int> p;
    auto never_yet = p.get_task();
    {
        auto loop = std::make_unique<weft::run_loop>(); // on the heap: ASan sees a later use
        auto waited = weft::spawn(*loop, [&] { return never_yet.wait_for(std::chrono::milliseconds(1)); });
        CHECK(loop->poll() == 1);
        CHECK_FALSE(waited.get()); // gave up; its waiter node stays in never_yet's list
    }
    p.set_value(1); // completes never_yet: the abandoned node must not call into the dead loop
    CHECK(never_yet.get() == 1);
}
