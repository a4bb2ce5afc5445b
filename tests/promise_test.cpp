// Tests for weft/promise.hpp (TaskCompletionSource).
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/thread_pool.hpp>
#include <weft/unobserved.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"

TEST_CASE("set_value completes the task, a second set fails clearly and changes nothing", "[promise]") {
    weft::promise<int> p;
    auto t = p.get_task();
    p.set_value(1);
    CHECK(t.get() == 1);
    CHECK_THROWS_AS(p.set_value(2), weft::promise_already_satisfied);
    CHECK_THROWS_AS(p.set_exception(std::make_exception_ptr(std::runtime_error("x"))), weft::promise_already_satisfied);
    CHECK_THROWS_AS(p.set_canceled(), weft::promise_already_satisfied);
    CHECK_FALSE(p.try_set_value(3));
    CHECK_FALSE(p.try_set_canceled());
    CHECK(t.get() == 1);
}

TEST_CASE("set_exception and set_canceled complete the task accordingly", "[promise]") {
    weft::promise<void> failed;
    auto f = failed.get_task();
    CHECK(failed.try_set_exception(std::make_exception_ptr(std::out_of_range("oops"))));
    CHECK_THROWS_AS(f.get(), std::out_of_range);

    weft::promise<void> canceled;
    auto c = canceled.get_task();
    canceled.set_canceled();
    CHECK_THROWS_AS(c.get(), weft::operation_canceled);
    CHECK_FALSE(canceled.try_set_value());
}

TEST_CASE("a promise destroyed unset breaks its task", "[promise]") {
    weft::task<int> t;
    {
        weft::promise<int> p;
        t = p.get_task();
    }
    CHECK(t.is_failed());
    CHECK_THROWS_AS(t.get(), weft::broken_promise);
}

TEST_CASE("a promise nobody took a task from is destroyed silently", "[promise]") {
    int reports = 0;
    auto previous = weft::set_unobserved_exception_handler([&](std::exception_ptr) { ++reports; });
    { weft::promise<int> p; }
    weft::set_unobserved_exception_handler(previous);
    CHECK(reports == 0);
}

TEST_CASE("a moved-from promise has no state", "[promise]") {
    weft::promise<int> a;
    auto t = a.get_task();
    weft::promise<int> b = std::move(a);
    CHECK_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): testing the moved-from state
    CHECK_THROWS_AS(a.set_value(1), weft::no_state);
    CHECK_THROWS_AS(a.get_task(), weft::no_state);
    CHECK_FALSE(a.try_set_value(1));
    b.set_value(2);
    CHECK(t.get() == 2);
}

TEST_CASE("racing setters: exactly one wins", "[promise]") {
    for (int round = 0; round < 500; ++round) {
        weft::promise<int> p;
        auto t = p.get_task();
        std::atomic<int> wins{0};
        std::thread a([&] { wins += p.try_set_value(1) ? 1 : 0; });
        std::thread b([&] { wins += p.try_set_canceled() ? 1 : 0; });
        a.join();
        b.join();
        REQUIRE(wins == 1);
        REQUIRE(t.is_ready());
    }
}

TEST_CASE("a promise with a source policy runs unnamed continuations on that scheduler", "[promise]") {
    weft_test::manual_scheduler sched;
    weft::promise<int> p{weft::any_scheduler(sched)};
    auto t = p.get_task().then([](int x) { return x + 1; });
    p.set_value(1);
    CHECK_FALSE(t.is_ready()); // not inline on the setter
    CHECK(sched.run_all() == 1);
    CHECK(t.get() == 2);
}

TEST_CASE("a promise dropped after a waiter timed out frees the waiter and reports nothing", "[promise]") {
    int reports = 0;
    auto previous = weft::set_unobserved_exception_handler([&](std::exception_ptr) { ++reports; });
    {
        weft::promise<int> p;
        CHECK_FALSE(p.get_task().wait_for(std::chrono::microseconds(50))); // leaves a node behind
    } // the broken_promise publish frees the node (LSan checks); no handle could observe it
    weft::set_unobserved_exception_handler(previous);
    CHECK(reports == 0);
}
