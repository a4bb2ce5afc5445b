// Tests for weft/detail/counters.hpp: statistics counters and their copy into the stats structs.
#include <weft/detail/counters.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {
struct sample_stats {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::uint64_t c = 0;
};
enum class sample_counter {
    a,
    b,
    c
};
constexpr weft::detail::stat_fields<sample_stats, 3> sample_fields = {
    &sample_stats::a, &sample_stats::b, &sample_stats::c};
} // namespace

TEST_CASE("a block copies each counter into the field of the same position, adding to it", "[counters]") {
    weft::detail::counter_block<sample_counter, 3> block;
    block[sample_counter::a].bump();
    block[sample_counter::b].bump(5);
    block[sample_counter::c].add(7);
    block[sample_counter::c].sub(2);
    sample_stats out;
    out.a = 100;
    block.add_to(out, sample_fields);
    CHECK(out.a == 101);
    CHECK(out.b == 5);
    CHECK(out.c == 5);
    sample_stats total;
    weft::detail::add_stats(total, out, sample_fields);
    weft::detail::add_stats(total, out, sample_fields);
    CHECK(total.a == 202);
    CHECK(total.b == 10);
    CHECK(total.c == 10);
}

TEST_CASE("add() counts every increment of many writers", "[counters]") {
    weft::detail::stat_counter counter;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&counter] {
            for (int i = 0; i < 100'000; ++i) {
                counter.add();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(counter.load() == 400'000);
}
