// Stress tests for weft/parallel/: the big ledgers (10^7 indices, 10^6 under sanitizers), loops
// canceled at random moments (each ends complete with every iteration, or canceled with fewer),
// breaks at random positions, many callers sharing one pool, and deep nesting without re-entry.
// Every size is a count, overridable from the environment (WEFT_PARALLEL_SCALE=percent).
#include <weft/parallel.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/env.hpp"
#include "support/ledger.hpp"
#include "support/occupancy.hpp"

namespace {

constexpr bool sanitized = WEFT_TSAN || WEFT_ASAN;

std::size_t scaled(std::size_t n) {
    const long percent = weft_test::env_or("WEFT_PARALLEL_SCALE", 100);
    return std::max<std::size_t>(1, n * static_cast<std::size_t>(std::max(percent, 1L)) / 100);
}

using weft_test::ledger;

} // namespace

TEST_CASE("parallel stress: every index of a 10^7 loop runs exactly once (10^6 under sanitizers)") {
    const std::size_t n = scaled(sanitized ? 1'000'000 : 10'000'000);
    for (std::size_t threads : {2U, 4U}) {
        weft::thread_pool pool(weft::pool_options{.threads = threads});
        for (auto split : {weft::partitioner::automatic, weft::partitioner::simple}) {
            ledger l(n);
            weft::loop_options o;
            o.split = split;
            o.grain = split == weft::partitioner::simple ? 64 : 0;
            weft::parallel_for(
                pool, std::size_t{0}, n, [&](std::size_t i) { l.mark(i); }, o);
            CHECK(l.wrong() == 0);
        }
    }
}

TEST_CASE(
    "parallel stress: a loop canceled at a random moment ends complete with every iteration or canceled with fewer") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    const std::size_t runs = scaled(sanitized ? 300 : 2000);
    const std::size_t n = 100'000;
    std::mt19937 rng(11);
    std::size_t complete = 0, canceled = 0;
    for (std::size_t run = 0; run < runs; ++run) {
        weft::cancellation_source src;
        weft::loop_options o;
        o.token = src.token();
        o.split = run % 2 == 0 ? weft::partitioner::automatic : weft::partitioner::simple;
        o.grain = 256;
        std::atomic<std::size_t> count{0};
        const auto wait = std::chrono::microseconds(rng() % 300);
        std::thread canceller([&src, wait] {
            std::this_thread::sleep_for(wait);
            src.cancel();
        });
        bool threw = false;
        try {
            weft::parallel_for(
                pool, std::size_t{0}, n, [&](std::size_t) { count.fetch_add(1, std::memory_order_relaxed); }, o);
        } catch (const weft::operation_canceled&) {
            threw = true;
        }
        canceller.join();
        if (threw) {
            ++canceled;
            if (count.load() >= n) {
                FAIL("run " << run << " canceled although every iteration ran");
            }
        } else {
            ++complete;
            if (count.load() != n) {
                FAIL("run " << run << " reported success with " << count.load() << " of " << n);
            }
        }
    }
    INFO("complete " << complete << ", canceled " << canceled);
    CHECK(complete + canceled == runs);
}

TEST_CASE("parallel stress: breaks at random positions, every iteration below the lowest ran once") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    const std::size_t runs = scaled(sanitized ? 40 : 300);
    const std::size_t n = 50'000;
    std::mt19937 rng(5);
    for (std::size_t run = 0; run < runs; ++run) {
        const std::size_t b1 = rng() % n, b2 = rng() % n;
        ledger l(n);
        weft::loop_options o;
        o.split = run % 3 == 0 ? weft::partitioner::simple : weft::partitioner::automatic;
        o.grain = run % 3 == 0 ? 1 + rng() % 100 : 0;
        auto r = weft::parallel_for(
            pool,
            std::size_t{0},
            n,
            [&](std::size_t i, weft::loop_state& s) {
                l.mark(i);
                if (i == b1 || i == b2) {
                    s.break_loop();
                }
            },
            o);
        REQUIRE(r.lowest_break_iteration);
        const std::size_t lowest = *r.lowest_break_iteration;
        CHECK(lowest == std::min(b1, b2)); // the lower one is below the limit the higher sets: it always runs
        for (std::size_t i = 0; i < lowest; ++i) {
            if (l.hits[i].load() != 1) {
                FAIL("run " << run << ": index " << i << " below the break at " << lowest << " ran "
                            << l.hits[i].load());
            }
        }
    }
}

TEST_CASE("parallel stress: several threads run loops on one pool at once, workers and non-workers alike") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    const std::size_t loops = scaled(sanitized ? 100 : 1000);
    std::atomic<std::size_t> bad{0};
    auto caller = [&](std::size_t seed) {
        std::mt19937 rng(static_cast<unsigned>(seed));
        for (std::size_t k = 0; k < loops; ++k) {
            const std::size_t n = 1 + rng() % 3000;
            ledger l(n);
            weft::loop_options o;
            o.split = static_cast<weft::partitioner>(rng() % 3);
            o.grain = rng() % 8;
            weft::parallel_for(
                pool, std::size_t{0}, n, [&](std::size_t i) { l.mark(i); }, o);
            bad.fetch_add(l.wrong());
        }
    };
    std::thread a(caller, 1), b(caller, 2);
    auto c = weft::spawn(pool, [&] { caller(3); });
    auto d = weft::spawn(pool, [&] { caller(4); });
    a.join();
    b.join();
    c.get();
    d.get();
    CHECK(bad.load() == 0);
}

TEST_CASE("parallel stress: 10^4 outer iterations each running an inner loop never nest deeper than two per thread") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    static thread_local int depth = 0;
    std::atomic<int> deepest{0};
    std::atomic<int> reentered{0};
    const std::size_t outer = scaled(sanitized ? 1000 : 10'000);
    weft::parallel_for(pool, std::size_t{0}, outer, [&](std::size_t) {
        if (depth != 0) {
            reentered.fetch_add(1);
        }
        ++depth;
        weft::parallel_for(pool, 0, 64, [&](int) { weft_test::raise_to(deepest, depth + 1); });
        --depth;
    });
    CHECK(reentered.load() == 0);
    CHECK(deepest.load() <= 2);
}
