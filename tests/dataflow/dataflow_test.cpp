// Tests for weft/dataflow/: every block, links (predicates, message limits, unlinking,
// completion along links), back-pressure, ordering, non-greedy joins, faults, cancellation and
// the channel pumps. Each contract sentence of docs/guide/dataflow.md has a test here; the
// 10^6-message network under races: stress/dataflow_stress.
#include <weft/dataflow.hpp>
#include <weft/strand.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "support/eventually.hpp"
#include "support/ledger.hpp"
#include "support/occupancy.hpp"

namespace {

using namespace std::chrono_literals;

/// Spins for roughly `n` iterations of work the optimiser keeps (no sleeping in tests).
void spin_work(int n) {
    volatile int sink = 0;
    for (int i = 0; i < n; ++i) {
        sink = sink + i;
    }
}

template<typename B>
bool completes(B& block) {
    return block.completion().wait_for(10s);
}

} // namespace

TEST_CASE("dataflow: buffer -> transform -> action moves every message exactly once, completion propagates") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 20000;
    weft_test::ledger seen(n);
    weft::buffer_block<int> buf(pool, {.bounded_capacity = 8});
    weft::transform_block<int, int> twice(
        pool, [](int x) { return x * 2; }, {.bounded_capacity = 4, .max_degree_of_parallelism = 2});
    weft::action_block<int> sink(
        pool, [&](int x) { seen.mark(static_cast<std::size_t>(x / 2)); }, {.bounded_capacity = 2});
    buf.link_to(twice, {.propagate_completion = true});
    twice.link_to(sink, {.propagate_completion = true});
    for (int i = 0; i < n; ++i) {
        REQUIRE(buf.send(i).get());
    }
    buf.complete();
    REQUIRE(completes(sink));
    CHECK(seen.wrong() == 0);
    CHECK(buf.is_completed());
    CHECK(twice.is_completed());
}

TEST_CASE("dataflow: post refuses when full, send waits for room and delivers everything") {
    weft::thread_pool pool({.threads = 2});
    weft::buffer_block<int> buf(pool, {.bounded_capacity = 3});
    CHECK(buf.post(1));
    CHECK(buf.post(2));
    CHECK(buf.post(3));
    CHECK_FALSE(buf.post(4)); // full: refused, not dropped
    auto pending = buf.send(4);
    CHECK_FALSE(pending.is_ready());
    CHECK(buf.try_receive() == 1);
    CHECK(pending.get());
    std::vector<int> got;
    while (auto v = buf.try_receive()) {
        got.push_back(*v);
    }
    CHECK(got == std::vector<int>{2, 3, 4});

    // 2,000 sends into a block of capacity 1,000 with a slow consumer: all 2,000 arrive
    weft::buffer_block<int> half(pool, {.bounded_capacity = 1000});
    std::vector<weft::task<bool>> sends;
    for (int i = 0; i < 2000; ++i) {
        sends.push_back(half.send(i));
    }
    std::vector<int> out;
    for (int i = 0; i < 2000; ++i) {
        auto v = half.receive().get();
        REQUIRE(v);
        out.push_back(*v);
    }
    for (auto& s : sends) {
        CHECK(s.get());
    }
    std::vector<int> want(2000);
    std::iota(want.begin(), want.end(), 0);
    CHECK(out == want);
}

TEST_CASE("dataflow: a send canceled while it waits delivers nothing, a completed block declines") {
    weft::thread_pool pool({.threads = 1});
    weft::buffer_block<int> buf(pool, {.bounded_capacity = 1});
    REQUIRE(buf.post(1));
    weft::cancellation_source cs;
    auto s = buf.send(2, cs.token());
    cs.cancel();
    CHECK_THROWS_AS(s.get(), weft::operation_canceled);
    CHECK(buf.try_receive() == 1);
    CHECK_FALSE(buf.try_receive().has_value()); // 2 never went in
    auto waiting = buf.send(3);                 // goes in: there is room now
    CHECK(waiting.get());
    REQUIRE(buf.post(4) == false); // full again
    auto blocked = buf.send(5);
    buf.complete();
    CHECK_FALSE(blocked.get()); // declined: the block completed
    CHECK_FALSE(buf.post(6));
    CHECK(buf.receive().get() == 3);
    CHECK(buf.receive().get() == std::nullopt); // the end
    CHECK(completes(buf));
}

