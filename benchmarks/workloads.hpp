// benchmarks/workloads.hpp — the chain workloads shared by weft_bench (timed) and
// weft_ir_probe (instruction counts), so both measure exactly the same code.
#pragma once

#include <weft/weft.hpp>

#include <future>

#if WEFT_BENCH_HAVE_ASIO
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#endif

namespace weft_bench {

/// A dynamic chain with a task per link: each link spawns the next from inside itself.
struct spawn_chain {
    weft::thread_pool* pool;
    long remaining;
    weft::promise<void> done;
};

inline void spawn_link(spawn_chain* c) {
    if (--c->remaining == 0) {
        c->done.set_value();
        return;
    }
    (void)weft::spawn(*c->pool, [c] { spawn_link(c); });
}

/// Runs a spawn chain of `links` links on `pool`; returns the links run.
inline long run_spawn_chain(weft::thread_pool& pool, long links) {
    spawn_chain c{&pool, links, {}};
    auto done = c.done.get_task();
    (void)weft::spawn(pool, [&c] { spawn_link(&c); });
    done.get();
    return links - c.remaining;
}

/// A dynamic chain without allocation: one coroutine hops back onto the pool `n` times.
template<typename Scheduler>
weft::task<long> resume_on_loop(Scheduler& sched, long n) {
    long hops = 0;
    for (long i = 0; i < n; ++i) {
        co_await weft::resume_on(sched);
        ++hops;
    }
    co_return hops;
}

/// A chain of `links` continuations built ahead from the calling thread while the first runs.
inline long run_then_chain(weft::thread_pool& pool, long links) {
    weft::task<long> t = weft::spawn(pool, [] { return 0L; });
    for (long i = 0; i < links; ++i) {
        t = t.then([](long x) { return x + 1; });
    }
    return t.get();
}

#if WEFT_BENCH_HAVE_ASIO
/// The Asio peer of spawn_chain: each handler posts the next, on any executor (a thread
/// pool's, a strand's).
template<typename Executor>
struct asio_chain {
    Executor ex;
    long remaining;
    std::promise<void> done;
    void operator()() {
        if (--remaining == 0) {
            done.set_value();
            return;
        }
        asio::post(ex, [this] { (*this)(); });
    }
};

template<typename Executor>
long run_asio_chain(Executor ex, long links) {
    asio_chain<Executor> c{ex, links, {}};
    auto done = c.done.get_future();
    asio::post(ex, [&c] { c(); });
    done.get();
    return links - c.remaining;
}
#endif

} // namespace weft_bench
