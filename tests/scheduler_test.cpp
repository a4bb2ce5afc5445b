// Tests for weft/scheduler.hpp: the concept, inline_scheduler, any_scheduler, current_scheduler.
#include <weft/concurrent_exclusive.hpp>
#include <weft/dedicated_thread.hpp>
#include <weft/limited_scheduler.hpp>
#include <weft/promise.hpp>
#include <weft/resume_on.hpp>
#include <weft/run_loop.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"
#include "support/thread_tag.hpp"

namespace {

/// A user-written scheduler with a type of its own: runs each item on a new thread.
struct thread_per_item_scheduler {
    std::atomic<int>* scheduled;
    void schedule(weft::work_item* w) const {
        ++*scheduled;
        std::thread([w] { w->run(); }).detach();
    }
};
static_assert(weft::scheduler<thread_per_item_scheduler>);
static_assert(weft::scheduler<weft::inline_scheduler>);
static_assert(weft::scheduler<weft::thread_pool>);
static_assert(weft::scheduler<weft::any_scheduler>);

struct counting_item final : weft::work_item {
    counting_item() : weft::work_item(&invoke) {}
    int runs = 0;
    int discards = 0;
    static void invoke(weft::work_item* w, bool run) noexcept {
        auto* self = static_cast<counting_item*>(w);
        (run ? self->runs : self->discards) += 1;
    }
};

} // namespace

TEST_CASE("inline_scheduler runs the item before schedule() returns", "[scheduler]") {
    counting_item item;
    weft::inline_scheduler{}.schedule(&item);
    CHECK(item.runs == 1);
}

TEST_CASE("any_scheduler refers to a scheduler, or to nothing", "[scheduler]") {
    weft::any_scheduler none;
    CHECK_FALSE(static_cast<bool>(none));
    weft::any_scheduler inl{weft::inline_scheduler{}};
    CHECK(inl.is_inline());
    CHECK(inl.runs_on_this_thread());
    weft_test::manual_scheduler m;
    weft::any_scheduler a{m};
    weft::any_scheduler b{m};
    CHECK(a == b);
    CHECK_FALSE(a == inl);
    counting_item item;
    a.schedule(&item);
    CHECK(item.runs == 0);
    m.run_all();
    CHECK(item.runs == 1);
}

TEST_CASE("a user-written scheduler works with spawn, then and resume_on", "[scheduler]") {
    std::atomic<int> scheduled{0};
    thread_per_item_scheduler s{&scheduled};
    auto t = weft::spawn(s, [] { return std::this_thread::get_id(); });
    CHECK(t.get() != std::this_thread::get_id());
    auto u = t.then(s, [](std::thread::id) { return 2; });
    CHECK(u.get() == 2);
    auto body = [](thread_per_item_scheduler sched) -> weft::task<bool> {
        const long before = weft_test::this_thread_tag();
        co_await weft::resume_on(sched);
        co_return before != weft_test::this_thread_tag();
    };
    // resume_on takes the scheduler by reference: keep it alive (it is not an empty type)
    CHECK(body(s).get());
    CHECK(scheduled == 3);
}

TEST_CASE("current_scheduler is empty off-pool, the pool on its workers, restored by scopes", "[scheduler]") {
    CHECK_FALSE(static_cast<bool>(weft::current_scheduler()));
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto on_worker = weft::spawn(pool, [&] { return weft::current_scheduler() == weft::any_scheduler(pool); });
    CHECK(on_worker.get());
    weft_test::manual_scheduler m;
    {
        weft::scheduler_scope scope{weft::any_scheduler(m)};
        CHECK(weft::current_scheduler() == weft::any_scheduler(m));
    }
    CHECK_FALSE(static_cast<bool>(weft::current_scheduler()));
}

TEST_CASE("per-thread scheduler state does not leak from one task to the next", "[scheduler]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft_test::manual_scheduler m;
    auto a = weft::spawn(pool, [&] {
        weft::scheduler_scope scope{weft::any_scheduler(m)}; // a task changes it locally...
    });
    a.get();
    auto b = weft::spawn(pool, [&] { return weft::current_scheduler() == weft::any_scheduler(pool); });
    CHECK(b.get()); // ...and the next task sees the pool again
}

