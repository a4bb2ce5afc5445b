// Tests for weft/thread_pool.hpp (the engine: detail/thread_pool/pool_core.hpp): every task runs
// once, helping waits, names and hooks, stats and per-worker counters, idle parking, fairness.
#include <weft/blocking.hpp>
#include <weft/local_task.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/unobserved.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/counted.hpp"
#include "support/cpu.hpp"
#include "support/eventually.hpp"
#include "support/test_hook.hpp"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

using namespace std::chrono_literals;

TEST_CASE("every task submitted from outside runs exactly once", "[thread_pool]") {
    constexpr int n = 100'000;
    std::vector<std::atomic<int>> hits(n);
    {
        weft::thread_pool pool{weft::pool_options{.threads = 2}};
        for (int i = 0; i < n; ++i) {
            (void)weft::spawn(pool, [&hits, i] { hits[static_cast<std::size_t>(i)].fetch_add(1); });
        }
    } // the destructor drains
    for (const auto& h : hits) {
        REQUIRE(h.load() == 1);
    }
}

namespace {
int tree(weft::thread_pool& pool, int depth) {
    if (depth == 0) {
        return 1;
    }
    auto left = weft::spawn(pool, [&pool, depth] { return tree(pool, depth - 1); });
    const int right = tree(pool, depth - 1);
    return left.get() + right; // get() on a worker helps instead of blocking
}
} // namespace

TEST_CASE("nested spawn and join from workers runs every node once", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto t = weft::spawn(pool, [&pool] { return tree(pool, 14); });
    CHECK(t.get() == 1 << 14);
}

TEST_CASE("a 1-worker pool whose task waits on a task it spawned finishes", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto outer = weft::spawn(pool, [&pool] {
        auto inner = weft::spawn(pool, [] { return 20; });
        return inner.get() + 22; // the only worker runs `inner` while it waits
    });
    CHECK(outer.wait_for(30s));
    CHECK(outer.get() == 42);
}

TEST_CASE("a worker waiting on a task completed from outside wakes up", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::promise<int> p;
    const auto parks_before = pool.stats().total().parks;
    auto waiting = weft::spawn(pool, [t = p.get_task()] { return t.get(); });
    while (pool.stats().total().parks == parks_before) { // until the worker parks in its wait
        std::this_thread::yield();
    }
    p.set_value(9);
    CHECK(waiting.get() == 9);
    auto timed = weft::spawn(pool, [] {
        weft::promise<int> never;
        return never.get_task().wait_for(2ms);
    });
    CHECK_FALSE(timed.get());
}

TEST_CASE("workers carry their names and run the start and stop hooks once each", "[thread_pool]") {
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    std::mutex names_mutex;
    std::set<std::string> names;
    {
        weft::pool_options options;
        options.threads = 2;
        options.name = "cpu";
        options.on_thread_start = [&](std::size_t) {
            ++started;
        };
        options.on_thread_stop = [&](std::size_t) {
            ++stopped;
        };
        weft::thread_pool pool{options};
        std::vector<weft::task<void>> ts;
        for (int i = 0; i < 200; ++i) {
            ts.push_back(weft::spawn(pool, [&] {
                char buf[16] = {};
                ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
                std::lock_guard lock(names_mutex);
                names.insert(buf);
            }));
        }
        for (auto& t : ts) {
            t.get();
        }
        CHECK(pool.size() == 2);
    }
    CHECK(started == 2);
    CHECK(stopped == 2);
    for (const auto& n : names) {
        CHECK((n == "cpu-0" || n == "cpu-1"));
    }
}

TEST_CASE("an exception from a start or stop hook reaches the unobserved handler", "[thread_pool]") {
    std::atomic<int> reported{0};
    auto previous = weft::set_unobserved_exception_handler([&](std::exception_ptr) { ++reported; });
    {
        weft::pool_options options;
        options.threads = 2;
        options.on_thread_start = [](std::size_t) {
            throw std::runtime_error("start");
        };
        options.on_thread_stop = [](std::size_t) {
            throw std::runtime_error("stop");
        };
        weft::thread_pool pool{options};
        CHECK(weft::spawn(pool, [] { return 1; }).get() == 1); // the workers still run
    }
    weft::set_unobserved_exception_handler(previous);
    CHECK(reported == 4); // two starts, two stops
}

