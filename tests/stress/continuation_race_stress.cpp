// Exactly-once stress for the task state: continuation attach racing completion racing
// cancellation, and spawn racing its token. Every race is checked with a per-item ledger.
// Size: WEFT_STRESS_ROUNDS rounds of 1,000 races (default 1,000 rounds = 10^6 races).
#include <weft/cancellation.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {

int rounds_from_env(int fallback) {
    if (const char* s = std::getenv("WEFT_STRESS_ROUNDS")) {
        const int v = std::atoi(s);
        if (v > 0) {
            return v;
        }
    }
    return fallback;
}

constexpr std::size_t batch = 1000;

} // namespace

TEST_CASE("continuation attach, completion and cancellation race: every continuation runs exactly once", "[stress]") {
    const int rounds = rounds_from_env(1000);
    std::printf("continuation race: %d rounds x %zu races\n", rounds, batch);
    std::vector<weft::promise<int>> promises;
    std::vector<weft::task<int>> tasks;
    std::vector<weft::task<void>> value_conts(batch);
    std::vector<weft::task<void>> task_conts(batch);
    std::vector<std::atomic<int>> value_runs(batch);
    std::vector<std::atomic<int>> task_runs(batch);
    std::atomic<long> set_wins{0};
    std::atomic<long> cancel_wins{0};
    long lost = 0;
    long doubled = 0;
    long values_expected = 0;
    long values_seen = 0;

    std::barrier sync(3);
    auto attacher = [&] {
        for (std::size_t i = 0; i < batch; ++i) {
            value_conts[i] = tasks[i].then([&, i](int) { value_runs[i].fetch_add(1, std::memory_order_relaxed); });
            task_conts[i] =
                tasks[i].then([&, i](weft::task<int>) { task_runs[i].fetch_add(1, std::memory_order_relaxed); });
        }
    };
    auto setter = [&] {
        for (std::size_t i = 0; i < batch; ++i) {
            if (promises[i].try_set_value(static_cast<int>(i))) {
                set_wins.fetch_add(1, std::memory_order_relaxed);
            }
        }
    };
    auto canceler = [&] {
        for (std::size_t i = batch; i-- > 0;) { // from the other end, so races meet in the middle
            if (promises[i].try_set_canceled()) {
                cancel_wins.fetch_add(1, std::memory_order_relaxed);
            }
        }
    };

    for (int r = 0; r < rounds; ++r) {
        promises = std::vector<weft::promise<int>>(batch);
        tasks.clear();
        for (auto& p : promises) {
            tasks.push_back(p.get_task());
        }
        for (std::size_t i = 0; i < batch; ++i) {
            value_runs[i] = 0;
            task_runs[i] = 0;
        }
        const long sets_before = set_wins.load();
        std::thread b([&] {
            sync.arrive_and_wait();
            setter();
        });
        std::thread c([&] {
            sync.arrive_and_wait();
            canceler();
        });
        sync.arrive_and_wait();
        attacher();
        b.join();
        c.join();
        for (std::size_t i = 0; i < batch; ++i) {
            task_conts[i].wait();
            value_conts[i].wait();
            const int t = task_runs[i].load();
            if (t == 0) {
                ++lost;
            } else if (t > 1) {
                ++doubled;
            }
            const bool succeeded = tasks[i].is_succeeded();
            values_expected += succeeded ? 1 : 0;
            values_seen += value_runs[i].load();
            if (value_runs[i].load() > 1) {
                ++doubled;
            }
            if (succeeded != value_conts[i].is_succeeded()) {
                ++lost;
            }
        }
        REQUIRE(set_wins.load() - sets_before + 0 <= static_cast<long>(batch));
    }
    CHECK(lost == 0);
    CHECK(doubled == 0);
    CHECK(values_seen == values_expected);
    CHECK(set_wins.load() + cancel_wins.load() == static_cast<long>(rounds) * static_cast<long>(batch));
}

TEST_CASE("spawn racing its token: each function runs at most once, exactly when its task succeeds", "[stress]") {
    const int rounds = rounds_from_env(1000) / 10 + 1;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::vector<std::atomic<int>> ran(batch);
    long mismatches = 0;
    long ran_total = 0;
    long canceled_total = 0;
    for (int r = 0; r < rounds; ++r) {
        for (auto& x : ran) {
            x = 0;
        }
        std::vector<weft::cancellation_source> sources(batch);
        std::vector<weft::task<void>> tasks;
        tasks.reserve(batch);
        std::thread canceler([&] {
            for (std::size_t i = batch; i-- > 0;) {
                sources[i].cancel();
            }
        });
        for (std::size_t i = 0; i < batch; ++i) {
            try {
                tasks.push_back(weft::spawn(
                    pool, [&ran, i] { ran[i].fetch_add(1); }, sources[i].token()));
            } catch (...) {
                FAIL("spawn threw");
            }
        }
        canceler.join();
        for (std::size_t i = 0; i < batch; ++i) {
            tasks[i].wait();
            const int n = ran[i].load();
            if (n > 1 || (n == 1) != tasks[i].is_succeeded() || (n == 0) != tasks[i].is_canceled()) {
                ++mismatches;
            }
            ran_total += n;
            canceled_total += tasks[i].is_canceled() ? 1 : 0;
        }
    }
    std::printf("spawn vs token: %ld ran, %ld canceled\n", ran_total, canceled_total);
    CHECK(mismatches == 0);
    CHECK(ran_total + canceled_total == static_cast<long>(rounds) * static_cast<long>(batch));
}