TEST_CASE("inline work nested a million deep runs in bounded stack", "[scheduler][deep]") {
    struct chain_item final : weft::work_item {
        chain_item() : weft::work_item(&invoke) {}
        int remaining = 1'000'000;
        int ran = 0;
        static void invoke(weft::work_item* w, bool) noexcept {
            auto* self = static_cast<chain_item*>(w);
            ++self->ran;
            if (--self->remaining > 0) {
                weft::inline_scheduler{}.schedule(self); // re-enters from inside the run
            }
        }
    };
    chain_item item;
    weft::inline_scheduler{}.schedule(&item);
    CHECK(item.ran == 1'000'000);
}

namespace {
std::atomic<int> captured_hops_seen{0};
std::atomic<const void*> captured_target{nullptr};
void watch_captured(const weft::placement_event& e) noexcept {
    if (e.rule == weft::placement_rule::captured && !e.ran_inline && e.scheduler == captured_target.load()) {
        captured_hops_seen.fetch_add(1);
    }
}

/// Spawns on `s` an item that attaches a continuation to pool work; the continuation must come
/// back to `s` (rule 3), counted as a captured hop naming `s`.
template<typename S, typename Drive>
bool comes_back_counted(S& s, weft::thread_pool& pool, Drive&& drive) {
    captured_target = &s;
    captured_hops_seen = 0;
    const auto before = weft::placement_stats_snapshot();
    auto t = weft::spawn(s, [&] {
        // attached before the pool completes it, so the continuation is dispatched from a worker
        auto p = std::make_shared<weft::promise<int>>();
        auto cont = p->get_task().then([&](int) { return s.runs_on_this_thread(); });
        (void)weft::spawn(pool, [p] { p->set_value(1); });
        return cont;
    });
    drive(t);
    const bool back = t.get();
    const auto after = weft::placement_stats_snapshot();
    INFO("back " << back << ", hops seen " << captured_hops_seen.load() << ", counted "
                 << after.captured_hop - before.captured_hop);
    CHECK(back);
    CHECK(captured_hops_seen.load() == 1);
    CHECK(after.captured_hop - before.captured_hop >= 1);
    return back && captured_hops_seen.load() == 1 && after.captured_hop - before.captured_hop >= 1;
}
} // namespace

TEST_CASE("every built-in scheduler keeps its continuations, and the counters see it", "[scheduler][placement]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto previous = weft::set_placement_observer(&watch_captured);
    auto nothing = [](auto&) {
    };
    {
        weft::strand s{pool};
        CHECK(comes_back_counted(s, pool, nothing));
    }
    {
        weft::limited_scheduler lim{pool, 2};
        CHECK(comes_back_counted(lim, pool, nothing));
    }
    {
        weft::concurrent_exclusive_pair pair{pool, 2};
        CHECK(comes_back_counted(pair.concurrent(), pool, nothing));
        CHECK(comes_back_counted(pair.exclusive(), pool, nothing));
    }
    {
        weft::dedicated_thread dt;
        CHECK(comes_back_counted(dt, pool, nothing));
    }
    {
        weft::run_loop loop;
        CHECK(comes_back_counted(loop, pool, [&](auto& t) {
            while (!t.is_ready()) {
                loop.run_one();
            }
        }));
    }
    weft::set_placement_observer(previous);
}

TEST_CASE("driving a run_loop inside a pool task restores the worker's scheduler and helper", "[scheduler]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::run_loop loop;
    auto t = weft::spawn(pool, [&] {
        (void)weft::spawn(loop, [] {});
        const bool inside_was_loop = [&] {
            bool seen = false;
            (void)weft::spawn(loop, [&] { seen = weft::current_scheduler() == weft::any_scheduler(loop); });
            loop.poll();
            return seen;
        }();
        // back on the worker: the pool is current again, and a blocking get still helps (a
        // 1-worker pool would deadlock here if the loop's wait helper had leaked)
        const bool pool_again = weft::current_scheduler() == weft::any_scheduler(pool);
        const int nested = weft::spawn(pool, [] { return 5; }).get();
        return inside_was_loop && pool_again && nested == 5;
    });
    CHECK(t.get());
}
