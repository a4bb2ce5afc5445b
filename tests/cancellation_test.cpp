// Tests for weft/cancellation.hpp.
#include <weft/cancellation.hpp>
#include <weft/promise.hpp>
#include <weft/unobserved.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "catch.hpp"

using namespace std::chrono_literals;

TEST_CASE("a default token is never canceled", "[cancel]") {
    weft::cancellation_token none = weft::cancellation_token::none();
    CHECK_FALSE(none.can_be_canceled());
    CHECK_FALSE(none.is_cancellation_requested());
    CHECK_NOTHROW(none.throw_if_cancellation_requested());
    auto reg = none.register_callback([] {});
    CHECK_FALSE(static_cast<bool>(reg));
}

TEST_CASE("cancel runs every callback once, cancel twice is a no-op returning false", "[cancel]") {
    weft::cancellation_source cs;
    auto token = cs.token();
    int calls = 0;
    auto r1 = token.register_callback([&] { ++calls; });
    auto r2 = token.register_callback([&] { ++calls; });
    CHECK(cs.cancel());
    CHECK(calls == 2);
    CHECK_FALSE(cs.cancel());
    CHECK(calls == 2);
    CHECK(token.is_cancellation_requested());
    CHECK_THROWS_AS(token.throw_if_cancellation_requested(), weft::operation_canceled);
}

TEST_CASE("callbacks run newest first, as .NET runs them", "[cancel]") {
    weft::cancellation_source cs;
    std::vector<int> order;
    auto r1 = cs.token().register_callback([&] { order.push_back(1); });
    auto r2 = cs.token().register_callback([&] { order.push_back(2); });
    auto r3 = cs.token().register_callback([&] { order.push_back(3); });
    cs.cancel();
    CHECK(order == std::vector<int>{3, 2, 1});
}

TEST_CASE("a callback registered after cancellation runs at once on the registering thread", "[cancel]") {
    weft::cancellation_source cs;
    cs.cancel();
    std::thread::id ran_on;
    auto reg = cs.token().register_callback([&] { ran_on = std::this_thread::get_id(); });
    CHECK(ran_on == std::this_thread::get_id());
    CHECK_FALSE(static_cast<bool>(reg));
}

TEST_CASE("a destroyed registration's callback never runs", "[cancel]") {
    weft::cancellation_source cs;
    bool ran = false;
    {
        auto reg = cs.token().register_callback([&] { ran = true; });
    }
    auto reg2 = cs.token().register_callback([&] {});
    reg2.unregister();
    CHECK_FALSE(static_cast<bool>(reg2));
    cs.cancel();
    CHECK_FALSE(ran);
}

TEST_CASE("unregistering from inside the callback does not deadlock", "[cancel]") {
    weft::cancellation_source cs;
    weft::cancellation_registration reg;
    bool ran = false;
    reg = cs.token().register_callback([&] {
        reg.unregister();
        ran = true;
    });
    cs.cancel();
    CHECK(ran);
}

TEST_CASE("unregistering from another thread waits for a running callback to finish", "[cancel]") {
    weft::cancellation_source cs;
    std::latch entered{1};
    std::atomic<bool> release{false};
    std::atomic<bool> finished{false};
    auto reg = cs.token().register_callback([&] {
        entered.count_down();
        while (!release) {
            std::this_thread::yield();
        }
        finished = true;
    });
    std::thread canceler([&] { cs.cancel(); });
    entered.wait();
    std::thread releaser([&] {
        std::this_thread::sleep_for(20ms);
        release = true;
    });
    reg.unregister(); // must not return before the callback finished
    CHECK(finished);
    canceler.join();
    releaser.join();
}

TEST_CASE("callback exceptions: every callback runs, then cancel throws them all together", "[cancel]") {
    weft::cancellation_source cs;
    int ran = 0;
    auto r1 = cs.token().register_callback([&] {
        ++ran;
        throw std::runtime_error("one");
    });
    auto r2 = cs.token().register_callback([&] { ++ran; });
    auto r3 = cs.token().register_callback([&] {
        ++ran;
        throw std::logic_error("two");
    });
    try {
        cs.cancel();
        FAIL("cancel did not throw");
    } catch (const weft::aggregate_error& e) {
        CHECK(e.size() == 2);
    }
    CHECK(ran == 3);
    CHECK(cs.is_cancellation_requested());
}

TEST_CASE("a null callback is rejected", "[cancel]") {
    weft::cancellation_source cs;
    void (*null_fn)() = nullptr;
    CHECK_THROWS_AS((void)cs.token().register_callback(null_fn), std::invalid_argument);
    CHECK_THROWS_AS((void)cs.token().register_callback(std::function<void()>{}), std::invalid_argument);
}

