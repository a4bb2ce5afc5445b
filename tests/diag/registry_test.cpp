// Tests for weft/diag/registry.hpp: the live task registry (every live task seen, none after
// it ended), names and creation sites, async stacks through coroutines and a spawn, what a
// suspended task awaits, text and JSON dumps, a dump on a signal, and dumps taken while tasks
// churn on a pool.
#include <weft/diag/registry.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/testing/manual_scheduler.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/eventually.hpp"
#include <poll.h>
#include <unistd.h>

namespace {

/// Diagnostics on for one test (the registry starts empty of this test's tasks).
struct registry_on {
    registry_on() { weft::diag::enable(weft::diag::feature::registry); }
    ~registry_on() { weft::diag::disable(weft::diag::feature::registry); }
};

std::size_t items_for_build() {
    const char* n = std::getenv("WEFT_DIAG_TEST_TASKS");
    return n != nullptr ? static_cast<std::size_t>(std::strtoul(n, nullptr, 10)) : 100000;
}

const weft::diag::task_info* find_named(const std::vector<weft::diag::task_info>& tasks, const std::string& name) {
    for (const auto& t : tasks) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

weft::task<int> level_c(weft::task<int> gate) {
    const int v = co_await gate;
    co_return v + 1;
}
weft::task<int> level_b(weft::task<int> gate) {
    co_return co_await level_c(std::move(gate)) + 1;
}
weft::task<int> level_a(weft::task<int> gate) {
    co_return co_await level_b(std::move(gate)) + 1;
}

weft::task<void> wait_for_gate(weft::task<void> gate) {
    co_await gate;
}

} // namespace

TEST_CASE("diag: off by default, nothing is recorded", "[diag]") {
    REQUIRE_FALSE(weft::diag::enabled(weft::diag::feature::registry)); // the test runs without WEFT_DIAG
    weft::promise<int> gate;
    weft::task<int> t = level_a(gate.get_task());
    CHECK(weft::diag::live_tasks() == 0);
    gate.set_value(1);
    CHECK(t.get() == 4);
}

TEST_CASE("diag: the async stack of a 3-deep coroutine chain under a spawn names all of them", "[diag]") {
    registry_on on;
    weft::testing::manual_scheduler sched;
    weft::promise<int> gate;
    weft::task<int> t = weft::spawn(sched, weft::task_name{"root request"}, [&] { return level_a(gate.get_task()); });
    {
        const auto tasks = weft::diag::snapshot();
        REQUIRE(tasks.size() == 1);
        CHECK(tasks[0].name == "root request");
        CHECK(tasks[0].kind == "spawned");
        CHECK(tasks[0].state == "queued");
        CHECK(tasks[0].scheduler == static_cast<const void*>(&sched));
    }
    sched.run_all(); // the spawn runs: a -> b -> c start, c suspends on the gate; the spawn ends
    const auto tasks = weft::diag::snapshot();
    REQUIRE(tasks.size() == 3);
    const auto* c = find_named(tasks, "level_c");
    const auto* b = find_named(tasks, "level_b");
    const auto* a = find_named(tasks, "level_a");
    REQUIRE(c != nullptr);
    REQUIRE(b != nullptr);
    REQUIRE(a != nullptr);
    CHECK(c->state == "suspended");
    CHECK(c->awaits.find("task_awaiter") != std::string::npos);
    CHECK(c->awaits_task == 0); // a promise's task: not a recorded one
    CHECK(b->awaits_task == c->id);
    CHECK(a->awaits_task == b->id);
    REQUIRE(c->stack.size() == 3); // the spawn ended when its function returned
    CHECK(c->stack[0].name == "level_c");
    CHECK(c->stack[1].name == "level_b");
    CHECK(c->stack[2].name == "level_a");
    CHECK(c->stack[0].file.find("registry_test.cpp") != std::string::npos);
    CHECK(c->thread == a->thread);
    CHECK(c->scheduler == static_cast<const void*>(&sched)); // it started inside the spawn, on sched

    const std::string text = weft::diag::dump_text(tasks);
    CHECK(text.find("3 live task(s)") != std::string::npos);
    CHECK(text.find("stack: #" + std::to_string(c->id) + " level_c") != std::string::npos);
    const std::string json = weft::diag::dump_json(tasks);
    CHECK(json.find("\"name\":\"level_b\"") != std::string::npos);
    CHECK(std::count(json.begin(), json.end(), '{') == std::count(json.begin(), json.end(), '}'));

    gate.set_value(1);
    sched.run_all(); // c resumes where it was started (the manual scheduler, captured)
    REQUIRE(t.is_ready());
    CHECK(t.get() == 4);
    CHECK(weft::diag::live_tasks() == 0); // every one left before its task completed
}

TEST_CASE("diag: a spawned task canceled while queued leaves the registry when its queue drops it", "[diag]") {
    registry_on on;
    weft::testing::manual_scheduler sched;
    weft::cancellation_source cs;
    bool ran = false;
    weft::task<void> t = weft::spawn(
        sched, [&ran] { ran = true; }, cs.token());
    CHECK(weft::diag::live_tasks() == 1);
    cs.cancel();
    CHECK(t.is_canceled());               // at once, while its item still sits in the queue
    CHECK(weft::diag::live_tasks() == 1); // the record goes with the item
    CHECK(sched.run_all() == 1);          // the queue gives the item its turn: it is dropped
    CHECK_FALSE(ran);
    CHECK(weft::diag::live_tasks() == 0);
}

TEST_CASE("diag: a spawn's record is current while its function runs, so the coroutine it starts names it", "[diag]") {
    registry_on on;
    weft::testing::manual_scheduler sched;
    weft::promise<void> gate;
    std::vector<weft::diag::task_info> seen;
    weft::task<void> t = weft::spawn(sched, [&] {
        auto inner = wait_for_gate(gate.get_task());
        seen = weft::diag::snapshot(); // the spawn is still running here
        return inner;
    });
    sched.run_all();
    REQUIRE(seen.size() == 2);
    const auto* inner = find_named(seen, "wait_for_gate");
    REQUIRE(inner != nullptr);
    REQUIRE(inner->stack.size() == 2);
    CHECK(inner->stack[1].name.find("C_A_T_C_H_T_E_S_T") != std::string::npos); // the lambda's type names its function
    gate.set_value();
    sched.run_all();
    REQUIRE(t.is_ready());
    t.get();
    CHECK(weft::diag::live_tasks() == 0);
}

TEST_CASE("diag: the registry sees every live task and none after they end, across a pool", "[diag][stress]") {
    registry_on on;
    const std::size_t n = items_for_build();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::promise<void> gate;
    weft::task<void> gate_task = gate.get_task();
    std::vector<weft::task<void>> waiting(n); // slot i: the coroutine spawn i started
    std::vector<weft::task<void>> spawns;
    spawns.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        spawns.push_back(weft::spawn(pool, [gate_task, &waiting, i] { waiting[i] = wait_for_gate(gate_task); }));
    }
    weft::when_all(spawns).wait(); // every spawn has run and ended: each left a suspended coroutine
    const auto live = weft::diag::snapshot();
    CHECK(live.size() == n);
    std::set<std::uint64_t> ids;
    std::size_t suspended = 0;
    for (const auto& t : live) {
        ids.insert(t.id);
        suspended += t.state == "suspended" && t.name == "wait_for_gate" ? std::size_t{1} : std::size_t{0};
    }
    CHECK(ids.size() == n);
    CHECK(suspended == n);
    gate.set_value(); // they resume on the pool (captured there)
    weft::when_all(waiting).wait();
    CHECK(weft::diag::live_tasks() == 0); // each left the registry before its task completed
}

