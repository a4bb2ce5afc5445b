// Tests for the composition contract (docs/guide/composition.md): a promise and its task
// destroyed as soon as anyone sees completion, context kept across awaits on a promise,
// run_asynchronously always honoured, empty schedulers refused at every entry point, tokens on
// then / when_all / when_any, when_any(cancel_losers), with_cancellation, a run loop that helps a
// blocking wait on its own thread. The I/O side (context across I/O awaits, timeouts that cancel, deadlock_error
// on an I/O thread) is in tests/io/io_composition_test.cpp, on both backends.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/manual_scheduler.hpp"

using namespace std::chrono_literals;

namespace composition_test {

/// A user-written serial context: a run loop in a wrapper that declares keeps_context.
struct user_context {
    weft::run_loop* loop;
    static constexpr bool keeps_context = true;
    void schedule(weft::work_item* w) { loop->schedule(w); }
    bool runs_on_this_thread() const noexcept { return loop->runs_on_this_thread(); }
};
static_assert(weft::scheduler<user_context>);
static_assert(weft::detail::scheduler_keeps_context<user_context>());

} // namespace composition_test

using composition_test::user_context;

TEST_CASE("a promise and its task may be destroyed by whoever sees completion, during set_value") {
    // The owner of the promise and the task is freed by the first continuation, while a second
    // continuation is still attached: publish() must not touch freed memory (ASan checks).
    for (int round = 0; round < 2000; ++round) {
        struct owner {
            weft::promise<int> p;
            weft::task<int> t = p.get_task();
        };
        auto* o = new owner;
        int second = 0;
        auto first = o->t.then(weft::inline_scheduler{}, [&o](int v) {
            delete o; // the natural "the completion source is done, clean up" step
            o = nullptr;
            return v;
        });
        auto other = o->t.then(weft::inline_scheduler{}, [&second](int v) { second = v; });
        weft::promise<int>& p = o->p;
        p.set_value(round);
        REQUIRE(o == nullptr);
        REQUIRE(first.get() == round);
        REQUIRE(second == round);
        other.get();
    }
}

TEST_CASE("a promise and its task may be destroyed by another thread as soon as it sees completion") {
    // 20,000 rounds: a thread waits for completion, then destroys promise and task at once,
    // racing the setter still inside set_value (TSan/ASan: no access after the free).
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<int> completed{0};
    for (int round = 0; round < 20000; ++round) {
        auto* p = new weft::promise<int>;
        auto* t = new weft::task<int>(p->get_task());
        auto cont = t->then(weft::inline_scheduler{}, [](int v) { return v; }); // a list to run
        std::atomic<bool> go{false};
        auto setter = weft::spawn(pool, [p, &go] {
            while (!go.load(std::memory_order_acquire)) {
            }
            p->set_value(1);
        });
        go.store(true, std::memory_order_release);
        while (!t->is_ready()) {
        }
        delete t;
        delete p; // may run while set_value is still in publish()
        completed.fetch_add(cont.get());
        setter.get();
    }
    REQUIRE(completed.load() == 20000);
}

TEST_CASE("a coroutine on a strand comes back to the strand after awaiting a promise set elsewhere") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    // the promise's own policy says "inline on the setter" (rule 2): the strand must still win
    weft::promise<int> p{weft::inline_scheduler{}};
    std::atomic<bool> on_strand_after{false};
    const auto before = weft::placement_stats_snapshot();
    auto body = [&]() -> weft::task<void> {
        co_await weft::resume_on(s);
        const int v = co_await p.get_task();
        on_strand_after.store(s.runs_on_this_thread() && v == 5);
    };
    auto t = body();
    std::thread setter([&] {
        while (s.stats().ran == 0) {
            std::this_thread::yield();
        }
        p.set_value(5);
    });
    REQUIRE(t.wait_for(20s));
    setter.join();
    t.get();
    REQUIRE(on_strand_after.load());
    REQUIRE(weft::placement_stats_snapshot().context_kept > before.context_kept);
}

