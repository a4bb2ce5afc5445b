// benchmarks/dataflow_bench.cpp — dataflow pipelines against oneTBB's flow graph and
// parallel_pipeline, in one process and run.
//
// Workloads (items_per_second; `peak_in_flight`: the most messages that had entered the first
// stage and not yet left the last, a count that bounds the pipeline's memory):
//   pipeline/<stages>/<work>  10^6 longs through 3 or 5 serial stages, each doing ~0 or ~1 us of
//                     work, 64 messages of capacity per stage. weft: a producer coroutine send()s
//                     into transform_blocks (bounded_capacity 64) ending in an action_block.
//                     tbb_flow: input_node -> limiter_node(64 in flight) -> serial function_nodes
//                     -> a sink that releases the limiter. tbb_pipeline: parallel_pipeline with
//                     64 live tokens and serial_in_order filters.
//   diamond           2*10^5 longs: broadcast to two transforms, joined back into pairs, summed,
//                     64 in flight. weft: a producer coroutine send()s into a bounded
//                     broadcast_block (every message to both sides) -> 2 transform_blocks ->
//                     join_block -> action_block, capacity 64 each. tbb_flow: input_node ->
//                     limiter_node(64) -> broadcast_node -> 2 serial function_nodes -> join_node
//                     (queueing) -> a sink that releases the limiter.
// Every result is checked (the sum of what reached the end), so a broken run cannot look fast.
// Worker counts: weft_bench::thread_counts() (1 and 2 by default); oneTBB runs in a task_arena
// of that many slots.
#include <weft/dataflow.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <tuple>
#include <vector>

#include "bench_support.hpp"

#if WEFT_BENCH_HAVE_TBB
#include <tbb/flow_graph.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#endif

namespace {

long messages() {
    if (const char* env = std::getenv("WEFT_DATAFLOW_BENCH_MESSAGES")) {
        return std::max(1L, std::atol(env));
    }
    return 1'000'000;
}
constexpr std::size_t capacity = 64;

/// ~1 us of work per call at `units` = 1 on this machine's class of CPU; 0: none.
long work(long x, long units) {
    volatile long acc = x;
    for (long i = 0; i < units * 2200; ++i) {
        acc = acc + i;
    }
    return x + (acc - acc);
}

/// In-flight messages: entered the first stage, not yet out of the last.
struct flight {
    std::atomic<long> now{0};
    std::atomic<long> peak{0};
    void enter() {
        const long v = now.fetch_add(1, std::memory_order_relaxed) + 1;
        long p = peak.load(std::memory_order_relaxed);
        while (v > p && !peak.compare_exchange_weak(p, v, std::memory_order_relaxed)) {
        }
    }
    void leave() { now.fetch_sub(1, std::memory_order_relaxed); }
};

long expected_sum(long n) {
    return n * (n - 1) / 2;
}

void report(benchmark::State& st, long n, const flight& f) {
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * n);
    st.counters["peak_in_flight"] = static_cast<double>(f.peak.load());
}

// --- weft ------------------------------------------------------------------------------------

void weft_pipeline(benchmark::State& st, int stages, long units) {
    const long n = messages();
    weft::thread_pool pool({.threads = weft_bench::workers(st)});
    flight f;
    for (auto _ : st) {
        const weft::dataflow_options o{.bounded_capacity = capacity};
        std::vector<std::unique_ptr<weft::transform_block<long, long>>> blocks;
        for (int s = 0; s < stages - 1; ++s) {
            blocks.push_back(std::make_unique<weft::transform_block<long, long>>(
                pool, [units](long x) { return work(x, units); }, o));
        }
        long sum = 0;
        weft::action_block<long> sink(
            pool,
            [&](long x) {
                sum += work(x, units);
                f.leave();
            },
            o);
        for (std::size_t s = 0; s + 1 < blocks.size(); ++s) {
            blocks[s]->link_to(*blocks[s + 1], {.propagate_completion = true});
        }
        blocks.back()->link_to(sink, {.propagate_completion = true});
        auto produce = [&]() -> weft::task<void> {
            for (long i = 0; i < n; ++i) {
                f.enter();
                const bool ok = co_await blocks.front()->send(i);
                weft_bench::check(ok, "weft pipeline: send declined");
            }
            blocks.front()->complete();
        };
        auto producer = produce();
        producer.get();
        sink.completion().get();
        weft_bench::check(sum == expected_sum(n), "weft pipeline: wrong sum");
    }
    report(st, n, f);
}

