// benchmarks/parallel_bench.cpp — weft's parallel loops against the loops a C++ user has for the
// same job, all in this one process and run: oneTBB's parallel_for / parallel_reduce (Debian
// libtbb-dev), OpenMP (the compiler's), T plain threads each given 1/T of the range, and the
// serial loop as the floor.
//
// Workloads (T = threads running the loop, the calling thread included, for every peer):
//   w6_sum        sum of 100,000,000 floats (400 MB read). Every peer calls the same noinline
//                 kernel on its pieces (8 double accumulators), so only the splitting differs.
//                 weft parallel_reduce / TBB parallel_reduce over a blocked range; OpenMP
//                 `parallel for reduction(+) schedule(static)` over T pieces; T threads.
//   w6_saxpy      y = a * x + y over 100,000,000 floats (1.2 GB moved), the same way with
//                 parallel_for. bytes_per_second counts 12 bytes per element.
//   fine          10^6 iterations of ~50 ns each (a dependent floating-point chain), one call
//                 per iteration: what splitting costs when the body is short. ns per iteration.
//   unbalanced    1,000 iterations whose cost rises with the index from ~1 to ~100 us: what
//                 stealing buys when contiguous pieces are unequal.
//   transpose     a 4096 x 4096 float matrix transposed through a 2-D blocked range (tiles of
//                 64 x 64; the same tile body for every peer).
//   join          T = 2 only: a loop of two iterations, the first waiting (spinning, 20 ms at
//                 most) until the second has started on another thread, after a pause of 100 us
//                 or 1 ms (the second argument) in which the workers may go to sleep: how long a
//                 loop waits for its helper to come.
// WEFT_PARALLEL_BENCH_FLOATS shrinks w6 (the bench_smoke test runs with 10^6). Every result is
// checked, so a broken run cannot look fast.
#include <weft/parallel.hpp>
#include <weft/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "bench_support.hpp"

#if WEFT_BENCH_HAVE_TBB
#include <tbb/blocked_range.h>
#include <tbb/blocked_range2d.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#endif
#if WEFT_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

using weft_bench::check;

std::size_t w6_floats() {
    if (const char* env = std::getenv("WEFT_PARALLEL_BENCH_FLOATS")) {
        return std::max<std::size_t>(1024, std::strtoull(env, nullptr, 10));
    }
    return 100'000'000;
}

int threads_of(const benchmark::State& st) {
    return static_cast<int>(st.range(0));
}

// ---- kernels: the same for every peer -----------------------------------------------------------

[[gnu::noinline]] double sum_kernel(const float* p, std::size_t n) {
    double a[8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; ++k) {
            a[k] += static_cast<double>(p[i + static_cast<std::size_t>(k)]);
        }
    }
    for (; i < n; ++i) {
        a[0] += static_cast<double>(p[i]);
    }
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

[[gnu::noinline]] void saxpy_kernel(float a, const float* x, float* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = a * x[i] + y[i];
    }
}

/// ~50 ns of dependent work (a chain of multiply-adds); `units` times.
[[gnu::noinline]] double spin_units(double seed, long units) {
    double x = seed;
    for (long u = 0; u < units; ++u) {
        for (int k = 0; k < 40; ++k) {
            x = x * 1.0000001 + 1e-9;
        }
    }
    return x;
}

/// Transposes the tile [r0, r1) x [c0, c1) of an n x n matrix, in 16 x 16 blocks.
void transpose_tile(
    const float* a, float* t, std::size_t n, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
    for (std::size_t rb = r0; rb < r1; rb += 16) {
        for (std::size_t cb = c0; cb < c1; cb += 16) {
            const std::size_t re = std::min(rb + 16, r1), ce = std::min(cb + 16, c1);
            for (std::size_t r = rb; r < re; ++r) {
                for (std::size_t c = cb; c < ce; ++c) {
                    t[c * n + r] = a[r * n + c];
                }
            }
        }
    }
}

// ---- data ---------------------------------------------------------------------------------------

struct w6_data {
    std::size_t n = w6_floats();
    std::unique_ptr<float[]> x{new float[n]};
    std::unique_ptr<float[]> y{new float[n]};
    double expected_sum = 0;
    w6_data() {
        for (std::size_t i = 0; i < n; ++i) {
            x[i] = static_cast<float>(i % 1024) * 0.25F;
            y[i] = 1.0F;
        }
        expected_sum = sum_kernel(x.get(), n);
    }
};

