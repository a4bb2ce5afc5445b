// Tests for weft/post.hpp: fire-and-forget work runs exactly once or is destroyed unrun, its
// errors reach the unobserved handler, refusals and bad input throw.
#include <weft/post.hpp>
#include <weft/strand.hpp>
#include <weft/testing/manual_scheduler.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/counted.hpp"
#include "support/eventually.hpp"
#include "support/ledger.hpp"

using namespace std::chrono_literals;

namespace {

/// Installs a handler that keeps the messages of unobserved errors; restores the old one.
class unobserved_sink {
public:
    unobserved_sink() {
        previous_ = weft::set_unobserved_exception_handler([this](std::exception_ptr e) {
            std::string what = "non-std";
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                what = ex.what();
            } catch (...) {
            }
            std::lock_guard lock(mutex_);
            messages_.push_back(what);
        });
    }
    ~unobserved_sink() { weft::set_unobserved_exception_handler(previous_); }
    unobserved_sink(const unobserved_sink&) = delete;
    unobserved_sink& operator=(const unobserved_sink&) = delete;

    std::vector<std::string> messages() {
        std::lock_guard lock(mutex_);
        return messages_;
    }

private:
    weft::unobserved_exception_handler previous_;
    std::mutex mutex_;
    std::vector<std::string> messages_;
};

} // namespace

TEST_CASE("post: every item posted from outside and from workers runs exactly once", "[post]") {
    constexpr std::size_t per_thread = 20'000;
    constexpr std::size_t outside = 3;
    constexpr std::size_t total = 2 * outside * per_thread; // each outside post posts one more
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft_test::ledger ran(total);
    std::atomic<std::size_t> finished{0};
    std::vector<std::thread> producers;
    for (std::size_t t = 0; t < outside; ++t) {
        producers.emplace_back([&, t] {
            for (std::size_t i = 0; i < per_thread; ++i) {
                const std::size_t id = t * per_thread + i;
                weft::post(pool, [&, id] {
                    ran.mark(id);
                    finished.fetch_add(1);
                    weft::post(pool, [&, id] { // from a worker: its LIFO slot, then its deque
                        ran.mark(id + outside * per_thread);
                        finished.fetch_add(1);
                    });
                });
            }
        });
    }
    for (auto& p : producers) {
        p.join();
    }
    REQUIRE(weft_test::eventually([&] { return finished.load() == total; }, 60s));
    CHECK(ran.wrong() == 0);
}

TEST_CASE("post: arguments and move-only functions are forwarded, values dropped", "[post]") {
    weft::testing::manual_scheduler s;
    int seen = 0;
    weft::post(
        s,
        [&seen, own = std::make_unique<int>(40)](std::unique_ptr<int> more, int k) { seen = *own + *more + k; },
        std::make_unique<int>(1),
        1);
    weft::post(s, [] { return std::string("dropped"); });
    CHECK(s.queued() == 2);
    CHECK(s.run_all() == 2);
    CHECK(seen == 42);
}

TEST_CASE("post: an exception goes to the unobserved handler and the scheduler goes on", "[post]") {
    unobserved_sink sink;
    SECTION("run by hand") {
        weft::testing::manual_scheduler s;
        int after = 0;
        weft::post(s, [] { throw std::runtime_error("posted boom"); });
        weft::post(s, [&after] { ++after; });
        CHECK(s.run_all() == 2);
        CHECK(after == 1);
        CHECK(sink.messages() == std::vector<std::string>{"posted boom"});
    }
    SECTION("on a pool") {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        std::promise<void> next_ran;
        weft::post(pool, [] { throw std::logic_error("pool boom"); });
        weft::post(pool, [&] { next_ran.set_value(); });
        REQUIRE(next_ran.get_future().wait_for(10s) == std::future_status::ready);
        CHECK(sink.messages() == std::vector<std::string>{"pool boom"}); // one worker: it ran first
    }
    SECTION("a posted coroutine that fails") {
        weft::testing::manual_scheduler s;
        weft::post(s, []() -> weft::task<> {
            throw std::runtime_error("coroutine boom");
            co_return;
        });
        CHECK(s.run_all() == 1);
        CHECK(sink.messages() == std::vector<std::string>{"coroutine boom"});
    }
}

