// Stress tests for weft/sync/: the races of this area, each counted by a ledger.
// - a waiter canceled at the moment of a release loses no permit and none is given twice;
// - MPMC channel, 4 producers x 4 consumers: every item read exactly once, per-producer order
//   kept for each consumer; the same with canceled reads, and with complete() mid-stream;
// - select over 3 channels with writers racing: no item lost or doubled;
// - a hand-off chain of 10^5 mutex waiters released from a 256 KiB stack.
// Counts scale with WEFT_STRESS_ITEMS (items per producer; default 250,000).
#include <weft/sync.hpp>
#include <weft/weft.hpp>

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

} // namespace

TEST_CASE("semaphore: a waiter canceled while the permit is released loses none and none is given twice", "[stress]") {
    const std::size_t rounds = items_from_env(250'000) * 2 / 5; // 10^5 by default
    weft::async_semaphore s(1);
    std::atomic<std::size_t> round{0};
    std::atomic<bool> stop{false};
    weft::cancellation_source* current = nullptr;
    std::atomic<std::size_t> cancel_ready{0};
    std::thread canceler([&] {
        std::size_t seen = 0;
        while (!stop.load()) {
            const std::size_t r = cancel_ready.load(std::memory_order_acquire);
            if (r == seen) {
                std::this_thread::yield();
                continue;
            }
            seen = r;
            for (unsigned spin = r % 64; spin > 0; --spin) {
                std::atomic_signal_fence(std::memory_order_seq_cst); // a varying head start
            }
            current->cancel();
            round.store(r, std::memory_order_release);
        }
    });
    std::size_t granted = 0, canceled = 0, bad = 0;
    for (std::size_t r = 1; r <= rounds; ++r) {
        REQUIRE(s.try_acquire());
        weft::cancellation_source src;
        current = &src;
        auto w = s.acquire(src.token());
        cancel_ready.store(r, std::memory_order_release); // the token fires ...
        for (std::size_t spin = (r * 7919) % 4096; spin > 0; --spin) {
            std::atomic_signal_fence(std::memory_order_seq_cst);
        }
        s.release(); // ... while the permit is released
        while (round.load(std::memory_order_acquire) != r) {
            std::this_thread::yield();
        }
        if (w.is_succeeded()) {
            ++granted;
            if (s.available() != 0) {
                ++bad; // two holders
            }
            s.release();
        } else if (w.is_canceled()) {
            ++canceled;
        } else {
            ++bad;
        }
        if (s.available() != 1 || s.waiters() != 0) {
            ++bad; // a permit lost, or a waiter left behind
        }
    }
    stop = true;
    canceler.join();
    std::printf("semaphore cancel race: %zu rounds, granted %zu, canceled %zu\n", rounds, granted, canceled);
    CHECK(bad == 0);
    CHECK(granted + canceled == rounds);
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
    for (auto& t : ts) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
    ch.complete();
    for (auto& t : cs) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
    CHECK_FALSE(run.order_broken.load());
    std::size_t wrong = 0;
    for (auto& h : run.hits) {
        wrong += h.load() != 1 ? 1U : 0U;
    }
    CHECK(wrong == 0);
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
    for (auto& t : ts) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
    ch.complete();
    for (auto& t : cs) {
        REQUIRE(t.wait_for(600s));
        t.get();
    }
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
    std::size_t wrong = 0;
    for (auto& h : hits) {
        wrong += h.load() != 1 ? 1U : 0U;
    }
    CHECK(wrong == 0);
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
