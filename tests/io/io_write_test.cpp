// tests/io/io_write_test.cpp — writes started off the I/O thread (io_options::writes_on_caller):
// sent on the calling thread when nothing is pending, never overtaking a pending write, the
// write order kept by concurrent writers, and the switch that turns it off. (Errors on this
// path: io_test's reset-peer case writes from the test thread, so through it.)
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "io/io_support.hpp"

using namespace std::chrono_literals;
using weft_test::await_get;
using weft_test::connect_pair;

namespace {

std::string read_all(weft::tcp_socket& s, std::size_t n) {
    std::string got(n, '\0');
    REQUIRE(await_get(s.read_exact(got)) == n);
    return got;
}

/// A write bigger than loopback's socket buffers together (so part of it must wait).
constexpr std::size_t big_write = 32u << 20;

} // namespace

TEST_CASE("io: a write from another thread completes on that thread when nothing is pending") {
    weft::io_context io;
    auto p = connect_pair(io);
    const auto before = io.stats().total().writes_on_caller;
    const std::string hello = "hello";
    auto w = p.client.write_all(hello);
    CHECK(w.is_ready()); // sent here: no hand-over, no hop
    CHECK(await_get(w) == 5);
    CHECK(io.stats().total().writes_on_caller == before + 1);
    CHECK(read_all(p.server, 5) == "hello");
    // write_some too; and a canceled token is honoured before anything is sent
    auto w2 = p.client.write_some(hello);
    CHECK(w2.is_ready());
    CHECK(await_get(w2) == 5);
    weft::cancellation_source src;
    src.cancel();
    auto w3 = p.client.write_all(hello, {.token = src.token()});
    REQUIRE(w3.wait_for(20s));
    CHECK(w3.is_canceled());
    CHECK(read_all(p.server, 5) == "hello");
}

TEST_CASE("io: a write behind a pending one waits for it / the stream keeps the order") {
    for (const bool on_caller : {true, false}) { // false: both writes queue in the reactor
        CAPTURE(on_caller);
        weft::io_context io{weft::io_options{.writes_on_caller = on_caller}};
        auto p = connect_pair(io);
        const std::string first(big_write, 'a');
        const std::string second(1000, 'b');
        std::string got(big_write + second.size(), '\0');
        auto r = p.server.read_exact(got);
        auto w1 = p.client.write_all(first); // part sent at once, the rest pending
        CHECK_FALSE(w1.is_ready());
        auto w2 = p.client.write_all(second); // must not be sent before that rest
        CHECK(await_get(w1) == first.size());
        CHECK(await_get(w2) == second.size());
        CHECK(await_get(r) == got.size());
        CHECK(got.find_first_not_of('a') == big_write); // all of the first, then the second
        CHECK(got.substr(big_write) == second);
    }
}

TEST_CASE("io: writers on several threads never interleave inside one write_all") {
    const bool on_caller = GENERATE(true, false);
    CAPTURE(on_caller);
    weft::io_context io{weft::io_options{.threads = 2, .writes_on_caller = on_caller}};
    auto p = connect_pair(io);
    constexpr int writers = 4, per_writer = 200;
    constexpr std::size_t message = 20'000; // several messages fill the buffers: some wait
    std::vector<std::string> messages;
    for (int i = 0; i < writers; ++i) {
        messages.emplace_back(message, static_cast<char>('A' + i));
    }
    std::atomic<int> go{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < writers; ++i) {
        threads.emplace_back([&, i] {
            go.fetch_add(1);
            while (go.load() < writers) {
            }
            for (int k = 0; k < per_writer; ++k) {
                REQUIRE(await_get(p.client.write_all(messages[static_cast<std::size_t>(i)])) == message);
            }
        });
    }
    std::vector<int> seen(writers, 0);
    std::string got(message, '\0');
    for (int m = 0; m < writers * per_writer; ++m) {
        REQUIRE(await_get(p.server.read_exact(got)) == message);
        const char c = got.front();
        REQUIRE(c >= 'A');
        REQUIRE(c < 'A' + writers);
        REQUIRE(std::all_of(got.begin(), got.end(), [c](char x) { return x == c; })); // whole, not interleaved
        ++seen[static_cast<std::size_t>(c - 'A')];
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const int n : seen) {
        CHECK(n == per_writer);
    }
}

TEST_CASE("io: writes_on_caller = false sends every write through the I/O thread") {
    weft::io_context io{weft::io_options{.writes_on_caller = false}};
    auto p = connect_pair(io);
    const std::string hello = "hello";
    CHECK(await_get(p.client.write_all(hello)) == 5);
    CHECK(read_all(p.server, 5) == "hello");
    CHECK(io.stats().total().writes_on_caller == 0);
}
