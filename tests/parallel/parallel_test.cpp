// Tests for weft/parallel/: parallel_for (indices, steps, blocked ranges in 1-D and 2-D, local
// state), parallel_for_each (random access, forward, a source that waits), parallel_invoke,
// parallel_reduce (both forms, deterministic) and for_each_async. Each contract sentence of
// docs/guide/parallel.md has a test here; the large ledgers and the races: stress/parallel_stress.
#include <weft/parallel.hpp>
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <forward_list>
#include <latch>
#include <list>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/eventually.hpp"
#include "support/ledger.hpp"
#include "support/occupancy.hpp"

using namespace std::chrono_literals;

namespace {

using weft_test::ledger;

weft::loop_options with_split(weft::partitioner p, std::size_t grain = 0) {
    weft::loop_options o;
    o.split = p;
    o.grain = grain;
    return o;
}

template<typename T>
std::vector<std::exception_ptr> errors_of(T&& run) {
    try {
        run();
    } catch (const weft::aggregate_error& e) {
        return e.exceptions();
    }
    return {};
}

} // namespace

TEST_CASE("parallel_for: every index runs exactly once, with each partitioner, from main and from a worker") {
    const std::size_t n = 100'000;
    for (std::size_t threads : {1U, 2U, 4U}) {
        weft::thread_pool pool(weft::pool_options{.threads = threads});
        for (auto split : {weft::partitioner::automatic, weft::partitioner::fixed, weft::partitioner::simple}) {
            for (std::size_t grain : {0U, 1U, 7U, 1000U}) {
                ledger l(n);
                auto r = weft::parallel_for(
                    pool, std::size_t{0}, n, [&](std::size_t i) { l.mark(i); }, with_split(split, grain));
                CHECK(r.completed);
                CHECK_FALSE(r.lowest_break_iteration);
                CHECK(l.count(1) == n);
                ledger from_worker(n);
                weft::spawn(pool, [&] {
                    weft::parallel_for(
                        pool, std::size_t{0}, n, [&](std::size_t i) { from_worker.mark(i); }, with_split(split, grain));
                }).get();
                CHECK(from_worker.count(1) == n);
            }
        }
    }
}

TEST_CASE("parallel_for: the workers take part, and max_degree caps the threads that run at once") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::mutex m;
    std::set<std::thread::id> seen;
    // iterations that wait for each other until two threads are in: only possible with a helper
    std::atomic<int> inside{0};
    weft::parallel_for(
        pool,
        0,
        2,
        [&](int) {
            inside.fetch_add(1);
            (void)weft_test::eventually([&] { return inside.load() == 2; }, 20s);
            std::lock_guard g(m);
            seen.insert(std::this_thread::get_id());
        },
        with_split(weft::partitioner::simple));
    CHECK(seen.size() == 2);
    CHECK(inside.load() == 2);

    weft::thread_pool four(weft::pool_options{.threads = 4});
    for (std::size_t degree : {1U, 2U, 3U}) {
        weft_test::occupancy peak;
        weft::loop_options o;
        o.max_degree = degree;
        o.split = weft::partitioner::simple;
        weft::parallel_for(
            four,
            0,
            2000,
            [&](int) {
                peak.enter();
                std::this_thread::sleep_for(10us);
                peak.leave();
            },
            o);
        CHECK(peak.peak.load() <= static_cast<int>(degree));
        CHECK(peak.peak.load() >= 1);
    }
}

TEST_CASE("parallel_for: the caller runs every chunk when the workers are all blocked") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::latch release(1);
    std::latch both_blocked(2);
    auto block = [&] {
        both_blocked.count_down();
        release.wait();
    };
    auto a = weft::spawn(pool, block);
    auto b = weft::spawn(pool, block);
    both_blocked.wait();
    for (auto split : {weft::partitioner::automatic, weft::partitioner::fixed, weft::partitioner::simple}) {
        ledger l(1000);
        weft::parallel_for(
            pool, 0, 1000, [&](int i) { l.mark(static_cast<std::size_t>(i)); }, with_split(split));
        CHECK(l.count(1) == 1000); // fixed: the shares of the helpers that never came are taken over
    }
    release.count_down();
    a.get();
    b.get();

    // from inside a worker task, the other worker blocked
    std::latch release2(1);
    std::latch blocked2(1);
    auto c = weft::spawn(pool, [&] {
        blocked2.count_down();
        release2.wait();
    });
    blocked2.wait();
    ledger l2(1000);
    weft::spawn(pool, [&] {
        weft::parallel_for(pool, 0, 1000, [&](int i) { l2.mark(static_cast<std::size_t>(i)); });
    }).get();
    CHECK(l2.count(1) == 1000);
    release2.count_down();
    c.get();
}

