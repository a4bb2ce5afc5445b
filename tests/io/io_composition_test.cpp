// Tests for the composition contract where I/O meets the other pieces (docs/guide/composition.md),
// run on both backends: a strand (and a run loop) keeps its context across an await on a timer
// and on a socket read; get() on an I/O thread throws deadlock_error; with_timeout cancels the
// read it times out (its buffer is never written afterwards, the bytes stay in the stream);
// the token form of with_timeout; when_any(cancel_losers) over a read and a timer; for_each_async
// bodies awaiting reads (no worker held).
#include <weft/parallel.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "io/io_support.hpp"
#include "support/eventually.hpp"
#include "support/manual_scheduler.hpp"

namespace {
/// After a read was canceled: what the peer sends now is not written into `buf` (still all
/// '.'), and is not lost either: the next read on `srv` gets all of it.
void expect_read_over(weft::tcp_socket& c, weft::tcp_socket& srv, std::span<const char> buf, std::string_view sent) {
    await_get(c.write_all(sent));
    std::array<char, 16> next{};
    const std::size_t n = await_get(srv.read_some(std::as_writable_bytes(std::span(next))));
    CHECK(std::string_view(next.data(), n) == sent);
    CHECK(std::all_of(buf.begin(), buf.end(), [](char ch) { return ch == '.'; }));
}
/// An io_context with a connected pair, and a buffer of '.' for a read that must not write it.
struct connected_io {
    weft::io_context io;
    weft_test::tcp_pair pair = connect_pair(io);
    weft::tcp_socket& c = pair.client;
    weft::tcp_socket& srv = pair.server;
    std::array<char, 8> buf = dots();
    static std::array<char, 8> dots() {
        std::array<char, 8> b;
        b.fill('.');
        return b;
    }
    std::span<std::byte> bytes() { return std::as_writable_bytes(std::span(buf)); }
};
} // namespace

TEST_CASE("io: a coroutine on a strand comes back to the strand after a timer and a read, with inline_on_io") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    weft::io_context io; // inline_on_io: the source's policy says "run on the I/O thread"
    auto pair = connect_pair(io);
    auto& c = pair.client;
    auto& srv = pair.server;
    int guarded = 0; // strand-protected: touched only from strand items (TSan checks)
    std::atomic<int> off_strand{0};
    auto body = [&]() -> weft::task<void> {
        co_await weft::resume_on(s);
        for (int i = 0; i < 20; ++i) {
            co_await weft::delay(io, 100us);
            off_strand.fetch_add(s.runs_on_this_thread() ? 0 : 1);
            ++guarded;
            std::array<std::byte, 1> b{};
            co_await srv.read_some(b);
            off_strand.fetch_add(s.runs_on_this_thread() ? 0 : 1);
            ++guarded;
        }
    };
    auto bump = [&]() -> weft::task<void> { // other strand items racing for `guarded`
        for (int i = 0; i < 200; ++i) {
            co_await weft::resume_on(s);
            ++guarded;
        }
    };
    auto t = body();
    auto u = bump();
    for (int i = 0; i < 20; ++i) {
        await_get(c.write_all(std::string_view("x")));
    }
    await_get(t);
    await_get(u);
    CHECK(off_strand.load() == 0);
    CHECK(weft::spawn(s, [&] { return guarded; }).get() == 240);
}

