// benchmarks/sync_bench.cpp — what weft's channel and async_mutex cost, against the peers a C++
// user has for the same job, all in this one process and run: Asio's
// experimental::concurrent_channel (coroutines on asio::thread_pool, Debian libasio-dev), oneTBB's
// concurrent_bounded_queue (blocking, Debian libtbb-dev), a mutex + condition-variable queue, and
// std::mutex.
//
// Workloads (items per second; ns per item = 1e9 / items_per_second):
//   channel_spsc      one producer writes 10^6 longs into a channel of capacity 1024, one consumer
//                     reads them. weft and Asio: two coroutines on a pool of T workers; the
//                     blocking queues: two plain threads (T does not apply to them).
//   channel_mpmc      4 producers x 250,000 items, 4 consumers reading 250,000 each, capacity 1024.
//   channel_pingpong  10^5 round trips between two coroutines (threads) through two channels of
//                     capacity 1: the latency of one hand-off each way.
//   mutex_uncontended 10^6 lock / increment / unlock from one coroutine (thread), nobody else.
//                     weft_async_mutex: co_await m.lock() (a task); weft_scoped_lock:
//                     co_await m.scoped_lock() (no task when the mutex is free).
//   mutex_contended   4 coroutines (threads) x 250,000 lock / increment / unlock on one mutex.
//   channel_idle      a reader waits 200 ms on an empty channel: `cpu_pct` is the process's CPU
//                     time over that wall time (weft's waiting costs no polling).
// Every result is checked (sums, counts), so a broken run cannot look fast.
#include <weft/resume_on.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include <sys/resource.h>

#if WEFT_BENCH_HAVE_ASIO
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#endif

#if WEFT_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

namespace {

constexpr long spsc_items = 1'000'000;
constexpr int mpmc_sides = 4;
constexpr long mpmc_per_side = 250'000;
constexpr std::size_t capacity = 1024;
constexpr long pingpong_trips = 100'000;
constexpr long mutex_ops = 1'000'000;
constexpr int mutex_contenders = 4;

using weft_bench::check;
using weft_bench::workers;

/// 0 + 1 + ... + (n - 1): what the consumers' sums must add up to.
constexpr long series(long n) {
    return n * (n - 1) / 2;
}

// ---- weft ---------------------------------------------------------------------------------------

using weft_channel = weft::channel<long>;

weft::task<void> weft_produce(weft::thread_pool& pool, weft_channel& ch, long from, long n) {
    co_await weft::resume_on(pool);
    for (long i = from; i < from + n; ++i) {
        co_await ch.write(i);
    }
}

weft::task<long> weft_consume(weft::thread_pool& pool, weft_channel& ch, long n) {
    co_await weft::resume_on(pool);
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        std::optional<long> v = co_await ch.read();
        sum += v.value();
    }
    co_return sum;
}

/// `sides` producers of `per_side` items each and as many consumers; the consumers' total.
long weft_channel_run(weft::thread_pool& pool, int sides, long per_side) {
    weft_channel ch({.capacity = capacity});
    std::vector<weft::task<long>> readers;
    std::vector<weft::task<void>> writers;
    for (int s = 0; s < sides; ++s) {
        readers.push_back(weft_consume(pool, ch, per_side));
    }
    for (int s = 0; s < sides; ++s) {
        writers.push_back(weft_produce(pool, ch, s * per_side, per_side));
    }
    long sum = 0;
    for (auto& r : readers) {
        sum += r.get();
    }
    for (auto& w : writers) {
        w.get();
    }
    return sum;
}

void BM_channel_spsc_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_channel_run(pool, 1, spsc_items) == series(spsc_items), "weft spsc");
    }
    st.SetItemsProcessed(st.iterations() * spsc_items);
}

void BM_channel_mpmc_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_channel_run(pool, mpmc_sides, mpmc_per_side) == series(mpmc_sides * mpmc_per_side), "weft mpmc");
    }
    st.SetItemsProcessed(st.iterations() * mpmc_sides * mpmc_per_side);
}

