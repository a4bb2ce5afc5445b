// tests/io/io_test.cpp — the I/O reactor's contract: TCP, UDP, files, timers, post,
// cancellation, close, fd reuse, continuation policies, fairness, shutdown, idle CPU.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include "io/io_support.hpp"
#include "support/cpu.hpp"
#include "support/thread_tag.hpp"

#include <weft/detail/io/sys.hpp>

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::await_get;
using weft_test::connect_pair;
using weft_test::error_of;
using weft_test::eventually;

TEST_CASE("io: the backend asked for is the one that runs / or the fallback says why") {
    weft::io_context io;
    const std::string wanted = weft_test::wanted_backend();
    INFO("backend " << io.backend_name() << ", fallback: " << io.fallback_reason());
    if (wanted == "epoll") {
        CHECK(io.backend_name() == "epoll");
    } else if (io.backend_name() == "epoll") {
        CHECK_FALSE(io.fallback_reason().empty());  // io_uring was wanted but could not be set up
        WARN("io_uring unavailable here: " << io.fallback_reason());
    } else {
        CHECK(io.backend_name() == "io_uring");
    }
    weft::io_context forced{weft::io_options{.backend = weft::io_backend::epoll}};
    CHECK(forced.backend_name() == "epoll");
}

TEST_CASE("io: bad options and a bad WEFT_IO_BACKEND are rejected") {
    CHECK_THROWS_AS(weft::io_context(weft::io_options{.threads = 0}), std::invalid_argument);
    CHECK_THROWS_AS(weft::io_context(weft::io_options{.policy = weft::io_policy::on(weft::any_scheduler{})}),
                    std::invalid_argument);
    const std::string saved = weft_test::wanted_backend();
    ::setenv("WEFT_IO_BACKEND", "kqueue", 1);
    CHECK_THROWS_AS(weft::io_context(), std::invalid_argument);
    if (saved.empty()) {
        ::unsetenv("WEFT_IO_BACKEND");
    } else {
        ::setenv("WEFT_IO_BACKEND", saved.c_str(), 1);
    }
}

namespace {

weft::task<std::size_t> echo_until_eof(weft::tcp_socket s) {
    std::array<std::byte, 256> buf;
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = co_await s.read_some(buf);
        if (n == 0) {
            s.close();  // the frame (and `s`) lives as long as the task: close explicitly
            co_return total;
        }
        total += n;
        co_await s.write_all(std::span(buf.data(), n));
    }
}

weft::task<int> ping(weft::tcp_socket& c, int rounds) {
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

}  // namespace

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
        CHECK(await_get(client.read_some(rest)) == 0);  // EOF: 0, not an error
        CHECK(await_get(echoed) > 0);
    }
}

TEST_CASE("io: read_exact fails with io_errc::eof when the stream ends early") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    await_get(client.write_all(std::string("abc")));
    client.shutdown_send();
    std::array<char, 10> buf;
    auto t = server.read_exact(buf);
    CHECK(error_of(t) == weft::io_errc::eof);
}

TEST_CASE("io: zero-length transfers complete with 0 / closed handles fail with EBADF") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    std::span<std::byte> none;
    CHECK(await_get(client.read_some(none)) == 0);
    CHECK(await_get(client.write_all(none)) == 0);
    client.close();
    CHECK_FALSE(client.is_open());
    client.close();  // idempotent
    try {
        (void)client.read_some(std::array<char, 4>{});
        FAIL("expected EBADF");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::bad_file_descriptor);
    }
    weft::tcp_socket empty;
    CHECK_THROWS_AS((void)empty.write_some(std::string("x")), std::system_error);
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

TEST_CASE("io: writing to a reset peer fails with EPIPE or ECONNRESET / and SIGPIPE never kills us") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    linger lg{1, 0};  // close with RST
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