w6_data& w6() {
    static w6_data d;
    return d;
}

bool sum_ok(double s) {
    return std::abs(s - w6().expected_sum) <= 1e-9 * std::abs(w6().expected_sum) + 1.0;
}

/// saxpy keeps y finite and checkable: a = 0 leaves y as it is (the kernel still reads and writes all).
constexpr float saxpy_a = 0.0F;
bool saxpy_ok() {
    const w6_data& d = w6();
    return d.y[0] == 1.0F && d.y[d.n / 2] == 1.0F && d.y[d.n - 1] == 1.0F;
}

constexpr long fine_iterations = 1'000'000;
constexpr long unbalanced_iterations = 1000;
long unbalanced_units(long i) {
    return 20 * (1 + 99 * i / (unbalanced_iterations - 1)); // ~1 us .. ~100 us
}

constexpr std::size_t transpose_n = 4096;
struct matrix_data {
    std::vector<float> a = std::vector<float>(transpose_n * transpose_n);
    std::vector<float> t = std::vector<float>(transpose_n * transpose_n);
    matrix_data() {
        for (std::size_t i = 0; i < a.size(); ++i) {
            a[i] = static_cast<float>(i);
        }
    }
    bool ok() const {
        const std::size_t n = transpose_n;
        return t[1 * n + 0] == a[0 * n + 1] && t[(n - 1) * n + 3] == a[3 * n + n - 1] &&
               t[7 * n + 4093] == a[4093 * n + 7];
    }
};
matrix_data& matrix() {
    static matrix_data m;
    return m;
}

void set_w6_counters(benchmark::State& st, std::size_t bytes_per_element) {
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) *
                         static_cast<std::int64_t>(w6().n * bytes_per_element));
}

// ---- serial -------------------------------------------------------------------------------------

void BM_w6_sum_serial(benchmark::State& st) {
    w6_data& d = w6();
    for (auto _ : st) {
        check(sum_ok(sum_kernel(d.x.get(), d.n)), "serial sum");
    }
    set_w6_counters(st, 4);
}
void BM_w6_saxpy_serial(benchmark::State& st) {
    w6_data& d = w6();
    for (auto _ : st) {
        saxpy_kernel(saxpy_a, d.x.get(), d.y.get(), d.n);
    }
    check(saxpy_ok(), "serial saxpy");
    set_w6_counters(st, 12);
}
void BM_fine_serial(benchmark::State& st) {
    for (auto _ : st) {
        double acc = 0;
        for (long i = 0; i < fine_iterations; ++i) {
            acc += spin_units(static_cast<double>(i), 1);
        }
        benchmark::DoNotOptimize(acc);
    }
    st.SetItemsProcessed(st.iterations() * fine_iterations);
}

// ---- weft ---------------------------------------------------------------------------------------

struct weft_pool {
    explicit weft_pool(const benchmark::State& st)
        : pool(weft::pool_options{.threads = static_cast<std::size_t>(threads_of(st))}) {}
    weft::thread_pool pool;
};