TEST_CASE("parallel_for: empty, one-element, reversed and near-the-limits ranges") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::atomic<int> calls{0};
    const auto before = pool.stats().injections;
    auto r = weft::parallel_for(pool, 5, 5, [&](int) { calls.fetch_add(1); });
    weft::parallel_for(pool, 0, -1, [&](int) { calls.fetch_add(1); }); // taskflow#487: not "nearly forever"
    weft::parallel_for(pool, std::size_t{10}, std::size_t{3}, [&](std::size_t) { calls.fetch_add(1); });
    CHECK(calls.load() == 0);
    CHECK(r.completed);
    CHECK(pool.stats().injections == before); // an empty range spawns nothing

    std::vector<int> one;
    weft::parallel_for(pool, 41, 42, [&](int i) { one.push_back(i); });
    CHECK(one == std::vector<int>{41});

    // the last indices of the widest types: no overflow while splitting or stepping
    std::mutex m;
    std::vector<std::size_t> top;
    weft::parallel_for(
        pool,
        SIZE_MAX - 1000,
        SIZE_MAX,
        [&](std::size_t i) {
            std::lock_guard g(m);
            top.push_back(i);
        },
        with_split(weft::partitioner::simple));
    std::sort(top.begin(), top.end());
    REQUIRE(top.size() == 1000);
    CHECK(top.front() == SIZE_MAX - 1000);
    CHECK(top.back() == SIZE_MAX - 1);

    std::vector<std::int64_t> ends;
    weft::parallel_for(pool, INT64_MIN, INT64_MIN + 3, [&](std::int64_t i) {
        std::lock_guard g(m);
        ends.push_back(i);
    });
    std::sort(ends.begin(), ends.end());
    CHECK(ends == std::vector<std::int64_t>{INT64_MIN, INT64_MIN + 1, INT64_MIN + 2});

    CHECK_THROWS_AS(weft::parallel_for(pool, 0, 10, 0, [](int) {}), std::invalid_argument);
    CHECK_THROWS_AS(weft::parallel_for(pool, -1, std::size_t{10}, [](std::size_t) {}), std::invalid_argument);
    CHECK_THROWS_AS(weft::parallel_for(pool, std::size_t{0}, std::size_t{10}, -1, [](std::size_t) {}),
                    std::invalid_argument);
}

TEST_CASE("parallel_for: steps up and down give the index set of a serial loop, at the limits of int") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::mt19937_64 rng(20261130);
    const int cases = 2000;
    for (int c = 0; c < cases; ++c) {
        const int anchors[] = {INT_MIN, INT_MIN + 7, -1000, 0, 1000, INT_MAX - 7, INT_MAX};
        const int anchor = anchors[rng() % 7];
        const int a = anchor + static_cast<int>(rng() % 5) * (anchor < 0 ? 1 : -1); // toward zero: no overflow
        const int span = static_cast<int>(rng() % 3000);
        const int magnitude = 1 + static_cast<int>(rng() % 40);
        const int step = rng() % 2 == 0 ? magnitude : -magnitude;
        const long long b_wide = step > 0 ? static_cast<long long>(a) + span : static_cast<long long>(a) - span;
        const int b = static_cast<int>(std::clamp<long long>(b_wide, INT_MIN, INT_MAX));
        std::vector<int> serial;
        for (long long i = a; step > 0 ? i < b : i > b; i += step) {
            serial.push_back(static_cast<int>(i));
        }
        std::mutex m;
        std::vector<int> got;
        weft::parallel_for(
            pool,
            a,
            b,
            step,
            [&](int i) {
                std::lock_guard g(m);
                got.push_back(i);
            },
            with_split(weft::partitioner::automatic, rng() % 4));
        std::sort(serial.begin(), serial.end());
        std::sort(got.begin(), got.end());
        if (got != serial) {
            FAIL("from " << a << " to " << b << " by " << step << ": " << got.size() << " indices, serial "
                         << serial.size());
        }
    }
    SUCCEED("random ranges and steps match a serial loop");
}

