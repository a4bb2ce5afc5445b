// Exactly-once ledger stress for the work-stealing pool (the pool note, pool_core.hpp I1). Every task carries
// an id and bumps its own counter; at the end every counter must be exactly 1. Workloads:
// external submission from 4 threads, a nested fire-and-forget spawn tree, a steal-heavy
// producer on one worker, when_all fan-outs, and local_task fork-join trees; on 2 and 8 workers.
// Size: WEFT_STRESS_TASKS tasks per pool size (default 1,100,000, so 2.2 million in all).
// A watchdog aborts with the phase's name if a phase makes no progress for 120 s.
#include <weft/local_task.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {

std::size_t tasks_from_env(std::size_t fallback) {
    if (const char* s = std::getenv("WEFT_STRESS_TASKS")) {
        const long v = std::atol(s);
        if (v > 1000) {
            return static_cast<std::size_t>(v);
        }
    }
    return fallback;
}

struct ledger {
    explicit ledger(std::size_t n) : hits(n) {}
    std::vector<std::atomic<std::uint8_t>> hits;
    std::atomic<std::size_t> remaining{0};
    std::mutex mutex;
    std::condition_variable cv;

    void hit(std::size_t id) {
        hits[id].fetch_add(1, std::memory_order_relaxed);
        if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(mutex);
            cv.notify_all();
        }
    }
    /// Waits for `expected` hits; false after 120 s without progress.
    bool wait_all() {
        std::unique_lock lock(mutex);
        std::size_t last = remaining.load();
        while (remaining.load() != 0) {
            if (!cv.wait_for(lock, std::chrono::seconds(120), [&] { return remaining.load() != last; })) {
                return remaining.load() == 0;
            }
            last = remaining.load();
        }
        return true;
    }
};

void fork_join_tree(weft::thread_pool& pool, ledger& l, std::size_t node, std::size_t base, std::size_t count) {
    l.hit(base + node);
    const std::size_t left = 2 * node + 1;
    if (left >= count) {
        return;
    }
    weft::local_task child{pool, [&pool, &l, left, base, count] {
                               fork_join_tree(pool, l, left, base, count);
                           }};
    if (left + 1 < count) {
        fork_join_tree(pool, l, left + 1, base, count);
    }
    child.get();
}

