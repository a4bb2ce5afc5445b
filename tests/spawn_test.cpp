// Tests for weft/spawn.hpp: arguments, unwrapping, tokens, refusal.
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "catch.hpp"
#include "support/counted.hpp"

using namespace std::chrono_literals;

TEST_CASE("spawn passes its arguments to the function", "[spawn]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto t = weft::spawn(
        pool, [](int a, const std::string& b) { return b + std::to_string(a); }, 7, std::string("x"));
    CHECK(t.get() == "x7");
}

TEST_CASE("spawn of a task-returning function gives the inner task's type", "[spawn]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto t = weft::spawn(pool, [&pool] { return weft::spawn(pool, [] { return 5; }); });
    static_assert(std::is_same_v<decltype(t), weft::task<int>>);
    CHECK(t.get() == 5);
    auto empty = weft::spawn(pool, [] { return weft::task<int>{}; });
    CHECK_THROWS_AS(empty.get(), weft::no_state);
}

TEST_CASE("a token canceled before spawn: the function never runs", "[spawn][cancel]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::cancellation_source cs;
    cs.cancel();
    std::atomic<bool> ran{false};
    auto t = weft::spawn(
        pool, [&] { ran = true; }, cs.token());
    CHECK(t.is_canceled());
    CHECK_THROWS_AS(t.get(), weft::operation_canceled);
    CHECK_FALSE(ran);
}

TEST_CASE("cancellation reaches queued work: it completes canceled at once and never runs", "[spawn][cancel]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    std::atomic<bool> open{false};
    std::atomic<bool> blocker_started{false};
    auto blocker = weft::spawn(pool, [&] { // blocks its only worker without helping
        blocker_started = true;
        while (!open) {
            std::this_thread::yield();
        }
    });
    while (!blocker_started) {
        std::this_thread::yield();
    }
    weft::cancellation_source cs;
    std::atomic<bool> ran{false};
    weft_test::lifetime_counts closures;
    auto queued = weft::spawn(
        pool, [&, c = weft_test::counted(closures)] { ran = true; }, cs.token());
    cs.cancel();
    CHECK(queued.is_canceled()); // without waiting for the busy worker
    open = true;
    blocker.get();
    pool.shutdown();
    CHECK_FALSE(ran);
    CHECK(closures.alive() == 0);
}

TEST_CASE("the function receives the spawn token when it accepts one", "[spawn][cancel]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::cancellation_source cs;
    auto t = weft::spawn(
        pool, [](weft::cancellation_token& tok) { return tok.can_be_canceled(); }, cs.token());
    CHECK(t.get());
    auto u = weft::spawn(
        pool, [](int x) { return x; }, 3, cs.token());
    CHECK(u.get() == 3);
}

TEST_CASE("a function throwing operation_canceled completes its task canceled", "[spawn][cancel]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto t = weft::spawn(pool, [] { throw weft::operation_canceled{}; });
    t.wait();
    CHECK(t.is_canceled());
}

TEST_CASE("canceling after the task completed changes nothing", "[spawn][cancel]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::cancellation_source cs;
    auto t = weft::spawn(
        pool, [] { return 5; }, cs.token());
    CHECK(t.get() == 5);
    CHECK(cs.cancel());
    CHECK(t.is_succeeded());
    CHECK(t.get() == 5);
}

namespace {
/// A closure whose move constructor throws once armed: weft must never move it after spawn
/// accepted it (a move on a worker would have nowhere to throw to).
struct throws_when_moved {
    std::shared_ptr<bool> armed;
    explicit throws_when_moved(std::shared_ptr<bool> a) : armed(std::move(a)) {}
    throws_when_moved(const throws_when_moved&) = default;
    throws_when_moved(throws_when_moved&& o) : armed(o.armed) {
        if (*armed) {
            throw std::runtime_error("moved");
        }
    }
    throws_when_moved& operator=(const throws_when_moved&) = delete;
    throws_when_moved& operator=(throws_when_moved&&) = delete;
    ~throws_when_moved() = default;
    int operator()() const { return 7; }
    int operator()(int x) const { return x; }
};
} // namespace

TEST_CASE("a closure whose move constructor throws is run in place, never moved on a worker", "[spawn]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto armed = std::make_shared<bool>(false);
    std::atomic<bool> open{false};
    auto gate = weft::spawn(pool, [&] {
        while (!open) {
            std::this_thread::yield();
        }
    });
    auto t = weft::spawn(pool, throws_when_moved(armed));
    *armed = true; // from here a move would throw
    auto u = t.then(throws_when_moved(std::make_shared<bool>(false)));
    open = true;
    gate.get();
    CHECK(t.get() == 7);
    CHECK(u.get() == 7);
    *armed = false;
}

TEST_CASE("bad input to spawn is rejected at the call", "[spawn]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    void (*null_fn)() = nullptr;
    CHECK_THROWS_AS(weft::spawn(pool, null_fn), std::invalid_argument);
    CHECK_THROWS_AS(weft::spawn(pool, std::function<int()>{}), std::invalid_argument);
}

TEST_CASE("spawn after shutdown throws shutdown_error and destroys the closure once", "[spawn]") {
    weft_test::lifetime_counts closures;
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    pool.shutdown();
    CHECK_THROWS_AS(weft::spawn(pool, [c = weft_test::counted(closures)] { return 1; }), weft::shutdown_error);
    CHECK(closures.alive() == 0);
    CHECK(closures.constructed > 0);
}