void BM_w6_sum_weft(benchmark::State& st) {
    weft_pool p(st);
    w6_data& d = w6();
    for (auto _ : st) {
        const double s = weft::parallel_reduce(
            p.pool,
            weft::blocked_range<std::size_t>(0, d.n),
            0.0,
            [&](const weft::blocked_range<std::size_t>& r, double acc) {
                return acc + sum_kernel(d.x.get() + r.begin(), r.size());
            },
            std::plus<>{});
        check(sum_ok(s), "weft sum");
    }
    set_w6_counters(st, 4);
}
void saxpy_weft(benchmark::State& st, weft::partitioner split) {
    weft_pool p(st);
    w6_data& d = w6();
    weft::loop_options o;
    o.split = split;
    for (auto _ : st) {
        weft::parallel_for(
            p.pool,
            weft::blocked_range<std::size_t>(0, d.n),
            [&](const weft::blocked_range<std::size_t>& r) {
                saxpy_kernel(saxpy_a, d.x.get() + r.begin(), d.y.get() + r.begin(), r.size());
            },
            o);
    }
    check(saxpy_ok(), "weft saxpy");
    set_w6_counters(st, 12);
}
void BM_w6_saxpy_weft(benchmark::State& st) {
    saxpy_weft(st, weft::partitioner::automatic);
}
void BM_w6_saxpy_weft_fixed(benchmark::State& st) {
    saxpy_weft(st, weft::partitioner::fixed);
}
void BM_fine_weft(benchmark::State& st) {
    weft_pool p(st);
    for (auto _ : st) {
        std::atomic<long> done{0};
        weft::parallel_for_local(
            p.pool,
            0L,
            fine_iterations,
            [] { return 0L; },
            [](long i, long& count) {
                benchmark::DoNotOptimize(spin_units(static_cast<double>(i), 1));
                ++count;
            },
            [&](long& count) { done.fetch_add(count); });
        check(done.load() == fine_iterations, "weft fine");
    }
    st.SetItemsProcessed(st.iterations() * fine_iterations);
}
void BM_unbalanced_weft(benchmark::State& st) {
    weft_pool p(st);
    for (auto _ : st) {
        std::atomic<long> done{0};
        weft::parallel_for(p.pool, 0L, unbalanced_iterations, [&](long i) {
            benchmark::DoNotOptimize(spin_units(static_cast<double>(i), unbalanced_units(i)));
            done.fetch_add(1, std::memory_order_relaxed);
        });
        check(done.load() == unbalanced_iterations, "weft unbalanced");
    }
    st.SetItemsProcessed(st.iterations() * unbalanced_iterations);
}
void BM_transpose_weft(benchmark::State& st) {
    weft_pool p(st);
    matrix_data& m = matrix();
    const std::size_t n = transpose_n;
    for (auto _ : st) {
        weft::parallel_for(
            p.pool,
            weft::blocked_range2d<std::size_t>(0, n, 64, 0, n, 64),
            [&](const weft::blocked_range2d<std::size_t>& t) {
                transpose_tile(
                    m.a.data(), m.t.data(), n, t.rows().begin(), t.rows().end(), t.cols().begin(), t.cols().end());
            });
    }
    check(m.ok(), "weft transpose");
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(n * n * 8));
}

/// Spins until `other` is set (20 ms at most); false on the time-out.
bool wait_for_other(const std::atomic<bool>& other) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    while (!other.load(std::memory_order_acquire)) {
        if (std::chrono::steady_clock::now() > until) {
            return false;
        }
    }
    return true;
}

template<typename Loop>
void join_latency(benchmark::State& st, Loop&& loop) {
    long timeouts = 0;
    for (auto _ : st) {
        st.PauseTiming();
        std::this_thread::sleep_for(std::chrono::microseconds(st.range(1))); // the workers may park
        std::atomic<bool> first{false}, second{false};
        st.ResumeTiming();
        loop([&](long i) {
            std::atomic<bool>& mine = i == 0 ? first : second;
            std::atomic<bool>& theirs = i == 0 ? second : first;
            mine.store(true, std::memory_order_release);
            timeouts += wait_for_other(theirs) ? 0 : 1;
        });
    }
    st.counters["timeouts"] = static_cast<double>(timeouts);
}

void BM_join_weft(benchmark::State& st) {
    weft_pool p(st);
    weft::loop_options o;
    o.split = weft::partitioner::simple;
    join_latency(st, [&](auto body) { weft::parallel_for(p.pool, 0L, 2L, body, o); });
}

// ---- plain threads: T threads per call, each 1/T of the range ----------------------------------

template<typename F>
void split_over_threads(int t, std::size_t n, F&& f) {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(t - 1));
    const std::size_t share = n / static_cast<std::size_t>(t);
    for (int k = 1; k < t; ++k) {
        const std::size_t b = share * static_cast<std::size_t>(k);
        const std::size_t e = k + 1 == t ? n : b + share;
        threads.emplace_back([&f, k, b, e] { f(k, b, e); });
    }
    f(0, 0, t == 1 ? n : share);
    for (auto& th : threads) {
        th.join();
    }
}

void BM_w6_sum_threads(benchmark::State& st) {
    w6_data& d = w6();
    const int t = threads_of(st);
    for (auto _ : st) {
        std::vector<double> parts(static_cast<std::size_t>(t));
        split_over_threads(t, d.n, [&](int k, std::size_t b, std::size_t e) {
            parts[static_cast<std::size_t>(k)] = sum_kernel(d.x.get() + b, e - b);
        });
        double s = 0;
        for (double v : parts) {
            s += v;
        }
        check(sum_ok(s), "threads sum");
    }
    set_w6_counters(st, 4);
}
void BM_w6_saxpy_threads(benchmark::State& st) {
    w6_data& d = w6();
    const int t = threads_of(st);
    for (auto _ : st) {
        split_over_threads(t, d.n, [&](int, std::size_t b, std::size_t e) {
            saxpy_kernel(saxpy_a, d.x.get() + b, d.y.get() + b, e - b);
        });
    }
    check(saxpy_ok(), "threads saxpy");
    set_w6_counters(st, 12);
}