TEST_CASE("io: closing a socket completes its operations in flight with ECANCELED") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
    std::array<char, 16> buf;
    auto reading = server.read_some(buf);
    CHECK_FALSE(reading.is_ready());
    const auto t0 = std::chrono::steady_clock::now();
    server.close();
    CHECK(error_of(reading) == std::errc::operation_canceled);
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    CHECK(reading.is_failed());  // a close is an error, not a cancellation
}

TEST_CASE("io: a token cancels a read in flight / and an already canceled token cancels at once") {
    weft::io_context io;
    auto [client, server] = connect_pair(io);
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
    await_get(client.write_all(std::string("hi")));
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
    CHECK(error_of(old_read) == std::errc::operation_canceled);
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
    await_get(peer.write_all(std::string("fresh")));
    CHECK(await_get(new_read) == 5);
    CHECK(std::string(fresh.data(), 5) == "fresh");
    CHECK(old_buf == std::array<char, 16>{});  // nothing was written into the old buffer
}

namespace {
weft::task<long> pump(weft::tcp_socket& s, int count) {
    std::array<std::uint32_t, 1> out{};
    long sum = 0;
    for (int i = 0; i < count; ++i) {
        out[0] = static_cast<std::uint32_t>(i);
        co_await s.write_all(out);
        sum += i;
    }
    co_return sum;
}
weft::task<long> drain(weft::tcp_socket& s, int count) {
    std::array<std::uint32_t, 1> in{};
    long sum = 0;
    for (int i = 0; i < count; ++i) {
        co_await s.read_exact(in);
        sum += in[0];
    }
    co_return sum;
}
}  // namespace

