// Tests for weft/dedicated_thread.hpp: a scheduler with one thread of its own, and
// weft::long_running (a new thread per item, TaskCreationOptions.LongRunning).
#include <weft/dedicated_thread.hpp>
#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <atomic>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/thread_tag.hpp"
#include <pthread.h>

static_assert(weft::scheduler<weft::dedicated_thread>);
static_assert(weft::scheduler<weft::new_thread_scheduler>);

namespace {
std::string this_thread_name() {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    return name;
}
} // namespace

TEST_CASE("dedicated_thread runs every item on its one named thread, in order", "[dedicated]") {
    weft::dedicated_thread dt{"weft-test"};
    std::vector<int> order; // plain: one thread
    std::set<long> threads;
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < 500; ++i) {
        tasks.push_back(weft::spawn(dt, [&, i] {
            order.push_back(i);
            threads.insert(weft_test::this_thread_tag());
        }));
    }
    weft::when_all(tasks).get();
    auto name = weft::spawn(dt, [] { return this_thread_name(); }).get();
    CHECK(name.rfind("weft-test-", 0) == 0);
    CHECK(threads.size() == 1);
    CHECK(*threads.begin() != weft_test::this_thread_tag());
    REQUIRE(order.size() == 500);
    for (int i = 0; i < 500; ++i) {
        REQUIRE(order[static_cast<std::size_t>(i)] == i);
    }
    CHECK(dt.stats().ran == 501);
}

TEST_CASE("dedicated_thread: current_scheduler is the object, continuations come back to it", "[dedicated]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::dedicated_thread dt;
    auto t = weft::spawn(dt, [&] {
        const long home = weft_test::this_thread_tag();
        const bool current = weft::current_scheduler() == weft::any_scheduler(dt) && dt.runs_on_this_thread();
        return weft::spawn(pool, [] { return 1; }).then([home, current](int) {
            return current && weft_test::this_thread_tag() == home;
        });
    });
    CHECK(t.get());
    auto coro = [&]() -> weft::task<bool> {
        co_await weft::resume_on(dt);
        const long home = weft_test::this_thread_tag();
        co_await weft::spawn(pool, [] {});
        co_return weft_test::this_thread_tag() == home;
    };
    CHECK(coro().get());
}

TEST_CASE("dedicated_thread: a blocking get on its thread runs its queue meanwhile", "[dedicated]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::dedicated_thread dt;
    auto t = weft::spawn(dt, [&] {
        auto inner = weft::spawn(pool, [] { return 1; }).then([](int x) { return x + 1; }); // comes back here
        return inner.get();
    });
    CHECK(t.get() == 2);
}

TEST_CASE("dedicated_thread's destructor runs the queued work, and what it queues, then joins", "[dedicated]") {
    std::atomic<int> ran{0};
    std::vector<weft::task<void>> tasks;
    {
        weft::dedicated_thread dt;
        for (int i = 0; i < 100; ++i) {
            tasks.push_back(weft::spawn(dt, [&] {
                ran.fetch_add(1);
                (void)weft::spawn(dt, [&] { ran.fetch_add(1); }); // queued while draining: runs too
            }));
        }
    }
    CHECK(ran == 200);
    for (auto& t : tasks) {
        CHECK(t.is_succeeded());
    }
}

TEST_CASE("dedicated_thread destroyed from its own thread detaches and finishes its queue", "[dedicated]") {
    auto dt = std::make_unique<weft::dedicated_thread>();
    std::atomic<int> ran{0};
    auto self_destroy = weft::spawn(*dt, [&] {
        (void)weft::spawn(*dt, [&] { ran.fetch_add(1); }); // queued behind this item
        dt.reset();                                        // cannot join itself: detaches; the queued item still runs
        ran.fetch_add(1);
    });
    self_destroy.get();
    while (ran.load() != 2) { // the detached thread runs the queued item, then ends
        std::this_thread::yield();
    }
    CHECK(dt == nullptr);
}

TEST_CASE("long_running: each item on a new thread, with no current scheduler", "[dedicated]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto a = weft::spawn(weft::long_running,
                         [] { return std::make_pair(weft_test::this_thread_tag(), this_thread_name()); });
    auto b = weft::spawn(weft::long_running, [] { return weft_test::this_thread_tag(); });
    auto c = weft::spawn(weft::long_running, [] { return static_cast<bool>(weft::current_scheduler()); });
    const auto [tid, name] = a.get();
    CHECK(tid != weft_test::this_thread_tag());
    CHECK(tid != b.get());
    CHECK(name.rfind("weft-long-", 0) == 0);
    CHECK_FALSE(c.get());
    // a long-running loop does not hold a pool worker: the pool stays free meanwhile
    std::atomic<bool> stop{false};
    auto loop = weft::spawn(weft::long_running, [&] {
        while (!stop.load()) {
            std::this_thread::yield();
        }
    });
    CHECK(weft::spawn(pool, [] { return 3; }).get() == 3);
    stop = true;
    loop.get();
}
