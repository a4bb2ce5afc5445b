// Tests for task<T>::then (weft/task.hpp): value and task forms, unwrapping, options, chains.
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"

namespace {
struct custom_error : std::runtime_error {
    custom_error() : std::runtime_error("custom") {}
};
} // namespace

TEST_CASE("the value form receives the value and its result becomes the new task's", "[then]") {
    weft::promise<int> p;
    auto t = p.get_task().then([](int x) { return std::to_string(x); });
    static_assert(std::is_same_v<decltype(t), weft::task<std::string>>);
    p.set_value(42);
    CHECK(t.get() == "42");
}

TEST_CASE("the value form is skipped when the antecedent failed, and the error propagates", "[then]") {
    weft::promise<int> p;
    bool ran = false;
    auto t = p.get_task().then([&](int x) {
        ran = true;
        return x;
    });
    p.set_exception(std::make_exception_ptr(custom_error{}));
    CHECK_THROWS_AS(t.get(), custom_error);
    CHECK_FALSE(ran);
}

TEST_CASE("the value form is skipped when the antecedent was canceled", "[then]") {
    weft::promise<void> p;
    bool ran = false;
    auto t = p.get_task().then([&] { ran = true; });
    p.set_canceled();
    CHECK(t.is_canceled());
    CHECK_THROWS_AS(t.get(), weft::operation_canceled);
    CHECK_FALSE(ran);
}

TEST_CASE("the task form always runs and sees the antecedent's outcome", "[then]") {
    SECTION("success") {
        weft::promise<int> p;
        auto t = p.get_task().then([](weft::task<int> prev) { return prev.get() + 1; });
        p.set_value(1);
        CHECK(t.get() == 2);
    }
    SECTION("failure") {
        weft::promise<int> p;
        auto t = p.get_task().then([](weft::task<int> prev) { return prev.is_failed(); });
        p.set_exception(std::make_exception_ptr(custom_error{}));
        CHECK(t.get());
    }
    SECTION("cancellation") {
        weft::promise<int> p;
        auto t = p.get_task().then([](const weft::task<int>& prev) { return prev.is_canceled(); });
        p.set_canceled();
        CHECK(t.get());
    }
}

TEST_CASE("a continuation runs exactly once whether attached before or after completion", "[then]") {
    std::atomic<int> before{0};
    std::atomic<int> after{0};
    weft::promise<int> p;
    auto t = p.get_task();
    auto c1 = t.then([&](int) { ++before; });
    p.set_value(1);
    auto c2 = t.then([&](int) { ++after; });
    c1.get();
    c2.get();
    CHECK(before == 1);
    CHECK(after == 1);
}

TEST_CASE("a continuation that returns a task is unwrapped", "[then]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::promise<int> p;
    auto t = p.get_task().then([&](int x) { return weft::spawn(pool, [x] { return x * 2; }); });
    static_assert(std::is_same_v<decltype(t), weft::task<int>>);
    p.set_value(21);
    CHECK(t.get() == 42);
}

TEST_CASE("an exception thrown by a continuation fails its task, not the thread", "[then]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto t = weft::spawn(pool, [] { return 1; }).then(pool, [](int) -> int { throw custom_error{}; });
    CHECK_THROWS_AS(t.get(), custom_error);
    CHECK(weft::spawn(pool, [] { return 2; }).get() == 2); // the worker survived
}

TEST_CASE("then(scheduler, f) runs f on the named scheduler", "[then]") {
    weft_test::manual_scheduler sched;
    weft::promise<int> p;
    auto t = p.get_task().then(sched, [](int x) { return x + 1; });
    p.set_value(1);
    CHECK_FALSE(t.is_ready()); // queued on sched, not run inline
    CHECK(sched.run_all() == 1);
    CHECK(t.get() == 2);
}

TEST_CASE("a continuation bound for a shut-down scheduler completes canceled", "[then]") {
    weft_test::manual_scheduler sched;
    sched.close();
    weft::promise<int> p;
    auto t = p.get_task().then(sched, [](int x) { return x; });
    p.set_value(1);
    CHECK(t.is_canceled());
}

