// Tests for weft/fmt.hpp.
#include <weft/fmt.hpp>

#include "catch.hpp"

TEST_CASE("task_status, placement_rule and placement_stats format as words", "[fmt]") {
    CHECK(fmt::format("{}", weft::task_status::canceled) == "canceled");
    CHECK(fmt::format("{:>8}", weft::task_status::failed) == "  failed");
    CHECK(fmt::format("{}", weft::placement_rule::captured) == "captured");
    weft::placement_stats s;
    s.named_hop = 2;
    s.completing_inline = 3;
    const auto text = fmt::format("{}", s);
    CHECK(text.find("inline 3") == 0);
    CHECK(text.find("hops 2") != std::string::npos);
}
