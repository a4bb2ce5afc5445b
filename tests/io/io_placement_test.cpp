// tests/io/io_placement_test.cpp — where I/O continuations run: inline_on_io, a scheduler, per
// operation and per co_await, a strand as the policy, the adaptive policy (A1–A4).
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/detail/io/sys.hpp>
#include <weft/weft.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "io/io_support.hpp"
#include "support/thread_tag.hpp"
#include <sched.h>

namespace {

struct where {
    bool on_io = false;
    bool on_pool = false;
};

weft::task<where>
read_and_report(weft::tcp_socket& s, weft::io_context& io, weft::thread_pool& pool, weft::op_options opts = {}) {
    std::array<char, 1> b;
    co_await s.read_exact(b, opts);
    co_return where{io.runs_on_this_thread(), pool.runs_on_this_thread()};
}

weft::task<where> read_continue_on_pool(weft::tcp_socket& s, weft::io_context& io, weft::thread_pool& pool) {
    std::array<char, 1> b;
    co_await weft::continue_on(pool, s.read_exact(b));
    co_return where{io.runs_on_this_thread(), pool.runs_on_this_thread()};
}

} // namespace

TEST_CASE("io: continuation placement: inline_on_io / a scheduler / per operation and per co_await") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io; // default: inline_on_io
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
    await_get(c1.write_all(std::string_view("x")));
    const where inline_io = await_get(w1);
    CHECK(inline_io.on_io);
    CHECK_FALSE(inline_io.on_pool);
    auto w2 = read_and_report(s2, hopping, pool);
    await_get(c2.write_all(std::string_view("x")));
    const where hopped = await_get(w2);
    CHECK(hopped.on_pool);
    CHECK_FALSE(hopped.on_io);
    // per operation: this read hops although the context is inline_on_io
    auto w3 = read_and_report(s1, io, pool, {.policy = weft::io_policy::on(pool)});
    await_get(c1.write_all(std::string_view("x")));
    CHECK(await_get(w3).on_pool);
    // per co_await
    auto w4 = read_continue_on_pool(s1, io, pool);
    await_get(c1.write_all(std::string_view("x")));
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
    await_get(c.write_all(std::string_view("x")));
    const where w = await_get(r);
    CHECK(w.on_pool); // the strand runs on the pool
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
        weft::detail::io::sys().now_ns = [] {
            return fake_ns.fetch_add(1'000) + 1'000;
        };
    }
    ~fake_adaptive_clock() { weft::detail::io::sys().now_ns = weft::detail::io::real_sys.now_ns; }
    fake_adaptive_clock(const fake_adaptive_clock&) = delete;
    fake_adaptive_clock& operator=(const fake_adaptive_clock&) = delete;
};
} // namespace

TEST_CASE("io: adaptive: short continuations stay inline / a long one makes the next ones hop") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    // adaptive_cores = 2: one I/O thread leaves a core a hop can add (A4) on any machine
    weft::io_context io{
        weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us, .adaptive_cores = 2}};
    held_timers shorts;
    for (int i = 0; i < 50; ++i) {
        auto t = weft::delay_until(io, std::chrono::steady_clock::time_point::max(), {.token = shorts.cs.token()});
        shorts.continuations.push_back(t.then([&io](weft::task<void>) { return io.runs_on_this_thread(); }));
    }
    shorts.cs.cancel();
    for (auto& t : shorts.continuations) {
        CHECK(await_get(t)); // inline on the I/O thread
    }
    await_get(weft::spawn(io, [] {})); // the turn that ran them has ended: its counts are in
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

TEST_CASE("io: adaptive: with as many I/O threads as cores, long continuations stay inline (A4)") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    // one I/O thread, one core: a hop could not add a core
    weft::io_context io{
        weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us, .adaptive_cores = 1}};
    for (int i = 0; i < 20; ++i) {
        held_timers h;
        auto t = weft::delay_until(io, std::chrono::steady_clock::time_point::max(), {.token = h.cs.token()});
        auto c = t.then([&io](weft::task<void>) {
            const bool here = io.runs_on_this_thread();
            if (here) {
                fake_ns += 2'000'000; // 20 budgets: A2 and A3 alone would hop the next ones
            }
            return here;
        });
        h.cs.cancel();
        CHECK(await_get(c));
    }
    await_get(weft::spawn(io, [] {})); // the turn that ran them has ended: its counts are in
    CHECK(io.stats().total().adaptive_hops == 0);
}

TEST_CASE("io: adaptive: by default the cores are the CPUs the constructing thread may run on (A4)") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    std::size_t first = 0;
    while (!CPU_ISSET(first, &allowed)) {
        ++first;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0); // this thread, and the I/O thread it starts
    std::optional<weft::io_context> io;
    io.emplace(weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us});
    REQUIRE(::sched_setaffinity(0, sizeof allowed, &allowed) == 0);
    int inline_runs = 0;
    for (int i = 0; i < 10; ++i) {
        held_timers h;
        auto t = weft::delay_until(*io, std::chrono::steady_clock::time_point::max(), {.token = h.cs.token()});
        auto c = t.then([&io](weft::task<void>) {
            const bool here = io->runs_on_this_thread();
            if (here) {
                fake_ns += 2'000'000;
            }
            return here;
        });
        h.cs.cancel();
        inline_runs += await_get(c) ? 1 : 0;
    }
    CHECK(inline_runs == 10); // one I/O thread on a one-CPU mask: a hop adds no core
}

TEST_CASE("io: adaptive: steady long continuations all hop / probes bring inline back when they are short") {
    fake_adaptive_clock clock;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    // adaptive_cores = 2: one I/O thread leaves a core a hop can add (A4) on any machine
    weft::io_context io{
        weft::io_options{.policy = weft::io_policy::adaptive(pool), .adaptive_budget = 100us, .adaptive_cores = 2}};
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
    CHECK(one(2'000'000)); // inline (nothing said otherwise), 2 ms: the average goes over budget
    for (int i = 0; i < 20; ++i) {
        CHECK_FALSE(one(0)); // A3: every one hops; no probe is due (the clock barely moves)
    }
    for (int i = 0; i < 2; ++i) {
        fake_ns += 100'000'000; // past any probe gap
        CHECK(one(2'000'000));  // a due probe runs inline; this one is long...
        CHECK_FALSE(one(0));    // ...so the next ones still hop
    }
    int probes = 0;
    bool back_inline = false;
    while (!back_inline && probes < 20) {
        fake_ns += 100'000'000; // past any probe gap
        ++probes;
        REQUIRE(one(0));      // the due probe runs inline, and is short
        back_inline = one(0); // inline again once the average is under budget
    }
    CHECK(back_inline);
    CHECK(probes >= 3); // one short probe does not undo three long runs at once
    CHECK(probes <= 12);
    for (int i = 0; i < 10; ++i) {
        CHECK(one(0));
    }
}
