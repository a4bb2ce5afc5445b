// weft/amqp/options.hpp — how to reach the broker (connection_options, from a URL or the
// environment) and the options of each operation: declare, publish, consume, call.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/scheduler.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::amqp {

/// TLS to the broker through rabbitmq-c's OpenSSL socket.
struct tls_options {
    bool enabled = false;
    std::string ca_file{};   ///< PEM file of the CA(s) that signed the broker's certificate
    std::string cert_file{}; ///< client certificate (PEM), with key_file; empty: none
    std::string key_file{};
    bool verify_peer = true;     ///< check the broker's certificate against ca_file
    bool verify_hostname = true; ///< check that the certificate names `host`
};

/// Where the broker is and how the connection behaves. Credentials are never written to a log or
/// an exception's what().
struct connection_options {
    std::string host = "127.0.0.1";
    int port = 5672;
    std::string vhost = "/";
    std::string user = "guest";
    std::string password = "guest";
    tls_options tls{};
    std::chrono::seconds heartbeat{10}; ///< 0: none (a dead peer is then found only by TCP)
    std::chrono::milliseconds connect_timeout{5000};
    /// How long a declare, bind or consume waits for the broker's reply before the connection is
    /// treated as lost.
    std::chrono::milliseconds operation_timeout{30000};
    std::chrono::milliseconds reconnect_min{100};  ///< first back-off after a drop, doubling...
    std::chrono::milliseconds reconnect_max{5000}; ///< ...up to this
    std::string name{};                            ///< shown by the broker as the connection's name

    /// "amqp://user:password@host:port/vhost" or "amqps://..." (TLS, port 5671 by default).
    /// Percent-escapes are decoded; "/" as the vhost is written "%2f". Throws
    /// std::invalid_argument naming the part that is wrong, never echoing the URL.
    static connection_options from_url(std::string_view url);
    /// from_url(getenv(var)); std::invalid_argument if the variable is not set.
    static connection_options from_environment(const char* var = "WEFT_AMQP_URL") {
        const char* v = std::getenv(var);
        if (v == nullptr || *v == '\0') {
            throw std::invalid_argument(std::string("weft::amqp: environment variable ") + var + " is not set");
        }
        return from_url(v);
    }
};

/// queue.declare. An empty name asks the broker for a server-named queue.
struct queue_options {
    bool durable = true;
    bool exclusive = false;
    bool auto_delete = false;
    bool passive = false; ///< only check that it exists (404 -> amqp_error channel_closed)
    std::optional<std::int64_t> max_length{};
    std::optional<std::chrono::milliseconds> message_ttl{};
    /// At max_length, refuse new messages (their publishes fail with errc::nacked) instead of
    /// dropping the oldest (x-overflow = reject-publish).
    bool reject_when_full = false;
};

struct queue_info {
    std::string name{}; ///< the broker's name for a server-named queue
    std::uint32_t message_count = 0;
    std::uint32_t consumer_count = 0;
};

enum class exchange_type {
    direct,
    fanout,
    topic,
    headers
};

struct exchange_options {
    bool durable = true;
    bool auto_delete = false;
    bool passive = false;
};

struct publish_options {
    /// Fail with errc::unroutable when no queue takes the message (basic.return).
    bool mandatory = false;
    /// How long to wait for the broker's confirm; zero: no limit. On timeout_error or a cancel
    /// the message may still have been delivered: only an ack says it was taken.
    std::chrono::milliseconds timeout{0};
    cancellation_token token{};
};

struct consume_options {
    /// Unacknowledged deliveries at most (basic.qos): the back-pressure. 1..65535; never 0
    /// (unlimited), which is rejected with std::invalid_argument.
    std::uint16_t prefetch = 64;
    /// Where handlers run; empty: the connection's scheduler.
    any_scheduler scheduler{};
    bool exclusive = false;
    /// A handler that fails: requeue the message (true) or drop / dead-letter it (false).
    bool requeue_on_failure = true;
};

struct call_options {
    std::chrono::milliseconds timeout{30000}; ///< zero: no limit
    cancellation_token token{};
};

namespace detail {

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

inline std::string url_decode(std::string_view s, const char* part) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            throw std::invalid_argument(std::string("weft::amqp: bad percent-escape in the URL's ") + part);
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

} // namespace detail

inline connection_options connection_options::from_url(std::string_view url) {
    connection_options o;
    std::string_view rest;
    if (url.starts_with("amqp://")) {
        rest = url.substr(7);
    } else if (url.starts_with("amqps://")) {
        rest = url.substr(8);
        o.tls.enabled = true;
        o.port = 5671;
    } else {
        throw std::invalid_argument("weft::amqp: an AMQP URL starts with amqp:// or amqps://");
    }
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        const std::string_view vhost = rest.substr(slash + 1);
        if (vhost.find_first_of("/?#") != std::string_view::npos) {
            throw std::invalid_argument("weft::amqp: the URL's vhost must be one path segment (write / as %2f)");
        }
        o.vhost = vhost.empty() ? std::string("/") : detail::url_decode(vhost, "vhost");
    }
    std::string_view hostport = authority;
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        hostport = authority.substr(at + 1);
        const auto colon = userinfo.find(':');
        o.user = detail::url_decode(userinfo.substr(0, colon), "user");
        o.password = colon == std::string_view::npos ? std::string{}
                                                     : detail::url_decode(userinfo.substr(colon + 1), "password");
    }
    std::string_view host = hostport;
    if (!hostport.empty() && hostport.front() == '[') { // [v6]:port
        const auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            throw std::invalid_argument("weft::amqp: the URL's host has an unclosed [");
        }
        host = hostport.substr(1, close - 1);
        hostport = hostport.substr(close + 1);
        if (!hostport.empty() && hostport.front() != ':') {
            throw std::invalid_argument("weft::amqp: the URL has text after the host");
        }
    } else if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        host = hostport.substr(0, colon);
        hostport = hostport.substr(colon);
    } else {
        hostport = {};
    }
    if (!hostport.empty()) { // ":port"
        const std::string_view digits = hostport.substr(1);
        int port = 0;
        for (char c : digits) {
            if (c < '0' || c > '9' || port > 65535) {
                throw std::invalid_argument("weft::amqp: the URL's port is not a number from 1 to 65535");
            }
            port = port * 10 + (c - '0');
        }
        if (digits.empty() || port < 1 || port > 65535) {
            throw std::invalid_argument("weft::amqp: the URL's port is not a number from 1 to 65535");
        }
        o.port = port;
    }
    if (!host.empty()) {
        o.host = detail::url_decode(host, "host");
    }
    return o;
}

} // namespace weft::amqp