TEST_CASE("parallel_for: break_loop runs every iteration below the lowest break and reports it") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    const std::size_t n = 1'000'000;
    ledger l(n);
    auto r = weft::parallel_for(pool, std::size_t{0}, n, [&](std::size_t i, weft::loop_state& s) {
        l.mark(i);
        if (i == 500'000) {
            s.break_loop();
        }
    });
    CHECK_FALSE(r.completed);
    REQUIRE(r.lowest_break_iteration);
    CHECK(*r.lowest_break_iteration == 500'000);
    for (std::size_t i = 0; i <= 500'000; ++i) {
        if (l.hits[i].load() != 1) {
            FAIL("index " << i << " ran " << l.hits[i].load() << " times");
        }
    }
    CHECK(l.count(2) == 0);

    // two breaks: the lower wins, everything below it ran
    ledger l2(n);
    auto r2 = weft::parallel_for(pool, std::size_t{0}, n, [&](std::size_t i, weft::loop_state& s) {
        l2.mark(i);
        if (i == 400'000 || i == 600'000) {
            s.break_loop();
        }
    });
    REQUIRE(r2.lowest_break_iteration);
    CHECK(*r2.lowest_break_iteration == 400'000);
    for (std::size_t i = 0; i < 400'000; ++i) {
        if (l2.hits[i].load() != 1) {
            FAIL("index " << i << " ran " << l2.hits[i].load() << " times");
        }
    }
    // the index is reported, not the position
    auto r3 = weft::parallel_for(pool, 100, 0, -2, [&](int i, weft::loop_state& s) {
        if (i == 50) {
            CHECK(s.position() == 25);
            s.break_loop();
        }
    });
    REQUIRE(r3.lowest_break_iteration);
    CHECK(*r3.lowest_break_iteration == 50);
}

TEST_CASE(
    "parallel_for: after stop() no iteration starts, at most one per other participant was already past its check") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    for (int round = 0; round < 20; ++round) {
        std::atomic<bool> stopped{false};
        std::atomic<int> started_after{0};
        std::atomic<std::size_t> ran{0};
        auto r = weft::parallel_for(pool, 0, 1'000'000, [&](int i, weft::loop_state& s) {
            if (stopped.load()) {
                started_after.fetch_add(1);
            }
            ran.fetch_add(1);
            if (i == 1000) {
                s.stop();
                stopped.store(true);
                CHECK(s.is_stopped());
                CHECK(s.should_exit_current_iteration());
            }
        });
        CHECK_FALSE(r.completed);
        CHECK_FALSE(r.lowest_break_iteration);
        CHECK(started_after.load() <= 1); // two participants: the other one's current iteration
        CHECK(ran.load() < 1'000'000);
    }
}

TEST_CASE("parallel_for: stop() and break_loop() in the same loop is an error") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    auto errors = errors_of([&] {
        weft::parallel_for(
            pool,
            0,
            100,
            [&](int i, weft::loop_state& s) {
                if (i == 10) {
                    s.break_loop();
                    s.stop();
                }
            },
            with_split(weft::partitioner::simple));
    });
    REQUIRE(errors.size() == 1);
    CHECK_THROWS_AS(std::rethrow_exception(errors[0]), std::logic_error);
}

TEST_CASE(
    "parallel_for: every exception thrown by an iteration is kept, and no iteration starts once the failure is known") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    for (auto split : {weft::partitioner::automatic, weft::partitioner::simple}) {
        std::atomic<int> thrown{0};
        std::atomic<int> ran{0};
        auto errors = errors_of([&] {
            weft::parallel_for(
                pool,
                0,
                100'000,
                [&](int i) {
                    ran.fetch_add(1);
                    if (i % 1000 == 999) {
                        thrown.fetch_add(1);
                        throw std::runtime_error(std::to_string(i));
                    }
                },
                with_split(split, 10));
        });
        REQUIRE(static_cast<int>(errors.size()) == thrown.load());
        CHECK(thrown.load() >= 1);
        CHECK(ran.load() < 100'000);
        std::set<std::string> distinct;
        for (auto& e : errors) {
            try {
                std::rethrow_exception(e);
            } catch (const std::runtime_error& x) {
                distinct.insert(x.what());
            }
        }
        CHECK(distinct.size() == errors.size());

        // a body taking the loop_state is checked before each iteration: once one has seen the
        // failure, nothing else starts (the other participant may be one iteration past its check)
        std::atomic<int> saw_failure{0};
        (void)errors_of([&] {
            weft::parallel_for(
                pool,
                0,
                100'000,
                [&](int i, weft::loop_state& s) {
                    if (s.is_exceptional()) {
                        saw_failure.fetch_add(1);
                    }
                    if (i == 999) {
                        throw std::runtime_error("999");
                    }
                },
                with_split(split, 10));
        });
        CHECK(saw_failure.load() <= 1);
    }
}