TEST_CASE("a linked source follows its parents, not the other way round", "[cancel]") {
    weft::cancellation_source a;
    weft::cancellation_source b;
    auto child = weft::cancellation_source::linked(a.token(), b.token());
    CHECK_FALSE(child.is_cancellation_requested());
    b.cancel();
    CHECK(child.is_cancellation_requested());
    CHECK_FALSE(a.is_cancellation_requested());

    weft::cancellation_source parent;
    auto child2 = weft::cancellation_source::linked(std::vector<weft::cancellation_token>{parent.token()});
    child2.cancel();
    CHECK_FALSE(parent.is_cancellation_requested());

    weft::cancellation_source already;
    already.cancel();
    auto child3 = weft::cancellation_source::linked(already.token());
    CHECK(child3.is_cancellation_requested());
}

TEST_CASE("a linked source may be destroyed while its parent lives on", "[cancel]") {
    weft::cancellation_source parent;
    for (int i = 0; i < 100; ++i) {
        auto child = weft::cancellation_source::linked(parent.token());
    }
    CHECK(parent.cancel());
}

TEST_CASE("cancel_after cancels on the timer thread", "[cancel][timer]") {
    weft::cancellation_source cs;
    weft::promise<std::thread::id> fired;
    auto fired_task = fired.get_task();
    auto reg = cs.token().register_callback([&] { fired.set_value(std::this_thread::get_id()); });
    cs.cancel_after(5ms);
    REQUIRE(fired_task.wait_for(10s));
    CHECK(fired_task.get() != std::this_thread::get_id());
    CHECK(cs.is_cancellation_requested());
}

TEST_CASE("cancel_after: zero or negative cancels now, duration::max never arms a timer", "[cancel][timer]") {
    weft::cancellation_source now;
    now.cancel_after(0ms);
    CHECK(now.is_cancellation_requested());
    weft::cancellation_source negative;
    negative.cancel_after(-1s);
    CHECK(negative.is_cancellation_requested());

    const auto before = weft::system_timers().pending();
    weft::cancellation_source never;
    never.cancel_after(std::chrono::nanoseconds::max());
    never.cancel_after(std::chrono::hours::max());
    CHECK(weft::system_timers().pending() == before);
    CHECK_FALSE(never.is_cancellation_requested());
}

TEST_CASE("a later cancel_after replaces an earlier one, dropping the source drops its timer", "[cancel][timer]") {
    const auto before = weft::system_timers().pending();
    {
        weft::cancellation_source cs;
        cs.cancel_after(1h);
        cs.cancel_after(2h);
        CHECK(weft::system_timers().pending() == before + 1);
        auto token = cs.token(); // a token alone cannot cancel: the timer still goes with the source
    }
    CHECK(weft::system_timers().pending() == before);
}

TEST_CASE("a callback exception on the timer thread reaches the unobserved handler", "[cancel][timer]") {
    weft::promise<std::string> seen;
    auto seen_task = seen.get_task();
    auto previous = weft::set_unobserved_exception_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const weft::aggregate_error& agg) {
            seen.try_set_value(agg.what());
        } catch (...) {
            seen.try_set_value("other");
        }
    });
    weft::cancellation_source cs;
    auto reg = cs.token().register_callback([] { throw std::runtime_error("from timer"); });
    cs.cancel_after(1ms);
    REQUIRE(seen_task.wait_for(10s));
    CHECK_THAT(seen_task.get(), WEFT_CONTAINS_SUBSTRING("from timer"));
    weft::set_unobserved_exception_handler(previous);
}

TEST_CASE("a token ref borrows the state: trivially destructible, converts back to an owning token", "[cancel]") {
    STATIC_REQUIRE(std::is_trivially_destructible_v<weft::cancellation_token_ref>);
    weft::cancellation_token_ref none;
    CHECK_FALSE(none.can_be_canceled());
    CHECK_FALSE(static_cast<weft::cancellation_token>(none).can_be_canceled());
    weft::cancellation_token kept;
    {
        weft::cancellation_source cs;
        const weft::cancellation_token_ref ref = cs.token(); // the temporary token dies here
        CHECK(ref.can_be_canceled());
        kept = ref.token(); // takes its own reference: outlives the source
        CHECK(kept == cs.token());
        cs.cancel();
        CHECK(ref.is_cancellation_requested());
    }
    CHECK(kept.is_cancellation_requested());
}
