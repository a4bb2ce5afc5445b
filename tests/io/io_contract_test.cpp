// tests/io/io_contract_test.cpp — the outcome table of docs/guide/io.md ("What ends an
// operation"), row by row, and the partial-progress rules: end of stream is never lost, a
// canceled exact read gives its bytes back to the stream, a canceled exact write says how much
// went out. The stream cases (TEMPLATE_TEST_CASE) run on TCP and on UNIX stream sockets.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <cerrno>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/io_support.hpp"

namespace {

// A buffer must outlive its operation: temporaries are rejected at compile time, lvalues and
// views (whose bytes live elsewhere) are accepted, for every transfer of every handle.
template<typename Buffer>
concept readable_into = requires(weft::tcp_socket& s, weft::udp_socket& u, weft::file& f, Buffer&& b) {
    s.read_some(std::forward<Buffer>(b));
    s.read_exact(std::forward<Buffer>(b));
    u.receive_from(std::forward<Buffer>(b));
    f.read_at(0, std::forward<Buffer>(b));
    f.read_exact_at(0, std::forward<Buffer>(b));
};
template<typename Buffer>
concept writable_from = requires(weft::tcp_socket& s, weft::udp_socket& u, weft::file& f, Buffer&& b) {
    s.write_some(std::forward<Buffer>(b));
    s.write_all(std::forward<Buffer>(b));
    u.send_to(std::forward<Buffer>(b), weft::endpoint::loopback_v4(1));
    f.write_at(0, std::forward<Buffer>(b));
    f.write_all_at(0, std::forward<Buffer>(b));
};
static_assert(readable_into<std::array<char, 4>&>);
static_assert(readable_into<std::vector<std::byte>&>);
static_assert(readable_into<std::span<char>>);
static_assert(!readable_into<std::array<char, 4>>);
static_assert(!readable_into<std::vector<std::byte>>);
static_assert(!readable_into<std::string>);
static_assert(writable_from<const std::string&>);
static_assert(writable_from<std::string_view>);
static_assert(writable_from<std::span<const std::byte>>);
static_assert(!writable_from<std::string>);
static_assert(!writable_from<std::vector<char>>);

/// Runs two no-ops, one after the other, on the I/O thread of `io` (these tests use one) and
/// waits for them: that thread has polled its backend at least once since the call, so
/// readiness that was pending has been harvested.
void let_io_poll(weft::io_context& io) {
    for (int i = 0; i < 2; ++i) {
        await_get(weft::spawn(io, [] {}));
    }
}

} // namespace

/// A pair whose server has waited for readability once (epoll: its socket is registered), and
/// whose client then sent "0123456789" and ended its stream; the I/O thread has consumed the
/// edge that carried both before the test's next read.
template<typename Stream>
auto pair_with_data_and_fin(weft::io_context& io) {
    auto pair = Stream::pair(io);
    std::array<char, 1> one{};
    auto first = pair.server.read_some(one);
    await_get(pair.client.write_all(std::string_view("x")));
    CHECK(await_get(first) == 1);
    await_get(pair.client.write_all(std::string_view("0123456789")));
    pair.client.shutdown_send();
    let_io_poll(io);
    return pair;
}

TEMPLATE_TEST_CASE("io contract: end of stream that arrived with the last bytes is not lost",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = pair_with_data_and_fin<TestType>(io);
    std::array<char, 64> buf{};
    CHECK(await_get(server.read_some(buf)) == 10); // short: epoll took the socket as drained
    for (int round = 0; round < 3; ++round) {      // every read after it sees the end
        CHECK(await_get(server.read_some(buf)) == 0);
    }
}

TEMPLATE_TEST_CASE("io contract: an exact read that meets end of stream after the last bytes fails with eof",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = pair_with_data_and_fin<TestType>(io);
    std::array<char, 64> buf{};
    CHECK(await_get(server.read_some(std::span(buf.data(), 4))) == 4); // a full read: not short
    std::array<char, 20> rest{};
    auto exact = server.read_exact(rest);
    CHECK(error_of(exact) == weft::io_errc::eof);
}

TEST_CASE("io contract: a closed handle holds nothing of its context once the context is gone") {
    const int before = weft_test::open_fds();
    {
        weft::tcp_socket client;
        weft::tcp_socket server;
        weft::tcp_listener listener;
        weft::udp_socket udp;
        weft::file file;
        {
            weft::io_context io;
            auto pair = connect_pair(io);
            client = std::move(pair.client);
            server = std::move(pair.server);
            listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
            udp = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
            file = await_get(weft::file::open(io, "/proc/self/stat", O_RDONLY));
            CHECK(weft_test::open_fds() > before);
            client.close();
            server.close();
            listener.close();
            udp.close();
            file.close();
        }
        // the handle objects still exist; the context's ring or epoll set and eventfd are gone
        CHECK(weft_test::open_fds() == before);
    }
    CHECK(weft_test::open_fds() == before);
}

