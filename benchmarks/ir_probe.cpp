// benchmarks/ir_probe.cpp — runs one workload N times on a 1-worker pool so that
// scripts/callgrind.sh can count instructions per operation: (Ir(2N) - Ir(N)) / N.
// Usage: weft_ir_probe <chain_spawn|chain_resume_on|strand_resume_on|chain_then|spawn_get|asio_post> <N>
//        weft_ir_probe fan_out <N>                 (N tasks submitted from main)
//        weft_ir_probe <fib_spawn|fib_local> <n>   (fib(n): F(n+1) - 1 spawned tasks)
//        weft_ir_probe <mutex_lock|mutex_scoped_lock|channel_write_read> <N>  (one coroutine on
//        main, uncontended: co_await m.lock() or m.scoped_lock() and the unlock; co_await
//        ch.write(i) then co_await ch.read())
//        weft_ir_probe parallel_for_call <N>       (N loops of 64 iterations from main, 1 worker:
//        what one parallel_for costs beyond its iterations)
//        weft_ir_probe parallel_for_iteration <N>  (one loop of N iterations from main)
#include <weft/parallel.hpp>
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pool_workloads.hpp"
#include "workloads.hpp"

namespace {
weft::task<long> mutex_loop(long n, bool scoped) {
    weft::async_mutex m;
    long held = 0;
    for (long i = 0; i < n; ++i) {
        // (no ?: around the co_awaits: g++ 12 destroys the other branch's result too)
        if (scoped) {
            auto hold = co_await m.scoped_lock();
            ++held;
        } else {
            auto hold = co_await m.lock();
            ++held;
        }
    }
    co_return held;
}

weft::task<long> channel_loop(long n) {
    weft::channel<long> ch({.capacity = 64});
    long got = 0;
    for (long i = 0; i < n; ++i) {
        co_await ch.write(i);
        got += (co_await ch.read()).value() == i ? 1 : 0;
    }
    co_return got;
}
} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <workload> <N>\n", argv[0]);
        return 2;
    }
    const char* w = argv[1];
    const long n = std::atol(argv[2]);
    long result = 0;
    if (std::strcmp(w, "mutex_lock") == 0 || std::strcmp(w, "mutex_scoped_lock") == 0) {
        result = mutex_loop(n, std::strcmp(w, "mutex_scoped_lock") == 0).get();
    } else if (std::strcmp(w, "channel_write_read") == 0) {
        result = channel_loop(n).get();
    } else if (std::strcmp(w, "parallel_for_call") == 0 || std::strcmp(w, "parallel_for_iteration") == 0) {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        long sum = 0;
        if (std::strcmp(w, "parallel_for_call") == 0) {
            for (long i = 0; i < n; ++i) {
                long hits = 0; // one participant: the caller alone (1 worker, called from main)
                weft::parallel_for(pool, 0, 64, [&](int) { ++hits; });
                sum += hits == 64 ? 1 : 0;
            }
        } else {
            weft::parallel_for(pool, 0L, n, [&](long) { ++sum; });
        }
        result = sum;
    } else if (std::strcmp(w, "asio_post") == 0) {
#if WEFT_BENCH_HAVE_ASIO
        asio::thread_pool pool(1);
        result = weft_bench::run_asio_chain(pool.get_executor(), n);
        pool.join();
#else
        std::fprintf(stderr, "built without Asio\n");
        return 2;
#endif
    } else {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        if (std::strcmp(w, "chain_spawn") == 0) {
            result = weft_bench::run_spawn_chain(pool, n);
        } else if (std::strcmp(w, "chain_resume_on") == 0) {
            result = weft_bench::resume_on_loop(pool, n).get();
        } else if (std::strcmp(w, "strand_resume_on") == 0) {
            weft::strand s{pool};
            result = weft_bench::resume_on_loop(s, n).get();
        } else if (std::strcmp(w, "chain_then") == 0) {
            result = weft_bench::run_then_chain(pool, n);
        } else if (std::strcmp(w, "fib_spawn") == 0 || std::strcmp(w, "fib_local") == 0) {
            const bool local = std::strcmp(w, "fib_local") == 0;
            const int k = static_cast<int>(n);
            const long v = weft::spawn(pool, [&] {
                               return local ? weft_bench::fib_local(pool, k) : weft_bench::fib_spawn(pool, k);
                           }).get();
            std::printf("%s %ld\n", w, v);
            return v == weft_bench::fib_serial(k) ? 0 : 1;
        } else if (std::strcmp(w, "fan_out") == 0) {
            result = weft_bench::fan_out(pool, n);
        } else if (std::strcmp(w, "spawn_get") == 0) {
            for (long i = 0; i < n; ++i) {
                result += weft::spawn(pool, [] { return 1L; }).get();
            }
        } else {
            std::fprintf(stderr, "unknown workload %s\n", w);
            return 2;
        }
    }
    std::printf("%s %ld\n", w, result);
    return result == n ? 0 : 1;
}
