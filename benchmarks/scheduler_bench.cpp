// benchmarks/scheduler_bench.cpp — what a hand-off through a strand costs: weft::strand against
// posting straight to the pool, and against asio::strand over asio::thread_pool (Debian
// libasio-dev), all in this one process and run.
//
// Workloads (items per second; ns per item = 1e9 / items_per_second):
//   strand_chain     one item at a time: each item posts the next to the same executor, 10^6
//                    times (a serial hand-off, the latency-bound case). weft: a bare work_item;
//                    asio: a handler.
//   strand_resume_on a coroutine that does `co_await resume_on(s)` 10^6 times (the user-level
//                    form of the same hand-off).
//   strand_contended 4 outside threads post 250,000 items each into one strand; the time until
//                    the last one ran (the throughput-bound case, with producers contending).
//                    The pool rows post the same items with no serialization at all.
#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "workloads.hpp"

#if WEFT_BENCH_HAVE_ASIO
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#endif

namespace {

constexpr long chain_links = 1'000'000;
constexpr int producers = 4;
constexpr long items_per_producer = 250'000;

using weft_bench::check;
using weft_bench::workers;

// ---- strand_chain ------------------------------------------------------------------------

/// A work item that schedules itself again on `target` until `remaining` reaches 0.
template<typename Target>
struct hop_item final : weft::work_item {
    explicit hop_item(Target& t, long links) : weft::work_item(&invoke), target(&t), remaining(links) {}
    Target* target;
    long remaining;
    std::promise<void> done;
    static void invoke(weft::work_item* w, bool run) noexcept {
        auto* self = static_cast<hop_item*>(w);
        if (!run || --self->remaining == 0) {
            self->done.set_value();
            return;
        }
        self->target->schedule(self);
    }
};

template<typename Target>
long run_hop_chain(Target& target, long links) {
    hop_item<Target> item(target, links);
    auto done = item.done.get_future();
    target.schedule(&item);
    done.get();
    return links - item.remaining;
}

void BM_strand_chain_weft_strand(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    weft::strand s{pool};
    for (auto _ : st) {
        check(run_hop_chain(s, chain_links) == chain_links, "weft strand chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

void BM_strand_chain_weft_pool(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(run_hop_chain(pool, chain_links) == chain_links, "weft pool chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

#if WEFT_BENCH_HAVE_ASIO
void BM_strand_chain_asio_strand(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    auto s = asio::make_strand(pool);
    for (auto _ : st) {
        check(weft_bench::run_asio_chain(s, chain_links) == chain_links, "asio strand chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
    pool.join();
}

void BM_strand_chain_asio_pool(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    for (auto _ : st) {
        check(weft_bench::run_asio_chain(pool.get_executor(), chain_links) == chain_links, "asio pool chain");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
    pool.join();
}
#endif

// ---- strand_resume_on --------------------------------------------------------------------

void BM_strand_resume_on_weft_strand(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    weft::strand s{pool};
    for (auto _ : st) {
        check(weft_bench::resume_on_loop(s, chain_links).get() == chain_links, "resume_on strand");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

void BM_strand_resume_on_weft_pool(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    for (auto _ : st) {
        check(weft_bench::resume_on_loop(pool, chain_links).get() == chain_links, "resume_on pool");
    }
    st.SetItemsProcessed(st.iterations() * chain_links);
}

// ---- strand_contended --------------------------------------------------------------------

/// Runs `post(producer, i)` for every item from `producers` threads and waits until `ran`
/// reaches the total.
template<typename Post>
void contend(std::atomic<long>& ran, Post&& post) {
    ran.store(0);
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
            for (long i = 0; i < items_per_producer; ++i) {
                post();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    while (ran.load(std::memory_order_acquire) != producers * items_per_producer) {
        std::this_thread::yield();
    }
}

template<typename Scheduler>
void weft_contended(benchmark::State& st, Scheduler& target) {
    std::atomic<long> ran{0};
    for (auto _ : st) {
        contend(ran, [&] { (void)weft::spawn(target, [&ran] { ran.fetch_add(1, std::memory_order_release); }); });
    }
    st.SetItemsProcessed(st.iterations() * producers * items_per_producer);
}

void BM_strand_contended_weft_strand(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    weft::strand s{pool};
    weft_contended(st, s);
}

void BM_strand_contended_weft_pool(benchmark::State& st) {
    weft::thread_pool pool{weft::pool_options{.threads = workers(st)}};
    weft_contended(st, pool);
}

#if WEFT_BENCH_HAVE_ASIO
template<typename Executor>
void asio_contended(benchmark::State& st, Executor ex) {
    std::atomic<long> ran{0};
    for (auto _ : st) {
        contend(ran, [&] { asio::post(ex, [&ran] { ran.fetch_add(1, std::memory_order_release); }); });
    }
    st.SetItemsProcessed(st.iterations() * producers * items_per_producer);
}

void BM_strand_contended_asio_strand(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    asio_contended(st, asio::make_strand(pool));
    pool.join();
}

void BM_strand_contended_asio_pool(benchmark::State& st) {
    asio::thread_pool pool(workers(st));
    asio_contended(st, pool.get_executor());
    pool.join();
}
#endif

} // namespace

// Names: BM_<workload>/<implementation>/threads:<T>/real_time, all in this one process.

int main(int argc, char** argv) {
    WEFT_BENCH(BM_strand_chain_weft_strand, "strand_chain", "weft_strand");
    WEFT_BENCH(BM_strand_chain_weft_pool, "strand_chain", "weft_pool");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_strand_chain_asio_strand, "strand_chain", "asio_strand");
    WEFT_BENCH(BM_strand_chain_asio_pool, "strand_chain", "asio_pool");
#endif
    WEFT_BENCH(BM_strand_resume_on_weft_strand, "strand_resume_on", "weft_strand");
    WEFT_BENCH(BM_strand_resume_on_weft_pool, "strand_resume_on", "weft_pool");
    WEFT_BENCH(BM_strand_contended_weft_strand, "strand_contended", "weft_strand");
    WEFT_BENCH(BM_strand_contended_weft_pool, "strand_contended", "weft_pool");
#if WEFT_BENCH_HAVE_ASIO
    WEFT_BENCH(BM_strand_contended_asio_strand, "strand_contended", "asio_strand");
    WEFT_BENCH(BM_strand_contended_asio_pool, "strand_contended", "asio_pool");
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
