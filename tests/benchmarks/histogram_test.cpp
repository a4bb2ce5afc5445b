// The placement benchmark's latency histogram: the percentiles it reports are within its
// stated precision (1.6%) of the exact ones, bucket edges are monotonic, merging adds counts.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "placement/histogram.hpp"

namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double q) {
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()));
    return v[std::min(rank, v.size() - 1)];
}

} // namespace

TEST_CASE("histogram: percentiles within 1.6% of the exact values") {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(11.0, 1.5); // ~60 us median, a long tail
    placement::histogram h;
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 200'000; ++i) {
        const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
        values.push_back(v);
        h.record(v);
    }
    REQUIRE(h.count() == values.size());
    REQUIRE(h.max() == *std::max_element(values.begin(), values.end()));
    for (const double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        const double exact = static_cast<double>(exact_percentile(values, q));
        const double got = static_cast<double>(h.percentile(q));
        CAPTURE(q, exact, got);
        CHECK(got >= exact);
        CHECK(got <= exact * 1.016 + 1);
    }
}

TEST_CASE("histogram: small values are exact, edges grow, empty is zero") {
    placement::histogram h;
    CHECK(h.percentile(0.5) == 0);
    for (std::uint64_t v = 0; v < 128; ++v) {
        CHECK(placement::histogram::index(v) == v);
    }
    std::uint64_t previous = 0;
    for (unsigned i = 1; i < placement::histogram::buckets; ++i) {
        const std::uint64_t edge = placement::histogram::upper_edge(i);
        REQUIRE(edge > previous);
        REQUIRE(placement::histogram::index(edge) == i);
        previous = edge;
    }
    h.record(7);
    CHECK(h.percentile(0.5) == 7);
    h.record(~std::uint64_t{0});
    CHECK(h.percentile(1.0) == ~std::uint64_t{0});
}

TEST_CASE("histogram: merging two halves gives the whole") {
    placement::histogram a, b, whole;
    for (std::uint64_t v = 1; v <= 10'000; ++v) {
        (v % 2 == 0 ? a : b).record(v * 37);
        whole.record(v * 37);
    }
    a.merge(b);
    CHECK(a.count() == whole.count());
    CHECK(a.max() == whole.max());
    for (const double q : {0.1, 0.5, 0.99}) {
        CHECK(a.percentile(q) == whole.percentile(q));
    }
}