TEST_CASE("a then() attached on a run loop comes back to the loop, and a user's context that declares it") {
    weft::run_loop loop;
    user_context ctx{&loop};
    weft::promise<int> p{weft::inline_scheduler{}};
    std::thread::id ran_on{};
    std::thread::id ran_on_user{};
    weft::task<void> cont;
    weft::task<void> cont_user;
    auto setup =
        weft::spawn(loop, [&] { cont = p.get_task().then([&](int) { ran_on = std::this_thread::get_id(); }); });
    auto setup_user = weft::spawn(
        ctx, [&] { cont_user = p.get_task().then([&](int) { ran_on_user = std::this_thread::get_id(); }); });
    while (!(setup.is_ready() && setup_user.is_ready())) {
        loop.run_one();
    }
    std::thread setter([&] { p.set_value(1); });
    setter.join(); // the setter did not run them: they wait in the loop
    REQUIRE_FALSE(cont.is_ready());
    REQUIRE_FALSE(cont_user.is_ready());
    while (!(cont.is_ready() && cont_user.is_ready())) {
        loop.run_one();
    }
    REQUIRE(ran_on == std::this_thread::get_id());
    REQUIRE(ran_on_user == std::this_thread::get_id());
}

TEST_CASE("a pool continuation still follows the source's inline policy (the pool keeps no context)") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::promise<int> p{weft::inline_scheduler{}};
    std::thread::id ran_on{};
    weft::task<void> cont;
    weft::spawn(pool, [&] { cont = p.get_task().then([&](int) { ran_on = std::this_thread::get_id(); }); }).get();
    p.set_value(1); // inline here, on the setter: rule 2, no hop
    REQUIRE(cont.is_ready());
    REQUIRE(ran_on == std::this_thread::get_id());
}

TEST_CASE("run_asynchronously hops even when the source's policy is inline") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::promise<int> p{weft::inline_scheduler{}};
    std::thread::id ran_on{};
    weft::task<void> cont;
    weft::spawn(pool, [&] {
        cont = p.get_task().then([&](int) { ran_on = std::this_thread::get_id(); },
                                 weft::continuation_options::run_asynchronously);
    }).get();
    p.set_value(1);
    cont.get();
    REQUIRE(ran_on != std::this_thread::get_id()); // not inline inside set_value
    // with nowhere to hop to (inline source, no captured scheduler) it is refused at the call
    weft::promise<int> q{weft::inline_scheduler{}};
    REQUIRE_THROWS_AS(q.get_task().then([](int) {}, weft::continuation_options::run_asynchronously),
                      std::invalid_argument);
}

TEST_CASE("an empty any_scheduler is refused at every entry point with std::invalid_argument") {
    weft::any_scheduler none;
    weft::promise<int> p;
    auto t = p.get_task();
    REQUIRE_THROWS_AS(t.then(none, [](int) {}), std::invalid_argument);
    weft::cancellation_source cs;
    REQUIRE_THROWS_AS(t.then(
                          none, [](int) {}, cs.token()),
                      std::invalid_argument);
    REQUIRE_THROWS_AS(weft::spawn(none, [] {}), std::invalid_argument);
    auto coro = [&]() -> weft::task<void> {
        co_await weft::resume_on(none);
    };
    REQUIRE_THROWS_AS(coro().get(), std::invalid_argument);
    auto coro2 = [&]() -> weft::task<void> {
        co_await weft::resume_on(weft::current_scheduler());
    };
    REQUIRE_THROWS_AS(coro2().get(), std::invalid_argument); // off any scheduler: empty
    REQUIRE_THROWS_AS(weft::strand(none), std::invalid_argument);
    p.set_value(1);
}

TEST_CASE("then with a token: canceled before the antecedent completes, it completes canceled at once") {
    weft::promise<int> p;
    weft::cancellation_source cs;
    bool ran = false;
    auto cont = p.get_task().then([&](int) { ran = true; }, cs.token());
    REQUIRE_FALSE(cont.is_ready());
    cs.cancel();
    REQUIRE(cont.is_canceled()); // at once, the antecedent still pending
    p.set_value(1);
    REQUIRE_FALSE(ran);
    REQUIRE_THROWS_AS(cont.get(), weft::operation_canceled);

    // not canceled: it runs; an already-canceled token: it never runs
    weft::cancellation_source live;
    auto ok = weft::spawn(weft::inline_scheduler{}, [] { return 2; }).then([](int v) { return v * 3; }, live.token());
    REQUIRE(ok.get() == 6);
    auto never = weft::spawn(weft::inline_scheduler{}, [] { return 2; }).then([&](int) { ran = true; }, cs.token());
    REQUIRE(never.is_canceled());
    REQUIRE_FALSE(ran);
}