TEST_CASE("dataflow: parallelism 4 with ensure_ordered keeps input order, unordered does not wait for slow items") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 1000;
    weft_test::occupancy occ;
    weft::transform_block<int, int> ordered(pool,
                                            [&](int x) {
                                                occ.enter();
                                                spin_work((x % 7) * 2000);
                                                occ.leave();
                                                return x;
                                            },
                                            {.max_degree_of_parallelism = 4});
    for (int i = 0; i < n; ++i) {
        REQUIRE(ordered.post(i));
    }
    ordered.complete();
    std::vector<int> got;
    while (auto v = ordered.receive().get()) {
        got.push_back(*v);
    }
    std::vector<int> want(n);
    std::iota(want.begin(), want.end(), 0);
    CHECK(got == want);
    CHECK(occ.peak.load() <= 4);

    // unordered: item 0 blocks until item 1's output has come out
    std::atomic<bool> release{false};
    weft::transform_block<int, int> unordered(pool,
                                              [&](int x) {
                                                  if (x == 0) {
                                                      while (!release.load()) {
                                                          std::this_thread::yield();
                                                      }
                                                  }
                                                  return x;
                                              },
                                              {.max_degree_of_parallelism = 2, .ensure_ordered = false});
    REQUIRE(unordered.post(0));
    REQUIRE(unordered.post(1));
    CHECK(unordered.receive().get() == 1); // the fast one first
    release = true;
    CHECK(unordered.receive().get() == 0);
}

TEST_CASE("dataflow: back-pressure keeps at most the sum of the capacities in flight") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 3000;
    std::atomic<int> in_flight{0};
    std::atomic<int> peak{0};
    weft::buffer_block<int> a(pool, {.bounded_capacity = 5});
    weft::transform_block<int, int> b(pool, [](int x) { return x; }, {.bounded_capacity = 5});
    weft::action_block<int> slow(pool,
                                 [&](int) {
                                     spin_work(20000); // the last stage is far slower than the producer
                                     in_flight.fetch_sub(1);
                                 },
                                 {.bounded_capacity = 2});
    a.link_to(b, {.propagate_completion = true});
    b.link_to(slow, {.propagate_completion = true});
    for (int i = 0; i < n; ++i) {
        in_flight.fetch_add(1); // counted before the send so the peak is never under-counted
        REQUIRE(a.send(i).get());
        weft_test::raise_to(peak, in_flight.load());
    }
    a.complete();
    REQUIRE(completes(slow));
    // 5 + 5 + 2 held by the blocks, plus the one being sent
    CHECK(peak.load() <= 5 + 5 + 2 + 1);
    CHECK(in_flight.load() == 0);
}

TEST_CASE("dataflow: predicate links route messages, a catch-all drains the rest, an unmatched head is reported") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 10000;
    std::atomic<long> evens{0};
    weft::buffer_block<int> src(pool);
    weft::action_block<int> even(pool, [&](int x) { evens.fetch_add(x); });
    weft::null_target<int> rest(pool);
    src.link_to(even, {}, [](const int& x) { return x % 2 == 0; });
    src.link_to(rest);
    for (int i = 1; i <= n; ++i) {
        REQUIRE(src.post(i));
    }
    REQUIRE(weft_test::eventually([&] { return rest.dropped() == n / 2 && src.output_count() == 0; }));
    even.complete();
    REQUIRE(completes(even));
    CHECK(evens.load() == 2L * (n / 2) * (n / 2 + 1) / 2);

    // without a catch-all: the odd head waits, reported, not silently growing unseen
    weft::buffer_block<int> src2(pool);
    weft::action_block<int> even2(pool, [](int) {});
    src2.link_to(even2, {}, [](const int& x) { return x % 2 == 0; });
    REQUIRE(src2.post(2));
    REQUIRE(src2.post(3));
    REQUIRE(src2.post(4));
    REQUIRE(weft_test::eventually([&] { return src2.output_unmatched(); }));
    CHECK(src2.output_count() == 2); // 3 and 4 wait behind the unmatched head
    CHECK(src2.try_receive() == 3);
}