TEST_CASE("parallel_for: a canceled token stops new chunks and the loop throws operation_canceled") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    weft::cancellation_source before;
    before.cancel();
    weft::loop_options o;
    o.token = before.token();
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(weft::parallel_for(
                        pool, 0, 1000, [&](int) { ran.fetch_add(1); }, o),
                    weft::operation_canceled);
    CHECK(ran.load() == 0);

    // mid-loop, grain G: what starts after the cancel is at most a chunk per participant
    const std::size_t grain = 16;
    weft::cancellation_source mid;
    weft::loop_options m;
    m.token = mid.token();
    m.split = weft::partitioner::simple;
    m.grain = grain;
    std::atomic<bool> canceled{false};
    std::atomic<std::size_t> after{0};
    CHECK_THROWS_AS(weft::parallel_for(
                        pool,
                        0,
                        1'000'000,
                        [&](int i) {
                            if (canceled.load()) {
                                after.fetch_add(1);
                            }
                            if (i == 5000) {
                                mid.cancel();
                                canceled.store(true);
                            }
                        },
                        m),
                    weft::operation_canceled);
    CHECK(after.load() <= 2 * grain);

    // canceled after every iteration ran: the loop completed, nothing to report
    weft::cancellation_source late;
    weft::loop_options l;
    l.token = late.token();
    l.split = weft::partitioner::simple;
    auto r = weft::parallel_for(
        pool, 0, 1, [&](int) { late.cancel(); }, l);
    CHECK(r.completed);
}

TEST_CASE("parallel_for: operation_canceled from a body is the cancellation only when the loop's token is canceled") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    // spurious: the token is not canceled, so it is a failure (never a silent success)
    auto errors = errors_of([&] {
        weft::parallel_for(pool, 0, 100, [&](int i) {
            if (i == 50) {
                throw weft::operation_canceled{};
            }
        });
    });
    REQUIRE(errors.size() == 1);
    CHECK_THROWS_AS(std::rethrow_exception(errors[0]), weft::operation_canceled);

    // the last iteration ends by the cancellation: nothing else was skipped, still not a success
    weft::cancellation_source last;
    weft::loop_options lo;
    lo.token = last.token();
    auto cancel_and_throw = [&](int) {
        last.cancel();
        last.token().throw_if_cancellation_requested();
    };
    CHECK_THROWS_AS(weft::parallel_for(pool, 0, 1, cancel_and_throw, lo), weft::operation_canceled);

    weft::cancellation_source src;
    weft::loop_options o;
    o.token = src.token();
    o.split = weft::partitioner::simple;
    CHECK_THROWS_AS(weft::parallel_for(
                        pool,
                        0,
                        10'000,
                        [&](int i) {
                            if (i == 50) {
                                src.cancel();
                                src.token().throw_if_cancellation_requested();
                            }
                        },
                        o),
                    weft::operation_canceled);
}