TEST_CASE("io: reads and writes in flight together on one socket both finish (10^4 each way)") {
    weft::io_context io;
    auto [a, b] = connect_pair(io);
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

TEST_CASE("io: UDP send_to and receive_from over IPv4 and IPv6") {
    weft::io_context io;
    for (const bool v6 : {false, true}) {
        auto rx = weft::udp_socket::bind(io, v6 ? weft::endpoint::loopback_v6(0) : weft::endpoint::loopback_v4(0));
        auto tx = weft::udp_socket::bind(io, v6 ? weft::endpoint::loopback_v6(0) : weft::endpoint::loopback_v4(0));
        std::array<char, 64> buf{};
        auto got = rx.receive_from(buf);
        CHECK(await_get(tx.send_to(std::string("datagram"), rx.local_endpoint())) == 8);
        const weft::datagram d = await_get(got);
        CHECK(d.size == 8);
        CHECK(std::string(buf.data(), 8) == "datagram");
        CHECK(d.from == tx.local_endpoint());
    }
}

TEST_CASE("io: a tiny ring (4 entries) with 1000 operations in flight loses nothing") {
    // io_uring: the SQ fills (ops wait in the backlog), the CQ (8) overflows (the kernel keeps
    // the rest: NODROP) and is flushed. epoll runs the same test as a plain many-ops case.
    weft::io_context io{weft::io_options{.ring_entries = 4}};
    auto rx = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
    auto tx = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
    constexpr int n = 1000;
    std::vector<std::array<std::uint32_t, 1>> in(n);
    std::atomic<int> received{0};
    std::vector<weft::task<std::size_t>> receiving;
    for (int i = 0; i < n; ++i) {
        receiving.push_back(rx.receive_from(in[static_cast<std::size_t>(i)]).then([&](weft::datagram& d) {
            ++received;
            return d.size;
        }));
    }
    // At most 64 datagrams unreceived at a time (UDP drops what overflows the socket buffer);
    // their completions still arrive in bursts far larger than the CQ. Which receive gets
    // which datagram is the kernel's choice.
    constexpr int window = 64;
    std::vector<std::array<std::uint32_t, 1>> out(n);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (int i = 0; i < n; ++i) {
        while (received.load() < i - window && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        REQUIRE(received.load() >= i - window);
        const auto k = static_cast<std::size_t>(i);
        out[k][0] = static_cast<std::uint32_t>(i);
        CHECK(await_get(tx.send_to(out[k], rx.local_endpoint())) == 4);
    }
    for (auto& r : receiving) {
        CHECK(await_get(r) == 4);
    }
    std::vector<bool> seen(n, false);
    for (const auto& v : in) {
        REQUIRE(v[0] < static_cast<std::uint32_t>(n));
        CHECK_FALSE(seen[v[0]]);
        seen[v[0]] = true;
    }
}

TEST_CASE("io: a tiny ring still cancels 100 reads in flight when the io_context ends") {
    // io_uring: 100 async-cancels through a 4-entry SQ: most find it full and are retried.
    std::optional<weft::io_context> io;
    io.emplace(weft::io_options{.ring_entries = 4});
    auto rx = weft::udp_socket::bind(*io, weft::endpoint::loopback_v4(0));
    std::vector<std::array<char, 8>> bufs(100);
    std::vector<weft::task<weft::datagram>> reads;
    for (auto& b : bufs) {
        reads.push_back(rx.receive_from(b));
    }
    await_get(io->post([] {}));  // they are all in flight by now
    io.reset();
    for (auto& r : reads) {
        REQUIRE(r.wait_for(20s));
        CHECK(r.is_canceled());
    }
}

TEST_CASE("io: files: open / write_at / read_at / end of file / errors") {
    weft::io_context io;
    char path[] = "/tmp/weft-io-test-XXXXXX";
    const int tmp = ::mkstemp(path);
    REQUIRE(tmp >= 0);
    ::close(tmp);
    {
        auto f = await_get(weft::file::open(io, path, O_RDWR | O_TRUNC));
        std::string text(100'000, '\0');
        std::iota(text.begin(), text.end(), 'a');
        CHECK(await_get(f.write_all_at(0, text)) == text.size());
        CHECK(await_get(f.write_at(text.size(), std::string("tail"))) == 4);
        std::string back(text.size() + 4, '\0');
        CHECK(await_get(f.read_exact_at(0, back)) == back.size());
        CHECK(back == text + "tail");
        std::array<char, 8> past{};
        CHECK(await_get(f.read_at(back.size(), past)) == 0);  // end of file
        auto short_file = f.read_exact_at(back.size() - 2, past);
        CHECK(error_of(short_file) == weft::io_errc::eof);
    }
    auto missing = weft::file::open(io, "/nonexistent-dir/weft");
    CHECK(error_of(missing) == std::errc::no_such_file_or_directory);
    ::unlink(path);
}

TEST_CASE("io: timers fire in deadline order / promptly for zero and negative delays") {
    weft::io_context io;
    std::vector<int> order;
    std::mutex m;
    std::vector<weft::task<void>> all;
    for (int ms : {30, 10, 20, 0, -5}) {
        all.push_back(weft::delay(io, std::chrono::milliseconds(ms)).then([&, ms] {
            std::lock_guard lock(m);
            order.push_back(ms);
        }));
    }
    for (auto& t : all) {
        await_get(t);
    }
    REQUIRE(order.size() == 5);
    CHECK(order[2] == 10);
    CHECK(order[3] == 20);
    CHECK(order[4] == 30);
    const auto t0 = std::chrono::steady_clock::now();
    await_get(weft::delay(io, -1h));
    await_get(weft::delay(io, std::chrono::steady_clock::duration::min()));
    await_get(weft::delay_until(io, std::chrono::steady_clock::time_point::min()));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("io: a maximal timeout never fires and does not overflow and its token cancels it") {
    weft::io_context io;
    weft::cancellation_source cs;
    auto forever = weft::delay(io, std::chrono::steady_clock::duration::max(), {.token = cs.token()});
    auto forever2 = weft::delay(io, std::chrono::hours::max());
    CHECK_FALSE(forever.wait_for(50ms));
    CHECK_FALSE(forever2.is_ready());
    cs.cancel();
    REQUIRE(forever.wait_for(20s));
    CHECK(forever.is_canceled());
}

TEST_CASE("io: a timer canceled by another timer's continuation in the same expiry batch never fires") {
    weft::io_context io;
    for (int round = 0; round < 200; ++round) {
        weft::cancellation_source cs_a, cs_b;
        std::atomic<int> fired{0};
        weft::task<void> a, b, ca, cb;
        // Set up on the I/O thread, so neither timer can fire before both continuations are
        // attached (from the test thread, a delay of 2 ms on a loaded machine could let `a`
        // complete first, and its continuation would then cancel `b` from this thread).
        await_get(io.post([&] {
            const auto when = std::chrono::steady_clock::now() + 2ms;
            a = weft::delay_until(io, when, {.token = cs_a.token()});
            b = weft::delay_until(io, when, {.token = cs_b.token()});
            // Whichever fires first cancels the other (inline on the I/O thread, same batch).
            ca = a.then([&](weft::task<void> t) { if (t.is_succeeded()) { ++fired; cs_b.cancel(); } }, weft::continuation_options::execute_synchronously);
            cb = b.then([&](weft::task<void> t) { if (t.is_succeeded()) { ++fired; cs_a.cancel(); } }, weft::continuation_options::execute_synchronously);
        }));
        await_get(ca);
        await_get(cb);
        REQUIRE(fired.load() == 1);
        CHECK((a.is_canceled() != b.is_canceled()));
    }
}

TEST_CASE("io: with_timeout passes the result through or fails with timeout_error") {
    weft::io_context io;
    auto fast = weft::with_timeout(io, weft::delay(io, 1ms).then([] { return 7; }), 10s);
    CHECK(await_get(fast) == 7);
    weft::promise<int> never;
    auto slow = weft::with_timeout(io, never.get_task(), 20ms);
    REQUIRE(slow.wait_for(20s));
    CHECK_THROWS_AS(slow.get(), weft::timeout_error);
    auto failing = weft::with_timeout(io, weft::delay(io, 1ms).then([]() -> int { throw std::runtime_error("x"); }), 10s);
    REQUIRE(failing.wait_for(20s));
    CHECK_THROWS_AS(failing.get(), std::runtime_error);
    auto move_only = weft::with_timeout(io, weft::delay(io, 1ms).then([] { return std::make_unique<int>(5); }), 10s);
    CHECK(*await_get(std::move(move_only)) == 5);
}

TEST_CASE("io: periodic_timer ticks on a fixed-rate schedule") {
    weft::io_context io;
    weft::periodic_timer timer(io, 5ms);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
        await_get(timer.next());
    }
    CHECK(std::chrono::steady_clock::now() - t0 >= 25ms);
    CHECK_THROWS_AS(weft::periodic_timer(io, 0ms), std::invalid_argument);
}

TEST_CASE("io: post from a foreign thread to an idle I/O thread runs promptly / on the I/O thread") {
    weft::io_context io{weft::io_options{.threads = 2}};
    std::this_thread::sleep_for(20ms);  // both I/O threads asleep in their wait
    for (int i = 0; i < 200; ++i) {
        auto t = io.post([&io] { return io.runs_on_this_thread(); });
        REQUIRE(t.wait_for(5s));  // a lost wake-up would hang here
        CHECK(t.get());
    }
    CHECK(io.stats().total().wakeups > 0);
    CHECK_FALSE(io.runs_on_this_thread());
}

TEST_CASE("io: an idle io_context uses under 2% of one core") {
    weft::io_context io{weft::io_options{.threads = 2}};
    await_get(io.post([] {}));
    std::this_thread::sleep_for(50ms);
    CHECK(weft_test::cpu_us_while_sleeping(1000ms) < 20'000);  // 2% of one core over 1 s
}

namespace {

struct where {
    bool on_io = false;
    bool on_pool = false;
};

weft::task<where> read_and_report(weft::tcp_socket& s, weft::io_context& io, weft::thread_pool& pool,
                                  weft::op_options opts = {}) {
    std::array<char, 1> b;
    co_await s.read_exact(b, opts);
    co_return where{io.runs_on_this_thread(), pool.runs_on_this_thread()};
}

weft::task<where> read_continue_on_pool(weft::tcp_socket& s, weft::io_context& io, weft::thread_pool& pool) {
    std::array<char, 1> b;
    co_await weft::continue_on(pool, s.read_exact(b));
    co_return where{io.runs_on_this_thread(), pool.runs_on_this_thread()};
}

}  // namespace

TEST_CASE("io: continuation placement: inline_on_io / a scheduler / per operation and per co_await") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io;  // default: inline_on_io
    weft::io_context hopping{weft::io_options{.policy = weft::io_policy::on(pool)}};
    auto p1 = connect_pair(io);
    auto p2 = connect_pair(hopping);
    weft::tcp_socket& c1 = p1.client;
    weft::tcp_socket& s1 = p1.server;
    weft::tcp_socket& c2 = p2.client;
    weft::tcp_socket& s2 = p2.server;
    // Started from a pool task: rule 2 (the source's policy) beats rule 3 (captured pool).
    // The data is written only once the coroutine has suspended in its read (no data yet),
    // so the read completes on the I/O thread, never at the co_await on the pool thread.
    weft::promise<void> suspended;
    auto suspended_task = suspended.get_task();
    auto w1 = weft::spawn(pool, [&] {
        auto t = read_and_report(s1, io, pool);
        suspended.set_value();
        return t;
    });
    await_get(suspended_task);
    await_get(c1.write_all(std::string("x")));
    const where inline_io = await_get(w1);
    CHECK(inline_io.on_io);
    CHECK_FALSE(inline_io.on_pool);
    auto w2 = read_and_report(s2, hopping, pool);
    await_get(c2.write_all(std::string("x")));
    const where hopped = await_get(w2);
    CHECK(hopped.on_pool);
    CHECK_FALSE(hopped.on_io);
    // per operation: this read hops although the context is inline_on_io
    auto w3 = read_and_report(s1, io, pool, {.policy = weft::io_policy::on(pool)});
    await_get(c1.write_all(std::string("x")));
    CHECK(await_get(w3).on_pool);
    // per co_await
    auto w4 = read_continue_on_pool(s1, io, pool);
    await_get(c1.write_all(std::string("x")));
    CHECK(await_get(w4).on_pool);
    // counted on the I/O thread (folded in at its next loop turn)
    CHECK(eventually([&] { return io.stats().total().continuations_inline > 0; }));
    CHECK(eventually([&] { return hopping.stats().total().continuations_hopped > 0; }));
}

TEST_CASE("io: a strand and a user scheduler work as the io_context's continuation policy") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand strand{pool};
    weft::io_context io{weft::io_options{.policy = weft::io_policy::on(strand)}};
    auto [c, s] = connect_pair(io);
    auto t = weft::delay(io, 1ms).then([&] { return strand.runs_on_this_thread(); });
    CHECK(await_get(t));
    auto r = read_and_report(s, io, pool);
    await_get(c.write_all(std::string("x")));
    const where w = await_get(r);
    CHECK(w.on_pool);  // the strand runs on the pool
    CHECK_FALSE(w.on_io);
}

namespace {
/// Timers that never fire on their own, each with a continuation attached before it ends;
/// cancel() ends them all on the I/O thread in one batch of cancel requests.
struct held_timers {
    weft::cancellation_source cs;
    std::vector<weft::task<bool>> continuations;
};

/// The adaptive policy's clock, made deterministic: every reading advances it by 1 us, and a
/// continuation "takes long" by moving it on by hand (installed before the io_context exists).
std::atomic<std::int64_t> fake_ns{0};
struct fake_adaptive_clock {
    fake_adaptive_clock() {
        weft::detail::io::sys().now_ns = [] { return fake_ns.fetch_add(1'000) + 1'000; };
    }
    ~fake_adaptive_clock() { weft::detail::io::sys().now_ns = weft::detail::io::real_sys.now_ns; }
    fake_adaptive_clock(const fake_adaptive_clock&) = delete;
    fake_adaptive_clock& operator=(const fake_adaptive_clock&) = delete;
};
}  // namespace

TEST_CASE("io: adaptive: short continuations stay inline / a long one makes the next ones hop") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io{weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us}};
    held_timers shorts;
    for (int i = 0; i < 50; ++i) {
        auto t = weft::delay_until(io, std::chrono::steady_clock::time_point::max(), {.token = shorts.cs.token()});
        shorts.continuations.push_back(t.then([&io](weft::task<void>) { return io.runs_on_this_thread(); }));
    }
    shorts.cs.cancel();
    for (auto& t : shorts.continuations) {
        CHECK(await_get(t));  // inline on the I/O thread
    }
    await_get(io.post([] {}));  // the turn that ran them has ended: its counts are in
    const auto short_stats = io.stats().total();
    CHECK(short_stats.adaptive_hops == 0);
    CHECK(short_stats.continuations_inline >= 50);
    // The first and the last "take" 2 ms (callbacks may run in either order); the ones after
    // a long one must not wait behind it on the I/O thread.
    held_timers batch;
    for (int i = 0; i < 8; ++i) {
        auto t = weft::delay_until(io, std::chrono::steady_clock::time_point::max(), {.token = batch.cs.token()});
        batch.continuations.push_back(t.then([&io, i](weft::task<void>) {
            const bool here = io.runs_on_this_thread();
            if (here && (i == 0 || i == 7)) {
                fake_ns += 2'000'000;
            }
            return here;
        }));
    }
    batch.cs.cancel();
    int hopped = 0;
    for (auto& t : batch.continuations) {
        hopped += await_get(t) ? 0 : 1;
    }
    CHECK(hopped >= 1);
    CHECK(io.stats().total().adaptive_hops >= 1);
}

TEST_CASE("io: adaptive: steady long continuations all hop / probes bring inline back when they are short") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io{weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us}};
    // one timer completion whose continuation "takes" takes_ns when it runs inline; true if it did
    auto one = [&io](std::int64_t takes_ns) {
        held_timers h;
        auto t = weft::delay_until(io, std::chrono::steady_clock::time_point::max(), {.token = h.cs.token()});
        auto c = t.then([&io, takes_ns](weft::task<void>) {
            const bool here = io.runs_on_this_thread();
            if (here) {
                fake_ns += takes_ns;
            }
            return here;
        });
        h.cs.cancel();
        return await_get(c);
    };
    CHECK(one(0));
    CHECK(one(2'000'000));  // inline (nothing said otherwise), 2 ms: the average goes over budget
    for (int i = 0; i < 20; ++i) {
        CHECK_FALSE(one(0));  // A3: every one hops; no probe is due (the clock barely moves)
    }
    for (int i = 0; i < 2; ++i) {
        fake_ns += 100'000'000;  // past any probe gap
        CHECK(one(2'000'000));   // a due probe runs inline; this one is long...
        CHECK_FALSE(one(0));     // ...so the next ones still hop
    }
    int probes = 0;
    bool back_inline = false;
    while (!back_inline && probes < 20) {
        fake_ns += 100'000'000;  // past any probe gap
        ++probes;
        REQUIRE(one(0));         // the due probe runs inline, and is short
        back_inline = one(0);    // inline again once the average is under budget
    }
    CHECK(back_inline);
    CHECK(probes >= 3);  // one short probe does not undo three long runs at once
    CHECK(probes <= 12);
    for (int i = 0; i < 10; ++i) {
        CHECK(one(0));
    }
}

