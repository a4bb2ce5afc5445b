// Stress tests for weft/sync/: the races of this area, each counted by a ledger.
// - a waiter canceled at the moment of a release loses no permit and none is given twice (the
//   semaphore, and the mutex's fast and slow paths);
// - MPMC channel, 4 producers x 4 consumers: every item read exactly once, per-producer order
//   kept for each consumer; the same with canceled reads, and with complete() mid-stream;
// - select over 3 channels with writers racing: no item lost or doubled;
// - a hand-off chain of 10^5 mutex waiters released from a 256 KiB stack, and 10^6 waiters
//   of one event set from one;
// - 10^6 reads canceled at once leave nothing queued; set/reset/wait racing lose no wait;
// - a writer of the rw lock is overtaken only by readers queued before it; barrier phases
//   with arrivals withdrawn by timeouts;
// - selects over writes (and a read and a write racing another such select): every item
//   delivered exactly once, in order.
// Counts scale with WEFT_STRESS_ITEMS (items per producer; default 250,000).
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "catch.hpp"
#include <pthread.h>

using namespace std::chrono_literals;

namespace {

std::size_t items_from_env(std::size_t fallback) {
    if (const char* s = std::getenv("WEFT_STRESS_ITEMS")) {
        const long v = std::atol(s);
        if (v > 0) {
            return static_cast<std::size_t>(v);
        }
    }
    return fallback;
}

struct item {
    std::uint32_t producer;
    std::uint32_t seq;
};

/// Runs 4 producers and 4 consumers on a pool over `ch`; checks the ledger.
struct mpmc_run {
    static constexpr std::uint32_t producers = 4, consumers = 4;
    std::size_t per_producer;
    std::vector<std::atomic<std::uint8_t>> hits;
    std::atomic<bool> order_broken{false};
    std::atomic<std::size_t> written{0};

    explicit mpmc_run(std::size_t n) : per_producer(n), hits(n * producers) {}

    void record(const item& it, std::vector<std::int64_t>& last_seen) {
        hits[it.producer * per_producer + it.seq].fetch_add(1, std::memory_order_relaxed);
        if (static_cast<std::int64_t>(it.seq) <= last_seen[it.producer]) {
            order_broken = true;
        }
        last_seen[it.producer] = it.seq;
    }
};

/// Waits for the producers, completes the channel, then waits for the consumers to drain it.
template<typename T>
void finish_mpmc(std::vector<weft::task<void>>& producers,
                 weft::channel<T>& ch,
                 std::vector<weft::task<void>>& consumers) {
    for (auto& t : producers) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
    ch.complete();
    for (auto& t : consumers) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
}

/// Ledger entries not hit exactly once.
template<typename Hits>
std::size_t not_once(const Hits& hits) {
    std::size_t wrong = 0;
    for (auto& h : hits) {
        wrong += h.load() != 1 ? 1U : 0U;
    }
    return wrong;
}

} // namespace