TEST_CASE("parallel_for: nested three levels deep on 1 and 2 workers, from main and from a worker") {
    for (std::size_t threads : {1U, 2U}) {
        weft::thread_pool pool(weft::pool_options{.threads = threads});
        auto nested = [&](ledger& l) {
            weft::parallel_for(pool, 0, 20, [&](int a) {
                weft::parallel_for(pool, 0, 30, [&](int b) {
                    weft::parallel_for(
                        pool,
                        0,
                        40,
                        [&](int c) { l.mark(static_cast<std::size_t>(a * 1200 + b * 40 + c)); },
                        with_split(weft::partitioner::simple));
                });
            });
        };
        ledger from_main(24'000);
        nested(from_main);
        CHECK(from_main.count(1) == 24'000);
        ledger from_worker(24'000);
        weft::spawn(pool, [&] { nested(from_worker); }).get();
        CHECK(from_worker.count(1) == 24'000);
    }
}

TEST_CASE("parallel_for: a participant waiting in an inner loop never runs another outer iteration (no re-entered "
          "thread state)") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    static thread_local bool scratch_in_use = false;
    static thread_local int depth = 0;
    std::atomic<int> reentered{0};
    std::atomic<int> deepest{0};
    weft::parallel_for(
        pool,
        0,
        256,
        [&](int) {
            if (scratch_in_use) {
                reentered.fetch_add(1);
            }
            scratch_in_use = true;
            ++depth;
            weft::parallel_for(pool, 0, 1000, [&](int) { weft_test::raise_to(deepest, depth + 1); });
            --depth;
            scratch_in_use = false;
        },
        with_split(weft::partitioner::simple));
    CHECK(reentered.load() == 0);
    CHECK(deepest.load() <= 2);
}

TEST_CASE("parallel_for: an inner loop under a lock held by an outer iteration finishes") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::mutex m;
    std::atomic<int> inner{0};
    weft::parallel_for(
        pool,
        0,
        100,
        [&](int) {
            std::lock_guard g(m);
            weft::parallel_for(pool, 0, 100, [&](int) { inner.fetch_add(1); });
        },
        with_split(weft::partitioner::simple));
    CHECK(inner.load() == 10'000);
}

TEST_CASE("parallel_for over blocked ranges: sub-ranges cover the range once, each at least a grain but the last") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    ledger l(100'003);
    std::atomic<int> small{0};
    weft::parallel_for(
        pool,
        weft::blocked_range<std::size_t>(0, 100'003, 100),
        [&](const weft::blocked_range<std::size_t>& r) {
            CHECK_FALSE(r.empty());
            if (r.size() < 100 && r.end() != 100'003) {
                small.fetch_add(1);
            }
            for (std::size_t i = r.begin(); i < r.end(); ++i) {
                l.mark(i);
            }
        },
        with_split(weft::partitioner::simple));
    CHECK(l.count(1) == 100'003);
    CHECK(small.load() == 0);
    CHECK_THROWS_AS(weft::blocked_range<int>(5, 4), std::invalid_argument);

    // 2-D: tiles of at most grain x grain, every cell once
    const int rows = 300, cols = 170;
    ledger cells(rows * cols);
    std::atomic<int> too_big{0};
    weft::parallel_for(
        pool, weft::blocked_range2d<int>(0, rows, 32, 0, cols, 16), [&](const weft::blocked_range2d<int>& t) {
            if (t.rows().size() > 32 || t.cols().size() > 16) {
                too_big.fetch_add(1);
            }
            for (int r = t.rows().begin(); r < t.rows().end(); ++r) {
                for (int c = t.cols().begin(); c < t.cols().end(); ++c) {
                    cells.mark(static_cast<std::size_t>(r * cols + c));
                }
            }
        });
    CHECK(cells.count(1) == static_cast<std::size_t>(rows * cols));
    CHECK(too_big.load() == 0);

    // a transpose with default tiles (64 x 64)
    const std::size_t n = 257;
    std::vector<int> a(n * n), t(n * n, -1);
    std::iota(a.begin(), a.end(), 0);
    weft::parallel_for(
        pool, weft::blocked_range2d<std::size_t>(0, n, 0, n), [&](const weft::blocked_range2d<std::size_t>& tile) {
            CHECK(tile.rows().size() <= 64);
            for (std::size_t r = tile.rows().begin(); r < tile.rows().end(); ++r) {
                for (std::size_t c = tile.cols().begin(); c < tile.cols().end(); ++c) {
                    t[c * n + r] = a[r * n + c];
                }
            }
        });
    bool ok = true;
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < n; ++c) {
            ok = ok && t[c * n + r] == a[r * n + c];
        }
    }
    CHECK(ok);
}

TEST_CASE("parallel_for_local: one local per participant that ran, finally once for each, nothing lost") {
    weft::thread_pool pool(weft::pool_options{.threads = 3});
    std::atomic<int> inits{0};
    std::atomic<int> finals{0};
    std::mutex m;
    long long total = 0;
    auto r = weft::parallel_for_local(
        pool,
        0,
        100'000,
        [&] {
            inits.fetch_add(1);
            return 0LL;
        },
        [](int i, long long& local) { local += i; },
        [&](long long& local) {
            finals.fetch_add(1);
            std::lock_guard g(m);
            total += local;
        });
    CHECK(r.completed);
    CHECK(total == 100'000LL * 99'999 / 2);
    CHECK(inits.load() == finals.load());
    CHECK(inits.load() >= 1);
    CHECK(inits.load() <= 3);

    // with loop_state, and a throwing finally reported with the rest
    auto errors = errors_of([&] {
        weft::parallel_for_local(
            pool,
            0,
            10,
            [] { return 0; },
            [](int, weft::loop_state&, int& x) { ++x; },
            [](int&) { throw std::runtime_error("finally"); });
    });
    CHECK(errors.size() >= 1);
}

TEST_CASE("parallel_reduce: both forms, init counted once, order kept for a non-commutative combine") {
    for (std::size_t threads : {1U, 2U, 4U}) {
        weft::thread_pool pool(weft::pool_options{.threads = threads});
        const long long n = 1'000'000;
        const long long sum = weft::parallel_reduce(pool, 0LL, n, 5LL, std::plus<>{}, [](long long i) { return i; });
        CHECK(sum == 5 + n * (n - 1) / 2);
        const long long tbb = weft::parallel_reduce(
            pool,
            weft::blocked_range<long long>(0, n),
            0LL,
            [](const weft::blocked_range<long long>& r, long long acc) {
                for (long long i = r.begin(); i < r.end(); ++i) {
                    acc += i;
                }
                return acc;
            },
            std::plus<>{});
        CHECK(tbb == n * (n - 1) / 2);
        // string concatenation: associative, not commutative
        for (bool deterministic : {false, true}) {
            weft::loop_options o;
            o.deterministic = deterministic;
            o.split = weft::partitioner::simple;
            o.grain = 3;
            const std::string s = weft::parallel_reduce(
                pool,
                0,
                2000,
                std::string("<"),
                [](std::string a, const std::string& b) { return a + b; },
                [](int i) { return std::string(1, static_cast<char>('a' + i % 26)); },
                o);
            std::string serial = "<";
            for (int i = 0; i < 2000; ++i) {
                serial += static_cast<char>('a' + i % 26);
            }
            CHECK(s == serial);
        }
        CHECK(weft::parallel_reduce(pool, 3, 3, 7, std::plus<>{}, [](int i) { return i; }) == 7);
        CHECK(weft::parallel_reduce(
                  pool,
                  weft::blocked_range<int>(3, 3),
                  9,
                  [](const weft::blocked_range<int>&, int a) { return a + 1; },
                  std::plus<>{}) == 9);
    }
}

TEST_CASE("parallel_reduce: deterministic mode gives the same bits on every run and every pool size") {
    const int n = 1'000'000;
    std::vector<float> v(static_cast<std::size_t>(n));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-1.0F, 1.0F);
    for (auto& x : v) {
        x = d(rng) * (rng() % 7 == 0 ? 1e6F : 1.0F);
    }
    weft::loop_options o;
    o.deterministic = true;
    std::set<std::uint32_t> bits;
    for (std::size_t threads : {1U, 2U}) {
        weft::thread_pool pool(weft::pool_options{.threads = threads});
        for (int run = 0; run < 20; ++run) {
            const float s = weft::parallel_reduce(
                pool, 0, n, 0.0F, std::plus<>{}, [&](int i) { return v[static_cast<std::size_t>(i)]; }, o);
            std::uint32_t b = 0;
            std::memcpy(&b, &s, sizeof b);
            bits.insert(b);
        }
    }
    CHECK(bits.size() == 1);
}

TEST_CASE("parallel_reduce: an exception in a body is reported, operation_canceled on a canceled token") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    auto errors = errors_of([&] {
        (void)weft::parallel_reduce(pool, 0, 1000, 0, std::plus<>{}, [](int i) {
            if (i == 500) {
                throw std::runtime_error("500");
            }
            return i;
        });
    });
    CHECK(errors.size() == 1);
    weft::cancellation_source src;
    src.cancel();
    weft::loop_options o;
    o.token = src.token();
    CHECK_THROWS_AS(weft::parallel_reduce(
                        pool, 0, 1000, 0, std::plus<>{}, [](int i) { return i; }, o),
                    weft::operation_canceled);
}

TEST_CASE("parallel_for_each: random-access and forward ranges, each item once, break by position") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::vector<int> v(50'000);
    std::iota(v.begin(), v.end(), 0);
    ledger lv(v.size());
    auto r = weft::parallel_for_each(pool, v, [&](int& x) { lv.mark(static_cast<std::size_t>(x)); });
    CHECK(r.completed);
    CHECK(lv.count(1) == v.size());

    for (auto split : {weft::partitioner::automatic, weft::partitioner::simple, weft::partitioner::fixed}) {
        std::list<int> l(v.begin(), v.end());
        ledger ll(v.size());
        weft::parallel_for_each(
            pool, l, [&](const int& x) { ll.mark(static_cast<std::size_t>(x)); }, with_split(split, 5));
        CHECK(ll.count(1) == v.size());
    }

    std::forward_list<int> fl(v.begin(), v.end());
    ledger lb(v.size());
    auto rb = weft::parallel_for_each(pool, fl.begin(), fl.end(), [&](int x, weft::loop_state& s) {
        lb.mark(static_cast<std::size_t>(x));
        if (x == 30'000) {
            s.break_loop();
        }
    });
    REQUIRE(rb.lowest_break_iteration);
    CHECK(*rb.lowest_break_iteration == 30'000);
    for (std::size_t i = 0; i <= 30'000; ++i) {
        if (lb.hits[i].load() != 1) {
            FAIL("item " << i << " ran " << lb.hits[i].load() << " times");
        }
    }
    std::list<int> none;
    CHECK(weft::parallel_for_each(pool, none, [](int) { FAIL("no item"); }).completed);
}

namespace {
/// A forward iterator over a source that has `ready` items, then makes the increment past the
/// last ready one wait until the test releases more (a queue being filled).
struct waiting_source {
    std::mutex m;
    std::condition_variable cv;
    int ready = 0;
    int total = 0;
    void release(int n) {
        std::lock_guard g(m);
        ready = std::min(total, ready + n);
        cv.notify_all();
    }
    struct iterator {
        using value_type = int;
        using difference_type = std::ptrdiff_t;
        waiting_source* src = nullptr;
        int at = 0;
        int operator*() const { return at; }
        iterator& operator++() {
            ++at;
            std::unique_lock g(src->m);
            src->cv.wait(g, [&] { return at < src->ready || src->ready == src->total; });
            return *this;
        }
        iterator operator++(int) {
            iterator t = *this;
            ++*this;
            return t;
        }
        bool operator==(const iterator& o) const { return at == o.at; }
    };
};
} // namespace

TEST_CASE("parallel_for_each: with simple chunks of one, a source that waits never holds back an item it has") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    waiting_source src;
    src.total = 20;
    src.ready = 10;
    std::atomic<int> processed{0};
    std::thread releaser([&] {
        (void)weft_test::eventually([&] { return processed.load() >= 10; }, 20s);
        src.release(10); // only once the ten there are all processed
    });
    weft::parallel_for_each(
        pool,
        waiting_source::iterator{&src, 0},
        waiting_source::iterator{&src, 20},
        [&](int) { processed.fetch_add(1); },
        with_split(weft::partitioner::simple, 1));
    releaser.join();
    CHECK(processed.load() == 20);
}

TEST_CASE("parallel_invoke: every callable runs, on several threads, and every exception is kept") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::atomic<int> a{0};
    weft::parallel_invoke(
        pool, [&] { a += 1; }, [&] { a += 10; }, [&] { a += 100; });
    CHECK(a.load() == 111);

    // 100 callables, every one throws: all 100 reported
    std::atomic<int> ran{0};
    auto thrower = [&] {
        ran.fetch_add(1);
        throw std::runtime_error("x");
    };
    auto errors = errors_of([&] {
        auto t10 = [&] {
            weft::parallel_invoke(
                pool, thrower, thrower, thrower, thrower, thrower, thrower, thrower, thrower, thrower, thrower);
        };
        weft::parallel_invoke(pool, t10, t10, t10, t10, t10, t10, t10, t10, t10, t10);
    });
    CHECK(ran.load() == 100);
    REQUIRE(errors.size() == 10);
    std::size_t inner = 0;
    for (auto& e : errors) {
        try {
            std::rethrow_exception(e);
        } catch (const weft::aggregate_error& x) {
            inner += x.size();
        }
    }
    CHECK(inner == 100);

    // fork-join recursion on one worker: no deadlock
    weft::thread_pool one(weft::pool_options{.threads = 1});
    std::function<long(int)> fib = [&](int k) -> long {
        if (k < 2) {
            return k;
        }
        long x = 0, y = 0;
        weft::parallel_invoke(
            one, [&] { x = fib(k - 1); }, [&] { y = fib(k - 2); });
        return x + y;
    };
    CHECK(weft::spawn(one, [&] { return fib(15); }).get() == 610);
    CHECK(fib(12) == 144);
}

