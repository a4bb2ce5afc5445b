// tests/io/io_contract_test.cpp — the outcome table of docs/guide/io.md ("What ends an
// operation"), row by row, and the partial-progress rules: end of stream is never lost, a
// canceled exact read gives its bytes back to the stream, a canceled exact write says how much
// went out. Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <cerrno>
#include <numeric>
#include <span>
#include <string_view>
#include <utility>
#include <string>
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

/// Runs a no-op on every I/O thread of `io` and waits for it: each thread has polled its
/// backend at least once since the call (so readiness that was pending has been harvested).
void let_io_poll(weft::io_context& io) {
    for (int i = 0; i < 2; ++i) {
        await_get(io.post([] {}));
    }
}

} // namespace

TEST_CASE("io contract: end of stream that arrived with the last bytes is not lost") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    std::array<char, 64> buf{};
    // The server has waited for readability once (epoll: its socket is registered).
    auto first = server.read_some(buf);
    await_get(client.write_all(std::string_view("x")));
    CHECK(await_get(first) == 1);
    for (int round = 0; round < 3; ++round) { // a second and third read after EOF see it too
        if (round == 0) {
            await_get(client.write_all(std::string_view("0123456789")));
            client.shutdown_send();
            let_io_poll(io); // the edge carrying the data and the FIN is consumed before the read
            CHECK(await_get(server.read_some(buf)) == 10);
        }
        CHECK(await_get(server.read_some(buf)) == 0);
    }
}

TEST_CASE("io contract: an exact read that meets end of stream after the last bytes fails with eof") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    std::array<char, 64> buf{};
    auto first = server.read_some(buf);
    await_get(client.write_all(std::string_view("x")));
    CHECK(await_get(first) == 1);
    await_get(client.write_all(std::string_view("0123456789")));
    client.shutdown_send();
    let_io_poll(io);
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
                await_get(io.post([] {})); // one read per write: the first two take all 4 bytes
            }
        }
        CHECK(await_get(reading) == 9);
    }
}