TEST_CASE("stats count tasks run and injections", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::vector<weft::task<void>> ts;
    for (int i = 0; i < 500; ++i) {
        ts.push_back(weft::spawn(pool, [] {}));
    }
    for (auto& t : ts) {
        t.get();
    }
    pool.shutdown();
    const auto s = pool.stats();
    CHECK(s.workers.size() == 2);
    CHECK(s.injections == 500);
    CHECK(s.total().tasks_run == 500);
}

TEST_CASE("an exception thrown by a task never escapes the worker thread", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    for (int i = 0; i < 100; ++i) {
        auto t = weft::spawn(pool, []() -> int { throw std::runtime_error("boom"); });
        CHECK_THROWS_AS(t.get(), std::runtime_error);
    }
    CHECK(weft::spawn(pool, [] { return 1; }).get() == 1);
}

TEST_CASE("an idle pool parks its workers instead of spinning", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 8}}; // more workers than cores
    std::vector<weft::task<void>> warm;
    for (int i = 0; i < 64; ++i) {
        warm.push_back(weft::spawn(pool, [] {}));
    }
    for (auto& t : warm) {
        t.get();
    }
    std::this_thread::sleep_for(50ms); // past every worker's spin phase
    // Idle means under 2% of one core: 20,000 us of CPU in 1 s (spinning workers: ~2,000,000).
    CHECK(weft_test::cpu_us_while_sleeping(1000ms) < 20'000);
}

namespace {
int nested_wait(weft::thread_pool& pool, int depth) {
    if (depth == 0) {
        return 0;
    }
    return weft::spawn(pool, [&pool, depth] { return nested_wait(pool, depth - 1); }).get() + 1;
}
} // namespace

TEST_CASE("a 1-worker pool helps through 300 nested waits", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto t = weft::spawn(pool, [&pool] { return nested_wait(pool, 300); });
    CHECK(t.wait_for(60s));
    CHECK(t.get() == 300);
}

TEST_CASE("ping-pong hog: a task from outside starts while two tasks bounce on one worker's LIFO slot",
          "[thread_pool][fairness]") {
    for (std::size_t workers : {1U, 2U}) {
        std::atomic<bool> stop{false}; // before the pool: its destructor drains the bouncers
        std::atomic<long> bounces{0};
        weft::thread_pool pool{weft::pool_options{.threads = workers}};
        struct bouncer {
            weft::thread_pool* pool;
            std::atomic<bool>* stop;
            std::atomic<long>* bounces;
            void operator()() const {
                bounces->fetch_add(1, std::memory_order_relaxed);
                if (!stop->load(std::memory_order_relaxed)) {
                    (void)weft::spawn(*pool, *this); // the next hop: our slot, run next
                }
            }
        };
        (void)weft::spawn(pool, bouncer{&pool, &stop, &bounces});
        (void)weft::spawn(pool, bouncer{&pool, &stop, &bounces});
        while (bounces.load() < 10'000) {
            std::this_thread::yield();
        }
        auto outsider = weft::spawn(pool, [] { return 1; });
        const bool started = outsider.wait_for(10s);
        const long at_start = bounces.load();
        stop.store(true);
        REQUIRE(started); // the injection queue is looked at every 61 picks
        CHECK(at_start >= 10'000);
    }
}

TEST_CASE("pinned workers run on the CPU they were given", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2, .cpus = {0}}};
    auto cpu = weft::spawn(pool, [] {
        cpu_set_t set;
        CPU_ZERO(&set);
        ::sched_getaffinity(0, sizeof set, &set);
        return CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set);
    });
    CHECK(cpu.get());

    weft::thread_pool unpinned{weft::pool_options{.threads = 1, .cpus = {-1}}}; // invalid: not pinned
    CHECK(weft::spawn(unpinned, [] { return 3; }).get() == 3);
}