TEST_CASE("post: a refused item is destroyed once, never called, and the error reaches the caller", "[post]") {
    weft_test::lifetime_counts counts;
    bool called = false;
    SECTION("a pool after shutdown") {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        pool.shutdown();
        CHECK_THROWS_AS(weft::post(pool, [&called, c = weft_test::counted(counts)] { called = true; }),
                        weft::shutdown_error);
    }
    SECTION("a closed manual scheduler") {
        weft::testing::manual_scheduler s;
        s.close();
        CHECK_THROWS_AS(weft::post(s, [&called, c = weft_test::counted(counts)] { called = true; }),
                        weft::shutdown_error);
    }
    CHECK_FALSE(called);
    CHECK(counts.alive() == 0);
}

TEST_CASE("post: discarded items are destroyed without running (cancel shutdown, discard_all)", "[post]") {
    weft_test::lifetime_counts counts;
    std::atomic<int> called{0};
    SECTION("manual_scheduler::discard_all") {
        weft::testing::manual_scheduler s;
        for (int i = 0; i < 10; ++i) {
            weft::post(s, [&called, c = weft_test::counted(counts)] { called.fetch_add(1); });
        }
        CHECK(s.discard_all() == 10);
    }
    SECTION("a pool shut down with shutdown_mode::cancel while its worker is busy") {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        std::promise<void> gate;
        std::promise<void> busy;
        weft::post(pool, [&, g = gate.get_future().share()] {
            busy.set_value();
            g.wait(); // holds the only worker (a plain wait: it runs nothing else)
        });
        busy.get_future().wait();
        for (int i = 0; i < 100; ++i) {
            weft::post(pool, [&called, c = weft_test::counted(counts)] { called.fetch_add(1); });
        }
        std::thread closer([&] { pool.shutdown(weft::shutdown_mode::cancel); });
        const bool refused = weft_test::eventually([&] {
            try {
                weft::post(pool, [] {});
                return false;
            } catch (const weft::shutdown_error&) {
                return true;
            }
        });
        gate.set_value();
        closer.join();
        CHECK(refused);
    }
    CHECK(called.load() == 0);
    CHECK(counts.alive() == 0);
}

TEST_CASE("post: bad input is refused at the call", "[post]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    void (*null_fn)() = nullptr;
    CHECK_THROWS_AS(weft::post(pool, null_fn), std::invalid_argument);
    CHECK_THROWS_AS(weft::post(pool, std::function<void()>{}), std::invalid_argument);
    CHECK_THROWS_AS(weft::post(weft::any_scheduler{}, [] {}), std::invalid_argument);
}

TEST_CASE("post: through an any_scheduler and onto a strand, in order and one at a time", "[post]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand serial{pool};
    constexpr int n = 10'000;
    std::vector<int> order;
    order.reserve(n);
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::promise<void> all;
    weft::any_scheduler handle{serial};
    for (int i = 0; i < n; ++i) {
        weft::post(handle, [&, i] {
            if (inside.fetch_add(1) != 0) {
                overlaps.fetch_add(1);
            }
            order.push_back(i);
            inside.fetch_sub(1);
            if (i == n - 1) {
                all.set_value();
            }
        });
    }
    REQUIRE(all.get_future().wait_for(20s) == std::future_status::ready);
    CHECK(overlaps.load() == 0);
    REQUIRE(order.size() == static_cast<std::size_t>(n));
    bool in_order = true;
    for (int i = 0; i < n; ++i) {
        in_order = in_order && order[static_cast<std::size_t>(i)] == i;
    }
    CHECK(in_order);
}
