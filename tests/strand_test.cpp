// Tests for weft/strand.hpp: serial FIFO execution over any scheduler, the capture rule on a
// strand, refusal by the base, destruction with work queued.
#include <weft/resume_on.hpp>
#include <weft/run_loop.hpp>
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <atomic>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"
#include "support/test_hook.hpp"

static_assert(weft::scheduler<weft::strand>);

TEST_CASE("a strand runs items one at a time, in the order they were scheduled", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    std::vector<int> order; // plain: the strand serializes every access (TSan checks it)
    int inside = 0;
    int overlaps = 0;
    std::vector<weft::task<void>> tasks;
    constexpr int n = 5000;
    for (int i = 0; i < n; ++i) {
        tasks.push_back(weft::spawn(s, [&, i] {
            overlaps += ++inside != 1;
            order.push_back(i);
            --inside;
        }));
    }
    weft::when_all(tasks).get();
    CHECK(overlaps == 0);
    REQUIRE(order.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        REQUIRE(order[static_cast<std::size_t>(i)] == i);
    }
    const auto st = s.stats();
    CHECK(st.scheduled == static_cast<std::uint64_t>(n));
    CHECK(st.ran == static_cast<std::uint64_t>(n));
    CHECK(st.discarded == 0);
}

TEST_CASE("inside a strand item current_scheduler() is the strand", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    CHECK_FALSE(s.runs_on_this_thread());
    auto t =
        weft::spawn(s, [&] { return weft::current_scheduler() == weft::any_scheduler(s) && s.runs_on_this_thread(); });
    CHECK(t.get());
    // the worker that ran it sees the pool again in the next task (nothing leaks)
    CHECK(weft::spawn(pool, [&] { return weft::current_scheduler() == weft::any_scheduler(pool); }).get());
}

TEST_CASE("a scope opened inside a strand item does not leak into the next item", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::strand s{pool};
    weft_test::manual_scheduler other;
    auto a = weft::spawn(s, [&] {
        weft::scheduler_scope scope{weft::any_scheduler(other)};
        return weft::current_scheduler() == weft::any_scheduler(other);
    });
    auto b = weft::spawn(s, [&] { return weft::current_scheduler() == weft::any_scheduler(s); });
    CHECK(a.get());
    CHECK(b.get());
}

TEST_CASE("a pool task that a blocked strand item helps run sees the pool, not the strand", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::strand s{pool};
    auto t = weft::spawn(s, [&] {
        // the only worker blocks here inside the strand's drain, and helps: it runs `inner`
        auto inner = weft::spawn(
            pool, [&] { return weft::current_scheduler() == weft::any_scheduler(pool) && !s.runs_on_this_thread(); });
        const bool helped_saw_pool = inner.get();
        return helped_saw_pool && s.runs_on_this_thread(); // and the strand is current again
    });
    CHECK(t.get());
}

TEST_CASE("continuations attached in a strand item come back to the strand (then and co_await)", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    std::atomic<bool> strand_busy{false};
    // then: attached inside a strand item, completed by a pool task
    auto via_then = weft::spawn(s, [&] {
        return weft::spawn(pool, [] { return 20; }).then([&](int x) { return s.runs_on_this_thread() ? x + 1 : -1; });
    });
    CHECK(via_then.get() == 21);
    // co_await: a coroutine started on the strand resumes on it after awaiting pool work
    auto coro = [&]() -> weft::task<bool> {
        const bool before = s.runs_on_this_thread();
        int v = co_await weft::spawn(pool, [] { return 1; });
        co_return before&& v == 1 && s.runs_on_this_thread() && weft::current_scheduler() == weft::any_scheduler(s);
    };
    auto via_await = weft::spawn(s, coro);
    CHECK(via_await.get());
    (void)strand_busy;
}

TEST_CASE("resume_on(strand) hops onto the strand", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    int counter = 0; // touched only on the strand
    auto body = [&]() -> weft::task<void> {
        for (int i = 0; i < 1000; ++i) {
            co_await weft::resume_on(s);
            ++counter;
            co_await weft::resume_on(pool);
        }
    };
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < 4; ++i) {
        tasks.push_back(body());
    }
    weft::when_all(tasks).get();
    auto read = weft::spawn(s, [&] { return counter; });
    CHECK(read.get() == 4000);
}

TEST_CASE("a strand works over a run_loop and over another strand", "[strand]") {
    weft::run_loop loop;
    weft::strand outer{loop};
    weft::strand inner{weft::any_scheduler(outer)};
    std::vector<int> order;
    auto a = weft::spawn(inner, [&] { order.push_back(1); });
    auto b = weft::spawn(outer, [&] { order.push_back(2); });
    auto c = weft::spawn(inner, [&] { order.push_back(3); });
    while (!(a.is_ready() && b.is_ready() && c.is_ready())) {
        REQUIRE(loop.run_one());
    }
    CHECK(order == std::vector<int>{1, 3, 2}); // inner's drain went first and took both
}

