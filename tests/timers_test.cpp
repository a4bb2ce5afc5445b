// Tests for weft/timer_source.hpp, weft/timers.hpp, weft/callback_timer.hpp and the virtual
// time of weft/testing/: the manual clock, delay / with_timeout / cancel_after /
// periodic_timer / callback_timer obeying it, the step-by-step scheduler, and the system
// source's thread. Virtual-time cases never wait on the real clock.
#include <weft/callback_timer.hpp>
#include <weft/cancellation.hpp>
#include <weft/promise.hpp>
#include <weft/run_loop.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/testing/manual_scheduler.hpp>
#include <weft/testing/manual_timer_source.hpp>
#include <weft/thread_pool.hpp>
#include <weft/timers.hpp>
#include <weft/unobserved.hpp>

#include <atomic>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"

using namespace std::chrono_literals;
using weft::testing::manual_scheduler;
using weft::testing::manual_timer_source;

namespace {

/// Collects what reaches the unobserved-exception handler while it lives.
class unobserved_log {
public:
    unobserved_log()
        : previous_(weft::set_unobserved_exception_handler([this](std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::lock_guard lock(mutex_);
                seen_.emplace_back(x.what());
            }
        })) {}
    ~unobserved_log() { weft::set_unobserved_exception_handler(previous_); }
    std::vector<std::string> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }

private:
    weft::unobserved_exception_handler previous_;
    mutable std::mutex mutex_;
    std::vector<std::string> seen_;
};

} // namespace

TEST_CASE("manual clock: timers run in deadline order inside advance, each at its own time", "[timers][virtual]") {
    manual_timer_source clock;
    const auto t0 = clock.now();
    CHECK(t0 == manual_timer_source::default_start);
    std::vector<std::pair<int, manual_timer_source::time_point>> ran;
    auto record = [&](int id) {
        return [&, id] {
            ran.emplace_back(id, clock.now());
        };
    };
    clock.schedule(t0 + 30ms, record(3));
    clock.schedule(t0 + 10ms, record(1));
    clock.schedule(t0 + 10ms, record(2)); // a tie: in the order scheduled
    const auto late = clock.schedule(t0 + 1h, record(9));
    clock.schedule(t0 + 20ms, [&] {
        ran.emplace_back(20, clock.now());
        clock.schedule(clock.now() + 5ms, record(25)); // within this advance: runs in it
        clock.schedule(clock.now() + 1h, record(99));  // beyond it: stays
    });
    CHECK(clock.pending() == 5);
    CHECK(clock.advance(9ms) == 0);
    CHECK(ran.empty());
    CHECK(clock.advance(41ms) == 5);
    REQUIRE(ran.size() == 5);
    CHECK(ran[0] == std::pair{1, t0 + 10ms});
    CHECK(ran[1] == std::pair{2, t0 + 10ms});
    CHECK(ran[2] == std::pair{20, t0 + 20ms});
    CHECK(ran[3] == std::pair{25, t0 + 25ms});
    CHECK(ran[4] == std::pair{3, t0 + 30ms});
    CHECK(clock.now() == t0 + 50ms);
    CHECK(clock.pending() == 2);
    CHECK(clock.cancel(late));
    CHECK_FALSE(clock.cancel(late));
    CHECK_FALSE(clock.cancel(0));
    CHECK(clock.pending() == 1);
    CHECK_THROWS_AS(clock.advance(-1ms), std::invalid_argument);
    CHECK_THROWS_AS(clock.advance_to(t0), std::invalid_argument);
}

TEST_CASE("manual clock: advancing from inside a callback is refused, a callback's exception is reported",
          "[timers][virtual]") {
    unobserved_log log;
    manual_timer_source clock;
    bool after = false;
    clock.schedule(clock.now() + 1s, [&] { clock.advance(1s); });
    clock.schedule(clock.now() + 2s, [] { throw std::runtime_error("tick failed"); });
    clock.schedule(clock.now() + 3s, [&] { after = true; });
    CHECK(clock.advance(5s) == 3);
    CHECK(after); // the advance went on
    const auto seen = log.seen();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].find("inside one of its callbacks") != std::string::npos);
    CHECK(seen[1] == "tick failed");
}

