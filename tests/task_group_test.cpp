// Tests for weft/task_group.hpp: children joined before join() completes (counted: every child
// ran exactly once), the first failure cancels the rest, every error kept in the order the
// children were added, cancel() and a parent token, children added while joining, adopted I/O
// free tasks asked to end, the destructor that waits, misuse after the join.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"

using namespace std::chrono_literals;

namespace {
struct child_error : std::runtime_error {
    explicit child_error(int i) : std::runtime_error("child " + std::to_string(i)), index(i) {}
    int index;
};
} // namespace

TEST_CASE("task_group: join completes after every child, each ran exactly once") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::vector<std::atomic<int>> ran(1000);
    weft::task_group g;
    for (int i = 0; i < 1000; ++i) {
        g.spawn(pool, [&ran, i] { ran[static_cast<std::size_t>(i)].fetch_add(1); });
    }
    auto j = g.join();
    REQUIRE(j.wait_for(20s));
    j.get();
    REQUIRE(g.join().is_succeeded()); // the same join every time
    for (auto& r : ran) {
        REQUIRE(r.load() == 1);
    }
}

TEST_CASE("task_group: the first failure cancels the rest and every failure is kept, in order") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft_test::manual_scheduler held; // children that have not started yet
    std::atomic<int> late_ran{0};
    weft::task_group g;
    auto a = weft::spawn(
        pool, [] { throw child_error(0); }, g.token());
    auto b = weft::spawn(
        held, [&] { late_ran.fetch_add(1); }, g.token()); // queued: dropped by the cancel
    auto c = weft::spawn(
        held, [&](weft::cancellation_token) { late_ran.fetch_add(1); }, g.token());
    g.add(b);
    g.add(c);
    g.add(a);
    REQUIRE(a.wait_for(20s));
    REQUIRE(b.wait_for(20s)); // canceled at once, still sitting in the queue
    REQUIRE(b.is_canceled());
    REQUIRE(c.is_canceled());
    REQUIRE(g.token().is_cancellation_requested());
    held.run_all();
    REQUIRE(late_ran.load() == 0);
    auto j = g.join();
    REQUIRE(j.wait_for(20s));
    try {
        j.get();
        FAIL("join should have failed");
    } catch (const weft::aggregate_error& e) {
        REQUIRE(e.size() == 1); // the cancellations are not failures
    }
}

TEST_CASE("task_group: several failures are all kept, in the order the children were added") {
    weft::task_group g;
    weft::promise<void> p0, p1, p2;
    g.add(p0.get_task());
    g.add(p1.get_task());
    g.add(p2.get_task());
    auto j = g.join();
    p2.set_exception(std::make_exception_ptr(child_error(2)));
    p0.set_exception(std::make_exception_ptr(child_error(0)));
    REQUIRE_FALSE(j.is_ready()); // p1 still runs
    p1.set_value();
    try {
        j.get();
        FAIL("join should have failed");
    } catch (const weft::aggregate_error& e) {
        REQUIRE(e.size() == 2);
        std::vector<int> order;
        for (const auto& ep : e.exceptions()) {
            try {
                std::rethrow_exception(ep);
            } catch (const child_error& ce) {
                order.push_back(ce.index);
            }
        }
        REQUIRE(order == std::vector<int>{0, 2});
    }
}

TEST_CASE("task_group: cancel() and a parent token cancel the group, which then joins canceled") {
    weft_test::manual_scheduler held;
    {
        weft::task_group g;
        auto c = weft::spawn(
            held, [] {}, g.token());
        g.add(c);
        g.cancel();
        REQUIRE(c.is_canceled());
        auto j = g.join();
        REQUIRE(j.is_canceled());
    }
    weft::cancellation_source parent;
    weft::task_group g{parent.token()};
    std::atomic<bool> saw_cancel{false};
    weft::promise<void> gate;
    g.spawn(weft::inline_scheduler{}, [&](weft::cancellation_token tok) -> weft::task<void> {
        co_await gate.get_task();
        saw_cancel = tok.is_cancellation_requested();
    });
    parent.cancel();
    gate.set_value();
    REQUIRE(saw_cancel.load());
    REQUIRE(g.join().is_canceled());
    held.run_all();
}

TEST_CASE("task_group: a child may add children while the group joins, after the join adding is an error") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<int> ran{0};
    weft::task_group g;
    weft::promise<void> gate;
    g.spawn(pool, [&]() -> weft::task<void> {
        co_await gate.get_task();
        g.spawn(pool, [&] { ran.fetch_add(1); }); // added while join() waits
        ran.fetch_add(1);
    });
    auto j = g.join();
    REQUIRE_FALSE(j.is_ready());
    gate.set_value();
    REQUIRE(j.wait_for(20s));
    j.get();
    REQUIRE(ran.load() == 2);
    REQUIRE_THROWS_AS(g.spawn(pool, [] {}), std::logic_error);
}

TEST_CASE("task_group: the destructor cancels the running children and waits for them") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<bool> started{false};
    std::atomic<bool> ended{false};
    {
        weft::task_group g;
        g.spawn(pool, [&](weft::cancellation_token tok) {
            started = true;
            while (!tok.is_cancellation_requested()) {
                std::this_thread::yield();
            }
            ended = true;
        });
        while (!started.load()) { // bounded by the pool: the child is queued, it starts
            std::this_thread::yield();
        }
    } // cancels, then waits: `ended` is set before the scope ends
    REQUIRE(ended.load());
}

TEST_CASE("task_group: a failure nobody joined goes to the unobserved-exception handler") {
    std::atomic<int> reported{0};
    auto previous = weft::set_unobserved_exception_handler([&](std::exception_ptr) { reported.fetch_add(1); });
    {
        weft::task_group g;
        g.spawn(weft::inline_scheduler{}, [] { throw child_error(1); });
    }
    weft::set_unobserved_exception_handler(previous);
    REQUIRE(reported.load() >= 1);
}