namespace {
// The documented syntax: op_options built in braces inside co_await (g++ 12 destroys that
// temporary twice; the options must survive it).
weft::task<std::size_t> read_with_braced_options(weft::tcp_socket& s, std::span<char> buf, weft::cancellation_token t) {
    std::size_t total = 0;
    total += co_await s.read_some(buf, {.token = t});
    total += co_await s.read_some(buf, {.token = t, .policy = weft::io_policy::inline_on_io()});
    total += co_await s.read_exact(buf.first(1), weft::op_options{.token = t});
    co_return total;
}
} // namespace

TEST_CASE("io contract: op_options braced inside co_await are destroyed safely (tokens and policies)") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    weft::cancellation_source cs;
    std::array<char, 4> buf{};
    for (int round = 0; round < 50; ++round) {
        auto reading = read_with_braced_options(server, buf, cs.token());
        for (int i = 0; i < 3; ++i) {
            await_get(client.write_all(std::string_view("abcd").substr(0, i == 2 ? 1 : 4)));
            if (i < 2) {
                await_get(weft::spawn(io, [] {})); // one read per write: the first two take all 4 bytes
            }
        }
        CHECK(await_get(reading) == 9);
    }
}

namespace {

/// `n` bytes of a position-dependent pattern starting at stream offset `from`.
std::vector<char> pattern(std::size_t from, std::size_t n) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<char>((from + i) * 7 % 251);
    }
    return v;
}

/// The exception a task ended with, as E (fails the test if it ended otherwise).
template<typename E, typename T>
E outcome_of(weft::task<T>& t) {
    REQUIRE(t.wait_for(20s));
    try {
        t.get();
    } catch (const E& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("unexpected exception: " << e.what());
    }
    FAIL("expected an exception");
    throw std::logic_error("unreachable");
}

} // namespace

TEMPLATE_TEST_CASE("io contract: a canceled read_exact gives its bytes back: the next reads see the stream intact",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    std::size_t sent = 0;
    std::size_t received = 0;
    for (int round = 0; round < 40; ++round) {
        const std::size_t early = 1 + static_cast<std::size_t>(round) * 3 % 60; // arrives before the cancel
        const auto head = pattern(sent, early);
        await_get(client.write_all(head));
        sent += early;
        weft::cancellation_source cs;
        std::vector<char> big(100);
        auto exact = server.read_exact(big, {.token = cs.token()});
        let_io_poll(io); // the early bytes are in the read (or still in the socket)
        std::vector<char> behind(7);
        auto queued = server.read_some(behind); // waits behind the exact read (FIFO)
        cs.cancel();
        const auto canceled = outcome_of<weft::transfer_canceled>(exact);
        CHECK(canceled.transferred() == 0); // nothing consumed: the bytes went back to the socket
        CHECK(exact.is_canceled());
        // the read queued behind it takes the bytes given back first
        const std::size_t got = await_get(queued);
        REQUIRE(got >= 1);
        CHECK(std::vector<char>(behind.begin(), behind.begin() + static_cast<std::ptrdiff_t>(got)) ==
              pattern(received, got));
        received += got;
        // then an exact read takes the rest given back and, after it, what the socket has
        const std::size_t more = 50;
        const auto tail = pattern(sent, more);
        await_get(client.write_all(tail));
        sent += more;
        std::vector<char> rest(sent - received);
        CHECK(await_get(server.read_exact(rest)) == rest.size());
        CHECK(rest == pattern(received, rest.size()));
        received += rest.size();
    }
}