// ---- oneTBB -------------------------------------------------------------------------------------

#if WEFT_BENCH_HAVE_TBB
void BM_w6_sum_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    w6_data& d = w6();
    for (auto _ : st) {
        const double s = tbb::parallel_reduce(
            tbb::blocked_range<std::size_t>(0, d.n),
            0.0,
            [&](const tbb::blocked_range<std::size_t>& r, double acc) {
                return acc + sum_kernel(d.x.get() + r.begin(), r.size());
            },
            std::plus<>{});
        check(sum_ok(s), "tbb sum");
    }
    set_w6_counters(st, 4);
}
void BM_w6_saxpy_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    w6_data& d = w6();
    for (auto _ : st) {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, d.n), [&](const tbb::blocked_range<std::size_t>& r) {
            saxpy_kernel(saxpy_a, d.x.get() + r.begin(), d.y.get() + r.begin(), r.size());
        });
    }
    check(saxpy_ok(), "tbb saxpy");
    set_w6_counters(st, 12);
}
void BM_fine_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    for (auto _ : st) {
        std::atomic<long> done{0};
        tbb::parallel_for(tbb::blocked_range<long>(0, fine_iterations), [&](const tbb::blocked_range<long>& r) {
            for (long i = r.begin(); i < r.end(); ++i) {
                benchmark::DoNotOptimize(spin_units(static_cast<double>(i), 1));
            }
            done.fetch_add(r.end() - r.begin());
        });
        check(done.load() == fine_iterations, "tbb fine");
    }
    st.SetItemsProcessed(st.iterations() * fine_iterations);
}
void BM_unbalanced_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    for (auto _ : st) {
        std::atomic<long> done{0};
        tbb::parallel_for(0L, unbalanced_iterations, [&](long i) {
            benchmark::DoNotOptimize(spin_units(static_cast<double>(i), unbalanced_units(i)));
            done.fetch_add(1, std::memory_order_relaxed);
        });
        check(done.load() == unbalanced_iterations, "tbb unbalanced");
    }
    st.SetItemsProcessed(st.iterations() * unbalanced_iterations);
}
void BM_transpose_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    matrix_data& m = matrix();
    const std::size_t n = transpose_n;
    for (auto _ : st) {
        tbb::parallel_for(
            tbb::blocked_range2d<std::size_t>(0, n, 64, 0, n, 64), [&](const tbb::blocked_range2d<std::size_t>& t) {
                transpose_tile(
                    m.a.data(), m.t.data(), n, t.rows().begin(), t.rows().end(), t.cols().begin(), t.cols().end());
            });
    }
    check(m.ok(), "tbb transpose");
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(n * n * 8));
}
void BM_join_tbb(benchmark::State& st) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads_of(st)));
    join_latency(st, [&](auto body) {
        tbb::parallel_for(
            tbb::blocked_range<long>(0, 2, 1),
            [&](const tbb::blocked_range<long>& r) {
                for (long i = r.begin(); i < r.end(); ++i) {
                    body(i);
                }
            },
            tbb::simple_partitioner{});
    });
}
#endif

// ---- OpenMP -------------------------------------------------------------------------------------