TEST_CASE("dataflow: link max_messages and unlink") {
    weft::thread_pool pool({.threads = 1});
    weft::buffer_block<int> src(pool);
    weft::buffer_block<int> first(pool);
    weft::buffer_block<int> second(pool);
    auto l1 = src.link_to(first, {.max_messages = 2});
    src.link_to(second);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(src.post(i));
    }
    REQUIRE(weft_test::eventually([&] { return first.output_count() == 2 && second.output_count() == 3; }));
    CHECK_FALSE(l1.unlink()); // it spent its budget and removed itself
    CHECK_THROWS_AS(src.link_to(first, {.max_messages = 0}), std::invalid_argument);

    // a target that declines permanently (completed) is unlinked at the next offer
    weft::buffer_block<int> src3(pool);
    weft::buffer_block<int> done_target(pool);
    done_target.complete();
    weft::buffer_block<int> catcher(pool);
    auto l3 = src3.link_to(done_target);
    src3.link_to(catcher);
    REQUIRE(src3.post(1));
    // the offer to done_target (declined permanently, link removed) comes before catcher's
    REQUIRE(weft_test::eventually([&] { return catcher.output_count() == 1; }));
    CHECK_FALSE(l3.unlink()); // gone already

    weft::buffer_block<int> src2(pool);
    weft::buffer_block<int> dst2(pool);
    auto l2 = src2.link_to(dst2);
    REQUIRE(src2.post(1));
    REQUIRE(weft_test::eventually([&] { return dst2.output_count() == 1; }));
    CHECK(l2.unlink());
    REQUIRE(src2.post(2));
    CHECK(src2.receive().get() == 2); // no longer offered to dst2
    CHECK(dst2.output_count() == 1);
}

TEST_CASE("dataflow: a fault in a middle block reaches the end's completion, receivers see it") {
    weft::thread_pool pool({.threads = 2});
    weft::buffer_block<int> head(pool);
    weft::transform_block<int, int> middle(pool, [](int x) {
        if (x == 3) {
            throw std::runtime_error("bad item");
        }
        return x;
    });
    std::atomic<int> got{0};
    weft::action_block<int> tail(pool, [&](int) { got.fetch_add(1); });
    head.link_to(middle, {.propagate_completion = true});
    middle.link_to(tail, {.propagate_completion = true});
    for (int i = 0; i < 10; ++i) {
        REQUIRE(head.post(i));
    }
    CHECK_THROWS_WITH(tail.completion().get(), "bad item");
    CHECK_THROWS_WITH(middle.completion().get(), "bad item");
    CHECK_FALSE(middle.post(1)); // a faulted block declines
    CHECK(got.load() <= 3);
    CHECK_THROWS_WITH(middle.receive().get(), "bad item");

    weft::buffer_block<int> direct(pool);
    direct.fault(std::make_exception_ptr(std::logic_error("stop")));
    CHECK_THROWS_WITH(direct.completion().get(), "stop");
}