void weft_diamond(benchmark::State& st) {
    const long n = messages() / 5;
    weft::thread_pool pool({.threads = weft_bench::workers(st)});
    flight f;
    for (auto _ : st) {
        const weft::dataflow_options o{.bounded_capacity = capacity};
        weft::broadcast_block<long> fan(pool, o); // bounded: every message to both sides
        weft::transform_block<long, long> left(
            pool, [](long x) { return x; }, o);
        weft::transform_block<long, long> right(
            pool, [](long x) { return x; }, o);
        weft::join_block<long, long> pair(pool, o);
        long sum = 0;
        weft::action_block<std::tuple<long, long>> sink(
            pool,
            [&](const std::tuple<long, long>& t) {
                sum += std::get<0>(t);
                weft_bench::check(std::get<0>(t) == std::get<1>(t), "weft diamond: mismatched pair");
                f.leave();
            },
            o);
        fan.link_to(left, {.propagate_completion = true});
        fan.link_to(right, {.propagate_completion = true});
        left.link_to(pair.target<0>(), {.propagate_completion = true});
        right.link_to(pair.target<1>(), {.propagate_completion = true});
        pair.link_to(sink, {.propagate_completion = true});
        auto produce = [&]() -> weft::task<void> {
            for (long i = 0; i < n; ++i) {
                f.enter();
                const bool ok = co_await fan.send(i);
                weft_bench::check(ok, "weft diamond: send declined");
            }
        };
        auto producer = produce();
        producer.get();
        fan.complete(); // what the broadcast still holds reaches both sides first
        sink.completion().get();
        weft_bench::check(sum == expected_sum(n), "weft diamond: wrong sum");
    }
    report(st, n, f);
}

#if WEFT_BENCH_HAVE_TBB

/// The oneTBB side's producer: 0, 1, ... n-1 (`next` is its position), each counted in `f` as it
/// enters.
auto numbers_up_to(long n, long& next, flight& f) {
    return [n, &next, &f](tbb::flow_control& fc) -> long {
        if (next == n) {
            fc.stop();
            return 0;
        }
        f.enter();
        return next++;
    };
}

void tbb_flow_pipeline(benchmark::State& st, int stages, long units) {
    const long n = messages();
    tbb::task_arena arena(static_cast<int>(weft_bench::workers(st)));
    flight f;
    for (auto _ : st) {
        long sum = 0;
        arena.execute([&] {
            tbb::flow::graph g;
            long next = 0;
            tbb::flow::input_node<long> source(g, numbers_up_to(n, next, f));
            tbb::flow::limiter_node<long> limit(g, capacity);
            std::vector<std::unique_ptr<tbb::flow::function_node<long, long>>> nodes;
            for (int s = 0; s < stages - 1; ++s) {
                nodes.push_back(std::make_unique<tbb::flow::function_node<long, long>>(
                    g, tbb::flow::serial, [units](long x) { return work(x, units); }));
            }
            tbb::flow::function_node<long, tbb::flow::continue_msg> sink(g, tbb::flow::serial, [&](long x) {
                sum += work(x, units);
                f.leave();
                return tbb::flow::continue_msg{};
            });
            tbb::flow::make_edge(source, limit);
            tbb::flow::make_edge(limit, *nodes.front());
            for (std::size_t s = 0; s + 1 < nodes.size(); ++s) {
                tbb::flow::make_edge(*nodes[s], *nodes[s + 1]);
            }
            tbb::flow::make_edge(*nodes.back(), sink);
            tbb::flow::make_edge(sink, limit.decrementer());
            source.activate();
            g.wait_for_all();
        });
        weft_bench::check(sum == expected_sum(n), "tbb flow pipeline: wrong sum");
    }
    report(st, n, f);
}