TEST_CASE("manual clock: two threads' advances run one after the other, every timer once", "[timers][virtual]") {
    manual_timer_source clock;
    const auto t0 = clock.now();
    std::atomic<int> ran{0};
    for (int i = 1; i <= 1000; ++i) {
        clock.schedule(t0 + std::chrono::milliseconds(i), [&] { ran.fetch_add(1); });
    }
    std::size_t by_thread[2] = {0, 0};
    std::thread a([&] {
        for (int i = 0; i < 500; ++i) {
            by_thread[0] += clock.advance(1ms);
        }
    });
    std::thread b([&] {
        for (int i = 0; i < 500; ++i) {
            by_thread[1] += clock.advance(1ms);
        }
    });
    a.join();
    b.join();
    CHECK(clock.now() == t0 + 1000ms); // no step lost: each advance moved from where the last ended
    CHECK(ran.load() == 1000);
    CHECK(by_thread[0] + by_thread[1] == 1000);
    CHECK(clock.pending() == 0);
}

TEST_CASE("virtual time: an hour's delay completes when the clock reaches it, not before", "[timers][virtual]") {
    manual_timer_source clock;
    weft::task<void> t = weft::delay(clock, 1h);
    CHECK(clock.pending() == 1);
    clock.advance(59min);
    CHECK_FALSE(t.is_ready());
    clock.advance(1min);
    REQUIRE(t.is_ready());
    CHECK(t.is_succeeded());
    CHECK(clock.pending() == 0);

    weft::task<void> zero = weft::delay(clock, 0s); // due now: at the next advance or run_due
    CHECK(clock.run_due() == 1);
    CHECK(zero.is_succeeded());
    weft::task<void> never = weft::delay(clock, std::chrono::hours::max());
    CHECK(clock.pending() == 1); // "never": a timer at time_point::max()
    clock.advance(24h * 365);
    CHECK_FALSE(never.is_ready());
    CHECK_THROWS_AS(weft::delay(clock, std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
                    std::invalid_argument);
}

TEST_CASE("virtual time: a token cancels a delay and removes its timer", "[timers][virtual][cancel]") {
    manual_timer_source clock;
    weft::cancellation_source cs;
    weft::task<void> t = weft::delay(clock, 10s, cs.token());
    weft::task<void> never = weft::delay(clock, std::chrono::steady_clock::duration::max(), cs.token());
    CHECK(clock.pending() == 2);
    cs.cancel();
    CHECK(t.is_canceled());
    CHECK(never.is_canceled());
    CHECK(clock.pending() == 0);
    weft::task<void> already = weft::delay(clock, 10s, cs.token()); // canceled before it starts
    CHECK(already.is_canceled());
    CHECK(clock.pending() == 0);

    weft::cancellation_source late;
    weft::task<void> fired = weft::delay(clock, 1s, late.token());
    clock.advance(1s);
    CHECK(fired.is_succeeded());
    late.cancel(); // after it fired: nothing changes
    CHECK(fired.is_succeeded());
}

TEST_CASE("virtual time: with_timeout times out work that cannot be canceled, and cancels work that can",
          "[timers][virtual]") {
    manual_timer_source clock;
    SECTION("a promise that never completes: timeout_error at the deadline") {
        weft::promise<int> p;
        weft::task<int> t = weft::with_timeout(clock, p.get_task(), 5s);
        clock.advance(4s);
        CHECK_FALSE(t.is_ready());
        clock.advance(1s);
        REQUIRE(t.is_ready());
        CHECK_THROWS_AS(t.get(), weft::timeout_error);
    }
    SECTION("a value before the deadline wins and the timer is removed") {
        weft::promise<int> p;
        weft::task<int> t = weft::with_timeout(clock, p.get_task(), 5s);
        clock.advance(1s);
        p.set_value(7);
        CHECK(t.get() == 7);
        CHECK(clock.pending() == 0);
        clock.advance(1h);
        CHECK(t.get() == 7);
    }
    SECTION("queued work is canceled at the deadline: it never runs") {
        manual_scheduler sched;
        bool ran = false;
        weft::task<void> t = weft::with_timeout(clock, weft::spawn(sched, [&] { ran = true; }), 5s);
        clock.advance(5s);
        REQUIRE(t.is_ready());
        CHECK_THROWS_AS(t.get(), weft::timeout_error);
        sched.run_all();
        CHECK_FALSE(ran);
    }
    SECTION("the token form: the work sees its token canceled at the deadline and ends") {
        weft::promise<void> work;
        weft::cancellation_registration reg;
        weft::task<void> t = weft::with_timeout(
            clock,
            [&](weft::cancellation_token token) {
                reg = token.register_callback([&] { work.set_canceled(); });
                return work.get_task();
            },
            30s);
        clock.advance(29s);
        CHECK_FALSE(t.is_ready());
        clock.advance(1s);
        REQUIRE(t.is_ready());
        CHECK_THROWS_AS(t.get(), weft::timeout_error);
    }
    SECTION("with_deadline on the source's clock") {
        weft::promise<void> p;
        weft::task<void> t = weft::with_deadline(clock, p.get_task(), clock.now() + 2s);
        clock.advance(2s);
        CHECK_THROWS_AS(t.get(), weft::timeout_error);
    }
}

TEST_CASE("virtual time: cancel_after on a manual clock fires inside advance, replaced and dropped like the real one",
          "[timers][virtual][cancel]") {
    manual_timer_source clock;
    weft::cancellation_source cs;
    cs.cancel_after(10s, clock);
    CHECK(clock.pending() == 1);
    clock.advance(9s);
    CHECK_FALSE(cs.is_cancellation_requested());
    cs.cancel_after(5s, clock); // replaces: now due at 14 s
    CHECK(clock.pending() == 1);
    clock.advance(4s);
    CHECK_FALSE(cs.is_cancellation_requested());
    clock.advance(1s);
    CHECK(cs.is_cancellation_requested());
    CHECK(clock.pending() == 0);
    {
        weft::cancellation_source dropped;
        dropped.cancel_after(1h, clock);
        CHECK(clock.pending() == 1);
    }
    CHECK(clock.pending() == 0); // the last source handle took its timer with it
}

TEST_CASE("virtual time: periodic_timer ticks at start + k·period and skips missed ticks", "[timers][virtual]") {
    manual_timer_source clock;
    const auto t0 = clock.now();
    weft::periodic_timer timer(clock, 10ms);
    weft::task<void> first = timer.next();
    clock.advance(9ms);
    CHECK_FALSE(first.is_ready());
    clock.advance(1ms);
    CHECK(first.is_succeeded());
    clock.advance(25ms); // now t0 + 35 ms: the ticks at 20 and 30 are missed
    weft::task<void> next = timer.next();
    CHECK_FALSE(next.is_ready()); // not bunched: the next tick is at 40
    clock.advance(4ms);
    CHECK_FALSE(next.is_ready());
    clock.advance(1ms);
    CHECK(next.is_succeeded());
    CHECK(clock.now() == t0 + 40ms);

    weft::cancellation_source cs;
    weft::task<void> canceled = timer.next(cs.token());
    cs.cancel();
    CHECK(canceled.is_canceled());
    weft::task<void> after = timer.next(); // the schedule goes on: 60 ms
    clock.advance(19ms);
    CHECK_FALSE(after.is_ready());
    clock.advance(1ms);
    CHECK(after.is_succeeded());

    CHECK_THROWS_AS(weft::periodic_timer(clock, 0ms), std::invalid_argument);
    CHECK_THROWS_AS(weft::periodic_timer(clock, -1s), std::invalid_argument);
    weft::periodic_timer never(clock, std::chrono::hours::max());
    weft::task<void> tick = never.next();
    clock.advance(24h);
    CHECK_FALSE(tick.is_ready());
}

TEST_CASE("virtual time: callback_timer hands each tick to its scheduler, change and dispose", "[timers][virtual]") {
    manual_timer_source clock;
    manual_scheduler sched;
    int calls = 0;
    weft::callback_timer timer(
        sched, [&] { ++calls; }, 5ms, 10ms, clock);
    clock.advance(4ms);
    CHECK(sched.queued() == 0);
    clock.advance(1ms); // due
    CHECK(sched.queued() == 1);
    CHECK(calls == 0); // on the scheduler, not on the clock's thread
    sched.run_all();
    CHECK(calls == 1);
    clock.advance(20ms); // ticks at 15 and 25
    CHECK(sched.run_all() == 2);
    CHECK(calls == 3);
    clock.advance(32ms); // now 57: the ticks at 35, 45, 55 ran one by one (each re-arms)
    CHECK(sched.run_all() == 3);
    CHECK(timer.callbacks_started() == 6);

    CHECK(timer.change(weft::callback_timer::infinite, weft::callback_timer::infinite)); // stopped
    clock.advance(1h);
    CHECK(sched.queued() == 0);
    CHECK(timer.change(1s, 0s)); // once, after 1 s
    clock.advance(10s);
    CHECK(sched.run_all() == 1);
    CHECK(clock.pending() == 0);

    CHECK(timer.change(0s, 1s));
    clock.run_due();
    CHECK(sched.queued() == 1); // handed over, not yet run
    weft::task<void> disposed = timer.dispose();
    CHECK_FALSE(disposed.is_ready()); // a callback is still to run
    CHECK_FALSE(timer.change(1s, 1s));
    clock.advance(1h);
    CHECK(sched.run_all() == 1); // the handed-over one still runs; no more after dispose
    CHECK(disposed.is_succeeded());
    CHECK(calls == 8);
    CHECK(timer.dispose().is_succeeded()); // again: harmless
}

TEST_CASE("callback_timer: misuse is refused, a failing callback or a refusing scheduler is reported",
          "[timers][virtual]") {
    manual_timer_source clock;
    manual_scheduler sched;
    CHECK_THROWS_AS(weft::callback_timer(
                        sched, [] {}, -1ms, 1ms, clock),
                    std::invalid_argument);
    CHECK_THROWS_AS(weft::callback_timer(
                        sched, [] {}, 1ms, -1ms, clock),
                    std::invalid_argument);
    CHECK_THROWS_AS(weft::callback_timer(
                        weft::any_scheduler{}, [] {}, 1ms, 1ms, clock),
                    std::invalid_argument);
    CHECK_THROWS_AS(weft::callback_timer(sched, std::function<void()>{}, 1ms, 1ms, clock), std::invalid_argument);

    unobserved_log log;
    weft::callback_timer failing(
        sched, [] { throw std::runtime_error("callback failed"); }, 1ms, 1ms, clock);
    clock.advance(1ms);
    sched.run_all();
    sched.close();
    clock.advance(1ms); // the scheduler refuses this tick
    const auto seen = log.seen();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == "callback failed");
    CHECK(seen[1].find("shut down") != std::string::npos);
    CHECK(failing.dispose().is_succeeded()); // the refused tick is not "running"
}