TEST_CASE("dataflow: cancellation stops every block and completes them canceled") {
    weft::thread_pool pool({.threads = 2});
    weft::cancellation_source cs;
    const weft::dataflow_options o{.bounded_capacity = 4, .token = cs.token()};
    std::atomic<int> ran{0};
    weft::buffer_block<int> a(pool, o);
    weft::transform_block<int, int> b(
        pool, [](int x) { return x; }, o);
    weft::action_block<int> c(
        pool,
        [&](int) {
            ran.fetch_add(1);
            spin_work(50000);
        },
        o);
    a.link_to(b, {.propagate_completion = true});
    b.link_to(c, {.propagate_completion = true});
    auto producer = [&]() -> weft::task<void> {
        for (int i = 0; i < 1000000; ++i) {
            if (!co_await a.send(i)) {
                co_return; // declined: canceled
            }
        }
    };
    auto p = producer();
    REQUIRE(weft_test::eventually([&] { return ran.load() > 2; }));
    cs.cancel();
    CHECK(p.wait_for(10s));
    auto ca = a.completion();
    auto cb = b.completion();
    auto cc = c.completion();
    REQUIRE(ca.wait_for(10s));
    REQUIRE(cb.wait_for(10s));
    REQUIRE(cc.wait_for(10s));
    CHECK(ca.status() == weft::task_status::canceled);
    CHECK(cb.status() == weft::task_status::canceled);
    CHECK(cc.status() == weft::task_status::canceled);
    CHECK(ran.load() < 1000000);

    // a canceled block with buffered messages and no consumer still completes (canceled)
    weft::cancellation_source cs2;
    weft::buffer_block<int> held(pool, {.token = cs2.token()});
    REQUIRE(held.post(1));
    REQUIRE(held.post(2));
    REQUIRE(held.post(3));
    cs2.cancel();
    auto ch = held.completion();
    REQUIRE(ch.wait_for(10s));
    CHECK(ch.status() == weft::task_status::canceled);
    CHECK_FALSE(held.try_receive().has_value());
}

TEST_CASE("dataflow: a target linked from several sources completes after all of them") {
    weft::thread_pool pool({.threads = 2});
    weft::buffer_block<int> p1(pool);
    weft::buffer_block<int> p2(pool);
    weft::buffer_block<int> p3(pool);
    std::atomic<int> got{0};
    weft::action_block<int> sink(pool, [&](int) { got.fetch_add(1); });
    for (auto* p : {&p1, &p2, &p3}) {
        p->link_to(sink, {.propagate_completion = true});
    }
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(p1.post(i));
    }
    p1.complete();
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(p2.post(i));
    }
    p2.complete();
    auto done = sink.completion();
    // counted, not timed: both finished sources delivered everything and completed, p3 is open
    REQUIRE(weft_test::eventually([&] { return got.load() == 2000 && p1.is_completed() && p2.is_completed(); }));
    CHECK_FALSE(done.is_ready()); // p3 is still open
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(p3.post(i));
    }
    p3.complete();
    REQUIRE(done.wait_for(10s));
    CHECK(got.load() == 3000);
}

TEST_CASE("dataflow: a self-linked transform completes when the user's in-flight count reaches zero") {
    weft::thread_pool pool({.threads = 2});
    std::atomic<int> in_flight{0};
    std::atomic<int> finished_items{0};
    weft::transform_block<int, int>* self = nullptr;
    weft::transform_block<int, int> gen(pool, [&](int g) {
        if (g == 10) {
            finished_items.fetch_add(1);
            if (in_flight.fetch_sub(1) == 1) {
                self->complete();
            }
            return -1; // filtered out below
        }
        return g + 1;
    });
    self = &gen;
    weft::null_target<int> drop(pool);
    gen.link_to(gen, {}, [](const int& g) { return g >= 0; });
    gen.link_to(drop);
    in_flight = 2;
    REQUIRE(gen.post(0));
    REQUIRE(gen.post(0));
    REQUIRE(completes(gen));
    CHECK(finished_items.load() == 2);
}