TEST_CASE("for_each_async: at most `limit` bodies in flight, each item once, bodies hold no thread while they wait") {
    weft::thread_pool pool(weft::pool_options{.threads = 1});
    std::vector<int> items(1000);
    std::iota(items.begin(), items.end(), 0);
    weft_test::occupancy peak;
    ledger l(items.size());
    weft::async_manual_reset_event gate;
    auto t = weft::for_each_async(pool, items, 4, [&](int i) -> weft::task<void> {
        peak.enter();
        if (i < 4) {
            co_await gate.wait(); // the first four wait together, on one worker
        }
        l.mark(static_cast<std::size_t>(i));
        peak.leave();
    });
    (void)weft_test::eventually([&] { return peak.now.load() == 4; }, 20s);
    CHECK(peak.now.load() == 4); // four bodies waiting at once with one worker thread
    gate.set();
    REQUIRE(t.wait_for(20s));
    t.get();
    CHECK(peak.peak.load() == 4);
    CHECK(l.count(1) == items.size());
    CHECK_THROWS_AS(weft::for_each_async(pool, items, 0, [](int) -> weft::task<void> { co_return; }),
                    std::invalid_argument);
}

TEST_CASE("for_each_async: the first failure cancels the others' token, and only real failures are reported") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    std::vector<int> items(100);
    std::iota(items.begin(), items.end(), 0);
    weft::async_manual_reset_event never;
    std::atomic<int> started{0};
    auto t = weft::for_each_async(pool, items, 5, [&](int i, weft::cancellation_token token) -> weft::task<void> {
        started.fetch_add(1);
        if (i == 3) {
            throw std::runtime_error("E"); // the four others in flight wait
        }
        co_await never.wait(token); // ends only by the loop's cancellation
    });
    REQUIRE(t.wait_for(20s));
    try {
        t.get();
        FAIL("no error");
    } catch (const weft::aggregate_error& e) {
        REQUIRE(e.size() == 1);
        CHECK_THROWS_WITH(std::rethrow_exception(e.exceptions()[0]), "E");
    }
    CHECK(started.load() <= 10); // no body started after the failure was seen

    // a spurious operation_canceled (the loop's token not canceled) is a failure
    auto spurious = weft::for_each_async(pool, items, 3, [&](int i) -> weft::task<void> {
        if (i == 7) {
            throw weft::operation_canceled{};
        }
        co_return;
    });
    REQUIRE(spurious.wait_for(20s));
    CHECK_THROWS_AS(spurious.get(), weft::aggregate_error);

    // the caller's token: the task ends canceled
    weft::cancellation_source src;
    auto canceled = weft::for_each_async(
        pool,
        items,
        3,
        [&](int, weft::cancellation_token token) -> weft::task<void> { co_await never.wait(token); },
        src.token());
    src.cancel();
    REQUIRE(canceled.wait_for(20s));
    CHECK(canceled.status() == weft::task_status::canceled);
}

