// benchmarks/ir_probe.cpp — runs one workload N times on a 1-worker pool so that
// scripts/callgrind.sh can count instructions per operation: (Ir(2N) - Ir(N)) / N.
// Usage: weft_ir_probe <chain_spawn|chain_resume_on|chain_then|spawn_get|asio_post> <N>
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>

#if WEFT_BENCH_HAVE_ASIO
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#endif

namespace {

struct spawn_chain {
    weft::thread_pool* pool;
    long remaining;
    weft::promise<void> done;
};

void spawn_link(spawn_chain* c) {
    if (--c->remaining == 0) {
        c->done.set_value();
        return;
    }
    (void)weft::spawn(*c->pool, [c] { spawn_link(c); });
}

weft::task<long> resume_on_loop(weft::thread_pool& pool, long n) {
    long hops = 0;
    for (long i = 0; i < n; ++i) {
        co_await weft::resume_on(pool);
        ++hops;
    }
    co_return hops;
}

#if WEFT_BENCH_HAVE_ASIO
struct asio_chain {
    asio::thread_pool* pool;
    long remaining;
    std::promise<void> done;
    void operator()() {
        if (--remaining == 0) {
            done.set_value();
            return;
        }
        asio::post(*pool, [this] { (*this)(); });
    }
};
#endif

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <workload> <N>\n", argv[0]);
        return 2;
    }
    const char* w = argv[1];
    const long n = std::atol(argv[2]);
    long result = 0;
    if (std::strcmp(w, "asio_post") == 0) {
#if WEFT_BENCH_HAVE_ASIO
        asio::thread_pool pool(1);
        asio_chain c{&pool, n, {}};
        auto f = c.done.get_future();
        asio::post(pool, [&c] { c(); });
        f.get();
        pool.join();
        result = n - c.remaining;
#else
        std::fprintf(stderr, "built without Asio\n");
        return 2;
#endif
    } else {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        if (std::strcmp(w, "chain_spawn") == 0) {
            spawn_chain c{&pool, n, {}};
            auto done = c.done.get_task();
            (void)weft::spawn(pool, [&c] { spawn_link(&c); });
            done.get();
            result = n - c.remaining;
        } else if (std::strcmp(w, "chain_resume_on") == 0) {
            result = resume_on_loop(pool, n).get();
        } else if (std::strcmp(w, "chain_then") == 0) {
            weft::task<long> t = weft::spawn(pool, [] { return 0L; });
            for (long i = 0; i < n; ++i) {
                t = t.then([](long x) { return x + 1; });
            }
            result = t.get();
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