TEST_CASE("io: a flooded connection does not starve a quiet one (loud neighbour)") {
    weft::io_context io;  // one I/O thread, inline_on_io: the worst case for fairness
    auto loud = connect_pair(io);
    auto quiet = connect_pair(io);
    std::atomic<bool> stop{false};
    // The loud peer floods as fast as a blocking thread can write; the server echoes it all.
    auto loud_echo = echo_until_eof(std::move(loud.server));
    std::thread flood([&, fd = loud.client.native_handle()] {
        std::vector<char> chunk(16 * 1024, 'L');
        while (!stop.load()) {
            if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                std::this_thread::yield();
            }
        }
    });
    std::thread reader([&, fd = loud.client.native_handle()] {
        std::vector<char> sink(64 * 1024);
        while (!stop.load()) {
            if (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) <= 0) {
                std::this_thread::yield();
            }
        }
    });
    auto quiet_echo = echo_until_eof(std::move(quiet.server));
    CHECK(await_get(ping(quiet.client, 100)) == 100);  // 20 s bound: starvation fails here
    stop = true;
    flood.join();
    reader.join();
    quiet.client.close();
    loud.client.close();
    REQUIRE(quiet_echo.wait_for(20s));
    REQUIRE(loud_echo.wait_for(20s));
}