TEST_CASE("parallel loops: misuse and edge cases of the options get their documented errors") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    // tiles that cannot be counted in 64 bits
    CHECK_THROWS_AS(weft::parallel_for(pool,
                                       weft::blocked_range2d<std::uint64_t>(0, UINT64_MAX, 2, 0, UINT64_MAX, 2),
                                       [](const weft::blocked_range2d<std::uint64_t>&) {}),
                    std::length_error);
    // an init that throws is kept like an iteration's exception
    auto errors = errors_of([&] {
        weft::parallel_for_local(
            pool, 0, 1000, []() -> int { throw std::runtime_error("init"); }, [](int, int&) {}, [](int&) {});
    });
    REQUIRE(errors.size() >= 1);
    CHECK_THROWS_WITH(std::rethrow_exception(errors[0]), "init");
    // parallel_invoke with a canceled token runs nothing and reports the cancellation
    weft::cancellation_source src;
    src.cancel();
    weft::loop_options o;
    o.token = src.token();
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(weft::parallel_invoke(
                        pool, o, [&] { ran += 1; }, [&] { ran += 1; }),
                    weft::operation_canceled);
    CHECK(ran.load() == 0);
    // a failure wins over a cancellation in the same loop
    weft::cancellation_source both;
    weft::loop_options b;
    b.token = both.token();
    b.split = weft::partitioner::simple;
    CHECK_THROWS_AS(weft::parallel_for(
                        pool,
                        0,
                        10'000,
                        [&](int i) {
                            if (i == 10) {
                                both.cancel();
                                throw std::runtime_error("and a failure");
                            }
                        },
                        b),
                    weft::aggregate_error);
}

