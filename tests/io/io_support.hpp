// tests/io/io_support.hpp — helpers of the I/O suites: a bounded wait, a connected pair.
#pragma once

#include "catch.hpp"

#include <weft/weft.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

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
/// True once `pred` holds, polling for up to 10 s: for statistics an I/O thread folds in at
/// its next loop turn (exact once it is quiet), never for behaviour.
template<typename Pred>
bool eventually(Pred pred) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > give_up) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

inline std::string wanted_backend() {
    const char* v = std::getenv("WEFT_IO_BACKEND");
    return v == nullptr ? std::string() : std::string(v);
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

}  // namespace weft_test