TEST_CASE("dataflow: join pairs messages in order, greedy and three-way") {
    weft::thread_pool pool({.threads = 2});
    weft::join_block<int, std::string> j(pool);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(j.target<0>().post(i));
    }
    REQUIRE(j.target<1>().post("a"));
    REQUIRE(j.target<1>().post("b"));
    auto t0 = j.receive().get();
    REQUIRE(t0);
    CHECK(*t0 == std::tuple<int, std::string>{0, "a"});
    CHECK(j.receive().get() == std::tuple<int, std::string>{1, "b"});
    CHECK(j.groups() == 2);
    j.complete();
    REQUIRE(completes(j));
    CHECK(j.unmatched_dropped() == 3);

    weft::join_block<int, int, int> j3(pool);
    weft::buffer_block<int> s0(pool);
    weft::buffer_block<int> s1(pool);
    weft::buffer_block<int> s2(pool);
    s0.link_to(j3.target<0>(), {.propagate_completion = true});
    s1.link_to(j3.target<1>(), {.propagate_completion = true});
    s2.link_to(j3.target<2>(), {.propagate_completion = true});
    for (int i = 0; i < 100; ++i) {
        REQUIRE(s0.post(i));
        REQUIRE(s1.post(i * 10));
        REQUIRE(s2.post(i * 100));
    }
    for (auto* s : {&s0, &s1, &s2}) {
        s->complete();
    }
    for (int i = 0; i < 100; ++i) {
        CHECK(j3.receive().get() == std::tuple<int, int, int>{i, i * 10, i * 100});
    }
    CHECK(j3.receive().get() == std::nullopt);
}

TEST_CASE("dataflow: two non-greedy joins competing for the same two sources both make progress") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 1000;
    weft::buffer_block<int> left(pool);
    weft::buffer_block<int> right(pool);
    weft::join_block<int, int> j1(pool, {.greedy = false});
    weft::join_block<int, int> j2(pool, {.greedy = false});
    weft_test::ledger seen_left(n);
    weft_test::ledger seen_right(n);
    std::atomic<int> pairs{0};
    auto sink = [&](const std::tuple<int, int>& t) {
        seen_left.mark(static_cast<std::size_t>(std::get<0>(t)));
        seen_right.mark(static_cast<std::size_t>(std::get<1>(t)));
        pairs.fetch_add(1);
    };
    weft::action_block<std::tuple<int, int>> a1(pool, sink);
    weft::action_block<std::tuple<int, int>> a2(pool, sink);
    left.link_to(j1.target<0>());
    left.link_to(j2.target<0>());
    right.link_to(j2.target<1>()); // the other order for the second join
    right.link_to(j1.target<1>());
    j1.link_to(a1);
    j2.link_to(a2);
    for (int i = 0; i < n; ++i) {
        REQUIRE(left.post(i));
        REQUIRE(right.post(i));
    }
    REQUIRE(weft_test::eventually([&] { return pairs.load() == n; }));
    CHECK(seen_left.wrong() == 0);
    CHECK(seen_right.wrong() == 0);
    CHECK(left.output_count() == 0);
    CHECK(right.output_count() == 0);
    CHECK(j1.groups() + j2.groups() == n);
}

TEST_CASE("dataflow: batch groups messages, trigger_batch and completion send the partial batch") {
    weft::thread_pool pool({.threads = 1});
    weft::batch_block<int> b(pool, 3);
    for (int i = 0; i < 7; ++i) {
        REQUIRE(b.post(i));
    }
    CHECK(b.receive().get() == std::vector<int>{0, 1, 2});
    CHECK(b.receive().get() == std::vector<int>{3, 4, 5});
    b.trigger_batch();
    CHECK(b.receive().get() == std::vector<int>{6});
    REQUIRE(b.post(7));
    b.complete();
    CHECK(b.receive().get() == std::vector<int>{7});
    CHECK(b.receive().get() == std::nullopt);
    CHECK(completes(b));
    CHECK_THROWS_AS(weft::batch_block<int>(pool, 0), std::invalid_argument);

    weft::batch_block<int> limited(pool, 2, {.max_groups = 2});
    for (int i = 0; i < 4; ++i) {
        REQUIRE(limited.post(i));
    }
    CHECK_FALSE(limited.post(4)); // two groups made: it completed
}