TEST_CASE("steals and injected batches are counted per worker", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<int> ran{0};
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < 1000; ++i) {
        tasks.push_back(weft::spawn(pool, [&] { ran.fetch_add(1); }));
    }
    for (auto& t : tasks) {
        t.get();
    }
    // One worker fans out 2000 children from inside; the other can only get them by stealing.
    weft::spawn(pool, [&] {
        std::vector<weft::task<void>> children;
        for (int i = 0; i < 2000; ++i) {
            children.push_back(weft::spawn(pool, [&] {
                std::atomic<int> spin{0};
                while (spin.fetch_add(1, std::memory_order_relaxed) < 200) {
                }
                ran.fetch_add(1);
            }));
        }
        for (auto& c : children) {
            c.get();
        }
    }).get();
    const auto total = pool.stats().total();
    CHECK(ran.load() == 3000);
    CHECK(total.injected + total.slot_hits + total.steals > 0);
    CHECK(total.injected >= 1000);
    CHECK(total.tasks_run >= 3001);
}

TEST_CASE("each worker counts its own parks, wake-ups, steals and slot hits", "[thread_pool]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    // Both workers asleep first, so the work below must wake them.
    REQUIRE(weft_test::eventually(
        [&] {
            const auto st = pool.stats();
            return st.workers[0].parks >= 1 && st.workers[1].parks >= 1;
        },
        20s));
    const auto before = pool.stats();
    std::atomic<bool> first_ran{false};
    std::thread::id outer_thread;
    std::thread::id first_thread;
    auto outer = weft::spawn(pool, [&] {
        outer_thread = std::this_thread::get_id();
        auto first = weft::spawn(pool, [&] {
            first_thread = std::this_thread::get_id();
            first_ran = true;
        });                                     // into this worker's slot
        auto second = weft::spawn(pool, [] {}); // into the slot; `first` moves to the deque
        // This worker does not take `first` back while it runs this task: only a steal by the
        // other worker runs it.
        const bool stolen = weft_test::eventually([&] { return first_ran.load(); }, 20s);
        return std::make_pair(stolen, std::move(second));
    });
    auto [stolen, second] = outer.get();
    second.get();
    REQUIRE(stolen);
    CHECK(first_thread != outer_thread);
    pool.shutdown();
    const auto after = pool.stats();
    REQUIRE(after.workers.size() == 2);
    std::uint64_t steals = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t slot_hits = 0;
    std::uint64_t tasks = 0;
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& w = after.workers[i];
        const auto& b = before.workers[i];
        CHECK(w.parks >= b.parks);
        steals += w.steals - b.steals;
        wakeups += w.wakeups - b.wakeups;
        slot_hits += w.slot_hits - b.slot_hits;
        tasks += w.tasks_run - b.tasks_run;
        if (w.steals > b.steals) {
            CHECK(w.wakeups > b.wakeups); // the thief was asleep: it was woken to steal
        }
    }
    CHECK(steals == 1);    // `first`, by the other worker
    CHECK(wakeups >= 1);   // `outer` from outside woke a sleeper
    CHECK(slot_hits >= 1); // `second` ran from the LIFO slot of outer's worker
    CHECK(tasks == 3);
    CHECK(after.total().injected - before.total().injected == 1); // `outer`
}

TEST_CASE("long items from outside start in submission order once their length is known", "[thread_pool]") {
    // Each item spins 200 us (well over long_injected_item_ns): after a worker's first batch
    // from the injector, it takes one item at a time, so no item waits behind a whole batch of
    // later ones (nor is stolen from a batch's newest end). With batches of 16 kept, items
    // 16 positions apart start out of order.
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    constexpr int items = 120;
    std::mutex m;
    std::vector<int> started;
    std::vector<weft::task<void>> tasks;
    for (int i = 0; i < items; ++i) {
        tasks.push_back(weft::spawn(pool, [&, i] {
            {
                std::lock_guard lock(m);
                started.push_back(i);
            }
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
            while (std::chrono::steady_clock::now() < until) {
            }
        }));
    }
    for (auto& t : tasks) {
        t.get();
    }
    REQUIRE(started.size() == static_cast<std::size_t>(items));
    // inversions: items submitted earlier that started after it (only the last third: each
    // worker's first batch is taken before any item's length is known). A worker preempted
    // with an item in hand adds at most one to each item started meanwhile.
    int worst = 0;
    for (std::size_t p = 2 * items / 3; p < started.size(); ++p) {
        int later_older = 0;
        for (std::size_t q = p + 1; q < started.size(); ++q) {
            later_older += started[q] < started[p] ? 1 : 0;
        }
        worst = std::max(worst, later_older);
    }
    CHECK(worst <= 3);
}