TEST_CASE("diag: dumps taken while tasks churn on a pool see consistent tasks and do not stop it", "[diag][stress]") {
    registry_on on;
    const std::size_t n = items_for_build() / 4;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<bool> done{false};
    std::atomic<std::size_t> dumps{0};
    std::thread dumper([&] {
        while (!done.load()) {
            const auto tasks = weft::diag::snapshot();
            std::set<std::uint64_t> ids;
            for (const auto& t : tasks) {
                ids.insert(t.id);
            }
            if (ids.size() != tasks.size()) {
                FAIL_CHECK("a dump listed a task twice");
            }
            (void)weft::diag::dump_json(tasks);
            dumps.fetch_add(1);
        }
    });
    std::atomic<std::size_t> ran{0};
    std::vector<weft::task<void>> tasks;
    tasks.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        tasks.push_back(weft::spawn(pool, [&ran] { ran.fetch_add(1); }));
    }
    weft::when_all(tasks).wait();
    done = true;
    dumper.join();
    CHECK(ran.load() == n);
    CHECK(dumps.load() > 0);
    CHECK(weft::diag::live_tasks() == 0);
}

TEST_CASE("diag: dump_on_signal writes a dump when the signal comes, its handler only writes to a pipe", "[diag]") {
    registry_on on;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    weft::promise<void> gate;
    weft::task<void> t = wait_for_gate(gate.get_task());
    {
        weft::diag::dump_on_signal dumper(SIGUSR1, fds[1]);
        CHECK_THROWS_AS(weft::diag::dump_on_signal(SIGUSR2, fds[1]), std::logic_error);
        REQUIRE(::raise(SIGUSR1) == 0);
        pollfd p{fds[0], POLLIN, 0};
        REQUIRE(::poll(&p, 1, 10000) == 1);
        std::string text;
        char buf[4096];
        while (text.find("wait_for_gate") == std::string::npos) {
            REQUIRE(::poll(&p, 1, 10000) == 1);
            const ssize_t got = ::read(fds[0], buf, sizeof buf);
            REQUIRE(got > 0);
            text.append(buf, static_cast<std::size_t>(got));
        }
        CHECK(text.find("1 live task(s)") != std::string::npos);
    }
    {
        weft::diag::dump_on_signal dumper(SIGUSR1, fds[1], weft::diag::dump_format::json);
        REQUIRE(::raise(SIGUSR1) == 0);
        pollfd p{fds[0], POLLIN, 0};
        std::string json;
        char buf[4096];
        while (json.find("\n]}\n") == std::string::npos) {
            REQUIRE(::poll(&p, 1, 10000) == 1);
            const ssize_t got = ::read(fds[0], buf, sizeof buf);
            REQUIRE(got > 0);
            json.append(buf, static_cast<std::size_t>(got));
        }
        CHECK(json.find("\"name\":\"wait_for_gate\"") != std::string::npos);
    }
    gate.set_value();
    t.get();
    ::close(fds[0]);
    ::close(fds[1]);
}