TEST_CASE("dataflow: broadcast offers every message to every target, write_once keeps its first") {
    weft::thread_pool pool({.threads = 2});
    weft::broadcast_block<int> bc(pool);
    std::atomic<long> s1{0};
    std::atomic<long> s2{0};
    weft::action_block<int> t1(pool, [&](int x) { s1.fetch_add(x); });
    weft::action_block<int> t2(pool, [&](int x) { s2.fetch_add(x); });
    bc.link_to(t1, {.propagate_completion = true});
    bc.link_to(t2, {.propagate_completion = true});
    for (int i = 1; i <= 100; ++i) {
        REQUIRE(bc.post(i));
        REQUIRE(weft_test::eventually([&] { return s1.load() == long(i) * (i + 1) / 2 && s2.load() == s1.load(); }));
    }
    bc.complete();
    REQUIRE(completes(t1));
    REQUIRE(completes(t2));
    CHECK(bc.receive().get() == 100); // a copy of the current value

    weft::write_once_block<std::string> once(pool);
    REQUIRE(once.post("first"));
    CHECK_FALSE(once.post("second"));
    CHECK(once.receive().get() == "first");
    CHECK(once.try_receive() == "first");
    REQUIRE(completes(once));
    weft::buffer_block<std::string> late(pool);
    once.link_to(late); // linked after completion: still gets the value
    CHECK(late.receive().get() == "first");
}

TEST_CASE("dataflow: async bodies, and blocks on a strand run their bodies on the strand") {
    weft::thread_pool pool({.threads = 2});
    weft::strand st(pool);
    int unguarded = 0; // only the strand touches it
    weft::transform_block<int, int> t(st,
                                      [&](int x) -> weft::task<int> {
                                          CHECK(st.runs_on_this_thread());
                                          ++unguarded;
                                          co_await weft::resume_on(pool);
                                          co_return x + 1;
                                      },
                                      {.max_degree_of_parallelism = 1});
    weft::action_block<int> a(st, [&](int) { ++unguarded; });
    t.link_to(a, {.propagate_completion = true});
    for (int i = 0; i < 500; ++i) {
        REQUIRE(t.post(i));
    }
    t.complete();
    REQUIRE(completes(a));
    CHECK(unguarded == 1000);

    weft::action_block<int> failing(pool, [](int) -> weft::task<void> {
        co_await weft::resume_on(weft::inline_scheduler{});
        throw std::runtime_error("async body failed");
    });
    REQUIRE(failing.post(1));
    CHECK_THROWS_WITH(failing.completion().get(), "async body failed");
}

TEST_CASE("dataflow: max_messages_per_task yields between messages and still processes all") {
    weft::thread_pool pool({.threads = 1});
    std::atomic<int> got{0};
    const auto before = weft::placement_stats_snapshot();
    weft::action_block<int> a(pool, [&](int) { got.fetch_add(1); }, {.max_messages_per_task = 1});
    for (int i = 0; i < 100; ++i) {
        REQUIRE(a.post(i));
    }
    a.complete();
    REQUIRE(completes(a));
    CHECK(got.load() == 100);
    const auto after = weft::placement_stats_snapshot();
    CHECK(after.named_hop - before.named_hop >= 100); // each message its own scheduled activation
}

TEST_CASE("dataflow: channels feed blocks and blocks feed channels") {
    weft::thread_pool pool({.threads = 2});
    weft::channel<int> in{{.capacity = 4}};
    weft::channel<int> out{{.capacity = 4}};
    weft::transform_block<int, int> sq(pool, [](int x) { return x * x; }, {.bounded_capacity = 2});
    auto feed = weft::pump_channel_to(in, sq);
    auto drain = weft::pump_to_channel(sq, out);
    auto write_all = [&]() -> weft::task<void> { // named: it must outlive its coroutine
        for (int i = 0; i < 1000; ++i) {
            co_await in.write(i);
        }
        in.complete();
    };
    auto writer = write_all();
    long sum = 0;
    while (auto v = out.read().get()) {
        sum += *v;
    }
    writer.get();
    CHECK(feed.get() == 1000);
    CHECK(drain.get() == 1000);
    CHECK(sum == 332833500L);
}

