// benchmarks/timer_bench.cpp — how late a short timer fires: weft::delay on each reactor backend
// against asio::steady_timer (its epoll reactor arms a timerfd), all in this one process and run.
//
// Workload: one coroutine (weft) or handler chain (Asio) waits 200 µs, 200 times per iteration,
// each wait starting when the previous one fired. Reported: the real time per wait; `late_us` is
// the mean time past the 200 µs deadline (what the reactor's wait precision adds). epoll_wait's
// millisecond timeout rounds every wait up to 1 ms; weft's epoll backend waits with
// epoll_pwait2 (or a timerfd), io_uring with the ns timeout of its submit-and-wait.
#include <weft/io/io_context.hpp>
#include <weft/io/timer.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

#include "bench_support.hpp"

#if WEFT_BENCH_HAVE_ASIO
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#endif

namespace {

using namespace std::chrono_literals;
constexpr auto wait_for = 200us;
constexpr int waits_per_iteration = 200;

weft::task<std::chrono::nanoseconds> weft_waits(weft::io_context& io) {
    std::chrono::nanoseconds late{0};
    for (int i = 0; i < waits_per_iteration; ++i) {
        const auto deadline = std::chrono::steady_clock::now() + wait_for;
        co_await weft::delay_until(io, deadline);
        late += std::chrono::steady_clock::now() - deadline;
    }
    co_return late;
}

void report(benchmark::State& state, std::chrono::nanoseconds late, std::int64_t waits) {
    state.counters["late_us"] = static_cast<double>(late.count()) / 1e3 / static_cast<double>(waits);
    state.SetItemsProcessed(waits);
}

void BM_delay_200us_weft(benchmark::State& state, weft::io_backend backend) {
    weft::io_context io{weft::io_options{.backend = backend}};
    std::chrono::nanoseconds late{0};
    std::int64_t waits = 0;
    for (auto _ : state) {
        late += weft_waits(io).get();
        waits += waits_per_iteration;
    }
    state.SetLabel(io.backend_name());
    report(state, late, waits);
}
BENCHMARK_CAPTURE(BM_delay_200us_weft, uring, weft::io_backend::uring)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_delay_200us_weft, epoll, weft::io_backend::epoll)->UseRealTime()->Unit(benchmark::kMillisecond);

#if WEFT_BENCH_HAVE_ASIO
void BM_delay_200us_asio(benchmark::State& state) {
    asio::io_context io;
    asio::steady_timer timer(io);
    std::chrono::nanoseconds late{0};
    std::int64_t waits = 0;
    for (auto _ : state) {
        int left = waits_per_iteration;
        std::chrono::steady_clock::time_point deadline;
        std::function<void()> arm = [&] {
            deadline = std::chrono::steady_clock::now() + wait_for;
            timer.expires_at(deadline);
            timer.async_wait([&](const std::error_code&) {
                late += std::chrono::steady_clock::now() - deadline;
                if (--left > 0) {
                    arm();
                }
            });
        };
        arm();
        io.restart();
        io.run();
        waits += waits_per_iteration;
    }
    report(state, late, waits);
}
BENCHMARK(BM_delay_200us_asio)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif

} // namespace

BENCHMARK_MAIN();