namespace {
struct race_counts {
    std::size_t granted = 0, canceled = 0, bad = 0;
};

/// Races a waiter's token against the release that would grant it, `rounds` times, with a
/// varying head start for each side. Per round: `start(token)` takes the resource and starts
/// a wait with the token; `release()` releases it while the token fires on another thread;
/// then `settle(wait)` returns 1 (granted: it released it again), 0 (canceled) or -1 (broken:
/// two holders, a lost permit, a waiter left queued).
template<typename Start, typename Release, typename Settle>
race_counts cancel_race(std::size_t rounds, Start start, Release release, Settle settle) {
    std::atomic<std::size_t> round{0};
    std::atomic<bool> stop{false};
    weft::cancellation_source* current = nullptr;
    std::atomic<std::size_t> cancel_ready{0};
    std::atomic<std::size_t> cancel_running{0};
    // a head start for one side, steered toward the point where each side wins half the rounds
    // (the two paths cost differently per build and machine load): > 0 delays the release,
    // < 0 the cancel; bounded, so a round stays short whatever the machine does
    constexpr long max_bias = 1024;
    std::atomic<long> bias{0};
    auto head_start = [](long n) {
        for (long spin = n; spin > 0; --spin) {
            std::atomic_signal_fence(std::memory_order_seq_cst);
        }
    };
    std::thread canceler([&] {
        std::size_t seen = 0;
        while (!stop.load()) {
            const std::size_t r = cancel_ready.load(std::memory_order_acquire);
            if (r == seen) {
                std::this_thread::yield();
                continue;
            }
            seen = r;
            cancel_running.store(r, std::memory_order_release);
            head_start(std::max(0L, -bias.load(std::memory_order_relaxed)) + static_cast<long>((r * 104729) % 256));
            current->cancel();
            round.store(r, std::memory_order_release);
        }
    });
    race_counts c;
    for (std::size_t r = 1; r <= rounds; ++r) {
        weft::cancellation_source src;
        current = &src;
        auto w = start(src.token());
        cancel_ready.store(r, std::memory_order_release); // the token fires ...
        // both sides running at once: a real race, also on a loaded machine (spin, so that
        // this side starts as soon as the canceler does; yield now and then)
        for (unsigned k = 1; cancel_running.load(std::memory_order_acquire) != r; ++k) {
            if (k % 1024 == 0) {
                std::this_thread::yield();
            }
        }
        head_start(std::max(0L, bias.load(std::memory_order_relaxed)) + static_cast<long>((r * 7919) % 256));
        release(); // ... while the resource is released
        while (round.load(std::memory_order_acquire) != r) {
            std::this_thread::yield();
        }
        switch (settle(w)) {
        case 1:
            ++c.granted;
            if (bias.load(std::memory_order_relaxed) < max_bias) {
                bias.fetch_add(8, std::memory_order_relaxed); // the release came first: delay it more
            }
            break;
        case 0:
            ++c.canceled;
            if (bias.load(std::memory_order_relaxed) > -max_bias) {
                bias.fetch_sub(8, std::memory_order_relaxed);
            }
            break;
        default:
            ++c.bad;
        }
    }
    stop = true;
    canceler.join();
    return c;
}
} // namespace

