// benchmarks/task_bench.cpp — the task core's workloads (chains, fan-out, spawn-join),
// weft side by side with Asio (and std::promise as the floor) in one binary and one run.
//
//   chain_dynamic     10^6 links; each link schedules the next from inside the running one
//   chain_then        10^6 links built ahead from main: t = t.then(f), while the first runs
//   spawn_get         one spawn + get() round trip from a thread outside the pool
//   when_all_fanin    10^5 tasks spawned from main, joined by one when_all
//   pingpong          two OS threads hand a token back and forth through fresh promises
//
// Every result is checked (counts, sums) so a broken run cannot look fast.
#include <weft/weft.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "workloads.hpp"
#include <pthread.h>
#include <sched.h>

#include <benchmark/benchmark.h>

namespace {

constexpr long chain_links = 1'000'000;
constexpr int fanin_tasks = 100'000;
constexpr std::size_t pingpong_trips = 20'000;

using weft_bench::check;
using weft_bench::workers;

// ---- chain_dynamic and chain_then (workloads.hpp) -------------------------------------------

void BM_chain_dynamic_weft_spawn(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_bench::run_spawn_chain(pool, chain_links) == chain_links, "spawn chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

void BM_chain_dynamic_weft_resume_on(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_bench::resume_on_loop(pool, chain_links).get() == chain_links, "resume_on chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

#if WEFT_BENCH_HAVE_ASIO
void BM_chain_dynamic_asio_post(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    for (auto _ : st) {
        check(weft_bench::run_asio_chain(pool.get_executor(), chain_links) == chain_links, "asio chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
    pool.join();
}
#endif

void BM_chain_then_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_bench::run_then_chain(pool, chain_links) == chain_links, "then chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

// ---- spawn_get -----------------------------------------------------------------------------

void BM_spawn_get_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    long sum = 0;
    for (auto _ : st) {
        sum += weft::spawn(pool, [] { return 1; }).get();
    }
    check(sum == static_cast<long>(st.iterations()), "spawn_get");
    st.SetItemsProcessed(st.iterations());
}

#if WEFT_BENCH_HAVE_ASIO
void BM_spawn_get_asio_packaged_task(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    long sum = 0;
    for (auto _ : st) {
        std::packaged_task<int()> job([] { return 1; });
        auto f = job.get_future();
        asio::post(pool, std::move(job));
        sum += f.get();
    }
    check(sum == static_cast<long>(st.iterations()), "asio spawn_get");
    st.SetItemsProcessed(st.iterations());
    pool.join();
}
#endif

// ---- when_all_fanin ------------------------------------------------------------------------

void BM_when_all_fanin_weft(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    std::vector<weft::task<int>> tasks;
    tasks.reserve(fanin_tasks);
    for (auto _ : st) {
        tasks.clear();
        for (int i = 0; i < fanin_tasks; ++i) {
            tasks.push_back(weft::spawn(pool, [i] { return i & 1; }));
        }
        auto all = weft::when_all(std::move(tasks)).get();
        check(all.size() == fanin_tasks && all[1] == 1, "when_all");
        tasks = {};
        tasks.reserve(fanin_tasks);
    }
    st.SetItemsProcessed(st.iterations() * fanin_tasks);
}

// ---- pingpong ------------------------------------------------------------------------------

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    const auto index = static_cast<std::size_t>(cpu);
    CPU_SET(index, &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}
int cpu_for(const benchmark::State& st, int side) {
    const int ncpu = static_cast<int>(std::thread::hardware_concurrency());
    return workers(st) == 1 || ncpu < 2 ? 0 : side % ncpu;
}

/// Waits on promise `p` and returns its value, for either promise type.
int wait_value(weft::promise<int>& p) {
    return p.get_task().get();
}
int wait_value(std::promise<int>& p) {
    return p.get_future().get();
}

template<typename Promise>
void BM_pingpong(benchmark::State& st) {
    for (auto _ : st) {
        std::vector<Promise> ping(pingpong_trips);
        std::vector<Promise> pong(pingpong_trips);
        std::thread other([&] {
            pin_to(cpu_for(st, 1));
            for (std::size_t i = 0; i < pingpong_trips; ++i) {
                pong[i].set_value(wait_value(ping[i]) + 1);
            }
        });
        pin_to(cpu_for(st, 0));
        int v = 0;
        for (std::size_t i = 0; i < pingpong_trips; ++i) {
            ping[i].set_value(v);
            v = wait_value(pong[i]);
        }
        other.join();
        check(v == static_cast<int>(pingpong_trips), "pingpong");
    }
    st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(pingpong_trips));
}

} // namespace

// Names: BM_<workload>/<implementation>/threads:<T>/real_time, all in this one process.

int main(int argc, char** argv) {
    WEFT_BENCH(BM_chain_dynamic_weft_spawn, "chain_dynamic", "weft_spawn");
    WEFT_BENCH(BM_chain_dynamic_weft_resume_on, "chain_dynamic", "weft_resume_on");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_chain_dynamic_asio_post, "chain_dynamic", "asio_post");
#endif
    WEFT_BENCH(BM_chain_then_weft, "chain_then", "weft_then");
    WEFT_BENCH(BM_spawn_get_weft, "spawn_get", "weft")->Unit(benchmark::kMicrosecond);
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_spawn_get_asio_packaged_task, "spawn_get", "asio_packaged_task")->Unit(benchmark::kMicrosecond);
#endif
    WEFT_BENCH(BM_when_all_fanin_weft, "when_all_fanin", "weft");
    WEFT_BENCH(BM_pingpong<weft::promise<int>>, "pingpong", "weft_promise");
    WEFT_BENCH(BM_pingpong<std::promise<int>>, "pingpong", "std_promise");
    return weft_bench::run_benchmarks(argc, argv);
}