TEST_CASE("dataflow: destroying an unfinished block cancels it, its targets see the cancellation") {
    weft::thread_pool pool({.threads = 1});
    weft::buffer_block<int> tail(pool);
    {
        weft::buffer_block<int> head(pool);
        head.link_to(tail, {.propagate_completion = true});
        REQUIRE(head.post(1));
        REQUIRE(weft_test::eventually([&] { return tail.output_count() == 1; }));
    }
    auto done = tail.completion();
    REQUIRE(done.wait_for(10s));
    CHECK(done.status() == weft::task_status::canceled);
}

TEST_CASE("dataflow: invalid options are rejected") {
    weft::thread_pool pool({.threads = 1});
    auto id = [](int x) {
        return x;
    };
    CHECK_THROWS_AS((weft::transform_block<int, int>(pool, id, {.max_degree_of_parallelism = 0})),
                    std::invalid_argument);
    CHECK_THROWS_AS((weft::transform_block<int, int>(pool, id, {.max_messages_per_task = 0})), std::invalid_argument);
    CHECK_THROWS_AS(weft::buffer_block<int>(weft::any_scheduler{}), std::invalid_argument);
    CHECK_THROWS_AS(weft::batch_block<int>(pool, 4, {.bounded_capacity = 3}), std::invalid_argument);
}

TEST_CASE("dataflow: transform_many expands and filters") {
    weft::thread_pool pool({.threads = 2});
    weft::transform_many_block<int, int> many(pool,
                                              [](int x) {
                                                  std::vector<int> v;
                                                  for (int i = 0; i < x; ++i) {
                                                      v.push_back(x);
                                                  }
                                                  return v; // 0 -> nothing (filtered)
                                              },
                                              {.max_degree_of_parallelism = 3});
    for (int x : {2, 0, 3, 1}) {
        REQUIRE(many.post(x));
    }
    many.complete();
    std::vector<int> got;
    while (auto v = many.receive().get()) {
        got.push_back(*v);
    }
    CHECK(got == std::vector<int>{2, 2, 3, 3, 3, 1});
}

TEST_CASE("dataflow: a bounded broadcast delivers every message to two bounded targets") {
    weft::thread_pool pool({.threads = 2});
    weft::broadcast_block<int> bc(pool, {.bounded_capacity = 5});
    weft::buffer_block<int> t1(pool, {.bounded_capacity = 5});
    weft::buffer_block<int> t2(pool, {.bounded_capacity = 5});
    bc.link_to(t1, {.propagate_completion = true});
    bc.link_to(t2, {.propagate_completion = true});
    auto send_all = [&]() -> weft::task<void> {
        for (int i = 0; i < 100; ++i) {
            const bool ok = co_await bc.send(i);
            REQUIRE(ok);
        }
        bc.complete();
    };
    auto producer = send_all();
    // nobody reads: each target fills to 5, the broadcast holds 5 more, the producer waits
    REQUIRE(weft_test::eventually(
        [&] { return t1.output_count() == 5 && t2.output_count() == 5 && bc.output_count() == 5; }));
    CHECK_FALSE(producer.is_ready());
    std::vector<int> got1;
    std::vector<int> got2;
    for (int i = 0; i < 100; ++i) {
        got1.push_back(t1.receive().get().value());
        got2.push_back(t2.receive().get().value());
    }
    producer.get();
    std::vector<int> want(100);
    std::iota(want.begin(), want.end(), 0);
    CHECK(got1 == want);
    CHECK(got2 == want);
    REQUIRE(completes(bc));
    CHECK(t1.receive().get() == std::nullopt);
}