TEST_CASE("continuation options", "[then]") {
    SECTION("execute_synchronously runs on the completing thread") {
        weft::promise<void> p;
        std::thread::id ran_on;
        auto t = p.get_task().then([&] { ran_on = std::this_thread::get_id(); },
                                   weft::continuation_options::execute_synchronously);
        std::thread completer([&] { p.set_value(); });
        const auto completer_id = completer.get_id();
        completer.join();
        t.get();
        CHECK(ran_on == completer_id);
    }
    SECTION("only_on_error runs only after a failure; otherwise the continuation is canceled") {
        weft::promise<int> ok;
        auto skipped = ok.get_task().then([](weft::task<int>) { return 1; }, weft::continuation_options::only_on_error);
        ok.set_value(1);
        CHECK(skipped.is_canceled());
        weft::promise<int> bad;
        auto ran = bad.get_task().then([](weft::task<int> t) { return t.exception() != nullptr; },
                                       weft::continuation_options::only_on_error);
        bad.set_exception(std::make_exception_ptr(custom_error{}));
        CHECK(ran.get());
    }
    SECTION("not_on_canceled skips a canceled antecedent") {
        weft::promise<int> p;
        bool ran = false;
        auto t = p.get_task().then([&](weft::task<int>) { ran = true; }, weft::continuation_options::not_on_canceled);
        p.set_canceled();
        CHECK(t.is_canceled());
        CHECK_FALSE(ran);
    }
    SECTION("run_asynchronously hops even when already on the target scheduler") {
        weft_test::manual_scheduler sched;
        weft::promise<int> p;
        p.set_value(1);
        weft::task<int> t;
        auto outer = weft::spawn(sched, [&] {
            t = p.get_task().then([](int x) { return x; }, weft::continuation_options::run_asynchronously);
            return t.is_ready(); // must not have run inline inside this item
        });
        CHECK(sched.run_all() == 2);
        CHECK_FALSE(outer.get());
        CHECK(t.get() == 1);
    }
    SECTION("misuse is rejected at the call with invalid_argument") {
        weft::promise<int> p;
        auto t = p.get_task();
        using o = weft::continuation_options;
        CHECK_THROWS_AS(t.then([](int) {}, o::execute_synchronously | o::run_asynchronously), std::invalid_argument);
        CHECK_THROWS_AS(t.then([](int) {}, o::only_on_error), std::invalid_argument);
        CHECK_THROWS_AS(t.then([](int) {}, o::run_asynchronously), std::invalid_argument); // nowhere to hop
        int (*null_fn)(int) = nullptr;
        CHECK_THROWS_AS(t.then(null_fn), std::invalid_argument);
        CHECK_THROWS_AS(t.then(std::function<void(int)>{}), std::invalid_argument);
        p.set_value(0);
    }
}

TEST_CASE("a move-only value reaches a value continuation as an lvalue it may move from", "[then]") {
    weft::promise<std::unique_ptr<int>> p;
    auto t = p.get_task().then([](std::unique_ptr<int>& v) { return *std::move(v) + 1; });
    p.set_value(std::make_unique<int>(4));
    CHECK(t.get() == 5);
}

TEST_CASE("a million-link chain built ahead completes without stack overflow", "[then][deep]") {
    constexpr int links = 1'000'000;
    SECTION("values") {
        weft::promise<int> p;
        weft::task<int> t = p.get_task();
        for (int i = 0; i < links; ++i) {
            t = t.then([](int x) { return x + 1; });
        }
        p.set_value(0); // the whole chain completes here, on this thread
        CHECK(t.get() == links);
    }
    SECTION("an error propagating through every link") {
        weft::promise<int> p;
        weft::task<int> t = p.get_task();
        for (int i = 0; i < links; ++i) {
            t = t.then([](int x) { return x + 1; });
        }
        p.set_exception(std::make_exception_ptr(custom_error{}));
        CHECK_THROWS_AS(t.get(), custom_error);
    }
    SECTION("on a worker pool, attached while it runs") {
        weft::thread_pool pool{weft::pool_options{.threads = 2}};
        weft::task<int> t = weft::spawn(pool, [] { return 0; });
        for (int i = 0; i < links; ++i) {
            t = t.then([](int x) { return x + 1; });
        }
        CHECK(t.get() == links);
    }
}
