// tests/stress/io_stress.cpp — the reactor under races, on both backends (ctest twice):
// timers canceled while they fire, reads canceled while their data arrives, sockets closed
// from another thread with operations in flight, connection churn. Every operation must end
// exactly once, no byte may be lost or doubled, and no fd may leak.
// Sizes: WEFT_IO_TIMER_RACES, WEFT_IO_READ_RACES, WEFT_IO_CLOSE_RACES, WEFT_IO_CHURN; WEFT_SEED.
#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "io/io_support.hpp"
#include "support/env.hpp"

using namespace std::chrono_literals;
using weft_test::await_get;
using weft_test::connect_pair;

namespace {

std::mt19937_64 seeded_rng() {
    const auto seed =
        static_cast<std::uint64_t>(weft_test::env_or("WEFT_SEED", static_cast<long>(std::random_device{}())));
    UNSCOPED_INFO("WEFT_SEED=" << seed);
    return std::mt19937_64(seed);
}

void spin_for(std::chrono::nanoseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

} // namespace

TEST_CASE("io stress: timers canceled while they fire end exactly once") {
    auto rng = seeded_rng();
    const long n = weft_test::env_or("WEFT_IO_TIMER_RACES", 20'000);
    weft::io_context io;
    std::atomic<long> ran{0}, fired{0}, canceled{0};
    std::vector<weft::task<void>> batch;
    for (long i = 0; i < n; ++i) {
        weft::cancellation_source cs;
        auto t = weft::delay(io, std::chrono::microseconds(rng() % 100), {.token = cs.token()});
        batch.push_back(t.then([&](weft::task<void> done) {
            ++ran;
            (done.is_canceled() ? canceled : fired) += 1;
        }));
        spin_for(std::chrono::nanoseconds(rng() % 100'000));
        cs.cancel();
        if (batch.size() == 256) {
            for (auto& b : batch) {
                await_get(b);
            }
            batch.clear();
        }
    }
    for (auto& b : batch) {
        await_get(b);
    }
    CHECK(ran.load() == n);
    CHECK(fired.load() + canceled.load() == n);
    INFO("fired " << fired.load() << ", canceled " << canceled.load());
    CHECK(fired.load() > 0);
    CHECK(canceled.load() > 0);
}

TEST_CASE("io stress: reads canceled while their data arrives lose and double nothing") {
    auto rng = seeded_rng();
    const long rounds = weft_test::env_or("WEFT_IO_READ_RACES", 3'000);
    weft::io_context io;
    auto pair = connect_pair(io);
    weft::tcp_socket& c = pair.client;
    weft::tcp_socket& s = pair.server;
    std::uint32_t next_expected = 0;
    long canceled = 0;
    for (long i = 0; i < rounds; ++i) {
        weft::cancellation_source cs;
        std::array<std::uint32_t, 1> in{};
        auto r = s.read_exact(in, {.token = cs.token()});
        const std::array<std::uint32_t, 1> out{static_cast<std::uint32_t>(i)};
        const auto wait = std::chrono::nanoseconds(rng() % 50'000);
        std::thread canceler([&] {
            spin_for(wait);
            cs.cancel();
        });
        await_get(c.write_all(out));
        canceler.join();
        REQUIRE(r.wait_for(20s));
        if (r.is_canceled()) {
            ++canceled;
            await_get(s.read_exact(in)); // the value is still there, exactly once
        }
        REQUIRE(in[0] == next_expected);
        ++next_expected;
    }
    INFO("canceled " << canceled << " of " << rounds);
    SUCCEED();
}

TEST_CASE("io stress: sockets closed from another thread with operations in flight") {
    const long rounds = weft_test::env_or("WEFT_IO_CLOSE_RACES", 300);
    weft::io_context io;
    for (long i = 0; i < rounds; ++i) {
        auto pair = connect_pair(io);
        weft::tcp_socket& c = pair.client;
        weft::tcp_socket& s = pair.server;
        std::array<char, 8> buf{};
        auto r = s.read_some(buf);
        const std::string big(64 * 1024, 'x'); // outlives the write (the buffer rule)
        auto w = c.write_all(big);
        std::thread closer([&] {
            s.close();
            c.close();
        });
        closer.join();
        REQUIRE(r.wait_for(20s));
        REQUIRE(w.wait_for(20s));
        CHECK(r.is_ready());
        CHECK(w.is_ready());
    }
    await_get(weft::spawn(io, [] {}));
    const auto st = io.stats().total();
    CHECK(st.ops_begun == st.ops_finished);
}

namespace {
weft::task<void> echo_once(weft::tcp_socket s) {
    std::array<char, 16> buf;
    const std::size_t n = co_await s.read_some(buf);
    co_await s.write_all(std::span(buf.data(), n));
    s.close();
}
} // namespace

TEST_CASE("io stress: connection churn leaks no fd and loses no connection") {
    const long n = weft_test::env_or("WEFT_IO_CHURN", 1'000);
    const int fds_before = weft_test::open_fds();
    {
        weft::io_context io{weft::io_options{.threads = 2}};
        auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
        for (long i = 0; i < n; ++i) {
            auto acc = listener.accept();
            auto c = await_get(weft::tcp_socket::connect(io, listener.local_endpoint()));
            auto server = echo_once(await_get(std::move(acc)));
            await_get(c.write_all(std::string_view("ping")));
            std::array<char, 4> back{};
            await_get(c.read_exact(back));
            REQUIRE(std::string(back.data(), 4) == "ping");
            await_get(server);
        }
    }
    CHECK(weft_test::open_fds() == fds_before);
}