TEST_CASE("semaphore: a waiter canceled while the permit is released loses none and none is given twice", "[stress]") {
    const std::size_t rounds = items_from_env(250'000) * 2 / 5; // 10^5 by default
    weft::async_semaphore s(1);
    const race_counts c = cancel_race(
        rounds,
        [&s](const weft::cancellation_token& token) {
            REQUIRE(s.try_acquire());
            return s.acquire(token);
        },
        [&s] { s.release(); },
        [&s](weft::task<void>& w) {
            int outcome = -1;
            if (w.is_succeeded()) {
                outcome = s.available() == 0 ? 1 : -1; // else two holders
                s.release();
            } else if (w.is_canceled()) {
                outcome = 0;
            }
            return s.available() == 1 && s.waiters() == 0 ? outcome : -1; // a permit lost, a waiter left
        });
    std::printf("semaphore cancel race: %zu rounds, granted %zu, canceled %zu\n", rounds, c.granted, c.canceled);
    CHECK(c.bad == 0);
    CHECK(c.granted + c.canceled == rounds);
}

TEST_CASE("mutex: a waiter canceled while the holder unlocks ends holding it or not, never lost", "[stress]") {
    const std::size_t rounds = items_from_env(250'000) * 2 / 5;
    weft::async_mutex m;
    weft::async_mutex_lock held;
    const race_counts c = cancel_race(
        rounds,
        [&](const weft::cancellation_token& token) {
            held = m.try_lock();
            REQUIRE(held.owns_lock());
            return m.lock(token);
        },
        [&held] { held.unlock(); },
        [&m](weft::task<weft::async_mutex_lock>& w) {
            int outcome = -1;
            if (w.is_succeeded()) {
                auto g = std::move(w).get();
                outcome = g.owns_lock() && m.is_locked() && !m.try_lock() ? 1 : -1;
            } else if (w.is_canceled()) {
                outcome = 0;
            }
            return !m.is_locked() && m.waiters() == 0 ? outcome : -1; // free again, nobody queued
        });
    std::printf("mutex cancel race: %zu rounds, granted %zu, canceled %zu\n", rounds, c.granted, c.canceled);
    CHECK(c.bad == 0);
    CHECK(c.granted + c.canceled == rounds);
}

TEST_CASE("channel MPMC: 4 producers x 4 consumers, every item read exactly once, per-producer order kept",
          "[stress]") {
    weft::thread_pool pool{weft::pool_options{.threads = 4}};
    mpmc_run run(items_from_env(250'000));
    weft::channel<item> ch{weft::channel_options{.capacity = 256}};
    std::vector<weft::task<void>> ts;
    for (std::uint32_t p = 0; p < mpmc_run::producers; ++p) {
        ts.push_back(weft::spawn(pool, [&, p]() -> weft::task<void> {
            for (std::uint32_t i = 0; i < run.per_producer; ++i) {
                co_await ch.write(item{p, i});
            }
        }));
    }
    std::vector<weft::task<void>> cs;
    for (std::uint32_t c = 0; c < mpmc_run::consumers; ++c) {
        cs.push_back(weft::spawn(pool, [&]() -> weft::task<void> {
            std::vector<std::int64_t> last(mpmc_run::producers, -1);
            while (auto v = co_await ch.read()) {
                run.record(*v, last);
            }
        }));
    }
    finish_mpmc(ts, ch, cs);
    CHECK_FALSE(run.order_broken.load());
    CHECK(not_once(run.hits) == 0);
}

TEST_CASE("channel MPMC with canceled reads and complete() mid-stream: nothing lost, nothing doubled", "[stress]") {
    weft::thread_pool pool{weft::pool_options{.threads = 4}};
    mpmc_run run(items_from_env(250'000) / 5);
    weft::channel<item> ch{weft::channel_options{.capacity = 4}};
    std::atomic<std::size_t> accepted{0};
    std::vector<weft::task<void>> ts;
    for (std::uint32_t p = 0; p < mpmc_run::producers; ++p) {
        ts.push_back(weft::spawn(pool, [&, p]() -> weft::task<void> {
            for (std::uint32_t i = 0; i < run.per_producer; ++i) {
                try {
                    co_await ch.write(item{p, i});
                    accepted.fetch_add(1);
                } catch (const weft::channel_closed&) {
                    co_return; // completed mid-stream: this item never entered
                }
                if (p == 0 && i == run.per_producer / 2) {
                    ch.complete();
                }
            }
        }));
    }
    std::atomic<std::size_t> read_canceled{0};
    std::vector<weft::task<void>> cs;
    for (std::uint32_t c = 0; c < mpmc_run::consumers; ++c) {
        cs.push_back(weft::spawn(pool, [&, c]() -> weft::task<void> {
            std::vector<std::int64_t> last(mpmc_run::producers, -1);
            std::minstd_rand rng(c + 1);
            for (;;) {
                weft::cancellation_source src;
                auto r = ch.read(src.token());
                if (rng() % 3 == 0) {
                    src.cancel(); // at a random point against the writers
                }
                try {
                    auto v = co_await std::move(r);
                    if (!v) {
                        co_return;
                    }
                    run.record(*v, last);
                } catch (const weft::operation_canceled&) {
                    read_canceled.fetch_add(1); // it took nothing: the ledger says so
                }
            }
        }));
    }
    finish_mpmc(ts, ch, cs);
    CHECK_FALSE(run.order_broken.load());
    std::size_t read = 0, doubled = 0;
    for (auto& h : run.hits) {
        read += h.load();
        doubled += h.load() > 1 ? 1U : 0U;
    }
    std::printf("channel cancel/complete: accepted %zu, read %zu, canceled reads %zu\n",
                accepted.load(),
                read,
                read_canceled.load());
    CHECK(doubled == 0);
    CHECK(read == accepted.load()); // every accepted write was read; nothing else was
}

TEST_CASE("select over 3 channels with racing writers: every item taken exactly once", "[stress]") {
    const std::size_t per_channel = items_from_env(250'000) * 2 / 15; // ~10^5 selects in all
    weft::channel<std::uint32_t> chs[3];
    std::vector<std::atomic<std::uint8_t>> hits(per_channel * 3);
    std::vector<std::thread> writers;
    for (std::uint32_t c = 0; c < 3; ++c) {
        writers.emplace_back([&, c] {
            for (std::uint32_t i = 0; i < per_channel; ++i) {
                REQUIRE(chs[c].try_write(static_cast<std::uint32_t>(c * per_channel + i)));
            }
        });
    }
    std::size_t taken = 0;
    for (std::size_t k = 0; k < per_channel * 3; ++k) {
        auto r = weft::select(chs[0], chs[1], chs[2]).get();
        const auto& v = r.index() == 0 ? std::get<0>(r) : r.index() == 1 ? std::get<1>(r) : std::get<2>(r);
        REQUIRE(v.has_value());
        hits[*v].fetch_add(1);
        ++taken;
    }
    for (auto& w : writers) {
        w.join();
    }
    CHECK(not_once(hits) == 0);
    CHECK(chs[0].size() + chs[1].size() + chs[2].size() == 0);
    CHECK(chs[0].waiting_readers() + chs[1].waiting_readers() + chs[2].waiting_readers() == 0);
}

TEST_CASE("a hand-off chain of 10^5 mutex waiters, released from a 256 KiB stack, does not nest", "[stress]") {
    const std::size_t n = items_from_env(250'000) * 2 / 5;
    weft::async_mutex m;
    auto held = m.try_lock();
    std::size_t ran = 0;
    std::vector<weft::task<void>> chain;
    chain.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // attached on a plain thread: no scheduler to hop to, so each runs on the releasing
        // thread, under the recursion guard; each unlocks, which hands on to the next
        chain.push_back(m.lock().then([&ran](weft::async_mutex_lock g) {
            ++ran;
            g.unlock();
        }));
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    auto body = +[](void* p) -> void* {
        static_cast<weft::async_mutex_lock*>(p)->unlock();
        return nullptr;
    };
    REQUIRE(pthread_create(&th, &attr, body, &held) == 0);
    pthread_join(th, nullptr);
    pthread_attr_destroy(&attr);
    CHECK(ran == n);
    CHECK_FALSE(m.is_locked());
}

namespace {
/// Runs `fn` on a fresh thread with a 256 KiB stack (a wake-up that nested would overflow it).
template<typename Fn>
void on_small_stack(Fn& fn) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    auto body = +[](void* p) -> void* {
        (*static_cast<Fn*>(p))();
        return nullptr;
    };
    REQUIRE(pthread_create(&th, &attr, body, &fn) == 0);
    pthread_join(th, nullptr);
    pthread_attr_destroy(&attr);
}
} // namespace

TEST_CASE("10^6 waiters on one manual-reset event, set from a 256 KiB stack: each continuation runs once", "[stress]") {
    // 10^6 waiters take ~0.5 GB; under a sanitizer's shadow memory a quarter of them
    const std::size_t n = items_from_env(250'000) * (WEFT_TSAN || WEFT_ASAN ? 1U : 4U);
    weft::async_manual_reset_event ev;
    std::size_t ran = 0;
    for (std::size_t i = 0; i < n; ++i) {
        // no task kept: the continuation holds the wait, and runs on the setting thread
        static_cast<void>(ev.wait().then([&ran] { ++ran; }));
    }
    REQUIRE(ev.waiters() == n);
    auto set = [&ev] {
        ev.set();
    };
    on_small_stack(set);
    CHECK(ran == n);
    CHECK(ev.waiters() == 0);
}

TEST_CASE("10^6 reads canceled at once leave no waiter and no memory behind", "[stress]") {
    const std::size_t n = items_from_env(250'000) * 4;
    weft::channel<int> ch;
    std::size_t canceled = 0;
    for (std::size_t i = 0; i < n; ++i) {
        weft::cancellation_source src;
        auto r = ch.read(src.token());
        src.cancel();
        canceled += r.is_canceled() ? 1U : 0U;
    }
    CHECK(canceled == n);
    CHECK(ch.waiting_readers() == 0);
    // a canceled read that stayed queued would show here (the queue held them; ASan's leak
    // check at exit catches one that was never freed)
    REQUIRE(ch.try_write(1));
    CHECK(ch.read().get() == std::optional<int>(1));
}

TEST_CASE("manual-reset event: set, reset and wait racing, no wait is left behind after the last set", "[stress]") {
    const std::size_t rounds = items_from_env(250'000) / 5;
    weft::async_manual_reset_event ev;
    std::atomic<std::size_t> completed{0};
    std::atomic<bool> stop{false};
    std::thread toggler([&] {
        while (!stop.load()) {
            ev.set();
            ev.reset();
        }
    });
    std::vector<std::thread> waiters;
    for (int t = 0; t < 3; ++t) {
        waiters.emplace_back([&] {
            for (std::size_t i = 0; i < rounds; ++i) {
                static_cast<void>(ev.wait().then([&completed] { completed.fetch_add(1); }));
            }
        });
    }
    for (auto& w : waiters) {
        w.join();
    }
    stop = true;
    toggler.join();
    ev.set(); // every wait queued before this returns has completed when it returns
    CHECK(completed.load() == 3 * rounds);
    CHECK(ev.waiters() == 0);
    CHECK(ev.wait().is_succeeded()); // set, and no reset since: ready at once
}

TEST_CASE("rw lock: a writer gets in while 4 readers keep re-entering, behind at most the readers queued before it",
          "[stress]") {
    constexpr std::size_t readers = 4;
    const std::size_t writes = items_from_env(250'000) / 250;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::async_rw_lock rw;
    std::atomic<std::size_t> reads{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> overlap{false};
    std::atomic<int> inside{0};
    std::vector<weft::task<void>> loops;
    for (std::size_t r = 0; r < readers; ++r) {
        loops.push_back(weft::spawn(pool, [&]() -> weft::task<void> {
            while (!stop.load()) {
                auto h = co_await rw.lock_shared();
                if (inside.fetch_add(1) < 0) {
                    overlap = true;
                }
                reads.fetch_add(1);
                inside.fetch_sub(1);
            }
        }));
    }
    std::size_t most_overtaken = 0;
    for (std::size_t k = 0; k < writes; ++k) {
        auto pending = rw.lock(); // queued (or granted) when this returns
        const std::size_t before = reads.load();
        auto h = std::move(pending).get(); // starves forever if new readers could keep passing it
        const std::size_t overtaken = reads.load() - before;
        most_overtaken = std::max(most_overtaken, overtaken);
        if (inside.exchange(-1000) != 0) {
            overlap = true;
        }
        inside.store(0);
    }
    stop = true;
    for (auto& l : loops) {
        l.get();
    }
    CHECK_FALSE(overlap.load());
    // only readers that held it or were queued before the writer: each loop has one request out
    INFO("most reads between a writer's request and its grant: " << most_overtaken);
    CHECK(most_overtaken <= readers);
}

TEST_CASE("barrier: 4 participants through 10^4 phases, arrivals withdrawn by random timeouts and retried",
          "[stress]") {
    constexpr std::size_t participants = 4;
    const std::uint64_t phases = items_from_env(250'000) / 25;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::atomic<std::uint64_t> steps{0};
    weft::async_barrier barrier(participants, [&](std::uint64_t) { steps.fetch_add(1); });
    std::atomic<std::size_t> timeouts{0};
    std::atomic<bool> order_broken{false};
    std::vector<weft::task<void>> loops;
    for (std::size_t p = 0; p < participants; ++p) {
        loops.push_back(weft::spawn(pool, [&, p]() -> weft::task<void> {
            std::minstd_rand rng(static_cast<unsigned>(p + 1));
            for (std::uint64_t expect = 0; expect < phases; ++expect) {
                for (;;) {
                    weft::cancellation_source src;
                    if (rng() % 4 == 0) {
                        src.cancel_after(std::chrono::microseconds(rng() % 50));
                    }
                    try {
                        const std::uint64_t phase = co_await barrier.arrive_and_wait(src.token());
                        if (phase != expect) {
                            order_broken = true;
                        }
                        break;
                    } catch (const weft::operation_canceled&) {
                        timeouts.fetch_add(1); // withdrawn: arrive again
                    }
                }
            }
        }));
    }
    for (auto& l : loops) {
        l.get();
    }
    CHECK_FALSE(order_broken.load());
    CHECK(steps.load() == phases);
    CHECK(barrier.phase() == phases);
    INFO("arrivals withdrawn by a timeout: " << timeouts.load());
    CHECK(barrier.arrived() == 0);
}

TEST_CASE("select over writes into 3 bounded channels with 3 readers: every item read exactly once", "[stress]") {
    const std::uint32_t n = static_cast<std::uint32_t>(items_from_env(250'000) / 5);
    weft::channel<std::uint32_t> chs[3] = {weft::channel<std::uint32_t>({.capacity = 16}),
                                           weft::channel<std::uint32_t>({.capacity = 16}),
                                           weft::channel<std::uint32_t>({.capacity = 16})};
    std::vector<std::atomic<std::uint8_t>> hits(n);
    std::vector<std::thread> readers;
    for (auto& ch : chs) {
        readers.emplace_back([&hits, &ch] {
            while (auto v = ch.read_blocking()) {
                hits[*v].fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    std::size_t wins[3] = {0, 0, 0};
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t v = i;
        ++wins[weft::select(weft::on_write(chs[0], v), weft::on_write(chs[1], v), weft::on_write(chs[2], v))
                   .get()
                   .index()];
    }
    for (auto& ch : chs) {
        ch.complete();
    }
    for (auto& r : readers) {
        r.join();
    }
    CHECK(not_once(hits) == 0);
    CHECK(wins[0] + wins[1] + wins[2] == n);
    CHECK(chs[0].waiting_writers() + chs[1].waiting_writers() + chs[2].waiting_writers() == 0);
}

TEST_CASE("two selects, each reading what the other writes through capacity-1 channels: both sequences arrive whole "
          "and in order",
          "[stress]") {
    const std::uint32_t n = static_cast<std::uint32_t>(items_from_env(250'000) / 25);
    weft::channel<std::uint32_t> ab({.capacity = 1});
    weft::channel<std::uint32_t> ba({.capacity = 1});
    auto side = [n](weft::channel<std::uint32_t>& out, weft::channel<std::uint32_t>& in) {
        std::uint32_t next_out = 0;
        std::uint32_t next_in = 0;
        bool in_order = true;
        while (next_out < n) {
            std::uint32_t v = next_out;
            auto r = weft::select(weft::on_write(out, v), weft::on_read(in)).get();
            if (r.index() == 0) {
                ++next_out;
            } else {
                in_order = in_order && std::get<1>(r) == std::optional<std::uint32_t>(next_in);
                ++next_in;
            }
        }
        while (next_in < n) {
            in_order = in_order && in.read().get() == std::optional<std::uint32_t>(next_in);
            ++next_in;
        }
        return in_order;
    };
    bool a_ok = false;
    std::thread a([&] { a_ok = side(ab, ba); });
    const bool b_ok = side(ba, ab);
    a.join();
    CHECK(a_ok);
    CHECK(b_ok);
    CHECK(ab.size() + ba.size() == 0);
}
