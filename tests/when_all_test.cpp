// Tests for weft/when_all.hpp.
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {
struct numbered_error : std::runtime_error {
    explicit numbered_error(int n) : std::runtime_error("numbered"), id(n) {}
    int id;
};
int id_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const numbered_error& n) {
        return n.id;
    } catch (...) {
        return -1;
    }
}
} // namespace

TEST_CASE("variadic when_all yields a tuple of every value, void inputs give void_result", "[when_all]") {
    weft::promise<int> a;
    weft::promise<std::string> b;
    weft::promise<void> c;
    auto all = weft::when_all(a.get_task(), b.get_task(), c.get_task());
    static_assert(std::is_same_v<decltype(all), weft::task<std::tuple<int, std::string, weft::void_result>>>);
    a.set_value(1);
    b.set_value("b");
    CHECK_FALSE(all.is_ready());
    c.set_value();
    auto [x, y, z] = all.get();
    CHECK(x == 1);
    CHECK(y == "b");
    CHECK(z == weft::void_result{});
}

TEST_CASE("when_all fails with every exception, in input order, after all inputs complete", "[when_all]") {
    std::vector<weft::promise<int>> ps(5);
    std::vector<weft::task<int>> ts;
    for (auto& p : ps) {
        ts.push_back(p.get_task());
    }
    auto all = weft::when_all(ts);
    ps[3].set_exception(std::make_exception_ptr(numbered_error(3)));
    ps[0].set_exception(std::make_exception_ptr(numbered_error(0)));
    ps[1].set_value(1);
    CHECK_FALSE(all.is_ready()); // still waiting on 2 and 4
    ps[4].set_exception(std::make_exception_ptr(numbered_error(4)));
    ps[2].set_canceled();
    try {
        (void)all.get();
        FAIL("no aggregate_error");
    } catch (const weft::aggregate_error& e) {
        REQUIRE(e.size() == 3);
        CHECK(id_of(e.exceptions()[0]) == 0);
        CHECK(id_of(e.exceptions()[1]) == 3);
        CHECK(id_of(e.exceptions()[2]) == 4);
    }
}

TEST_CASE("when_all is canceled when an input was canceled and none failed", "[when_all]") {
    weft::promise<int> a;
    weft::promise<int> b;
    auto all = weft::when_all(a.get_task(), b.get_task());
    a.set_canceled();
    b.set_value(1);
    CHECK(all.is_canceled());
}

TEST_CASE("range when_all keeps input order, empty and void ranges", "[when_all]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::vector<weft::task<int>> ts;
    for (int i = 0; i < 100; ++i) {
        ts.push_back(weft::spawn(pool, [i] { return i * i; }));
    }
    auto values = weft::when_all(ts).get();
    REQUIRE(values.size() == 100);
    for (int i = 0; i < 100; ++i) {
        CHECK(values[static_cast<std::size_t>(i)] == i * i);
    }
    CHECK(weft::when_all(std::vector<weft::task<int>>{}).get().empty());

    std::list<weft::task<void>> voids;
    voids.push_back(weft::spawn(pool, [] {}));
    voids.push_back(weft::spawn(pool, [] {}));
    weft::task<void> all_void = weft::when_all(voids);
    all_void.get();
}

TEST_CASE("when_all over 100,000 tasks completed from another thread", "[when_all]") {
    constexpr std::size_t n = 100'000;
    std::vector<weft::promise<std::size_t>> ps(n);
    std::vector<weft::task<std::size_t>> ts;
    ts.reserve(n);
    for (auto& p : ps) {
        ts.push_back(p.get_task());
    }
    auto all = weft::when_all(std::move(ts));
    std::thread setter([&] {
        for (std::size_t i = 0; i < n; ++i) {
            ps[i].set_value(i);
        }
    });
    auto values = all.get();
    setter.join();
    REQUIRE(values.size() == n);
    CHECK(values[n - 1] == n - 1);
}

TEST_CASE("when_all rejects an empty task handle", "[when_all]") {
    weft::promise<int> p;
    CHECK_THROWS_AS(weft::when_all(p.get_task(), weft::task<int>{}), weft::no_state);
    std::vector<weft::task<int>> ts{weft::task<int>{}};
    CHECK_THROWS_AS(weft::when_all(ts), weft::no_state);
    p.set_value(0);
}
