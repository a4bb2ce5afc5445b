// benchmarks/pool_bench.cpp — the work-stealing pool against oneTBB and a plain mutex/condvar
// pool, in one binary and one run (workloads in pool_workloads.hpp, method in
// benchmarks/README.md). Names: BM_<workload>/<implementation>/threads:<T>/real_time; the figure
// that matters is ns per item (items = spawned tasks, nodes, submitted tasks, round trips).
//   fib30         fib(30) spawn-join: weft_spawn (a task future per spawn), weft_local
//                 (structured: local_task), tbb_task_group
//   skynet        10^6 leaves: weft_spawn, weft_local, tbb_task_group
//   fan_out       10^6 tasks from main: weft_spawn, weft_post (no task state), tbb_task_group
//                 (main helps in wait()),
//                 cv_pool (plain mutex/condvar pool)
//   ping_pong     10^5 round trips between two 1-thread executors: weft (spawn), weft_post,
//                 tbb_arena, cv_pool
//   fan_out_split the fan-out with every worker held while main submits, then released:
//                 counters submit_ns and drain_ns per task (the two halves timed apart)
// oneTBB's worker count is set with global_control(max_allowed_parallelism = T); at T=1 it has
// no worker and main runs everything. A blocking join would deadlock the
// plain pool, so it runs only the workloads it can (fan-out, ping-pong).
// Every result is checked, so a broken run cannot look fast. WEFT_BENCH_THREADS="1,2,4,8,16"
// runs other worker counts (default 1 and 2). ping_pong always uses two 1-thread executors
// (the same one when threads = 1).
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "pool_workloads.hpp"

#include <benchmark/benchmark.h>

#if WEFT_BENCH_HAVE_TBB
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#endif

namespace {

constexpr int fib_n = 30;
constexpr long fib_result = 832'040;
constexpr long fib_tasks = 1'346'268; // F(31) - 1
constexpr long fan_out_tasks = 1'000'000;
constexpr long ping_pong_trips = 100'000;

using weft_bench::check;
std::size_t threads(const benchmark::State& st) {
    return weft_bench::workers(st);
}

// ---- weft ------------------------------------------------------------------------------------

/// Runs `root(pool)` as one task on a pool of T workers per iteration and checks its result;
/// `items` per iteration are the spawned tasks or nodes the figure is divided by.
template<typename Root>
void run_root_task(benchmark::State& st, long items, long expected, Root root) {
    weft::thread_pool pool{weft::pool_options{.threads = threads(st)}};
    for (auto _ : st) {
        check(weft::spawn(pool, [&] { return root(pool); }).get() == expected, "result");
    }
    st.SetItemsProcessed(st.iterations() * items);
}

void BM_fib_weft_spawn(benchmark::State& st) {
    run_root_task(st, fib_tasks, fib_result, [](weft::thread_pool& p) { return weft_bench::fib_spawn(p, fib_n); });
}

void BM_fib_weft_local(benchmark::State& st) {
    run_root_task(st, fib_tasks, fib_result, [](weft::thread_pool& p) { return weft_bench::fib_local(p, fib_n); });
}

void BM_skynet_weft_spawn(benchmark::State& st) {
    run_root_task(st, weft_bench::skynet_nodes, weft_bench::skynet_sum, [](weft::thread_pool& p) {
        return weft_bench::skynet_spawn(p, 0, weft_bench::skynet_size);
    });
}

void BM_skynet_weft_local(benchmark::State& st) {
    run_root_task(st, weft_bench::skynet_nodes, weft_bench::skynet_sum, [](weft::thread_pool& p) {
        return weft_bench::skynet_local(p, 0, weft_bench::skynet_size);
    });
}

/// Fan-out with weft::spawn (Post = false) or weft::post.
template<bool Post>
void BM_fan_out_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = threads(st)}};
    for (auto _ : st) {
        check(weft_bench::fan_out<Post>(pool, fan_out_tasks) == fan_out_tasks, "fan-out");
    }
    st.SetItemsProcessed(st.iterations() * fan_out_tasks);
}