TEST_CASE("then with a token, canceled from another thread while the antecedent completes: exactly once") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    int ran = 0, canceled = 0;
    for (int i = 0; i < 2000; ++i) {
        weft::promise<int> p;
        weft::cancellation_source cs;
        std::atomic<int> calls{0};
        auto cont = p.get_task().then([&](int) { calls.fetch_add(1); }, cs.token());
        auto a = weft::spawn(pool, [&] { p.set_value(1); });
        auto b = weft::spawn(pool, [&] { cs.cancel(); });
        a.get();
        b.get();
        cont.wait();
        REQUIRE(calls.load() == (cont.is_succeeded() ? 1 : 0));
        (cont.is_succeeded() ? ran : canceled) += 1;
        (void)cont.exception();
    }
    REQUIRE(ran + canceled == 2000);
}

TEST_CASE("when_any(cancel_losers): the losers that can be asked end canceled, queued spawned work never runs") {
    weft_test::manual_scheduler held; // holds its items until run_all()
    std::atomic<int> loser_ran{0};
    auto winner = weft::spawn(weft::inline_scheduler{}, [] { return 1; });
    auto loser = weft::spawn(held, [&] {
        loser_ran.fetch_add(1);
        return 2;
    });
    auto first = weft::when_any(weft::cancel_losers, std::vector{loser, winner});
    REQUIRE(first.get().index == 1);
    REQUIRE(loser.is_canceled());
    held.run_all(); // the queued item is discarded, not run
    REQUIRE(loser_ran.load() == 0);

    // without cancel_losers the loser runs
    auto loser2 = weft::spawn(held, [&] {
        loser_ran.fetch_add(1);
        return 2;
    });
    auto first2 = weft::when_any(loser2, winner);
    REQUIRE(first2.get().index == 1);
    held.run_all();
    REQUIRE(loser2.get() == 2);
    REQUIRE(loser_ran.load() == 1);
}

TEST_CASE("when_all and when_any with a token complete canceled at once and ask the inputs to end") {
    weft_test::manual_scheduler held;
    weft::cancellation_source cs;
    auto a = weft::spawn(held, [] { return 1; });
    auto b = weft::spawn(held, [] { return 2; });
    auto all = weft::when_all(cs.token(), std::vector{a, b});
    auto any = weft::when_any(cs.token(), a, b);
    REQUIRE_FALSE(all.is_ready());
    cs.cancel();
    REQUIRE(all.is_canceled());
    REQUIRE(any.is_canceled());
    REQUIRE(a.is_canceled()); // queued work: dropped
    REQUIRE(b.is_canceled());
    held.run_all();

    weft::cancellation_source unused;
    auto ok = weft::when_all(unused.token(), weft::spawn(weft::inline_scheduler{}, [] { return 3; }));
    REQUIRE(std::get<0>(ok.get()) == 3);
}

TEST_CASE("with_cancellation: the token wins at once, a promise it cannot cancel keeps its own outcome") {
    weft::promise<int> p;
    weft::cancellation_source cs;
    auto t = weft::with_cancellation(p.get_task(), cs.token());
    cs.cancel();
    REQUIRE(t.is_canceled());
    p.set_value(4);
    REQUIRE(p.get_task().get() == 4); // its own task still tells how it ended

    weft::promise<int> q;
    weft::cancellation_source cs2;
    auto u = weft::with_cancellation(q.get_task(), cs2.token());
    q.set_value(9);
    REQUIRE(u.get() == 9);
    cs2.cancel(); // too late: nothing changes
    REQUIRE(u.get() == 9);
}

TEST_CASE("a blocking wait inside a run loop item runs the loop's other items (it helps)") {
    weft::run_loop loop;
    auto outer = weft::spawn(loop, [&] {
        auto inner = weft::spawn(loop, [] { return 7; });
        return inner.get(); // helps: runs `inner` from the loop
    });
    while (!outer.is_ready()) {
        loop.run_one();
    }
    REQUIRE(outer.get() == 7);
}

TEST_CASE("shared results: a continuation that moves gets a copy while another continuation can still read") {
    weft::promise<std::string> p;
    auto t = p.get_task();
    std::string moved_into;
    auto mover = t.then([&](std::string&& s) { moved_into = std::move(s); });
    auto reader = t.then([](const std::string& s) { return s; });
    p.set_value(std::string(100, 'x')); // long enough that a move empties it
    mover.get();
    CHECK(moved_into == std::string(100, 'x'));
    CHECK(reader.get() == std::string(100, 'x')); // not a moved-from value
    CHECK(t.get() == std::string(100, 'x'));
}

