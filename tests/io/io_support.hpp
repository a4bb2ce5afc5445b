// tests/io/io_support.hpp — helpers of the I/O suites: a bounded wait, a connected pair, an
// echo loop and its client.
#pragma once

#include <weft/weft.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include "catch.hpp"
#include "support/eventually.hpp"
#include <dirent.h>
#include <unistd.h>

namespace weft_test {

using namespace std::chrono_literals;

/// Waits for `t` (at most 20 s: a hang becomes a failure) and returns get()'s result.
template<typename T>
decltype(auto) await_get(weft::task<T>& t) {
    REQUIRE(t.wait_for(20s));
    return t.get();
}
template<typename T>
decltype(auto) await_get(weft::task<T>&& t) {
    REQUIRE(t.wait_for(20s));
    return std::move(t).get();
}

/// The backend the suite was asked to run on ("uring", "epoll" or "" for automatic).
inline std::string wanted_backend() {
    const char* v = std::getenv("WEFT_IO_BACKEND");
    return v == nullptr ? std::string() : std::string(v);
}

/// How many file descriptors the process has open (entries of /proc/self/fd).
inline int open_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) {
            ++n;
        }
        ::closedir(d);
    }
    return n;
}

/// A connected pair of TCP sockets on `io` (both ends weft sockets).
struct tcp_pair {
    weft::tcp_socket client;
    weft::tcp_socket server;
};
inline tcp_pair connect_pair(weft::io_context& io, bool v6 = false) {
    auto listener = weft::tcp_listener::bind(io, v6 ? weft::endpoint::loopback_v6(0) : weft::endpoint::loopback_v4(0));
    auto accepted = listener.accept();
    auto client = await_get(weft::tcp_socket::connect(io, listener.local_endpoint()));
    auto server = await_get(std::move(accepted));
    return {std::move(client), std::move(server)};
}

/// A connected pair of UNIX stream sockets on `io`, through a listener on a fresh abstract name.
struct unix_pair {
    weft::unix_socket client;
    weft::unix_socket server;
};
inline unix_pair connect_unix_pair(weft::io_context& io) {
    static std::atomic<int> serial{0};
    const auto name = weft::unix_endpoint::abstract("weft-test-" + std::to_string(::getpid()) + "-" +
                                                    std::to_string(serial.fetch_add(1)));
    auto listener = weft::unix_listener::bind(io, name);
    auto accepted = listener.accept();
    auto client = await_get(weft::unix_socket::connect(io, name));
    auto server = await_get(std::move(accepted));
    return {std::move(client), std::move(server)};
}

/// The stream kinds the stream contract cases run on (TEMPLATE_TEST_CASE's types).
struct tcp_stream {
    static tcp_pair pair(weft::io_context& io) { return connect_pair(io); }
};
struct unix_stream {
    static unix_pair pair(weft::io_context& io) { return connect_unix_pair(io); }
};

/// The exception a task failed with, as a std::system_error code (fails the test otherwise).
template<typename T>
std::error_code error_of(weft::task<T>& t) {
    REQUIRE(t.wait_for(20s));
    try {
        t.get();
    } catch (const std::system_error& e) {
        return e.code();
    }
    FAIL("expected a std::system_error");
    return {};
}

/// Echoes what `s` (a tcp_socket or unix_socket) reads until the peer ends the stream; the byte count.
template<typename Socket>
weft::task<std::size_t> echo_until_eof(Socket s) {
    std::array<std::byte, 256> buf;
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = co_await s.read_some(buf);
        if (n == 0) {
            s.close(); // the frame (and `s`) lives as long as the task: close explicitly
            co_return total;
        }
        total += n;
        co_await s.write_all(std::span(buf.data(), n));
    }
}

/// Sends `rounds` numbered messages and reads each back; how many came back intact.
template<typename Socket>
weft::task<int> ping(Socket& c, int rounds) {
    int good = 0;
    for (int i = 0; i < rounds; ++i) {
        const std::string msg = "message " + std::to_string(i);
        co_await c.write_all(msg);
        std::string back(msg.size(), '\0');
        co_await c.read_exact(back);
        good += back == msg ? 1 : 0;
    }
    co_return good;
}

} // namespace weft_test

// The suites use the helpers by their short names.
using namespace std::chrono_literals;
using weft_test::await_get;
using weft_test::connect_pair;
using weft_test::connect_unix_pair;
using weft_test::echo_until_eof;
using weft_test::error_of;
using weft_test::eventually;
using weft_test::ping;