TEST_CASE("dataflow: a batch fed with completion propagation sends its last partial batch") {
    // the source's last message is consumed while the source's completion reaches the batch
    weft::thread_pool pool({.threads = 2});
    for (int run = 0; run < 300; ++run) {
        weft::transform_block<int, int> src(pool, [](int x) { return x; }, {.max_degree_of_parallelism = 2});
        weft::batch_block<int> b(pool, 4, {.bounded_capacity = 4});
        src.link_to(b, {.propagate_completion = true});
        for (int i = 0; i < 9; ++i) {
            REQUIRE(src.post(i));
        }
        src.complete();
        std::size_t items = 0;
        while (auto batch = b.receive().get()) {
            items += batch->size();
        }
        REQUIRE(items == 9);
    }
}

TEST_CASE("dataflow: a non-greedy batch takes one head from each of its sources at once") {
    weft::thread_pool pool({.threads = 2});
    constexpr int n = 200;
    weft::batch_block<int> b(pool, 3, {.greedy = false});
    std::vector<std::unique_ptr<weft::buffer_block<int>>> sources;
    for (int s = 0; s < 3; ++s) {
        sources.push_back(
            std::make_unique<weft::buffer_block<int>>(pool, weft::dataflow_options{.bounded_capacity = 2}));
        sources.back()->link_to(b);
    }
    auto feed = [&](int s) -> weft::task<void> {
        for (int i = 0; i < n; ++i) {
            const bool ok = co_await sources[static_cast<std::size_t>(s)]->send(s * 1000 + i);
            REQUIRE(ok);
        }
    };
    auto f0 = feed(0);
    auto f1 = feed(1);
    auto f2 = feed(2);
    weft_test::ledger seen(3000);
    for (int k = 0; k < n; ++k) {
        auto batch = b.receive().get();
        REQUIRE(batch);
        REQUIRE(batch->size() == 3);
        std::vector<int> from;
        for (int v : *batch) {
            seen.mark(static_cast<std::size_t>(v));
            from.push_back(v / 1000);
        }
        std::sort(from.begin(), from.end());
        CHECK(from == std::vector<int>{0, 1, 2}); // one head from each source
    }
    f0.get();
    f1.get();
    f2.get();
    CHECK(seen.count(1) == 3 * n);

    // one source cannot fill a batch of 3: trigger_batch takes what is offered
    weft::batch_block<int> lone(pool, 3, {.greedy = false});
    weft::buffer_block<int> one(pool);
    one.link_to(lone);
    REQUIRE(one.post(7));
    REQUIRE(weft_test::eventually([&] { return lone.output_count() == 0 && one.output_count() == 1; }));
    lone.trigger_batch();
    CHECK(lone.receive().get() == std::vector<int>{7});
    CHECK(one.output_count() == 0);
}

TEST_CASE("dataflow: a non-greedy batch on bounded sources completes at any moment, messages stay at their sources") {
    weft::thread_pool pool({.threads = 2});
    std::mt19937 rng(11);
    for (int run = 0; run < 200; ++run) {
        weft::batch_block<int> b(pool, 5, {.greedy = false});
        std::vector<std::unique_ptr<weft::buffer_block<int>>> sources;
        for (int s = 0; s < 3; ++s) {
            sources.push_back(
                std::make_unique<weft::buffer_block<int>>(pool, weft::dataflow_options{.bounded_capacity = 3}));
            sources.back()->link_to(b);
            for (int i = 0; i < 3; ++i) {
                REQUIRE(sources.back()->post(i));
            }
        }
        if (rng() % 2 == 0) {
            std::this_thread::yield();
        }
        b.complete();
        REQUIRE(completes(b));
        std::size_t left = 0;
        for (auto& s : sources) {
            left += s->output_count();
        }
        CHECK(left == 9); // 3 sources never make a batch of 5: nothing was taken
    }
}