TEST_CASE("a strand whose base refuses the work throws, and takes nothing", "[strand]") {
    weft_test::manual_scheduler base;
    base.close();
    weft::strand s{base};
    CHECK_THROWS_AS(weft::spawn(s, [] { return 1; }), weft::shutdown_error);
    CHECK(s.stats().scheduled == 0);
    // and over a pool that shut down
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    pool.shutdown();
    weft::strand s2{pool};
    CHECK_THROWS_AS(weft::spawn(s2, [] { return 1; }), weft::shutdown_error);
}

TEST_CASE("a strand whose base discards its drain cancels the queued tasks", "[strand]") {
    weft_test::manual_scheduler base;
    weft::strand s{base};
    auto a = weft::spawn(s, [] { return 1; });
    auto b = weft::spawn(s, [] { return 2; });
    CHECK(base.queued() == 1); // one drain for both
    CHECK(base.discard_all() == 1);
    CHECK(a.is_canceled());
    CHECK(b.is_canceled());
    CHECK_THROWS_AS(b.get(), weft::operation_canceled);
    CHECK(s.stats().discarded == 2);
}

TEST_CASE("a strand destroyed with work queued completes that work canceled", "[strand]") {
    weft_test::manual_scheduler base;
    std::vector<weft::task<int>> tasks;
    {
        weft::strand s{base};
        for (int i = 0; i < 3; ++i) {
            tasks.push_back(weft::spawn(s, [i] { return i; }));
        }
    }
    CHECK(base.run_all() == 1); // the drain outlives the strand and discards
    for (auto& t : tasks) {
        CHECK(t.is_canceled());
    }
}

TEST_CASE("continuations captured on a destroyed strand still complete, canceled, without touching it", "[strand]") {
    weft_test::manual_scheduler base;
    auto s = std::make_unique<weft::strand>(base); // on the heap: ASan sees any later use
    weft::task<int> queued;
    weft::task<int> captured;
    auto attach = weft::spawn(*s, [&] {
        captured = queued.then([](int x) { return x; }); // captured on the strand
        s.reset();                                       // the strand is destroyed from inside its own item
    });
    queued = weft::spawn(*s, [] { return 1; }); // behind `attach`, in the same drain
    CHECK(base.run_all() == 1);                 // the drain runs `attach`, then discards `queued`
    CHECK(attach.is_succeeded());
    CHECK(queued.is_canceled());
    captured.wait(); // completed (canceled) on the drain's thread, not sent to the dead strand
    CHECK(captured.is_canceled());
}

TEST_CASE("a strand destroyed while an item runs lets it finish and cancels the rest", "[strand]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::latch entered{1};
    std::latch release{1};
    weft::task<int> running;
    std::vector<weft::task<int>> queued;
    {
        weft::strand s{pool};
        running = weft::spawn(s, [&] {
            entered.count_down();
            release.wait();
            return 7;
        });
        for (int i = 0; i < 10; ++i) {
            queued.push_back(weft::spawn(s, [i] { return i; }));
        }
        entered.wait();
    }
    release.count_down();
    CHECK(running.get() == 7);
    for (auto& t : queued) {
        t.wait(); // never hangs
        CHECK(t.is_canceled());
    }
}

TEST_CASE("a strand gives its base's thread back after a budget of items", "[strand]") {
    weft_test::manual_scheduler base;
    weft::strand s{base};
    std::vector<weft::task<void>> tasks;
    const std::size_t n = weft::detail::strand_core::drain_budget * 2 + 5;
    for (std::size_t i = 0; i < n; ++i) {
        tasks.push_back(weft::spawn(s, [] {}));
    }
    // run_all runs items the drain re-queues too; count the visits one by one instead
    std::size_t visits = 0;
    while (s.stats().ran < n) {
        REQUIRE(base.queued() == 1);
        base.run_one();
        ++visits;
    }
    CHECK(visits == 3);
}

TEST_CASE("a producer held between counting and pushing: the drain waits, gives the thread back, "
          "and no second drain starts",
          "[strand][hook]") {
    weft_test::manual_scheduler base;
    weft::strand s{base};
    int ran_a = 0;
    int ran_b = 0;
    auto a = weft::spawn(s, [&] { ++ran_a; });                      // before the hook is installed: not held
    REQUIRE(base.queued() == 1);                                    // a's drain
    weft_test::hold_first_at hold("strand.between_count_and_push"); // (a was spawned before it)
    weft::task<void> b;
    std::thread producer([&] { b = weft::spawn(s, [&] { ++ran_b; }); });
    REQUIRE(hold.wait_until_held());
    // b is counted, not pushed. The drain runs a, waits briefly for b, then reschedules itself.
    REQUIRE(base.run_one());
    CHECK(ran_a == 1);
    CHECK(ran_b == 0);
    CHECK(base.queued() == 1); // the same drain, rescheduled: it kept the drain role
    hold.release();
    producer.join();
    CHECK(base.queued() == 1); // the producer saw a drain in flight: it started none
    REQUIRE(base.run_one());
    CHECK(ran_b == 1);
    CHECK(base.queued() == 0); // the drain ended with the count at 0
    CHECK(a.is_succeeded());
    CHECK(b.is_succeeded());
}
