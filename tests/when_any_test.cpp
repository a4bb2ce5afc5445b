// Tests for weft/when_any.hpp.
#include <weft/promise.hpp>
#include <weft/when_any.hpp>

#include <stdexcept>
#include <vector>

#include "catch.hpp"

TEST_CASE("when_any reports the first input to complete, with its index", "[when_any]") {
    std::vector<weft::promise<int>> ps(3);
    std::vector<weft::task<int>> ts;
    for (auto& p : ps) {
        ts.push_back(p.get_task());
    }
    auto any = weft::when_any(ts);
    CHECK_FALSE(any.is_ready());
    ps[2].set_value(22);
    auto r = any.get();
    CHECK(r.index == 2);
    CHECK(r.winner.get() == 22);
    ps[0].set_value(0); // late inputs change nothing and touch no freed memory
    ps[1].set_exception(std::make_exception_ptr(std::runtime_error("late")));
    CHECK(any.get().index == 2);
    CHECK_THROWS(ts[1].get()); // observe the late error
}

TEST_CASE("when_any succeeds even when the winner failed, the winner carries the error", "[when_any]") {
    weft::promise<int> a;
    weft::promise<double> b;
    auto any = weft::when_any(a.get_task(), b.get_task());
    b.set_exception(std::make_exception_ptr(std::logic_error("first")));
    auto r = any.get();
    CHECK(r.index == 1);
    CHECK_THROWS_AS(std::get<1>(r.tasks).get(), std::logic_error);
    a.set_value(1);
}

TEST_CASE("when_any of an already-complete input completes at once", "[when_any]") {
    weft::promise<int> done;
    done.set_value(5);
    weft::promise<int> never;
    auto any = weft::when_any(never.get_task(), done.get_task());
    CHECK(any.is_ready());
    CHECK(any.get().index == 1);
    never.set_canceled();
}

TEST_CASE("when_any rejects an empty range and empty handles", "[when_any]") {
    CHECK_THROWS_AS(weft::when_any(std::vector<weft::task<int>>{}), std::invalid_argument);
    CHECK_THROWS_AS(weft::when_any(weft::task<int>{}), weft::no_state);
}