TEST_CASE("shared results: co_await std::move(t) on one of two handles copies, the only reader moves") {
    weft::promise<std::string> p;
    auto t = p.get_task();
    auto other = t;
    p.set_value(std::string(100, 'y'));
    auto take = [](weft::task<std::string> h) -> weft::task<std::string> {
        co_return co_await std::move(h);
    };
    CHECK(take(t).get() == std::string(100, 'y'));
    CHECK(other.get() == std::string(100, 'y')); // still there: the awaiter was not the only reader
    // the only reader left moves it out, and its handle is consumed; the promise cannot mint a
    // reader of the moved-from value afterwards
    t = {};
    CHECK(std::move(other).get() == std::string(100, 'y'));
    CHECK_FALSE(other.valid());
    CHECK_THROWS_AS(p.get_task(), weft::shared_value_error);
    // co_await std::move(h) consumes its handle the same way
    weft::promise<std::string> q;
    auto h = q.get_task();
    q.set_value(std::string(100, 'z'));
    auto await_it = [&]() -> weft::task<std::string> {
        co_return co_await std::move(h);
    };
    CHECK(await_it().get() == std::string(100, 'z'));
    CHECK_FALSE(h.valid());
    CHECK_THROWS_AS(q.get_task(), weft::shared_value_error);
}

TEST_CASE("shared results: a move-only value is moved by its only reader, refused while shared") {
    weft::promise<std::unique_ptr<int>> p;
    auto t = p.get_task();
    auto other = t;
    p.set_value(std::make_unique<int>(8));
    CHECK_THROWS_AS(std::move(t).get(), weft::shared_value_error); // `other` can still read it
    CHECK(*other.get() == 8);
    t = {};
    auto owned = std::move(other).get(); // the only reader: moved
    CHECK(*owned == 8);
    // a value continuation that wants it by value: moved when it is the only reader
    weft::promise<std::unique_ptr<int>> q;
    auto sum = q.get_task().then([](std::unique_ptr<int> v) { return *v + 1; });
    q.set_value(std::make_unique<int>(1));
    CHECK(sum.get() == 2);
    // ... refused when a handle can still read it: the continuation fails, nothing is moved
    weft::promise<std::unique_ptr<int>> r;
    auto kept = r.get_task();
    auto refused = kept.then([](std::unique_ptr<int> v) { return *v; });
    r.set_value(std::make_unique<int>(3));
    CHECK_THROWS_AS(refused.get(), weft::shared_value_error);
    CHECK(*kept.get() == 3);
}

TEST_CASE("shared results: when_all moves a move-only value only from inputs it alone reads") {
    weft::promise<std::unique_ptr<int>> p;
    auto a = p.get_task();
    p.set_value(std::make_unique<int>(4));
    auto kept = weft::when_all(a); // `a` still readable: refused
    CHECK_THROWS_AS(kept.get(), weft::shared_value_error);
    CHECK(*a.get() == 4);
    auto all = weft::when_all(std::move(a)); // the only reader now: moved
    auto values = std::move(all).get();
    CHECK(*std::get<0>(values) == 4);
}

TEST_CASE("a blocking wait inside a strand item runs the strand's next items (it helps), in order") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::strand s{pool};
    std::vector<int> order; // strand-protected
    weft::task<void> between;
    auto outer = weft::spawn(s, [&] {
        order.push_back(0);
        between = weft::spawn(s, [&] { order.push_back(1); });
        auto inner = weft::spawn(s, [&] {
            order.push_back(2);
            return 1;
        });                 // queued behind this very item, and behind `between`
        return inner.get(); // helps: runs `between`, then `inner`
    });
    // a continuation that comes back to the strand (context kept) while an item waits for it
    auto via_context = weft::spawn(s, [&] {
        auto t = weft::spawn(pool, [] { return 20; }).then([&](int x) { return s.runs_on_this_thread() ? x + 1 : -1; });
        return t.get();
    });
    REQUIRE(outer.wait_for(20s));
    CHECK(outer.get() == 1);
    between.get();
    CHECK(via_context.get() == 21);
    CHECK(weft::spawn(s, [&] { return order; }).get() == std::vector<int>{0, 1, 2});
}

TEST_CASE("a strand over a scheduler with no helper of its own still helps a blocked item") {
    weft_test::manual_scheduler base;
    weft::strand s{base};
    auto outer = weft::spawn(s, [&] { return weft::spawn(s, [] { return 5; }).get(); });
    base.run_all(); // the drain runs here, on this thread: the nested run takes the inner item
    CHECK(outer.get() == 5);
}