TEST_CASE("io: a then() attached on a run loop runs on the loop, not on the I/O thread") {
    weft::io_context io;
    weft::run_loop loop;
    std::thread::id ran_on{};
    weft::task<void> cont;
    auto setup =
        weft::spawn(loop, [&] { cont = weft::delay(io, 1ms).then([&] { ran_on = std::this_thread::get_id(); }); });
    while (!setup.is_ready()) {
        loop.run_one();
    }
    // the timer fires on the I/O thread; the continuation waits for the loop
    while (!cont.is_ready()) {
        loop.run_one();
    }
    CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("io: get() on an I/O thread on a task only that thread can complete throws deadlock_error") {
    weft::io_context io;
    // The continuation is attached before its antecedent can complete (a task found complete
    // would run it here, on the test's thread), and the I/O thread completes it.
    weft::promise<void> start;
    auto t = start.get_task().then([&] {
        auto other = weft::delay(io, 1ms); // only this I/O thread can fire it
        other.get();                       // would hang forever
    });
    auto kick = weft::spawn(io, [&] { start.set_value(); }); // the continuation runs inline, on the I/O thread
    REQUIRE(kick.wait_for(20s));
    REQUIRE(t.wait_for(20s));
    CHECK_THROWS_AS(t.get(), weft::deadlock_error);
    // post() runs on the I/O thread too
    auto p = weft::spawn(io, [&] { weft::delay(io, 1ms).wait(); });
    REQUIRE(p.wait_for(20s));
    CHECK_THROWS_AS(p.get(), weft::deadlock_error);
    // a bounded wait is allowed (it cannot hang), and a complete task may be read
    auto q = weft::spawn(io, [&] {
        auto d = weft::delay(io, 1h);
        return d.wait_for(1ms);
    });
    CHECK_FALSE(await_get(q));
}

TEST_CASE_METHOD(connected_io,
                 "io: with_timeout cancels the read it times out: the buffer is never written, the bytes stay") {
    auto timed = weft::with_timeout(io, srv.read_some(bytes()), 20ms);
    REQUIRE(timed.wait_for(20s));
    CHECK_THROWS_AS(timed.get(), weft::timeout_error);
    expect_read_over(c, srv, buf, "late");
    CHECK(io.stats().total().canceled >= 1);
}

TEST_CASE_METHOD(connected_io,
                 "io: with_timeout passes a read through when it completes in time, and a move-only result") {
    auto timed = weft::with_timeout(io, srv.read_some(bytes()), 10s);
    await_get(c.write_all(std::string_view("ok")));
    CHECK(await_get(timed) == 2);
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    auto accepted = weft::with_timeout(io, listener.accept(), 10s);
    auto connected = weft::with_timeout(io, weft::tcp_socket::connect(io, listener.local_endpoint()), 10s);
    weft::tcp_socket a = await_get(std::move(accepted));
    weft::tcp_socket b = await_get(std::move(connected));
    CHECK(a.local_endpoint().port() == listener.local_endpoint().port());
    CHECK(b.local_endpoint().port() != 0);
}

TEST_CASE_METHOD(connected_io, "io: with_timeout's token form cancels any work that honours the token") {
    auto timed = weft::with_timeout(
        io,
        [&](weft::cancellation_token tok) -> weft::task<std::size_t> {
            // a coroutine: request_cancel cannot reach it, its token can
            co_return co_await srv.read_some(bytes(), {.token = tok});
        },
        20ms);
    REQUIRE(timed.wait_for(20s));
    CHECK_THROWS_AS(timed.get(), weft::timeout_error);
    expect_read_over(c, srv, buf, "z");
}

TEST_CASE_METHOD(connected_io, "io: when_any(cancel_losers) over a read and a timer cancels the read") {
    auto read = srv.read_some(bytes());
    auto first = weft::when_any(weft::cancel_losers, read, weft::delay(io, 5ms).then([] { return std::size_t{0}; }));
    CHECK(await_get(first).index == 1);
    REQUIRE(read.wait_for(20s));
    CHECK(read.is_canceled());
    expect_read_over(c, srv, buf, "q");
}

TEST_CASE("io: with_timeout: work that succeeds after the cancel gives its value, a failure of its own its error") {
    weft::io_context io;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto late_value = weft::with_timeout(
        io,
        [&](weft::cancellation_token tok) {
            return weft::spawn(pool, [tok] {
                while (!tok.is_cancellation_requested()) { // the deadline passed: asked to end
                    std::this_thread::yield();
                }
                return 42; // ... and succeeds anyway: the value is not dropped
            });
        },
        5ms);
    CHECK(await_get(late_value) == 42);
    auto own_error = weft::with_timeout(
        io,
        [&](weft::cancellation_token tok) {
            return weft::spawn(pool, [tok]() -> int {
                while (!tok.is_cancellation_requested()) {
                    std::this_thread::yield();
                }
                throw std::runtime_error("its own");
            });
        },
        5ms);
    REQUIRE(own_error.wait_for(20s));
    CHECK_THROWS_AS(own_error.get(), std::runtime_error);
}

TEST_CASE("io: with_timeout drops spawned work that has not started, and cancels a timer") {
    weft::io_context io;
    weft_test::manual_scheduler held;
    std::atomic<int> ran{0};
    auto queued = weft::spawn(held, [&] {
        ran.fetch_add(1);
        return 1;
    });
    auto timed = weft::with_timeout(io, queued, 5ms);
    REQUIRE(timed.wait_for(20s));
    CHECK_THROWS_AS(timed.get(), weft::timeout_error);
    CHECK(queued.is_canceled());
    held.run_all();
    CHECK(ran.load() == 0);
    auto long_timer = weft::delay(io, 1h);
    auto timed_timer = weft::with_timeout(io, long_timer, 5ms);
    REQUIRE(timed_timer.wait_for(20s));
    CHECK_THROWS_AS(timed_timer.get(), weft::timeout_error);
    CHECK(long_timer.is_canceled());
}

TEST_CASE("io: a strand item running on an I/O thread also throws deadlock_error rather than helping") {
    weft::io_context io;
    weft::strand on_io{io};                                           // its items run on the I/O thread
    auto t = weft::spawn(on_io, [&] { weft::delay(io, 1ms).get(); }); // only that thread fires it
    REQUIRE(t.wait_for(20s));
    CHECK_THROWS_AS(t.get(), weft::deadlock_error);
}

TEST_CASE("io: for_each_async bodies awaiting reads hold no worker, and each body starts on the pool") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::io_context io;
    std::vector<weft_test::tcp_pair> pairs;
    for (int i = 0; i < 6; ++i) {
        pairs.push_back(connect_pair(io));
    }
    std::atomic<int> waiting{0};
    std::atomic<int> started_off_pool{0};
    std::vector<std::string> got(pairs.size());
    std::vector<std::size_t> order(pairs.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto loop = weft::for_each_async(pool, order, order.size(), [&](std::size_t k) -> weft::task<void> {
        started_off_pool.fetch_add(pool.runs_on_this_thread() ? 0 : 1);
        std::array<char, 4> buf{};
        waiting.fetch_add(1);
        co_await pairs[k].server.read_exact(std::as_writable_bytes(std::span(buf)));
        got[k].assign(buf.data(), buf.size());
    });
    (void)weft_test::eventually([&] { return waiting.load() == 6; }, 20s);
    CHECK(waiting.load() == 6); // six reads pending at once with one worker thread
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const std::string msg = "ab" + std::to_string(10 + k);
        await_get(pairs[k].client.write_all(std::as_bytes(std::span(msg.data(), msg.size()))));
    }
    REQUIRE(loop.wait_for(20s));
    loop.get();
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        CHECK(got[k] == "ab" + std::to_string(10 + k));
    }
    CHECK(started_off_pool.load() == 0);
}

