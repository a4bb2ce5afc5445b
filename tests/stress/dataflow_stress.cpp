// Stress tests for weft/dataflow/: a 6-block network with small capacities moving 10^6
// messages (10^5 under sanitizers) with none lost or doubled; the bounded fan-out that lost
// messages in other libraries (buffer -> 2 transforms of parallelism 2, capacity 10), run many
// times; complete() racing consumption; non-greedy joins sharing sources under load.
#include <weft/dataflow.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "support/env.hpp"
#include "support/eventually.hpp"
#include "support/ledger.hpp"

namespace {

using namespace std::chrono_literals;

constexpr bool sanitized = WEFT_TSAN || WEFT_ASAN;

std::size_t scaled(std::size_t n) {
    const long percent = weft_test::env_or("WEFT_DATAFLOW_SCALE", 100);
    return std::max<std::size_t>(1, n * static_cast<std::size_t>(std::max(percent, 1L)) / 100);
}

} // namespace

TEST_CASE("dataflow stress: a 6-block network with small capacities moves every message exactly once") {
    const std::size_t n = scaled(sanitized ? 100'000 : 1'000'000);
    weft::thread_pool pool({.threads = 2});
    weft_test::ledger seen(n);
    const weft::dataflow_options small{.bounded_capacity = 3};
    // source -> parse (dop 2) -> broadcast-free fan-out to two hashers -> join-free merge -> sink
    weft::buffer_block<std::uint64_t> source(pool, small);
    weft::transform_block<std::uint64_t, std::uint64_t> parse(
        pool, [](std::uint64_t x) { return x; }, {.bounded_capacity = 4, .max_degree_of_parallelism = 2});
    weft::transform_block<std::uint64_t, std::uint64_t> even(
        pool, [](std::uint64_t x) { return x; }, small);
    weft::transform_block<std::uint64_t, std::uint64_t> odd(
        pool,
        [](std::uint64_t x) { return x; },
        {.bounded_capacity = 2, .max_degree_of_parallelism = 2, .ensure_ordered = false});
    weft::buffer_block<std::uint64_t> merge(pool, small);
    weft::action_block<std::uint64_t> sink(pool, [&](std::uint64_t x) { seen.mark(x); }, {.bounded_capacity = 2});
    source.link_to(parse, {.propagate_completion = true});
    parse.link_to(even, {.propagate_completion = true}, [](const std::uint64_t& x) { return x % 2 == 0; });
    parse.link_to(odd, {.propagate_completion = true});
    even.link_to(merge, {.propagate_completion = true});
    odd.link_to(merge, {.propagate_completion = true});
    merge.link_to(sink, {.propagate_completion = true});
    auto producer = [&](std::uint64_t from, std::uint64_t step) -> weft::task<void> {
        for (std::uint64_t i = from; i < n; i += step) {
            const bool ok = co_await source.send(i); // not inside REQUIRE: g++ 12 miscompiles co_await in it
            REQUIRE(ok);
        }
    };
    auto p1 = producer(0, 2);
    auto p2 = producer(1, 2);
    p1.get();
    p2.get();
    source.complete();
    REQUIRE(sink.completion().wait_for(600s));
    CHECK(seen.wrong() == 0);
}

TEST_CASE("dataflow stress: buffer -> two transforms (parallelism 2, capacity 10) loses nothing, many runs") {
    const std::size_t runs = scaled(sanitized ? 300 : 3000);
    constexpr std::size_t items = 40;
    weft::thread_pool pool({.threads = 2});
    for (std::size_t r = 0; r < runs; ++r) {
        weft_test::ledger seen(items);
        weft::buffer_block<std::size_t> head(pool);
        const weft::dataflow_options o{.bounded_capacity = 10, .max_degree_of_parallelism = 2};
        weft::transform_block<std::size_t, std::size_t> t1(
            pool, [](std::size_t x) { return x; }, o);
        weft::transform_block<std::size_t, std::size_t> t2(
            pool, [](std::size_t x) { return x; }, o);
        weft::action_block<std::size_t> sink(pool, [&](std::size_t x) { seen.mark(x); });
        head.link_to(t1, {.propagate_completion = true});
        head.link_to(t2, {.propagate_completion = true});
        t1.link_to(sink, {.propagate_completion = true});
        t2.link_to(sink, {.propagate_completion = true});
        for (std::size_t i = 0; i < items; ++i) {
            REQUIRE(head.post(i));
        }
        head.complete();
        REQUIRE(sink.completion().wait_for(30s));
        REQUIRE(seen.wrong() == 0);
    }
}

TEST_CASE("dataflow stress: complete() racing consumption: every message received once, then the end") {
    const std::size_t runs = scaled(sanitized ? 200 : 2000);
    weft::thread_pool pool({.threads = 2});
    for (std::size_t r = 0; r < runs; ++r) {
        weft::buffer_block<int> b(pool, {.bounded_capacity = 8});
        weft::transform_block<int, int> t(pool, [](int x) { return x; }, {.max_degree_of_parallelism = 2});
        b.link_to(t, {.propagate_completion = true});
        auto write_all = [&]() -> weft::task<void> { // named: it must outlive its coroutine
            for (int i = 0; i < 100; ++i) {
                const bool ok = co_await b.send(i);
                REQUIRE(ok);
            }
            b.complete();
        };
        auto writer = write_all();
        int expect = 0;
        while (auto v = t.receive().get()) {
            REQUIRE(*v == expect);
            ++expect;
        }
        writer.get();
        REQUIRE(expect == 100);
    }
}

TEST_CASE("dataflow stress: non-greedy joins sharing two sources under load take each message once") {
    const std::size_t n = scaled(sanitized ? 5000 : 50000);
    weft::thread_pool pool({.threads = 2});
    weft::buffer_block<std::size_t> left(pool, {.bounded_capacity = 4});
    weft::buffer_block<std::size_t> right(pool, {.bounded_capacity = 4});
    weft::join_block<std::size_t, std::size_t> j1(pool, {.bounded_capacity = 2, .greedy = false});
    weft::join_block<std::size_t, std::size_t> j2(pool, {.bounded_capacity = 2, .greedy = false});
    weft_test::ledger l(n);
    weft_test::ledger r(n);
    std::atomic<std::size_t> pairs{0};
    auto body = [&](const std::tuple<std::size_t, std::size_t>& t) {
        l.mark(std::get<0>(t));
        r.mark(std::get<1>(t));
        pairs.fetch_add(1);
    };
    weft::action_block<std::tuple<std::size_t, std::size_t>> a1(pool, body, {.bounded_capacity = 1});
    weft::action_block<std::tuple<std::size_t, std::size_t>> a2(pool, body, {.bounded_capacity = 1});
    left.link_to(j1.target<0>());
    left.link_to(j2.target<0>());
    right.link_to(j2.target<1>());
    right.link_to(j1.target<1>());
    j1.link_to(a1);
    j2.link_to(a2);
    auto feed = [&](weft::buffer_block<std::size_t>& b) -> weft::task<void> {
        for (std::size_t i = 0; i < n; ++i) {
            const bool ok = co_await b.send(i);
            REQUIRE(ok);
        }
    };
    auto fl = feed(left);
    auto fr = feed(right);
    REQUIRE(fl.wait_for(600s));
    REQUIRE(fr.wait_for(600s));
    REQUIRE(weft_test::eventually([&] { return pairs.load() == n; }, 600s));
    CHECK(l.wrong() == 0);
    CHECK(r.wrong() == 0);
}

TEST_CASE("dataflow stress: a source's order survives bounded links (offers and pulls racing)") {
    const long n = static_cast<long>(scaled(sanitized ? 20'000 : 200'000));
    weft::thread_pool pool({.threads = 2});
    weft::buffer_block<long> a(pool, {.bounded_capacity = 2});
    weft::transform_block<long, long> b(pool, [](long x) { return x; }, {.bounded_capacity = 2});
    weft::buffer_block<long> c(pool, {.bounded_capacity = 3});
    a.link_to(b, {.propagate_completion = true});
    b.link_to(c, {.propagate_completion = true});
    auto send_all = [&]() -> weft::task<void> {
        for (long i = 0; i < n; ++i) {
            const bool ok = co_await a.send(i);
            REQUIRE(ok);
        }
        a.complete();
    };
    auto producer = send_all();
    long expect = 0;
    while (auto v = c.receive().get()) {
        REQUIRE(*v == expect);
        ++expect;
    }
    producer.get();
    CHECK(expect == n);
}

TEST_CASE("dataflow stress: a bounded broadcast/join diamond pairs every message with itself") {
    const long n = static_cast<long>(scaled(sanitized ? 20'000 : 200'000));
    weft::thread_pool pool({.threads = 2});
    const weft::dataflow_options o{.bounded_capacity = 8};
    weft::broadcast_block<long> fan(pool, o);
    weft::transform_block<long, long> left(
        pool, [](long x) { return x; }, o);
    weft::transform_block<long, long> right(
        pool, [](long x) { return x; }, o);
    weft::join_block<long, long> pair(pool, o);
    std::atomic<long> mismatched{0};
    std::atomic<long> got{0};
    weft::action_block<std::tuple<long, long>> sink(
        pool,
        [&](const std::tuple<long, long>& t) {
            if (std::get<0>(t) != std::get<1>(t)) {
                mismatched.fetch_add(1);
            }
            got.fetch_add(1);
        },
        o);
    fan.link_to(left, {.propagate_completion = true});
    fan.link_to(right, {.propagate_completion = true});
    left.link_to(pair.target<0>(), {.propagate_completion = true});
    right.link_to(pair.target<1>(), {.propagate_completion = true});
    pair.link_to(sink, {.propagate_completion = true});
    auto send_all = [&]() -> weft::task<void> {
        for (long i = 0; i < n; ++i) {
            const bool ok = co_await fan.send(i);
            REQUIRE(ok);
        }
        fan.complete();
    };
    auto producer = send_all();
    producer.get();
    REQUIRE(sink.completion().wait_for(600s));
    CHECK(got.load() == n);
    CHECK(mismatched.load() == 0);
}

TEST_CASE("dataflow stress: a cancel racing messages in transit completes every block, many runs") {
    const std::size_t runs = scaled(sanitized ? 300 : 3000);
    weft::thread_pool pool({.threads = 2});
    int unfinished = 0;
    for (std::size_t r = 0; r < runs; ++r) {
        weft::cancellation_source cs;
        const weft::dataflow_options o{.bounded_capacity = 2, .token = cs.token()};
        weft::buffer_block<int> a(pool, o);
        weft::transform_block<int, int> b(
            pool, [](int x) { return x; }, o);
        weft::action_block<int> c(
            pool, [](int) {}, o);
        a.link_to(b, {.propagate_completion = true});
        b.link_to(c, {.propagate_completion = true});
        auto feed = [&]() -> weft::task<void> { // named: it must outlive its coroutine
            for (int i = 0; i < 1000; ++i) {
                const bool ok = co_await a.send(i);
                if (!ok) {
                    co_return; // declined: canceled
                }
            }
        };
        auto f = feed();
        for (std::size_t spin = 0; spin < (r % 64) * 40; ++spin) {
            std::atomic_signal_fence(std::memory_order_seq_cst); // a varying moment to cancel at
        }
        cs.cancel();
        unfinished += a.completion().wait_for(10s) ? 0 : 1;
        unfinished += b.completion().wait_for(10s) ? 0 : 1;
        unfinished += c.completion().wait_for(10s) ? 0 : 1;
        unfinished += f.wait_for(10s) ? 0 : 1;
        if (unfinished != 0) {
            break;
        }
    }
    CHECK(unfinished == 0);
}
