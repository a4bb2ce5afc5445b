// Parallel loops (.NET Parallel.For / ForEach / Invoke / ForEachAsync, TBB parallel_for /
// parallel_reduce): a histogram with thread-local state, a search that breaks at the first
// match, a deterministic floating-point sum, and an async for-each with at most 4 bodies in
// flight. The calling thread takes part in every loop.
#include <weft/parallel.hpp>
#include <weft/weft.hpp>

#include <array>
#include <cstdio>
#include <mutex>
#include <vector>

int main() {
    weft::thread_pool pool;
    std::vector<int> data(1'000'000);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<int>((i * 2654435761U) % 1000);
    }

    // a histogram: one local table per participating thread, merged once per thread
    std::array<long, 10> histogram{};
    std::mutex merge;
    weft::parallel_for_local(
        pool,
        std::size_t{0},
        data.size(),
        [] { return std::array<long, 10>{}; },
        [&](std::size_t i, std::array<long, 10>& local) { ++local[static_cast<std::size_t>(data[i] / 100)]; },
        [&](std::array<long, 10>& local) {
            std::lock_guard lock(merge);
            for (std::size_t b = 0; b < 10; ++b) {
                histogram[b] += local[b];
            }
        });

    // the first index holding 999: every index below the break still runs
    auto found = weft::parallel_for(pool, std::size_t{0}, data.size(), [&](std::size_t i, weft::loop_state& s) {
        if (data[i] == 999) {
            s.break_loop();
        }
    });

    // the same bits on every run and every pool size
    weft::loop_options exact;
    exact.deterministic = true;
    const double mean = weft::parallel_reduce(
        pool, std::size_t{0}, data.size(), 0.0, std::plus<>{}, [&](std::size_t i) { return data[i] / 1e6; }, exact);

    // task-returning bodies, at most 4 in flight; the task completes when all have
    std::vector<int> jobs{1, 2, 3, 4, 5, 6, 7, 8};
    std::atomic<int> total{0};
    weft::for_each_async(pool, jobs, 4, [&](int j) -> weft::task<void> {
        total += j;
        co_return;
    }).get();

    long sum = 0;
    for (long h : histogram) {
        sum += h;
    }
    std::printf("histogram total %ld, first 999 at %zu, mean %.3f, async total %d\n",
                sum,
                found.lowest_break_iteration.value_or(0),
                mean,
                total.load());
    return sum == 1'000'000 && found.lowest_break_iteration && data[*found.lowest_break_iteration] == 999 && total == 36
               ? 0
               : 1;
}