TEST_CASE("callback_timer: a tick discarded by its scheduler still lets dispose complete", "[timers][virtual]") {
    manual_timer_source clock;
    auto sched = std::make_unique<manual_scheduler>();
    bool ran = false;
    weft::callback_timer timer(
        *sched, [&] { ran = true; }, 1s, weft::callback_timer::infinite, clock);
    clock.advance(1s);
    weft::task<void> disposed = timer.dispose();
    CHECK_FALSE(disposed.is_ready());
    sched.reset(); // its destructor discards the queued tick
    CHECK(disposed.is_succeeded());
    CHECK_FALSE(ran);
}

TEST_CASE("virtual time with a kept context: a coroutine on a run loop awaiting a manual delay comes back to the loop",
          "[timers][virtual]") {
    manual_timer_source clock;
    weft::run_loop loop;
    std::thread::id resumed_on;
    bool on_loop = false;
    weft::task<void> t = weft::spawn(loop, [&]() -> weft::task<void> {
        co_await weft::delay(clock, 1s);
        resumed_on = std::this_thread::get_id();
        on_loop = loop.runs_on_this_thread();
    });
    CHECK(loop.poll() == 1); // starts, suspends on the delay
    std::thread advancer([&] { clock.advance(1s); });
    advancer.join();
    CHECK_FALSE(t.is_ready()); // the advancing thread did not run it: it was sent to the loop
    CHECK(loop.poll() == 1);
    CHECK(t.is_succeeded());
    CHECK(resumed_on == std::this_thread::get_id());
    CHECK(on_loop);
}

