// tests/io/tcp_test.cpp — TCP sockets and listeners: echo, end of stream, errors, close and
// cancel in flight, fd reuse, concurrent reads and writes on one socket. The stream cases
// (TEMPLATE_TEST_CASE) run on UNIX stream sockets too: the same contract holds for both.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "io/io_support.hpp"
#include <sys/socket.h>
#include <unistd.h>

TEST_CASE("io: TCP echo over IPv4 and IPv6 / with end of stream distinct from an error") {
    weft::io_context io;
    for (const bool v6 : {false, true}) {
        auto [client, server] = connect_pair(io, v6);
        CHECK(client.remote_endpoint().is_v6() == v6);
        CHECK(server.local_endpoint().port() == client.remote_endpoint().port());
        auto echoed = echo_until_eof(std::move(server));
        CHECK(await_get(ping(client, 200)) == 200);
        client.shutdown_send();
        std::array<char, 8> rest;
        CHECK(await_get(client.read_some(rest)) == 0); // EOF: 0, not an error
        CHECK(await_get(echoed) > 0);
    }
}

TEMPLATE_TEST_CASE("io: read_exact fails with io_errc::eof when the stream ends early",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    await_get(client.write_all(std::string_view("abc")));
    client.shutdown_send();
    std::array<char, 10> buf;
    auto t = server.read_exact(buf);
    CHECK(error_of(t) == weft::io_errc::eof);
}

TEMPLATE_TEST_CASE("io: zero-length writes and exact reads complete with 0 / closed handles fail with io_errc::closed",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    std::span<std::byte> none;
    CHECK(await_get(client.read_exact(none)) == 0);
    CHECK(await_get(client.write_all(none)) == 0);
    CHECK(await_get(client.write_some(none)) == 0);
    CHECK_THROWS_AS((void)client.read_some(none), std::invalid_argument); // 0 would mean end of stream
    client.close();
    CHECK_FALSE(client.is_open());
    client.close(); // idempotent
    try {
        std::array<char, 4> four{};
        (void)client.read_some(four);
        FAIL("expected io_errc::closed");
    } catch (const std::system_error& e) {
        CHECK(e.code() == weft::io_errc::closed);
    }
    weft::tcp_socket empty;
    CHECK_THROWS_AS((void)empty.write_some(std::string_view("x")), std::system_error);
}

TEST_CASE("io: connecting to a closed port fails with ECONNREFUSED") {
    weft::io_context io;
    weft::endpoint free_port;
    {
        auto l = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
        free_port = l.local_endpoint();
    }
    auto t = weft::tcp_socket::connect(io, free_port);
    CHECK(error_of(t) == std::errc::connection_refused);
}

TEMPLATE_TEST_CASE("io: writing to a reset peer fails with EPIPE or ECONNRESET / and SIGPIPE never kills us",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    linger lg{1, 0}; // close with RST
    ::setsockopt(server.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    server.close();
    std::vector<char> chunk(64 * 1024, 'x');
    std::error_code failure;
    for (int i = 0; i < 100 && !failure; ++i) {
        auto t = client.write_all(chunk);
        REQUIRE(t.wait_for(20s));
        if (t.is_failed()) {
            failure = error_of(t);
        }
    }
    CHECK((failure == std::errc::broken_pipe || failure == std::errc::connection_reset));
}

TEMPLATE_TEST_CASE("io: closing a socket fails its operations in flight with io_errc::closed",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    std::array<char, 16> buf;
    auto reading = server.read_some(buf);
    CHECK_FALSE(reading.is_ready());
    const auto t0 = std::chrono::steady_clock::now();
    server.close();
    CHECK(error_of(reading) == weft::io_errc::closed);
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    CHECK(reading.is_failed()); // a close is an error, not a cancellation
}

TEMPLATE_TEST_CASE("io: a token cancels a read in flight / and an already canceled token cancels at once",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    weft::cancellation_source cs;
    std::array<char, 16> buf;
    auto reading = server.read_some(buf, {.token = cs.token()});
    CHECK_FALSE(reading.is_ready());
    cs.cancel();
    REQUIRE(reading.wait_for(20s));
    CHECK(reading.is_canceled());
    CHECK_THROWS_AS(reading.get(), weft::operation_canceled);
    auto again = server.read_some(buf, {.token = cs.token()});
    REQUIRE(again.wait_for(20s));
    CHECK(again.is_canceled());
    // the socket still works after canceled reads
    await_get(client.write_all(std::string_view("hi")));
    std::array<char, 2> two;
    CHECK(await_get(server.read_exact(two)) == 2);
}

TEST_CASE("io: a reused fd number never receives an old operation's completion") {
    weft::io_context io;
    auto first = connect_pair(io);
    std::array<char, 16> old_buf{};
    auto old_read = first.server.read_some(old_buf);
    const int old_fd = first.server.native_handle();
    first.server.close();
    CHECK(error_of(old_read) == weft::io_errc::closed);
    // New sockets until one gets the old number (the lowest free fd: usually the first).
    std::vector<weft_test::tcp_pair> pairs;
    weft_test::tcp_pair* reused = nullptr;
    for (int i = 0; i < 16 && reused == nullptr; ++i) {
        pairs.push_back(connect_pair(io));
        for (auto& p : pairs) {
            if (p.server.native_handle() == old_fd || p.client.native_handle() == old_fd) {
                reused = &p;
            }
        }
    }
    REQUIRE(reused != nullptr);
    weft::tcp_socket& on_old_number = reused->server.native_handle() == old_fd ? reused->server : reused->client;
    weft::tcp_socket& peer = &on_old_number == &reused->server ? reused->client : reused->server;
    std::array<char, 5> fresh{};
    auto new_read = on_old_number.read_exact(fresh);
    await_get(peer.write_all(std::string_view("fresh")));
    CHECK(await_get(new_read) == 5);
    CHECK(std::string(fresh.data(), 5) == "fresh");
    CHECK(old_buf == std::array<char, 16>{}); // nothing was written into the old buffer
}

namespace {
template<typename Socket>
weft::task<long> pump(Socket& s, int count) {
    std::array<std::uint32_t, 1> out{};
    long sum = 0;
    for (int i = 0; i < count; ++i) {
        out[0] = static_cast<std::uint32_t>(i);
        co_await s.write_all(out);
        sum += i;
    }
    co_return sum;
}
template<typename Socket>
weft::task<long> drain(Socket& s, int count) {
    std::array<std::uint32_t, 1> in{};
    long sum = 0;
    for (int i = 0; i < count; ++i) {
        co_await s.read_exact(in);
        sum += in[0];
    }
    co_return sum;
}
} // namespace

TEMPLATE_TEST_CASE("io: reads and writes in flight together on one socket both finish (10^4 each way)",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [a, b] = TestType::pair(io);
    constexpr int n = 10'000;
    auto w1 = pump(a, n);
    auto r1 = drain(a, n);
    auto w2 = pump(b, n);
    auto r2 = drain(b, n);
    const long expect = static_cast<long>(n) * (n - 1) / 2;
    CHECK(await_get(w1) == expect);
    CHECK(await_get(w2) == expect);
    CHECK(await_get(r1) == expect);
    CHECK(await_get(r2) == expect);
}