TEMPLATE_TEST_CASE("io contract: a canceled write_all says how many bytes went out, and exactly those arrive",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    auto [client, server] = TestType::pair(io);
    const auto payload = pattern(0, 16 << 20); // far more than the socket buffers hold
    weft::cancellation_source cs;
    auto writing = client.write_all(payload, {.token = cs.token()});
    let_io_poll(io);
    REQUIRE_FALSE(writing.is_ready()); // the peer reads nothing: the write waits for room
    cs.cancel();
    const auto canceled = outcome_of<weft::transfer_canceled>(writing);
    CHECK(writing.is_canceled());
    CHECK(canceled.transferred() > 0);
    CHECK(canceled.transferred() < payload.size());
    client.shutdown_send();
    std::vector<char> got;
    std::vector<char> buf(1 << 16);
    for (;;) {
        const std::size_t n = await_get(server.read_some(buf));
        if (n == 0) {
            break;
        }
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
    CHECK(got.size() == canceled.transferred());
    CHECK(got == pattern(0, got.size()));
}

TEMPLATE_TEST_CASE("io contract: a transfer that fails says how many bytes it moved (eof, closed, an errno)",
                   "",
                   weft_test::tcp_stream,
                   weft_test::unix_stream) {
    weft::io_context io;
    SECTION("read_exact meets end of stream after 3 bytes") {
        auto [client, server] = TestType::pair(io);
        await_get(client.write_all(std::string_view("abc")));
        client.shutdown_send();
        std::array<char, 10> buf{};
        auto t = server.read_exact(buf);
        const auto e = outcome_of<weft::transfer_error>(t);
        CHECK(e.code() == weft::io_errc::eof);
        CHECK(e.transferred() == 3);
        CHECK(t.is_failed());
        CHECK(std::string_view(buf.data(), 3) == "abc");
    }
    SECTION("a socket closed under read_exact, after 5 bytes") {
        auto [client, server] = TestType::pair(io);
        await_get(client.write_all(std::string_view("12345")));
        std::array<char, 10> buf{};
        auto t = server.read_exact(buf);
        let_io_poll(io);
        REQUIRE_FALSE(t.is_ready());
        server.close();
        const auto e = outcome_of<weft::transfer_error>(t);
        CHECK(e.code() == weft::io_errc::closed);
        CHECK(e.transferred() <= 5); // (0 if the bytes had not reached the read yet)
        CHECK(t.is_failed());        // a close is a failure, not a cancellation
    }
    SECTION("a write to a peer that reset fails with the errno") {
        auto [client, server] = TestType::pair(io);
        const linger hard{1, 0};
        ::setsockopt(server.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        server.close(); // RST
        const auto chunk = pattern(0, 1 << 16);
        std::error_code code;
        for (int i = 0; i < 100 && !code; ++i) {
            auto t = client.write_all(chunk);
            REQUIRE(t.wait_for(20s));
            if (t.is_failed()) {
                const auto e = outcome_of<weft::transfer_error>(t);
                code = e.code();
                CHECK(e.transferred() <= chunk.size());
            }
        }
        CHECK((code == std::errc::broken_pipe || code == std::errc::connection_reset));
    }
}

TEST_CASE("io contract: the outcomes of shutdown, of a handle closed before the call, of bad arguments") {
    std::array<char, 8> buf{};
    weft::tcp_socket kept;
    weft::task<std::size_t> in_flight;
    {
        weft::io_context io;
        auto pair = connect_pair(io);
        weft::tcp_socket& server = pair.server; // (clang 14 cannot capture a structured binding)
        in_flight = server.read_some(buf);
        kept = std::move(pair.client);
        std::span<char> none;
        CHECK_THROWS_AS((void)server.read_some(none), std::invalid_argument);
        weft::file f = await_get(weft::file::open(io, "/proc/self/stat", O_RDONLY));
        CHECK_THROWS_AS((void)f.read_at(0, none), std::invalid_argument);
        CHECK(await_get(f.read_exact_at(0, none)) == 0);
        server.close();
        const auto closed = [&] {
            try {
                (void)server.read_some(buf);
            } catch (const std::system_error& e) {
                return e.code();
            }
            return std::error_code{};
        }();
        CHECK(closed == weft::io_errc::closed);
    } // ~io_context: the read in flight ends canceled
    REQUIRE(in_flight.wait_for(20s));
    CHECK((in_flight.is_canceled() || in_flight.is_failed())); // canceled, or closed first by server.close()
    CHECK_THROWS_AS((void)kept.read_some(buf), weft::shutdown_error);
}

TEST_CASE("io contract: the io_context's shutdown cancels an operation in flight") {
    std::array<char, 8> buf{};
    weft::tcp_socket client_kept; // (a client closed first would end the read with end of stream)
    weft::tcp_socket server_kept;
    weft::task<std::size_t> in_flight;
    {
        weft::io_context io;
        auto pair = connect_pair(io);
        client_kept = std::move(pair.client);
        server_kept = std::move(pair.server);
        in_flight = server_kept.read_some(buf);
        let_io_poll(io);
    }
    REQUIRE(in_flight.wait_for(20s));
    CHECK(in_flight.is_canceled());
    const auto e = outcome_of<weft::transfer_canceled>(in_flight);
    CHECK(e.transferred() == 0);
}

TEST_CASE("io contract: end of file: read_at returns 0, read_exact_at fails with eof and its count") {
    weft::io_context io;
    weft::file f = await_get(weft::file::open(io, "/proc/self/cmdline", O_RDONLY));
    std::vector<char> whole(1 << 16);
    const std::size_t size = await_get(f.read_at(0, whole));
    REQUIRE(size > 0);
    CHECK(await_get(f.read_at(size, whole)) == 0);
    std::vector<char> more(size + 10);
    auto t = f.read_exact_at(0, more);
    const auto e = outcome_of<weft::transfer_error>(t);
    CHECK(e.code() == weft::io_errc::eof);
    CHECK(e.transferred() == size);
}

TEST_CASE("io contract: io_stats counts the operations a token or a close ended") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    const auto canceled_before = io.stats().total().canceled;
    std::array<char, 8> buf{};
    weft::cancellation_source cs;
    auto by_token = server.read_some(buf, {.token = cs.token()});
    let_io_poll(io);
    cs.cancel();
    REQUIRE(by_token.wait_for(20s));
    CHECK(by_token.is_canceled());
    auto by_close = client.read_some(buf);
    let_io_poll(io);
    client.close();
    REQUIRE(by_close.wait_for(20s));
    CHECK(by_close.is_failed());
    let_io_poll(io); // io_stats are exact once the reactor is quiet
    CHECK(io.stats().total().canceled - canceled_before == 2);
}