TEST_CASE("parallel_for: a worker that helped spins a while, then every worker parks again") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    auto all_parked = [&] {
        const auto s = pool.stats();
        for (std::size_t i = 0; i < 2; ++i) {
            if (s.workers[i].parks != s.workers[i].wakeups + 1) { // parks counts before, wakeups after
                return false;
            }
        }
        return true;
    };
    REQUIRE(weft_test::eventually(all_parked));
    std::atomic<int> inside{0};
    std::set<std::thread::id> seen;
    std::mutex m;
    weft::parallel_for(
        pool,
        0,
        2,
        [&](int) {
            inside.fetch_add(1);
            CHECK(weft_test::eventually([&] { return inside.load() == 2; }, 20s)); // a helper joined
            std::lock_guard g(m);
            seen.insert(std::this_thread::get_id());
        },
        with_split(weft::partitioner::simple));
    CHECK(seen.size() == 2);
    CHECK(weft_test::eventually(all_parked)); // the linger ends: an idle pool sleeps
}

namespace {
/// A forward iterator over 0, 1, 2, ... whose increment past `breaks_at` throws.
struct throwing_iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int at = 0;
    int breaks_at = 0;
    int operator*() const { return at; }
    throwing_iterator& operator++() {
        if (at == breaks_at) {
            throw std::runtime_error("source");
        }
        ++at;
        return *this;
    }
    throwing_iterator operator++(int) {
        throwing_iterator t = *this;
        ++*this;
        return t;
    }
    bool operator==(const throwing_iterator& o) const { return at == o.at; }
};
} // namespace

TEST_CASE("for_each_async: a source that throws ends the loop with its exception, the bodies in flight canceled") {
    weft::thread_pool pool(weft::pool_options{.threads = 2});
    weft::async_manual_reset_event never;
    std::atomic<int> started{0};
    // items 0, 1, 2 wait; the fourth lane's request moves past 2 and the source throws
    auto t = weft::for_each_async(pool,
                                  throwing_iterator{0, 2},
                                  throwing_iterator{100, 2},
                                  4,
                                  [&](int, weft::cancellation_token token) -> weft::task<void> {
                                      started.fetch_add(1);
                                      co_await never.wait(token); // ends only by the loop's cancellation
                                  });
    REQUIRE(t.wait_for(20s));
    try {
        t.get();
        FAIL("no error");
    } catch (const weft::aggregate_error& e) {
        REQUIRE(e.size() == 1);
        CHECK_THROWS_WITH(std::rethrow_exception(e.exceptions()[0]), "source");
    }
    CHECK(started.load() == 3);
}
