// weft/amqp/message.hpp — what is published (message) and what a consumer receives (delivery).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::amqp {

/// A message body with the AMQP basic properties weft carries. Headers are string-valued.
struct message {
    std::string body{};
    std::string content_type{};
    std::string correlation_id{};
    std::string reply_to{};
    std::string message_id{};
    std::string type{};
    std::string expiration{}; ///< per-message TTL in milliseconds, as text ("60000"); empty: none
    std::vector<std::pair<std::string, std::string>> headers{};
    bool persistent = true; ///< delivery mode 2: written to disk in a durable queue
    std::uint8_t priority = 0;

    /// The value of header `name`, if present.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k == name) {
                return v;
            }
        }
        return std::nullopt;
    }
};

/// A message as a consumer receives it.
struct delivery {
    message msg{};
    std::string exchange{};
    std::string routing_key{};
    bool redelivered = false;       ///< the broker delivered it before, to this or another consumer
    std::uint64_t delivery_tag = 0; ///< the broker's tag on the channel (informational)
};

} // namespace weft::amqp
