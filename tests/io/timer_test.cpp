// tests/io/timer_test.cpp — timers: deadline order, zero and maximal delays, cancellation
// inside one expiry batch, with_timeout, periodic_timer.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "io/io_support.hpp"

TEST_CASE("io: timers fire in deadline order / promptly for zero and negative delays") {
    weft::io_context io;
    std::vector<int> order;
    std::mutex m;
    std::vector<weft::task<void>> all;
    for (int ms : {30, 10, 20, 0, -5}) {
        all.push_back(weft::delay(io, std::chrono::milliseconds(ms)).then([&, ms] {
            std::lock_guard lock(m);
            order.push_back(ms);
        }));
    }
    for (auto& t : all) {
        await_get(t);
    }
    REQUIRE(order.size() == 5);
    CHECK(order[2] == 10);
    CHECK(order[3] == 20);
    CHECK(order[4] == 30);
    const auto t0 = std::chrono::steady_clock::now();
    await_get(weft::delay(io, -1h));
    await_get(weft::delay(io, std::chrono::steady_clock::duration::min()));
    await_get(weft::delay_until(io, std::chrono::steady_clock::time_point::min()));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("io: a maximal timeout never fires and does not overflow and its token cancels it") {
    weft::io_context io;
    weft::cancellation_source cs;
    auto forever = weft::delay(io, std::chrono::steady_clock::duration::max(), {.token = cs.token()});
    auto forever2 = weft::delay(io, std::chrono::hours::max());
    CHECK_FALSE(forever.wait_for(50ms));
    CHECK_FALSE(forever2.is_ready());
    cs.cancel();
    REQUIRE(forever.wait_for(20s));
    CHECK(forever.is_canceled());
}

TEST_CASE("io: a timer canceled by another timer's continuation in the same expiry batch never fires") {
    weft::io_context io;
    for (int round = 0; round < 200; ++round) {
        weft::cancellation_source cs_a, cs_b;
        std::atomic<int> fired{0};
        weft::task<void> a, b, ca, cb;
        // Set up on the I/O thread, so neither timer can fire before both continuations are
        // attached (from the test thread, a delay of 2 ms on a loaded machine could let `a`
        // complete first, and its continuation would then cancel `b` from this thread).
        await_get(weft::spawn(io, [&] {
            const auto when = std::chrono::steady_clock::now() + 2ms;
            a = weft::delay_until(io, when, {.token = cs_a.token()});
            b = weft::delay_until(io, when, {.token = cs_b.token()});
            // Whichever fires first cancels the other (inline on the I/O thread, same batch).
            ca = a.then(
                [&](weft::task<void> t) {
                    if (t.is_succeeded()) {
                        ++fired;
                        cs_b.cancel();
                    }
                },
                weft::continuation_options::execute_synchronously);
            cb = b.then(
                [&](weft::task<void> t) {
                    if (t.is_succeeded()) {
                        ++fired;
                        cs_a.cancel();
                    }
                },
                weft::continuation_options::execute_synchronously);
        }));
        await_get(ca);
        await_get(cb);
        REQUIRE(fired.load() == 1);
        CHECK((a.is_canceled() != b.is_canceled()));
    }
}

TEST_CASE("io: with_timeout passes the result through or fails with timeout_error") {
    weft::io_context io;
    auto fast = weft::with_timeout(io, weft::delay(io, 1ms).then([] { return 7; }), 10s);
    CHECK(await_get(fast) == 7);
    weft::promise<int> never;
    auto slow = weft::with_timeout(io, never.get_task(), 20ms);
    REQUIRE(slow.wait_for(20s));
    CHECK_THROWS_AS(slow.get(), weft::timeout_error);
    auto failing =
        weft::with_timeout(io, weft::delay(io, 1ms).then([]() -> int { throw std::runtime_error("x"); }), 10s);
    REQUIRE(failing.wait_for(20s));
    CHECK_THROWS_AS(failing.get(), std::runtime_error);
    auto move_only = weft::with_timeout(io, weft::delay(io, 1ms).then([] { return std::make_unique<int>(5); }), 10s);
    CHECK(*await_get(std::move(move_only)) == 5);
}

TEST_CASE("io: periodic_timer ticks on a fixed-rate schedule") {
    weft::io_context io;
    weft::periodic_timer timer(io, 5ms);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
        await_get(timer.next());
    }
    CHECK(std::chrono::steady_clock::now() - t0 >= 25ms);
    CHECK_THROWS_AS(weft::periodic_timer(io, 0ms), std::invalid_argument);
    CHECK_THROWS_AS(weft::periodic_timer(io, -1h), std::invalid_argument);
    CHECK_THROWS_AS(weft::periodic_timer(io, std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
}

TEST_CASE("io: periodic_timer saturates a period too large for the clock: its tick never comes") {
    weft::io_context io;
    weft::cancellation_source cs;
    weft::periodic_timer max_ns(io, std::chrono::steady_clock::duration::max());
    weft::periodic_timer max_hours(io, std::chrono::hours::max());
    weft::periodic_timer infinite(io, std::chrono::duration<double>(std::numeric_limits<double>::infinity()));
    std::vector<weft::task<void>> ticks;
    for (auto* timer : {&max_ns, &max_hours, &infinite}) {
        ticks.push_back(timer->next(cs.token()));
        ticks.push_back(timer->next(cs.token())); // the second tick saturates too
    }
    await_get(weft::delay(io, 20ms)); // an overflowed tick would have fired by now
    for (auto& t : ticks) {
        CHECK_FALSE(t.is_ready());
    }
    cs.cancel();
    for (auto& t : ticks) {
        REQUIRE(t.wait_for(20s));
        CHECK(t.is_canceled());
    }
    CHECK_THROWS_AS((void)weft::delay(io, std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
    auto forever =
        weft::delay(io, std::chrono::duration<double>(std::numeric_limits<double>::infinity()), {.token = cs.token()});
    REQUIRE(forever.wait_for(20s));
    CHECK(forever.is_canceled()); // never fired by itself: only the (already canceled) token ended it
}
