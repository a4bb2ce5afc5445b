// Tests for weft/scheduler.hpp: the concept, inline_scheduler, any_scheduler, current_scheduler.
#include <weft/scheduler.hpp>

#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"
#include "support/thread_tag.hpp"

#include <atomic>
#include <thread>

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

}  // namespace

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
        weft::scheduler_scope scope{weft::any_scheduler(m)};  // a task changes it locally...
    });
    a.get();
    auto b = weft::spawn(pool, [&] { return weft::current_scheduler() == weft::any_scheduler(pool); });
    CHECK(b.get());  // ...and the next task sees the pool again
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
                weft::inline_scheduler{}.schedule(self);  // re-enters from inside the run
            }
        }
    };
    chain_item item;
    weft::inline_scheduler{}.schedule(&item);
    CHECK(item.ran == 1'000'000);
}