/// Ping-pong with weft::spawn (Post = false) or weft::post.
template<bool Post>
void BM_ping_pong_weft(benchmark::State& st) {
    weft::thread_pool a{weft::pool_options{.threads = 1}};
    weft::thread_pool b{weft::pool_options{.threads = 1}};
    weft::thread_pool& other = threads(st) == 1 ? a : b;
    for (auto _ : st) {
        check(weft_bench::ping_pong_with<Post>(a, other, ping_pong_trips) == 1, "ping-pong");
    }
    st.SetItemsProcessed(st.iterations() * ping_pong_trips);
}

/// The fan-out's two halves timed apart: every worker is held (blocked in a std::future wait,
/// which does not help) while main submits the tasks, then released to drain the backlog.
/// Counters: submit_ns and drain_ns per task. The figure per item covers the whole iteration.
void BM_fan_out_split_weft_spawn(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = threads(st)}};
    double submit_ns = 0;
    double drain_ns = 0;
    for (auto _ : st) {
        std::promise<void> go;
        std::shared_future<void> released = go.get_future().share();
        std::latch held(static_cast<std::ptrdiff_t>(threads(st)));
        for (std::size_t i = 0; i < threads(st); ++i) {
            (void)weft::spawn(pool, [&] {
                held.count_down();
                released.wait();
            });
        }
        held.wait();
        std::atomic<long> count{0};
        std::latch done(fan_out_tasks);
        const auto t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < fan_out_tasks; ++i) {
            (void)weft::spawn(pool, [&] {
                count.fetch_add(1, std::memory_order_relaxed);
                done.count_down();
            });
        }
        const auto t1 = std::chrono::steady_clock::now();
        go.set_value();
        done.wait();
        const auto t2 = std::chrono::steady_clock::now();
        check(count.load() == fan_out_tasks, "fan-out split");
        submit_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
        drain_ns += std::chrono::duration<double, std::nano>(t2 - t1).count();
    }
    const auto tasks = static_cast<double>(st.iterations() * fan_out_tasks);
    st.counters["submit_ns"] = submit_ns / tasks;
    st.counters["drain_ns"] = drain_ns / tasks;
    st.SetItemsProcessed(st.iterations() * fan_out_tasks);
}

// ---- a plain mutex/condvar pool (the peers' "simple pool") ----------------------------------

class cv_pool {
public:
    explicit cv_pool(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            threads_.emplace_back([this] { run(); });
        }
    }
    cv_pool(const cv_pool&) = delete;
    cv_pool& operator=(const cv_pool&) = delete;
    ~cv_pool() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) {
            t.join();
        }
    }
    void post(std::function<void()> f) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(f));
        }
        cv_.notify_one();
    }

private:
    void run() {
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (queue_.empty()) {
                    return;
                }
                f = std::move(queue_.front());
                queue_.pop_front();
            }
            f();
        }
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_; // guarded by mutex_
    bool stop_ = false;                       // guarded by mutex_
    std::vector<std::thread> threads_;
};

void BM_fan_out_cv_pool(benchmark::State& st) {
    cv_pool pool(threads(st));
    for (auto _ : st) {
        std::atomic<long> count{0};
        std::latch done(fan_out_tasks);
        for (long i = 0; i < fan_out_tasks; ++i) {
            pool.post([&] {
                count.fetch_add(1, std::memory_order_relaxed);
                done.count_down();
            });
        }
        done.wait();
        check(count.load() == fan_out_tasks, "cv fan-out");
    }
    st.SetItemsProcessed(st.iterations() * fan_out_tasks);
}

struct cv_hop {
    cv_pool* here;
    cv_pool* there;
    long left;
    std::promise<void>* done;
    void operator()() const {
        if (left == 0) {
            done->set_value();
            return;
        }
        there->post(cv_hop{there, here, left - 1, done});
    }
};

void BM_ping_pong_cv_pool(benchmark::State& st) {
    cv_pool a(1);
    cv_pool b(1);
    cv_pool& other = threads(st) == 1 ? a : b;
    for (auto _ : st) {
        std::promise<void> done;
        auto f = done.get_future();
        a.post(cv_hop{&a, &other, 2 * ping_pong_trips, &done});
        f.get();
    }
    st.SetItemsProcessed(st.iterations() * ping_pong_trips);
}

// ---- oneTBB ------------------------------------------------------------------------------------

