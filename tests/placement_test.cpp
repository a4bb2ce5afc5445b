// Tests for weft/placement.hpp: the placement rule (named > source > captured > completing),
// its counters and its observer.
#include <weft/placement.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"

namespace {
weft::placement_stats delta(const weft::placement_stats& a, const weft::placement_stats& b) {
    weft::placement_stats d;
    d.named_inline = b.named_inline - a.named_inline;
    d.named_hop = b.named_hop - a.named_hop;
    d.source_inline = b.source_inline - a.source_inline;
    d.source_hop = b.source_hop - a.source_hop;
    d.captured_inline = b.captured_inline - a.captured_inline;
    d.captured_hop = b.captured_hop - a.captured_hop;
    d.completing_inline = b.completing_inline - a.completing_inline;
    d.deferred = b.deferred - a.deferred;
    d.refused = b.refused - a.refused;
    return d;
}
} // namespace

TEST_CASE("rule 1: a named scheduler wins over source and captured ones", "[placement]") {
    weft_test::manual_scheduler named;
    weft_test::manual_scheduler source;
    weft::promise<int> p{weft::any_scheduler(source)};
    const auto before = weft::placement_stats_snapshot();
    auto t = p.get_task().then(named, [](int x) { return x; });
    p.set_value(1);
    CHECK(named.queued() == 1);
    CHECK(source.queued() == 0);
    named.run_all();
    CHECK(t.get() == 1);
    const auto d = delta(before, weft::placement_stats_snapshot());
    CHECK(d.named_hop == 1);
    CHECK(d.hops() == 1);
}

TEST_CASE("rule 2: the completing source's policy wins over the captured scheduler", "[placement]") {
    weft_test::manual_scheduler source;
    weft_test::manual_scheduler captured;
    weft::promise<int> p{weft::any_scheduler(source)};
    weft::task<int> t;
    auto attach = weft::spawn(captured, [&] { t = p.get_task().then([](int x) { return x; }); });
    captured.run_all();
    const auto before = weft::placement_stats_snapshot();
    p.set_value(2);
    CHECK(source.queued() == 1);
    CHECK(captured.queued() == 0);
    source.run_all();
    CHECK(t.get() == 2);
    CHECK(delta(before, weft::placement_stats_snapshot()).source_hop == 1);
}

TEST_CASE("rule 3: the scheduler current at attach time gets the continuation back", "[placement]") {
    weft_test::manual_scheduler captured;
    weft::promise<int> p;
    weft::task<int> t;
    auto attach = weft::spawn(captured, [&] { t = p.get_task().then([](int x) { return x; }); });
    captured.run_all();
    const auto before = weft::placement_stats_snapshot();
    std::thread completer([&] { p.set_value(3); });
    completer.join();
    CHECK(captured.queued() == 1);
    captured.run_all();
    CHECK(t.get() == 3);
    CHECK(delta(before, weft::placement_stats_snapshot()).captured_hop == 1);
}

TEST_CASE("rule 3 runs inline when the completing thread already belongs to the captured scheduler", "[placement]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto r = weft::spawn(pool, [] {
        weft::promise<int> p;
        const auto id = std::this_thread::get_id();
        auto t = p.get_task().then([id](int) { return std::this_thread::get_id() == id; });
        const auto before = weft::placement_stats_snapshot();
        p.set_value(0); // on a worker of the captured pool: no hop
        const bool ran_here = t.is_ready() && t.get();
        return ran_here && delta(before, weft::placement_stats_snapshot()).captured_inline == 1;
    });
    CHECK(r.get());
}

TEST_CASE("rule 4: with no scheduler anywhere, the completing thread runs it inline", "[placement]") {
    weft::promise<int> p;
    std::thread::id ran_on;
    auto t = p.get_task().then([&](int) { ran_on = std::this_thread::get_id(); });
    const auto before = weft::placement_stats_snapshot();
    std::thread completer([&] { p.set_value(4); });
    const auto completer_id = completer.get_id();
    completer.join();
    t.get();
    CHECK(ran_on == completer_id);
    CHECK(delta(before, weft::placement_stats_snapshot()).completing_inline == 1);
}

TEST_CASE("co_await follows the same rule as then", "[placement]") {
    weft_test::manual_scheduler captured;
    weft::promise<int> p;
    weft::task<int> t;
    auto attach = weft::spawn(captured, [&] {
        t = [](weft::task<int> in) -> weft::task<int> {
            co_return co_await in;
        }(p.get_task());
    });
    captured.run_all();
    const auto before = weft::placement_stats_snapshot();
    p.set_value(5);
    CHECK_FALSE(t.is_ready());
    captured.run_all();
    CHECK(t.get() == 5);
    CHECK(delta(before, weft::placement_stats_snapshot()).captured_hop == 1);
}

TEST_CASE("deep inline chains are counted as deferred, refused hops as refused", "[placement]") {
    const auto before = weft::placement_stats_snapshot();
    weft::promise<int> p;
    weft::task<int> t = p.get_task();
    for (int i = 0; i < 1000; ++i) {
        t = t.then([](int x) { return x + 1; });
    }
    p.set_value(0);
    CHECK(t.get() == 1000);
    weft_test::manual_scheduler closed;
    closed.close();
    auto refused = weft::promise<int>{};
    auto c = refused.get_task().then(closed, [](int x) { return x; });
    refused.set_value(1);
    CHECK(c.is_canceled());
    const auto d = delta(before, weft::placement_stats_snapshot());
    CHECK(d.completing_inline == 1000);
    CHECK(d.deferred > 0);
    CHECK(d.refused == 1);
    CHECK(d.named_hop == 1); // decided (and counted) before the scheduler refused it
}

namespace {
std::atomic<int> observed_events{0};
std::atomic<int> observed_hops{0};
void observer(const weft::placement_event& e) noexcept {
    ++observed_events;
    if (!e.ran_inline) {
        ++observed_hops;
    }
}
} // namespace

TEST_CASE("the placement observer sees every decision", "[placement]") {
    weft_test::manual_scheduler sched;
    auto previous = weft::set_placement_observer(&observer);
    weft::promise<int> p;
    auto a = p.get_task().then([](int x) { return x; });
    auto b = p.get_task().then(sched, [](int x) { return x; });
    p.set_value(1);
    sched.run_all();
    weft::set_placement_observer(previous);
    CHECK(a.get() + b.get() == 2);
    CHECK(observed_events == 2);
    CHECK(observed_hops == 1);
}
