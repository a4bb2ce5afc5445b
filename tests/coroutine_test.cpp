// Tests for task<T> as a coroutine and awaitable (weft/detail/task_coroutine.hpp via
// weft/task.hpp) and for weft/resume_on.hpp.
#include <weft/promise.hpp>
#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"
#include "support/thread_tag.hpp"

namespace {

struct custom_error : std::runtime_error {
    custom_error() : std::runtime_error("custom") {}
};

weft::task<int> ready_value(int v) {
    co_return v;
}

weft::task<int> add_one(weft::task<int> t) {
    co_return co_await t + 1;
}

weft::task<void> record_then_wait(bool& started, weft::task<void> gate) {
    started = true;
    co_await gate;
}

} // namespace

TEST_CASE("a coroutine task starts eagerly on the caller", "[coroutine]") {
    bool started = false;
    weft::promise<void> gate;
    auto t = record_then_wait(started, gate.get_task());
    CHECK(started); // ran up to its first suspension before returning
    CHECK_FALSE(t.is_ready());
    gate.set_value();
    CHECK(t.is_ready());
    t.get();
}

TEST_CASE("co_return delivers the value and co_await yields it", "[coroutine]") {
    CHECK(ready_value(5).get() == 5);
    weft::promise<int> p;
    auto t = add_one(p.get_task());
    p.set_value(41);
    CHECK(t.get() == 42);
}

TEST_CASE("co_await rethrows the original exception type, an escaping exception fails the task", "[coroutine]") {
    weft::promise<int> p;
    auto t = add_one(p.get_task());
    p.set_exception(std::make_exception_ptr(custom_error{}));
    CHECK(t.is_failed());
    CHECK_THROWS_AS(t.get(), custom_error);
}

TEST_CASE("operation_canceled escaping a coroutine cancels its task", "[coroutine]") {
    auto body = []() -> weft::task<int> {
        throw weft::operation_canceled{};
        co_return 1;
    };
    auto t = body();
    CHECK(t.is_canceled());

    weft::promise<int> p;
    auto awaiting = add_one(p.get_task());
    p.set_canceled();
    CHECK(awaiting.is_canceled());
}

TEST_CASE("co_await on an empty task throws no_state inside the coroutine", "[coroutine]") {
    auto body = []() -> weft::task<bool> {
        try {
            co_await weft::task<int>{};
        } catch (const weft::no_state&) {
            co_return true;
        }
        co_return false;
    };
    CHECK(body().get());
}

TEST_CASE("co_await resumes on the scheduler that was current at the co_await", "[coroutine]") {
    weft_test::manual_scheduler sched;
    weft::promise<int> p;
    long resumed_on = 0;
    weft::task<int> t;
    auto starter = weft::spawn(sched, [&] {
        t = [](weft::task<int> in, long& where) -> weft::task<int> {
            int v = co_await in;
            where = weft_test::this_thread_tag();
            co_return v;
        }(p.get_task(), resumed_on);
    });
    sched.run_all();
    starter.get();
    std::thread completer([&] { p.set_value(7); });
    completer.join();
    CHECK_FALSE(t.is_ready()); // the resumption went back to sched, not the completer
    sched.run_all();
    CHECK(t.get() == 7);
    CHECK(resumed_on == weft_test::this_thread_tag());
}

TEST_CASE("resume_on hops to the pool, resume_on(inline) does not suspend", "[coroutine]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto body = [](weft::thread_pool& p) -> weft::task<bool> {
        co_await weft::resume_on(weft::inline_scheduler{});
        const bool before = p.runs_on_this_thread();
        co_await weft::resume_on(p);
        co_return !before && p.runs_on_this_thread() && weft::current_scheduler() == weft::any_scheduler(p);
    };
    CHECK(body(pool).get());
}

TEST_CASE("resume_on a shut-down scheduler throws at the co_await", "[coroutine]") {
    weft_test::manual_scheduler sched;
    sched.close();
    auto body = [](weft_test::manual_scheduler& s) -> weft::task<bool> {
        try {
            co_await weft::resume_on(s);
        } catch (const weft::shutdown_error&) {
            co_return true;
        }
        co_return false;
    };
    CHECK(body(sched).get());
}

TEST_CASE("a discarded resumption surfaces as operation_canceled", "[coroutine]") {
    weft_test::manual_scheduler sched;
    auto body = [](weft_test::manual_scheduler& s) -> weft::task<void> {
        co_await weft::resume_on(s);
    };
    auto t = body(sched);
    CHECK(sched.discard_all() == 1);
    CHECK(t.is_canceled());
}

TEST_CASE("move-only and reference results pass through co_await", "[coroutine]") {
    auto make = []() -> weft::task<std::unique_ptr<int>> {
        co_return std::make_unique<int>(3);
    };
    auto use = [&]() -> weft::task<int> {
        std::unique_ptr<int> v = co_await make();
        co_return *v;
    };
    CHECK(use().get() == 3);
    static int target = 1;
    auto ref = []() -> weft::task<int&> {
        co_return target;
    };
    auto use_ref = [&]() -> weft::task<bool> {
        int& r = co_await ref();
        co_return &r == &target;
    };
    CHECK(use_ref().get());
}

TEST_CASE("a million sequential co_awaits of ready tasks do not overflow the stack", "[coroutine][deep]") {
    auto loop = []() -> weft::task<long> {
        long sum = 0;
        for (int i = 0; i < 1'000'000; ++i) {
            sum += co_await ready_value(1);
        }
        co_return sum;
    };
    CHECK(loop().get() == 1'000'000);
}

TEST_CASE("a million coroutines awaiting each other resume without stack overflow", "[coroutine][deep]") {
    constexpr int depth = 1'000'000;
    weft::promise<int> p;
    weft::task<int> t = p.get_task();
    for (int i = 0; i < depth; ++i) {
        t = add_one(std::move(t)); // each suspends on the previous one
    }
    p.set_value(0); // resumes all of them, one after another, on this thread
    CHECK(t.get() == depth);
}

TEST_CASE("a coroutine chain that spawns and awaits pool work completes", "[coroutine]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto body = [](weft::thread_pool& p) -> weft::task<int> {
        int sum = 0;
        for (int i = 0; i < 1000; ++i) {
            sum += co_await weft::spawn(p, [i] { return i; });
        }
        co_return sum;
    };
    CHECK(body(pool).get() == 999 * 1000 / 2);
}