TEST_CASE("manual_scheduler: steps one item at a time, runs them here, refuses after close, discards on destruction",
          "[timers][virtual]") {
    std::vector<int> order;
    weft::task<void> leftover;
    {
        manual_scheduler sched;
        auto a = weft::spawn(sched, [&] { order.push_back(1); });
        auto b = weft::spawn(sched, [&] {
            order.push_back(2);
            CHECK(sched.runs_on_this_thread());
        });
        CHECK(sched.queued() == 2);
        CHECK_FALSE(sched.runs_on_this_thread());
        CHECK(sched.run_one());
        CHECK(order == std::vector<int>{1});
        CHECK(sched.run_one());
        CHECK_FALSE(sched.run_one());
        CHECK(order == std::vector<int>{1, 2});
        CHECK(sched.scheduled() == 2);
        leftover = weft::spawn(sched, [&] { order.push_back(3); });
        sched.close();
        CHECK_THROWS_AS((void)weft::spawn(sched, [] {}), weft::shutdown_error);
    }
    CHECK(leftover.is_canceled());
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("system timers: delay(d) completes on weft's timer thread, where blocking waits are refused", "[timers]") {
    weft::promise<std::thread::id> where;
    weft::promise<std::string> blocked;
    weft::promise<void> never;
    weft::task<void> tick = weft::delay(1ms);
    auto cont = tick.then(weft::inline_scheduler{}, [&] {
        where.set_value(std::this_thread::get_id());
        try {
            never.get_task().get();
            blocked.set_value("waited");
        } catch (const weft::deadlock_error& e) {
            blocked.set_value(e.what());
        }
    });
    auto where_task = where.get_task();
    auto blocked_task = blocked.get_task();
    REQUIRE(blocked_task.wait_for(10s));
    CHECK(where_task.get() != std::this_thread::get_id());
    CHECK(blocked_task.get().find("timer thread") != std::string::npos);
    cont.wait();
}

TEST_CASE("system timers: a delay that never ends holds its timer without firing it, earlier ones still fire",
          "[timers]") {
    weft::cancellation_source cs;
    const auto before = weft::system_timers().pending();
    weft::task<void> never = weft::delay(std::chrono::hours::max(), cs.token());
    CHECK(weft::system_timers().pending() == before + 1);
    weft::task<void> soon = weft::delay(1ms);
    REQUIRE(soon.wait_for(10s));
    CHECK_FALSE(never.is_ready());
    cs.cancel();
    CHECK(never.is_canceled());
    CHECK(weft::system_timers().pending() == before);
}

TEST_CASE("system timers: a callback_timer on a pool ticks until disposed, and dispose waits for the last callback",
          "[timers]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<int> calls{0};
    weft::promise<void> five;
    weft::callback_timer timer(
        pool,
        [&] {
            if (calls.fetch_add(1) + 1 == 5) {
                five.set_value();
            }
        },
        1ms,
        1ms);
    REQUIRE(five.get_task().wait_for(10s));
    weft::task<void> disposed = timer.dispose();
    REQUIRE(disposed.wait_for(10s));
    const int at_dispose = calls.load();
    const auto started = timer.callbacks_started();
    CHECK(static_cast<std::uint64_t>(at_dispose) == started); // every handed-over callback ran before dispose completed
    CHECK(timer.callbacks_started() == started);              // and none started after
}