weft::task<long> weft_ping(weft::thread_pool& pool, weft_channel& out, weft_channel& in, long trips) {
    co_await weft::resume_on(pool);
    long sum = 0;
    for (long i = 0; i < trips; ++i) {
        co_await out.write(i);
        sum += (co_await in.read()).value();
    }
    co_return sum;
}

weft::task<void> weft_pong(weft::thread_pool& pool, weft_channel& in, weft_channel& out, long trips) {
    co_await weft::resume_on(pool);
    for (long i = 0; i < trips; ++i) {
        co_await out.write((co_await in.read()).value());
    }
}

void BM_channel_pingpong_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        weft_channel there({.capacity = 1});
        weft_channel back({.capacity = 1});
        weft::task<void> pong = weft_pong(pool, there, back, pingpong_trips);
        check(weft_ping(pool, there, back, pingpong_trips).get() == series(pingpong_trips), "weft ping-pong");
        pong.get();
    }
    st.SetItemsProcessed(st.iterations() * pingpong_trips);
}

/// `scoped`: co_await m.scoped_lock() (no task when free); else co_await m.lock().
weft::task<long> weft_lock_loop(weft::thread_pool* pool, weft::async_mutex& m, long& shared, long n, bool scoped) {
    if (pool != nullptr) {
        co_await weft::resume_on(*pool);
    }
    for (long i = 0; i < n; ++i) {
        // (no ?: around the co_awaits: g++ 12 destroys the other branch's result too)
        if (scoped) {
            auto hold = co_await m.scoped_lock();
            ++shared;
        } else {
            auto hold = co_await m.lock();
            ++shared;
        }
    }
    co_return n;
}

void mutex_uncontended_weft(benchmark::State& st, bool scoped) {
    weft::async_mutex m;
    long shared = 0;
    for (auto _ : st) {
        check(weft_lock_loop(nullptr, m, shared, mutex_ops, scoped).get() == mutex_ops, "weft mutex");
    }
    check(shared == st.iterations() * mutex_ops, "weft mutex count");
    st.SetItemsProcessed(st.iterations() * mutex_ops);
}
void BM_mutex_uncontended_weft(benchmark::State& st) {
    mutex_uncontended_weft(st, false);
}
void BM_mutex_uncontended_weft_scoped(benchmark::State& st) {
    mutex_uncontended_weft(st, true);
}

void mutex_contended_weft(benchmark::State& st, bool scoped) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    weft::async_mutex m;
    long shared = 0;
    constexpr long per = mutex_ops / mutex_contenders;
    for (auto _ : st) {
        std::vector<weft::task<long>> loops;
        for (int c = 0; c < mutex_contenders; ++c) {
            loops.push_back(weft_lock_loop(&pool, m, shared, per, scoped));
        }
        for (auto& l : loops) {
            check(l.get() == per, "weft contended mutex");
        }
    }
    check(shared == st.iterations() * mutex_ops, "weft contended mutex count");
    st.SetItemsProcessed(st.iterations() * mutex_ops);
}
void BM_mutex_contended_weft(benchmark::State& st) {
    mutex_contended_weft(st, false);
}
void BM_mutex_contended_weft_scoped(benchmark::State& st) {
    mutex_contended_weft(st, true);
}

double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const auto secs = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

void BM_channel_idle_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    double cpu = 0;
    double wall = 0;
    for (auto _ : st) {
        weft_channel ch;
        weft::task<long> reader = weft_consume(pool, ch, 1);
        const double cpu0 = process_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cpu += process_cpu_seconds() - cpu0;
        wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        check(ch.try_write(7), "idle write");
        check(reader.get() == 7, "idle read");
    }
    st.counters["cpu_pct"] = 100.0 * cpu / wall;
}