#if WEFT_BENCH_HAVE_OPENMP
void BM_w6_sum_openmp(benchmark::State& st) {
    w6_data& d = w6();
    const int t = threads_of(st);
    for (auto _ : st) {
        double s = 0;
        const long pieces = t;
        const long n = static_cast<long>(d.n);
#pragma omp parallel for reduction(+ : s) schedule(static) num_threads(t)
        for (long k = 0; k < pieces; ++k) {
            const long b = n / pieces * k, e = k + 1 == pieces ? n : b + n / pieces;
            s += sum_kernel(d.x.get() + b, static_cast<std::size_t>(e - b));
        }
        check(sum_ok(s), "openmp sum");
    }
    set_w6_counters(st, 4);
}
void BM_w6_saxpy_openmp(benchmark::State& st) {
    w6_data& d = w6();
    const int t = threads_of(st);
    for (auto _ : st) {
        const long pieces = t;
        const long n = static_cast<long>(d.n);
#pragma omp parallel for schedule(static) num_threads(t)
        for (long k = 0; k < pieces; ++k) {
            const long b = n / pieces * k, e = k + 1 == pieces ? n : b + n / pieces;
            saxpy_kernel(saxpy_a, d.x.get() + b, d.y.get() + b, static_cast<std::size_t>(e - b));
        }
    }
    check(saxpy_ok(), "openmp saxpy");
    set_w6_counters(st, 12);
}
void BM_fine_openmp(benchmark::State& st) {
    const int t = threads_of(st);
    for (auto _ : st) {
        long done = 0;
#pragma omp parallel for schedule(static) num_threads(t) reduction(+ : done)
        for (long i = 0; i < fine_iterations; ++i) {
            benchmark::DoNotOptimize(spin_units(static_cast<double>(i), 1));
            ++done;
        }
        check(done == fine_iterations, "openmp fine");
    }
    st.SetItemsProcessed(st.iterations() * fine_iterations);
}
void BM_unbalanced_openmp(benchmark::State& st) {
    const int t = threads_of(st);
    for (auto _ : st) {
        long done = 0;
#pragma omp parallel for schedule(guided) num_threads(t) reduction(+ : done)
        for (long i = 0; i < unbalanced_iterations; ++i) {
            benchmark::DoNotOptimize(spin_units(static_cast<double>(i), unbalanced_units(i)));
            ++done;
        }
        check(done == unbalanced_iterations, "openmp unbalanced");
    }
    st.SetItemsProcessed(st.iterations() * unbalanced_iterations);
}
#endif

} // namespace

int main(int argc, char** argv) {
    benchmark::RegisterBenchmark("BM_w6_sum/serial", BM_w6_sum_serial)->UseRealTime()->Unit(benchmark::kMillisecond);
    WEFT_BENCH(BM_w6_sum_weft, "w6_sum", "weft");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_w6_sum_tbb, "w6_sum", "tbb");
#endif
#if WEFT_BENCH_HAVE_OPENMP
    WEFT_BENCH(BM_w6_sum_openmp, "w6_sum", "openmp");
#endif
    WEFT_BENCH(BM_w6_sum_threads, "w6_sum", "threads");

    benchmark::RegisterBenchmark("BM_w6_saxpy/serial", BM_w6_saxpy_serial)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    WEFT_BENCH(BM_w6_saxpy_weft, "w6_saxpy", "weft");
    WEFT_BENCH(BM_w6_saxpy_weft_fixed, "w6_saxpy", "weft_fixed");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_w6_saxpy_tbb, "w6_saxpy", "tbb");
#endif
#if WEFT_BENCH_HAVE_OPENMP
    WEFT_BENCH(BM_w6_saxpy_openmp, "w6_saxpy", "openmp");
#endif
    WEFT_BENCH(BM_w6_saxpy_threads, "w6_saxpy", "threads");

    benchmark::RegisterBenchmark("BM_fine/serial", BM_fine_serial)->UseRealTime()->Unit(benchmark::kMillisecond);
    WEFT_BENCH(BM_fine_weft, "fine", "weft");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_fine_tbb, "fine", "tbb");
#endif
#if WEFT_BENCH_HAVE_OPENMP
    WEFT_BENCH(BM_fine_openmp, "fine", "openmp");
#endif

    WEFT_BENCH(BM_unbalanced_weft, "unbalanced", "weft");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_unbalanced_tbb, "unbalanced", "tbb");
#endif
#if WEFT_BENCH_HAVE_OPENMP
    WEFT_BENCH(BM_unbalanced_openmp, "unbalanced", "openmp");
#endif

    WEFT_BENCH(BM_transpose_weft, "transpose", "weft");
#if WEFT_BENCH_HAVE_TBB
    WEFT_BENCH(BM_transpose_tbb, "transpose", "tbb");
#endif
    auto join = [](const char* name, void (*fn)(benchmark::State&)) {
        benchmark::RegisterBenchmark(name, fn)
            ->ArgsProduct({{2}, {100, 1000}})
            ->ArgNames({"threads", "pause_us"})
            ->Iterations(300)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
    };
    join("BM_join/weft", BM_join_weft);
#if WEFT_BENCH_HAVE_TBB
    join("BM_join/tbb", BM_join_tbb);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