namespace {

/// N single-worker pools (no helping across them), task i blocks on task (i + 1) % N once all
/// have started: a cycle of N blocking waits.
std::vector<std::string> run_wait_cycle(std::size_t n) {
    std::vector<std::unique_ptr<weft::thread_pool>> pools;
    for (std::size_t i = 0; i < n; ++i) {
        pools.push_back(std::make_unique<weft::thread_pool>(weft::pool_options{.threads = 1}));
    }
    std::vector<weft::task<void>> tasks(n);
    weft::promise<void> all_spawned;
    weft::task<void> go = all_spawned.get_task();
    static const char* const names[] = {"cycle task 0", "cycle task 1", "cycle task 2"};
    for (std::size_t i = 0; i < n; ++i) {
        tasks[i] = weft::spawn(*pools[i], weft::task_name{names[i]}, [&tasks, go, i, n] {
            go.wait();
            tasks[(i + 1) % n].get();
        });
    }
    all_spawned.set_value();
    std::vector<std::string> errors;
    for (auto& t : tasks) {
        try {
            t.get();
            errors.emplace_back();
        } catch (const weft::deadlock_error& e) {
            errors.emplace_back(e.what());
        }
    }
    return errors;
}

} // namespace

TEST_CASE("diag: a two-task cycle of blocking waits throws deadlock_error naming both, instead of hanging",
          "[diag][deadlock]") {
    registry_on on;
    const auto errors = run_wait_cycle(2);
    REQUIRE(errors.size() == 2);
    CHECK_FALSE(errors[0].empty()); // both fail: one detects it, the other fails through it
    CHECK_FALSE(errors[1].empty());
    bool named_both = false;
    for (const auto& e : errors) {
        named_both =
            named_both || (e.find("cycle task 0") != std::string::npos && e.find("cycle task 1") != std::string::npos &&
                           e.find("cycle of blocking waits") != std::string::npos);
    }
    CHECK(named_both);
    CHECK(weft::diag::live_tasks() == 0);
}

TEST_CASE("diag: a three-task cycle is reported with all three named", "[diag][deadlock]") {
    registry_on on;
    const auto errors = run_wait_cycle(3);
    bool named_all = false;
    for (const auto& e : errors) {
        CHECK_FALSE(e.empty());
        named_all =
            named_all || (e.find("cycle task 0") != std::string::npos && e.find("cycle task 1") != std::string::npos &&
                          e.find("cycle task 2") != std::string::npos);
    }
    CHECK(named_all);
}

TEST_CASE("diag: waits that converge or chain without a cycle are not reported", "[diag][deadlock]") {
    registry_on on;
    weft::thread_pool p1{weft::pool_options{.threads = 1}};
    weft::thread_pool p2{weft::pool_options{.threads = 1}};
    weft::thread_pool p3{weft::pool_options{.threads = 1}};
    weft::promise<void> release;
    weft::task<void> last = weft::spawn(p3, [r = release.get_task()] { r.wait(); });
    // a diamond: two tasks block on the same one; and a chain: one blocks on a task that blocks
    weft::task<void> left = weft::spawn(p1, [last] { last.get(); });
    weft::task<void> right = weft::spawn(p2, [left] { left.get(); });
    REQUIRE(weft_test::eventually([] { return weft::diag::live_tasks() == 3; }));
    release.set_value();
    CHECK_NOTHROW(left.get());
    CHECK_NOTHROW(right.get());
    CHECK_NOTHROW(last.get());
}