void run_ledger(std::size_t workers, std::size_t total) {
    const std::size_t external = total * 4 / 11; // 4 producers
    const std::size_t tree = total * 2 / 11;
    const std::size_t steal_heavy = total * 2 / 11;
    const std::size_t fan_out = total * 2 / 11;
    const std::size_t fork_join = total - external - tree - steal_heavy - fan_out;
    ledger l(total);
    l.remaining.store(total);
    weft::thread_pool pool{weft::pool_options{.threads = workers}};
    std::size_t base = 0;

    // External submission from 4 threads at once.
    {
        std::vector<std::thread> producers;
        const std::size_t per = external / 4;
        for (std::size_t p = 0; p < 4; ++p) {
            const std::size_t from = base + p * per;
            const std::size_t to = p == 3 ? base + external : from + per;
            producers.emplace_back([&pool, &l, from, to] {
                for (std::size_t id = from; id < to; ++id) {
                    (void)weft::spawn(pool, [&l, id] { l.hit(id); });
                }
            });
        }
        for (auto& t : producers) {
            t.join();
        }
        base += external;
    }
    // A nested fire-and-forget spawn tree, rooted on a worker.
    {
        const std::size_t from = base;
        (void)weft::spawn(pool, [&pool, &l, from, tree] {
            struct shifted {
                static void run(weft::thread_pool& p, ledger& lg, std::size_t from_, std::size_t node, std::size_t n) {
                    lg.hit(from_ + node);
                    for (std::size_t c = 2 * node + 1; c <= 2 * node + 2; ++c) {
                        if (c < n) {
                            (void)weft::spawn(p, [&p, &lg, from_, c, n] { run(p, lg, from_, c, n); });
                        }
                    }
                }
            };
            shifted::run(pool, l, from, 0, tree);
        });
        base += tree;
    }
    // Steal-heavy: one worker produces everything; the others can only steal.
    {
        const std::size_t from = base;
        (void)weft::spawn(pool, [&pool, &l, from, steal_heavy] {
            for (std::size_t id = from; id < from + steal_heavy; ++id) {
                (void)weft::spawn(pool, [&l, id] { l.hit(id); });
            }
        });
        base += steal_heavy;
    }
    // Fan-out and join with when_all, in rounds of 1,000.
    {
        const std::size_t from = base;
        (void)weft::spawn(pool, [&pool, &l, from, fan_out] {
            for (std::size_t round = from; round < from + fan_out; round += 1000) {
                std::vector<weft::task<void>> children;
                for (std::size_t id = round; id < std::min(round + 1000, from + fan_out); ++id) {
                    children.push_back(weft::spawn(pool, [&l, id] { l.hit(id); }));
                }
                weft::when_all(children).get();
            }
        });
        base += fan_out;
    }
    // local_task fork-join trees of 10,000 nodes.
    {
        const std::size_t from = base;
        (void)weft::spawn(pool, [&pool, &l, from, fork_join] {
            for (std::size_t t = from; t < from + fork_join; t += 10'000) {
                fork_join_tree(pool, l, 0, t, std::min<std::size_t>(10'000, from + fork_join - t));
            }
        });
    }
    const bool finished = l.wait_all();
    pool.shutdown();
    std::size_t lost = 0;
    std::size_t doubled = 0;
    for (auto& h : l.hits) {
        lost += h.load() == 0 ? 1U : 0U;
        doubled += h.load() > 1 ? 1U : 0U;
    }
    const auto s = pool.stats().total();
    std::printf("ledger, %zu workers: %zu tasks, lost %zu, run twice %zu; steals %llu, injected %llu, slot hits %llu, "
                "parks %llu\n",
                workers,
                total,
                lost,
                doubled,
                static_cast<unsigned long long>(s.steals),
                static_cast<unsigned long long>(s.injected),
                static_cast<unsigned long long>(s.slot_hits),
                static_cast<unsigned long long>(s.parks));
    REQUIRE(finished);
    CHECK(lost == 0);
    CHECK(doubled == 0);
}

} // namespace

TEST_CASE("pool ledger: every task of every workload runs exactly once, on 2 and 8 workers", "[stress]") {
    const std::size_t total = tasks_from_env(1'100'000);
    run_ledger(2, total);
    run_ledger(8, total);
}

TEST_CASE("foreign wake-ups (spurious ones, from the protocol's view) lose no task and no sleeper", "[stress]") {
    // Bursts of external submissions with idle gaps, so workers keep parking, while another
    // thread wakes random workers directly and through the idle set. Debug builds also check
    // I5 (sleeper count == sleeper list) on every transition. Each gap ends only once all
    // workers sleep (the waker paused for that), so every burst wakes a worker that parks
    // again before the next one: at least one park per burst, on any machine's timing.
    constexpr std::size_t bursts = 300;
    constexpr std::size_t per_burst = 1000;
    constexpr std::uint32_t workers = 4;
    ledger l(bursts * per_burst);
    l.remaining.store(bursts * per_burst);
    weft::thread_pool pool{weft::pool_options{.threads = workers}};
    auto& idle = weft::detail::pool_access::core(pool).idle();
    std::atomic<bool> stop{false};
    std::atomic<bool> paused{false};
    std::thread waker([&] {
        std::size_t i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (!paused.load(std::memory_order_relaxed)) {
                idle.notify(i++ % workers);
                if (i % 7 == 0) {
                    idle.wake_one();
                }
            }
            std::this_thread::yield();
        }
    });
    std::size_t quiet_gaps = 0;
    for (std::size_t b = 0; b < bursts; ++b) {
        for (std::size_t k = 0; k < per_burst; ++k) {
            const std::size_t id = b * per_burst + k;
            (void)weft::spawn(pool, [&l, id] { l.hit(id); });
        }
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (l.remaining.load() > (bursts - b - 1) * per_burst && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::yield(); // the burst drains
        }
        const auto racing = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
        while (idle.sleepers_now() == 0 && std::chrono::steady_clock::now() < racing) {
            std::this_thread::yield(); // workers park while the waker still runs
        }
        paused.store(true);
        const auto gap = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (idle.sleepers_now() < workers && std::chrono::steady_clock::now() < gap) {
            std::this_thread::yield(); // ... and all of them sleep before the next burst
        }
        if (idle.sleepers_now() == workers) {
            ++quiet_gaps;
        }
        paused.store(false);
    }
    const bool finished = l.wait_all();
    stop.store(true);
    waker.join();
    pool.shutdown();
    REQUIRE(finished);
    for (auto& h : l.hits) {
        REQUIRE(h.load() == 1);
    }
    CHECK(idle.sleepers_now() == 0);
    const auto s = pool.stats().total();
    std::printf("foreign wake-ups: %zu tasks, parks %llu, wake-ups %llu\n",
                bursts * per_burst,
                static_cast<unsigned long long>(s.parks),
                static_cast<unsigned long long>(s.wakeups));
    REQUIRE(quiet_gaps == bursts); // every gap reached all workers asleep
    CHECK(s.parks >= bursts);      // so the workers really did sleep between bursts
}
