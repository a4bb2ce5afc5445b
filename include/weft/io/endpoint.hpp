// weft/io/endpoint.hpp — an IPv4 or IPv6 address and port (numeric; no name resolution).
// Design note: none beyond the class comments; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace weft {

/// A socket address: IPv4 or IPv6, numeric host, port in host byte order.
/// `endpoint::parse("::1", 8080)`, `endpoint::loopback_v4(0)` (port 0: the kernel picks one).
///
/// Thread safety: a value type.
/// Exceptions:    parse() throws std::invalid_argument for a host that is not a numeric
///                IPv4 or IPv6 address.
class endpoint {
public:
    endpoint() noexcept { std::memset(&storage_, 0, sizeof storage_); }

    static endpoint parse(std::string_view host, std::uint16_t port) {
        endpoint e;
        const std::string h(host);
        if (::inet_pton(AF_INET, h.c_str(), &e.v4().sin_addr) == 1) {
            e.v4().sin_family = AF_INET;
            e.v4().sin_port = htons(port);
            e.size_ = sizeof(sockaddr_in);
            return e;
        }
        if (::inet_pton(AF_INET6, h.c_str(), &e.v6().sin6_addr) == 1) {
            e.v6().sin6_family = AF_INET6;
            e.v6().sin6_port = htons(port);
            e.size_ = sizeof(sockaddr_in6);
            return e;
        }
        throw std::invalid_argument("weft: not a numeric IPv4 or IPv6 address: " + h);
    }
    static endpoint loopback_v4(std::uint16_t port) { return parse("127.0.0.1", port); }
    static endpoint loopback_v6(std::uint16_t port) { return parse("::1", port); }
    static endpoint any_v4(std::uint16_t port) { return parse("0.0.0.0", port); }
    static endpoint any_v6(std::uint16_t port) { return parse("::", port); }

    /// From a kernel-filled address (accept, recvfrom, getsockname).
    static endpoint from_native(const sockaddr* sa, socklen_t len) noexcept {
        endpoint e;
        if (len > sizeof e.storage_) {
            len = sizeof e.storage_;
        }
        std::memcpy(&e.storage_, sa, len);
        e.size_ = len;
        return e;
    }

    bool is_v4() const noexcept { return storage_.ss_family == AF_INET; }
    bool is_v6() const noexcept { return storage_.ss_family == AF_INET6; }
    int family() const noexcept { return storage_.ss_family; }
    std::uint16_t port() const noexcept {
        if (is_v4()) {
            return ntohs(v4c().sin_port);
        }
        return is_v6() ? ntohs(v6c().sin6_port) : std::uint16_t{0};
    }
    /// "127.0.0.1:80", "[::1]:80"; "(none)" for an empty endpoint.
    std::string to_string() const {
        char buf[INET6_ADDRSTRLEN] = {};
        if (is_v4()) {
            ::inet_ntop(AF_INET, &v4c().sin_addr, buf, sizeof buf);
            return std::string(buf) + ":" + std::to_string(port());
        }
        if (is_v6()) {
            ::inet_ntop(AF_INET6, &v6c().sin6_addr, buf, sizeof buf);
            return "[" + std::string(buf) + "]:" + std::to_string(port());
        }
        return "(none)";
    }

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t size() const noexcept { return size_; }

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept {
        return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
    }

private:
    sockaddr_in& v4() noexcept { return reinterpret_cast<sockaddr_in&>(storage_); }
    sockaddr_in6& v6() noexcept { return reinterpret_cast<sockaddr_in6&>(storage_); }
    const sockaddr_in& v4c() const noexcept { return reinterpret_cast<const sockaddr_in&>(storage_); }
    const sockaddr_in6& v6c() const noexcept { return reinterpret_cast<const sockaddr_in6&>(storage_); }

    sockaddr_storage storage_;
    socklen_t size_ = 0;
};

} // namespace weft
