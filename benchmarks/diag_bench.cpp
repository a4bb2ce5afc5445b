// benchmarks/diag_bench.cpp — what weft::diag costs: ns per spawn and per coroutine hop with
// diagnostics off, with the registry on, and with the registry and a trace on, in one run.
//
// Workloads (one pool worker): spawn — the main thread spawns a task and waits for it, 1,000
// per iteration; hop — one coroutine on the pool does 1,000 co_await resume_on(pool) (each a
// schedule, a placement decision and a resume); io — one coroutine does 1,000 co_await
// delay(io, 0ns) (a timer op through the reactor, completed on the I/O thread, the coroutine
// resumed inline there). Each runs with diagnostics off, "registry" and "trace" (the trace restarted each iteration so its buffers
// never fill: no dropped events).
#include <weft/diag/registry.hpp>
#include <weft/diag/trace.hpp>
#include <weft/io/io_context.hpp>
#include <weft/io/timer.hpp>
#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "bench_support.hpp"

namespace {

enum class mode {
    off,
    registry,
    trace
};

constexpr int ops_per_iteration = 1000;

struct diag_scope {
    explicit diag_scope(mode m) : m_(m) {
        if (m_ == mode::registry) {
            weft::diag::enable(weft::diag::feature::registry);
        }
    }
    void iteration_begins() const {
        if (m_ == mode::trace) {
            weft::diag::trace_start({.events_per_thread = std::size_t{1} << 16});
        }
    }
    void iteration_ends() const {
        if (m_ == mode::trace) {
            benchmark::DoNotOptimize(weft::diag::trace_stop().event_count());
        }
    }
    ~diag_scope() {
        weft::diag::disable(weft::diag::feature::trace);
        weft::diag::disable(weft::diag::feature::registry);
    }
    mode m_;
};

weft::task<std::int64_t> hops(weft::thread_pool& pool, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        co_await weft::resume_on(pool);
        ++done;
    }
    co_return done;
}

weft::task<std::int64_t> io_ops(weft::io_context& io, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        co_await weft::delay(io, std::chrono::nanoseconds(0)); // a timer op through the reactor
        ++done;
    }
    co_return done;
}

void BM_spawn_wait(benchmark::State& state, mode m) {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    diag_scope diag(m);
    std::int64_t sum = 0;
    for (auto _ : state) {
        diag.iteration_begins();
        for (int i = 0; i < ops_per_iteration; ++i) {
            sum += weft::spawn(pool, [i] { return i; }).get();
        }
        diag.iteration_ends();
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * ops_per_iteration);
}

void BM_resume_on_hop(benchmark::State& state, mode m) {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    diag_scope diag(m);
    for (auto _ : state) {
        diag.iteration_begins();
        benchmark::DoNotOptimize(hops(pool, ops_per_iteration).get());
        diag.iteration_ends();
    }
    state.SetItemsProcessed(state.iterations() * ops_per_iteration);
}

void BM_io_op(benchmark::State& state, mode m) {
    weft::io_context io;
    diag_scope diag(m);
    for (auto _ : state) {
        diag.iteration_begins();
        benchmark::DoNotOptimize(io_ops(io, ops_per_iteration).get());
        diag.iteration_ends();
    }
    state.SetLabel(std::string(io.backend_name()));
    state.SetItemsProcessed(state.iterations() * ops_per_iteration);
}

} // namespace

BENCHMARK_CAPTURE(BM_io_op, off, mode::off)->UseRealTime();
BENCHMARK_CAPTURE(BM_io_op, registry, mode::registry)->UseRealTime();
BENCHMARK_CAPTURE(BM_io_op, trace, mode::trace)->UseRealTime();
BENCHMARK_CAPTURE(BM_spawn_wait, off, mode::off)->UseRealTime();
BENCHMARK_CAPTURE(BM_spawn_wait, registry, mode::registry)->UseRealTime();
BENCHMARK_CAPTURE(BM_spawn_wait, trace, mode::trace)->UseRealTime();
BENCHMARK_CAPTURE(BM_resume_on_hop, off, mode::off)->UseRealTime();
BENCHMARK_CAPTURE(BM_resume_on_hop, registry, mode::registry)->UseRealTime();
BENCHMARK_CAPTURE(BM_resume_on_hop, trace, mode::trace)->UseRealTime();

BENCHMARK_MAIN();