TEST_CASE_METHOD(connected_io,
                 "io: a dataflow network reads a socket, transforms on the pool, writes back from an action block on "
                 "the io_context") {
    weft::thread_pool pool({.threads = 2});
    constexpr std::size_t total = 256 * 1024;
    std::atomic<int> wrong_thread{0};
    weft::transform_block<std::string, std::string> upper(pool,
                                                          [](std::string s) {
                                                              for (char& ch : s) {
                                                                  ch = static_cast<char>(ch - 'a' + 'A');
                                                              }
                                                              return s;
                                                          },
                                                          {.bounded_capacity = 2, .max_degree_of_parallelism = 2});
    weft::action_block<std::string> write_back(io,
                                               [&](std::string s) -> weft::task<void> {
                                                   if (!io.runs_on_this_thread()) {
                                                       wrong_thread.fetch_add(1);
                                                   }
                                                   co_await srv.write_all(std::as_bytes(std::span(s)));
                                               },
                                               {.bounded_capacity = 2});
    upper.link_to(write_back, {.propagate_completion = true});
    auto read_in = [&]() -> weft::task<void> {
        std::size_t got = 0;
        std::array<char, 4096> chunk{};
        while (got < total) {
            const std::size_t n = co_await srv.read_some(std::as_writable_bytes(std::span(chunk)));
            REQUIRE(n > 0);
            got += n;
            const bool ok = co_await upper.send(std::string(chunk.data(), n));
            REQUIRE(ok);
        }
        upper.complete();
    };
    auto reader = read_in();
    std::string sent(total, 'a');
    for (std::size_t i = 0; i < total; ++i) {
        sent[i] = static_cast<char>('a' + i % 26);
    }
    auto writer = c.write_all(std::as_bytes(std::span(sent)));
    std::string back(total, '\0');
    await_get(c.read_exact(std::as_writable_bytes(std::span(back))));
    await_get(writer);
    await_get(reader);
    await_get(write_back.completion());
    std::string want = sent;
    for (char& ch : want) {
        ch = static_cast<char>(ch - 'a' + 'A');
    }
    CHECK(back == want); // every byte, in order (ordered transform, one writer)
    CHECK(wrong_thread.load() == 0);
}