#if WEFT_BENCH_HAVE_TBB
long fib_tbb(int n) {
    if (n < 2) {
        return n;
    }
    long a = 0;
    tbb::task_group g;
    g.run([&] { a = fib_tbb(n - 1); });
    const long b = fib_tbb(n - 2);
    g.wait();
    return a + b;
}

long skynet_tbb(long num, long size) {
    if (size == 1) {
        return num;
    }
    const long sub = size / weft_bench::skynet_div;
    std::array<long, weft_bench::skynet_div> results{};
    tbb::task_group g;
    for (long i = 0; i < weft_bench::skynet_div; ++i) {
        g.run([&results, i, n = num + i * sub, sub] { results[static_cast<std::size_t>(i)] = skynet_tbb(n, sub); });
    }
    g.wait();
    long sum = 0;
    for (long r : results) {
        sum += r;
    }
    return sum;
}

void BM_fib_tbb_task_group(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads(st));
    for (auto _ : st) {
        check(fib_tbb(fib_n) == fib_result, "tbb fib");
    }
    st.SetItemsProcessed(st.iterations() * fib_tasks);
}

void BM_skynet_tbb_task_group(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads(st));
    for (auto _ : st) {
        check(skynet_tbb(0, weft_bench::skynet_size) == weft_bench::skynet_sum, "tbb skynet");
    }
    st.SetItemsProcessed(st.iterations() * weft_bench::skynet_nodes);
}

void BM_fan_out_tbb_task_group(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads(st));
    for (auto _ : st) {
        std::atomic<long> count{0};
        tbb::task_group g;
        for (long i = 0; i < fan_out_tasks; ++i) {
            g.run([&] { count.fetch_add(1, std::memory_order_relaxed); });
        }
        g.wait();
        check(count.load() == fan_out_tasks, "tbb fan-out");
    }
    st.SetItemsProcessed(st.iterations() * fan_out_tasks);
}

struct tbb_hop {
    tbb::task_arena* here;
    tbb::task_arena* there;
    long left;
    std::promise<void>* done;
    void operator()() const {
        if (left == 0) {
            done->set_value();
            return;
        }
        there->enqueue(tbb_hop{there, here, left - 1, done});
    }
};

void BM_ping_pong_tbb_arena(benchmark::State& st) {
    tbb::task_arena a(1, 0);
    tbb::task_arena b(1, 0);
    tbb::task_arena& other = threads(st) == 1 ? a : b;
    for (auto _ : st) {
        std::promise<void> done;
        auto f = done.get_future();
        a.enqueue(tbb_hop{&a, &other, 2 * ping_pong_trips, &done});
        f.get();
    }
    st.SetItemsProcessed(st.iterations() * ping_pong_trips);
}
#endif

} // namespace

// Names: BM_<workload>/<implementation>/threads:<T>/real_time, all in this one process.
int main(int argc, char** argv) {
    WEFT_BENCH(BM_fib_weft_spawn, "fib30", "weft_spawn");
    WEFT_BENCH(BM_fib_weft_local, "fib30", "weft_local");
    WEFT_BENCH(BM_skynet_weft_spawn, "skynet", "weft_spawn");
    WEFT_BENCH(BM_skynet_weft_local, "skynet", "weft_local");
    WEFT_BENCH(BM_fan_out_weft<false>, "fan_out", "weft_spawn");
    WEFT_BENCH(BM_fan_out_weft<true>, "fan_out", "weft_post");
    WEFT_BENCH(BM_fan_out_cv_pool, "fan_out", "cv_pool");
    WEFT_BENCH(BM_fan_out_split_weft_spawn, "fan_out_split", "weft_spawn");
    WEFT_BENCH(BM_ping_pong_weft<false>, "ping_pong", "weft");
    WEFT_BENCH(BM_ping_pong_weft<true>, "ping_pong", "weft_post");
    WEFT_BENCH(BM_ping_pong_cv_pool, "ping_pong", "cv_pool");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_fib_tbb_task_group, "fib30", "tbb_task_group");
    WEFT_BENCH(BM_skynet_tbb_task_group, "skynet", "tbb_task_group");
    WEFT_BENCH(BM_fan_out_tbb_task_group, "fan_out", "tbb_task_group");
    WEFT_BENCH(BM_ping_pong_tbb_arena, "ping_pong", "tbb_arena");
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