void tbb_parallel_pipeline(benchmark::State& st, int stages, long units) {
    const long n = messages();
    tbb::task_arena arena(static_cast<int>(weft_bench::workers(st)));
    flight f;
    for (auto _ : st) {
        long sum = 0;
        arena.execute([&] {
            long next = 0;
            auto first = tbb::make_filter<void, long>(
                tbb::filter_mode::serial_in_order, [numbers = numbers_up_to(n, next, f), units](tbb::flow_control& fc) {
                    return work(numbers(fc), units);
                });
            auto middle = tbb::make_filter<long, long>(tbb::filter_mode::serial_in_order,
                                                       [units](long x) { return work(x, units); });
            auto last = tbb::make_filter<long, void>(tbb::filter_mode::serial_in_order, [&](long x) {
                sum += work(x, units);
                f.leave();
            });
            if (stages == 3) {
                tbb::parallel_pipeline(capacity, first & middle & last);
            } else {
                tbb::parallel_pipeline(capacity, first & middle & middle & middle & last);
            }
        });
        weft_bench::check(sum == expected_sum(n), "tbb parallel_pipeline: wrong sum");
    }
    report(st, n, f);
}

void tbb_diamond(benchmark::State& st) {
    const long n = messages() / 5;
    tbb::task_arena arena(static_cast<int>(weft_bench::workers(st)));
    flight f;
    for (auto _ : st) {
        long sum = 0;
        arena.execute([&] {
            tbb::flow::graph g;
            tbb::flow::broadcast_node<long> fan(g);
            tbb::flow::function_node<long, long> left(g, tbb::flow::serial, [](long x) { return x; });
            tbb::flow::function_node<long, long> right(g, tbb::flow::serial, [](long x) { return x; });
            tbb::flow::join_node<std::tuple<long, long>, tbb::flow::queueing> pair(g);
            tbb::flow::function_node<std::tuple<long, long>, tbb::flow::continue_msg> sink(
                g, tbb::flow::serial, [&](const std::tuple<long, long>& t) {
                    sum += std::get<0>(t);
                    f.leave();
                    return tbb::flow::continue_msg{};
                });
            tbb::flow::make_edge(fan, left);
            tbb::flow::make_edge(fan, right);
            tbb::flow::make_edge(left, tbb::flow::input_port<0>(pair));
            tbb::flow::make_edge(right, tbb::flow::input_port<1>(pair));
            tbb::flow::make_edge(pair, sink);
            tbb::flow::limiter_node<long> limit(g, capacity);
            tbb::flow::make_edge(limit, fan);
            tbb::flow::make_edge(sink, limit.decrementer());
            long next = 0;
            tbb::flow::input_node<long> source(g, numbers_up_to(n, next, f));
            tbb::flow::make_edge(source, limit);
            source.activate();
            g.wait_for_all();
        });
        weft_bench::check(sum == expected_sum(n), "tbb diamond: wrong sum");
    }
    report(st, n, f);
}

#endif

} // namespace

int main(int argc, char** argv) {
    for (int stages : {3, 5}) {
        for (long units : {0L, 1L}) {
            const std::string cell =
                "BM_pipeline/stages:" + std::to_string(stages) + "/work_us:" + std::to_string(units);
            weft_bench::register_over_threads((cell + "/weft").c_str(), [stages, units](benchmark::State& st) {
                weft_pipeline(st, stages, units);
            })->Iterations(1);
#if WEFT_BENCH_HAVE_TBB
            weft_bench::register_over_threads((cell + "/tbb_flow").c_str(), [stages, units](benchmark::State& st) {
                tbb_flow_pipeline(st, stages, units);
            })->Iterations(1);
            weft_bench::register_over_threads((cell + "/tbb_pipeline").c_str(), [stages, units](benchmark::State& st) {
                tbb_parallel_pipeline(st, stages, units);
            })->Iterations(1);
#endif
        }
    }
    weft_bench::register_over_threads("BM_diamond/weft", weft_diamond)->Iterations(1);
#if WEFT_BENCH_HAVE_TBB
    weft_bench::register_over_threads("BM_diamond/tbb_flow", tbb_diamond)->Iterations(1);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