// ---- blocking queues: a mutex + condition-variable queue, and oneTBB -------------------------------

/// The queue a C++ programmer writes first: bounded, one mutex, two condition variables.
class cv_queue {
public:
    explicit cv_queue(std::size_t cap) : cap_(cap) {}
    void push(long v) {
        std::unique_lock lock(mutex_);
        not_full_.wait(lock, [&] { return items_.size() < cap_; });
        items_.push_back(v);
        lock.unlock();
        not_empty_.notify_one();
    }
    long pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty(); });
        const long v = items_.front();
        items_.pop_front();
        lock.unlock();
        not_full_.notify_one();
        return v;
    }

private:
    const std::size_t cap_;
    std::mutex mutex_;
    // --- guarded by mutex_ ---
    std::deque<long> items_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
};

/// Pushes and pops through a blocking queue, one thread per producer and per consumer.
template<typename Push, typename Pop>
long blocking_run(int sides, long per_side, Push push, Pop pop) {
    std::vector<long> sums(static_cast<std::size_t>(sides), 0);
    std::vector<std::thread> threads;
    for (int s = 0; s < sides; ++s) {
        threads.emplace_back([&, s] {
            long sum = 0;
            for (long i = 0; i < per_side; ++i) {
                sum += pop();
            }
            sums[static_cast<std::size_t>(s)] = sum;
        });
        threads.emplace_back([&, s] {
            for (long i = s * per_side; i < (s + 1) * per_side; ++i) {
                push(i);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    long total = 0;
    for (long s : sums) {
        total += s;
    }
    return total;
}

template<typename Queue, typename Make>
void blocking_channel_bench(benchmark::State& st, int sides, long per_side, Make make) {
    for (auto _ : st) {
        Queue q = make();
        const long sum = blocking_run(
            sides, per_side, [&q](long v) { q.push(v); }, [&q] { return pop_one(q); });
        check(sum == series(sides * per_side), "blocking queue sum");
    }
    st.SetItemsProcessed(st.iterations() * sides * per_side);
}

long pop_one(cv_queue& q) {
    return q.pop();
}

cv_queue make_cv_queue() {
    return cv_queue(capacity);
}

void BM_channel_spsc_cv_queue(benchmark::State& st) {
    blocking_channel_bench<cv_queue>(st, 1, spsc_items, make_cv_queue);
}
void BM_channel_mpmc_cv_queue(benchmark::State& st) {
    blocking_channel_bench<cv_queue>(st, mpmc_sides, mpmc_per_side, make_cv_queue);
}

template<typename Queue, typename Make>
void blocking_pingpong_bench(benchmark::State& st, Make make) {
    for (auto _ : st) {
        Queue there = make();
        Queue back = make();
        std::thread pong([&] {
            for (long i = 0; i < pingpong_trips; ++i) {
                back.push(pop_one(there));
            }
        });
        long sum = 0;
        for (long i = 0; i < pingpong_trips; ++i) {
            there.push(i);
            sum += pop_one(back);
        }
        pong.join();
        check(sum == series(pingpong_trips), "blocking ping-pong");
    }
    st.SetItemsProcessed(st.iterations() * pingpong_trips);
}

void BM_channel_pingpong_cv_queue(benchmark::State& st) {
    blocking_pingpong_bench<cv_queue>(st, [] { return cv_queue(1); });
}

void BM_mutex_uncontended_std(benchmark::State& st) {
    std::mutex m;
    long shared = 0;
    for (auto _ : st) {
        for (long i = 0; i < mutex_ops; ++i) {
            std::lock_guard hold(m);
            ++shared;
        }
        benchmark::DoNotOptimize(shared);
    }
    check(shared == st.iterations() * mutex_ops, "std mutex count");
    st.SetItemsProcessed(st.iterations() * mutex_ops);
}

void BM_mutex_contended_std(benchmark::State& st) {
    std::mutex m;
    long shared = 0;
    constexpr long per = mutex_ops / mutex_contenders;
    for (auto _ : st) {
        std::vector<std::thread> threads;
        for (int c = 0; c < mutex_contenders; ++c) {
            threads.emplace_back([&] {
                for (long i = 0; i < per; ++i) {
                    std::lock_guard hold(m);
                    ++shared;
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
    }
    check(shared == st.iterations() * mutex_ops, "std contended mutex count");
    st.SetItemsProcessed(st.iterations() * mutex_ops);
}

#if WEFT_BENCH_HAVE_TBB
using tbb_queue = tbb::concurrent_bounded_queue<long>;

long pop_one(tbb_queue& q) {
    long v = 0;
    q.pop(v);
    return v;
}

/// A heap-held queue: concurrent_bounded_queue is neither copyable nor movable.
struct tbb_queue_box {
    explicit tbb_queue_box(std::size_t cap) : q(std::make_unique<tbb_queue>()) {
        q->set_capacity(static_cast<std::ptrdiff_t>(cap));
    }
    void push(long v) { q->push(v); }
    std::unique_ptr<tbb_queue> q;
};
long pop_one(tbb_queue_box& b) {
    return pop_one(*b.q);
}

void BM_channel_spsc_tbb(benchmark::State& st) {
    blocking_channel_bench<tbb_queue_box>(st, 1, spsc_items, [] { return tbb_queue_box(capacity); });
}
void BM_channel_mpmc_tbb(benchmark::State& st) {
    blocking_channel_bench<tbb_queue_box>(st, mpmc_sides, mpmc_per_side, [] { return tbb_queue_box(capacity); });
}
void BM_channel_pingpong_tbb(benchmark::State& st) {
    blocking_pingpong_bench<tbb_queue_box>(st, [] { return tbb_queue_box(1); });
}
#endif

// ---- Asio: experimental::concurrent_channel, coroutines on asio::thread_pool ----------------------

#if WEFT_BENCH_HAVE_ASIO
using asio_channel = asio::experimental::concurrent_channel<void(asio::error_code, long)>;

asio::awaitable<void> asio_produce(asio_channel& ch, long from, long n) {
    for (long i = from; i < from + n; ++i) {
        co_await ch.async_send(asio::error_code{}, i, asio::use_awaitable);
    }
}

asio::awaitable<long> asio_consume(asio_channel& ch, long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        auto [ec, v] = co_await ch.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
        check(!ec, "asio receive");
        sum += v;
    }
    co_return sum;
}

long asio_channel_run(asio::thread_pool& pool, int sides, long per_side) {
    asio_channel ch(pool.get_executor(), capacity);
    std::vector<std::future<long>> readers;
    std::vector<std::future<void>> writers;
    for (int s = 0; s < sides; ++s) {
        readers.push_back(asio::co_spawn(pool, asio_consume(ch, per_side), asio::use_future));
    }
    for (int s = 0; s < sides; ++s) {
        writers.push_back(asio::co_spawn(pool, asio_produce(ch, s * per_side, per_side), asio::use_future));
    }
    long sum = 0;
    for (auto& r : readers) {
        sum += r.get();
    }
    for (auto& w : writers) {
        w.get();
    }
    return sum;
}

void BM_channel_spsc_asio(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    for (auto _ : st) {
        check(asio_channel_run(pool, 1, spsc_items) == series(spsc_items), "asio spsc");
    }
    st.SetItemsProcessed(st.iterations() * spsc_items);
}

void BM_channel_mpmc_asio(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    for (auto _ : st) {
        check(asio_channel_run(pool, mpmc_sides, mpmc_per_side) == series(mpmc_sides * mpmc_per_side), "asio mpmc");
    }
    st.SetItemsProcessed(st.iterations() * mpmc_sides * mpmc_per_side);
}

asio::awaitable<long> asio_ping(asio_channel& out, asio_channel& in, long trips) {
    long sum = 0;
    for (long i = 0; i < trips; ++i) {
        co_await out.async_send(asio::error_code{}, i, asio::use_awaitable);
        sum += co_await in.async_receive(asio::use_awaitable);
    }
    co_return sum;
}

asio::awaitable<void> asio_pong(asio_channel& in, asio_channel& out, long trips) {
    for (long i = 0; i < trips; ++i) {
        const long v = co_await in.async_receive(asio::use_awaitable);
        co_await out.async_send(asio::error_code{}, v, asio::use_awaitable);
    }
}

void BM_channel_pingpong_asio(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    for (auto _ : st) {
        asio_channel there(pool.get_executor(), 1);
        asio_channel back(pool.get_executor(), 1);
        auto pong = asio::co_spawn(pool, asio_pong(there, back, pingpong_trips), asio::use_future);
        auto ping = asio::co_spawn(pool, asio_ping(there, back, pingpong_trips), asio::use_future);
        check(ping.get() == series(pingpong_trips), "asio ping-pong");
        pong.get();
    }
    st.SetItemsProcessed(st.iterations() * pingpong_trips);
}
#endif

/// Registers a benchmark that does not depend on the worker count (one row, no threads:T).
benchmark::internal::Benchmark* once(const char* name, void (*fn)(benchmark::State&)) {
    return benchmark::RegisterBenchmark(name, fn)->UseRealTime()->Unit(benchmark::kMillisecond);
}

} // namespace

int main(int argc, char** argv) {
    // glibc skips the atomic instructions of std::mutex while a process has never started a
    // thread; a program with a weft pool has. Start one first, so every row (whatever the
    // filter) measures std::mutex as such a program sees it.
    std::thread([] {}).join();
    WEFT_BENCH(BM_channel_spsc_weft, "channel_spsc", "weft");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_channel_spsc_asio, "channel_spsc", "asio_concurrent_channel");
#endif
#if WEFT_BENCH_HAVE_TBB
    once("BM_channel_spsc/tbb_bounded_queue", BM_channel_spsc_tbb);
#endif
    once("BM_channel_spsc/cv_queue", BM_channel_spsc_cv_queue);

    WEFT_BENCH(BM_channel_mpmc_weft, "channel_mpmc", "weft");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_channel_mpmc_asio, "channel_mpmc", "asio_concurrent_channel");
#endif
#if WEFT_BENCH_HAVE_TBB
    once("BM_channel_mpmc/tbb_bounded_queue", BM_channel_mpmc_tbb);
#endif
    once("BM_channel_mpmc/cv_queue", BM_channel_mpmc_cv_queue);

    WEFT_BENCH(BM_channel_pingpong_weft, "channel_pingpong", "weft");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_channel_pingpong_asio, "channel_pingpong", "asio_concurrent_channel");
#endif
#if WEFT_BENCH_HAVE_TBB
    once("BM_channel_pingpong/tbb_bounded_queue", BM_channel_pingpong_tbb);
#endif
    once("BM_channel_pingpong/cv_queue", BM_channel_pingpong_cv_queue);

    once("BM_mutex_uncontended/weft_async_mutex", BM_mutex_uncontended_weft);
    once("BM_mutex_uncontended/weft_scoped_lock", BM_mutex_uncontended_weft_scoped);
    once("BM_mutex_uncontended/std_mutex", BM_mutex_uncontended_std);
    WEFT_BENCH(BM_mutex_contended_weft, "mutex_contended", "weft_async_mutex");
    WEFT_BENCH(BM_mutex_contended_weft_scoped, "mutex_contended", "weft_scoped_lock");
    once("BM_mutex_contended/std_mutex", BM_mutex_contended_std);

    WEFT_BENCH(BM_channel_idle_weft, "channel_idle", "weft")->Iterations(3);
    return weft_bench::run_benchmarks(argc, argv);
}