TEST_CASE("io: many connections over two I/O threads / every byte right") {
    weft::io_context io{weft::io_options{.threads = 2}};
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    constexpr int conns = 32;
    std::vector<weft::task<std::size_t>> servers;
    std::vector<weft::tcp_socket> clients;
    for (int i = 0; i < conns; ++i) {
        auto acc = listener.accept();
        clients.push_back(await_get(weft::tcp_socket::connect(io, listener.local_endpoint())));
        servers.push_back(echo_until_eof(await_get(std::move(acc))));
    }
    std::vector<weft::task<int>> pings;
    for (auto& c : clients) {
        pings.push_back(ping(c, 100));
    }
    for (auto& p : pings) {
        CHECK(await_get(p) == 100);
    }
    for (auto& c : clients) {
        c.close();
    }
    for (auto& s : servers) {
        REQUIRE(s.wait_for(20s));
    }
    const auto st = io.stats();
    REQUIRE(st.threads.size() == 2);
    CHECK(st.total().ops_begun == st.total().ops_finished);  // every op ended exactly once (R3)
    CHECK(st.threads[0].ops_finished > 0);
    CHECK(st.threads[1].ops_finished > 0);
}

TEST_CASE("io: destroying the io_context cancels what is in flight and its sockets outlive it") {
    std::optional<weft::io_context> io;
    io.emplace();
    auto [client, server] = connect_pair(*io);
    std::array<char, 8> buf;
    auto reading = server.read_some(buf);
    auto sleeping = weft::delay(*io, 1h);
    auto posted = io->post([] { return 1; });
    await_get(posted);
    io.reset();
    REQUIRE(reading.wait_for(1s));
    CHECK(reading.is_canceled());
    REQUIRE(sleeping.wait_for(1s));
    CHECK(sleeping.is_canceled());
    CHECK_THROWS_AS((void)server.read_some(buf), weft::shutdown_error);
    server.close();  // closes on this thread now
    client.close();
}

namespace {
/// How many threads of this process are named `name` (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/task")) {
        while (dirent* e = ::readdir(d)) {
            std::FILE* f = std::fopen(("/proc/self/task/" + std::string(e->d_name) + "/comm").c_str(), "r");
            if (f != nullptr) {
                char comm[32] = {};
                if (std::fgets(comm, sizeof comm, f) != nullptr && std::string(comm) == name + "\n") {
                    ++n;
                }
                std::fclose(f);
            }
        }
        ::closedir(d);
    }
    return n;
}
}  // namespace

TEST_CASE("io: an io_context destroyed from one of its own continuations does not self-join") {
    auto* io = new weft::io_context{weft::io_options{.name = "selfdel"}};
    await_get(io->post([] {}));  // the I/O thread has named itself by now
    REQUIRE(threads_named("selfdel-0") == 1);
    weft::promise<void> done;
    auto t = done.get_task();
    (void)io->post([io, done = std::move(done)]() mutable {
        delete io;  // would deadlock (join itself) if it did not detach
        done.set_value();
    });
    REQUIRE(t.wait_for(20s));
    // The detached thread finishes its shutdown and exits by itself.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (threads_named("selfdel-0") != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK(threads_named("selfdel-0") == 0);
}
