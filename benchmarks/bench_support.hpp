// benchmarks/bench_support.hpp — what every Google Benchmark binary of weft shares: the result
// check, the worker count of a configuration, and its registration over worker counts.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <benchmark/benchmark.h>

namespace weft_bench {

/// A broken run must not look fast: every workload checks its result.
inline void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(what);
    }
}

/// The worker count of this configuration (the benchmark's only argument).
inline std::size_t workers(const benchmark::State& st) {
    return static_cast<std::size_t>(st.range(0));
}

/// Worker counts to run: WEFT_BENCH_THREADS="1,2,4,8,16" on a bigger machine; default 1 and 2.
inline std::vector<long> thread_counts() {
    std::vector<long> counts;
    if (const char* env = std::getenv("WEFT_BENCH_THREADS")) {
        const char* p = env;
        while (*p != '\0') {
            char* end = nullptr;
            const long v = std::strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            if (v > 0) {
                counts.push_back(v);
            }
            p = *end == ',' ? end + 1 : end;
        }
    }
    if (counts.empty()) {
        counts = {1, 2};
    }
    return counts;
}

/// Registers `fn` as BM_<workload>/<impl>/threads:<T>/real_time for each worker count, in ms.
template<typename Fn>
benchmark::internal::Benchmark* register_over_threads(const char* name, Fn fn) {
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(name, fn);
    b->ArgName("threads");
    for (long t : thread_counts()) {
        b->Arg(t);
    }
    return b->UseRealTime()->Unit(benchmark::kMillisecond);
}

/// The body of every benchmark binary's main(), after its registrations.
inline int run_benchmarks(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // namespace weft_bench

/// Registers `fn` as BM_<workload>/<impl>/threads:<T>/real_time (all in one process).
#define WEFT_BENCH(fn, workload, impl) weft_bench::register_over_threads("BM_" workload "/" impl, fn)
