// weft/fmt.hpp — fmt::formatter specialisations for weft's enums and statistics (opt-in:
// link weft::fmt; no other weft header includes fmt).
// Design note: none; formats are stable, lower-case words.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/placement.hpp>
#include <weft/task.hpp>

#include <string_view>

#include <fmt/format.h>

namespace weft {

constexpr std::string_view to_string(task_status s) noexcept {
    switch (s) {
    case task_status::pending:
        return "pending";
    case task_status::running:
        return "running";
    case task_status::succeeded:
        return "succeeded";
    case task_status::failed:
        return "failed";
    case task_status::canceled:
        return "canceled";
    }
    return "unknown";
}

constexpr std::string_view to_string(placement_rule r) noexcept {
    switch (r) {
    case placement_rule::named:
        return "named";
    case placement_rule::source:
        return "source";
    case placement_rule::captured:
        return "captured";
    case placement_rule::completing:
        return "completing";
    }
    return "unknown";
}

} // namespace weft

template<>
struct fmt::formatter<weft::task_status> : fmt::formatter<std::string_view> {
    template<typename Ctx>
    auto format(weft::task_status s, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(weft::to_string(s), ctx);
    }
};

template<>
struct fmt::formatter<weft::placement_rule> : fmt::formatter<std::string_view> {
    template<typename Ctx>
    auto format(weft::placement_rule r, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(weft::to_string(r), ctx);
    }
};

template<>
struct fmt::formatter<weft::placement_stats> {
    constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
    template<typename Ctx>
    auto format(const weft::placement_stats& s, Ctx& ctx) const {
        return fmt::format_to(ctx.out(),
                              "inline {} (named {}, source {}, captured {}, completing {}), hops {} "
                              "(named {}, source {}, captured {}), deferred {}, refused {}",
                              s.inline_runs(),
                              s.named_inline,
                              s.source_inline,
                              s.captured_inline,
                              s.completing_inline,
                              s.hops(),
                              s.named_hop,
                              s.source_hop,
                              s.captured_hop,
                              s.deferred,
                              s.refused);
    }
};
