// benchmarks/pool_workloads.hpp — the work-stealing pool's workloads (fib, skynet, fan-out,
// ping-pong), shared by weft_pool_bench (timed) and weft_ir_probe (instruction counts).
//   fib(n)    every call with n >= 2 forks fib(n-1), computes fib(n-2) inline, joins;
//             spawned tasks = F(n+1) - 1 (1,346,268 for n = 30).
//   skynet    10 children per node, 6 levels, 10^6 leaves return their index; sum 499999500000;
//             1,111,111 nodes.
//   fan-out   main (not a worker) submits n tasks that count down one latch, then waits
//             (weft::spawn, or weft::post: no task state).
//   ping-pong a token hops between two 1-thread pools (the same pool at T=1); 2 hops a round trip.
#pragma once

#include <weft/weft.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <latch>

namespace weft_bench {

/// fib with a task future per spawn (weft::spawn + get).
inline long fib_spawn(weft::thread_pool& pool, int n) {
    if (n < 2) {
        return n;
    }
    auto child = weft::spawn(pool, [&pool, n] { return fib_spawn(pool, n - 1); });
    const long b = fib_spawn(pool, n - 2);
    return child.get() + b;
}

/// fib in structured form: the child's state lives in this frame (weft::local_task).
inline long fib_local(weft::thread_pool& pool, int n) {
    if (n < 2) {
        return n;
    }
    weft::local_task child{pool, [&pool, n] {
                               return fib_local(pool, n - 1);
                           }};
    const long b = fib_local(pool, n - 2);
    return child.get() + b;
}

inline long fib_serial(int n) {
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

constexpr long skynet_size = 1'000'000;
constexpr long skynet_div = 10;
constexpr long skynet_sum = 499'999'500'000;
constexpr long skynet_nodes = 1'111'111;

inline long skynet_spawn(weft::thread_pool& pool, long num, long size) {
    if (size == 1) {
        return num;
    }
    const long sub = size / skynet_div;
    std::array<weft::task<long>, skynet_div> children;
    for (long i = 0; i < skynet_div; ++i) {
        children[static_cast<std::size_t>(i)] =
            weft::spawn(pool, [&pool, n = num + i * sub, sub] { return skynet_spawn(pool, n, sub); });
    }
    long sum = 0;
    for (auto& c : children) {
        sum += c.get();
    }
    return sum;
}

inline long skynet_local(weft::thread_pool& pool, long num, long size);

/// Forks children i..div-2 as local_tasks (one per frame), runs the last inline.
inline long skynet_fork_rest(weft::thread_pool& pool, long num, long sub, long i) {
    if (i == skynet_div - 1) {
        return skynet_local(pool, num + i * sub, sub);
    }
    weft::local_task child{pool, [&pool, n = num + i * sub, sub] {
                               return skynet_local(pool, n, sub);
                           }};
    const long rest = skynet_fork_rest(pool, num, sub, i + 1);
    return child.get() + rest;
}

inline long skynet_local(weft::thread_pool& pool, long num, long size) {
    if (size == 1) {
        return num;
    }
    return skynet_fork_rest(pool, num, size / skynet_div, 0);
}

/// Fan-out from a thread outside the pool, each item submitted with weft::spawn, or with
/// weft::post when Post (no task state); returns the count the items made.
template<bool Post = false>
long fan_out(weft::thread_pool& pool, long n) {
    std::atomic<long> count{0};
    std::latch done(n);
    auto item = [&] {
        count.fetch_add(1, std::memory_order_relaxed);
        done.count_down();
    };
    for (long i = 0; i < n; ++i) {
        if constexpr (Post) {
            weft::post(pool, item);
        } else {
            (void)weft::spawn(pool, item);
        }
    }
    done.wait();
    return count.load();
}

/// One hop of the ping-pong token: runs on `here`, sends the token on to `there` with
/// weft::spawn, or with weft::post when Post (oneTBB's enqueue and the plain pool's post are
/// fire-and-forget too).
template<bool Post>
struct hop {
    weft::thread_pool* here;
    weft::thread_pool* there;
    long left;
    weft::promise<long>* done;
    void operator()() const {
        if (left == 0) {
            done->set_value(1);
            return;
        }
        send(*there, hop{there, here, left - 1, done});
    }
    static void send(weft::thread_pool& to, hop h) {
        if constexpr (Post) {
            weft::post(to, h);
        } else {
            (void)weft::spawn(to, h);
        }
    }
};

template<bool Post>
long ping_pong_with(weft::thread_pool& a, weft::thread_pool& b, long round_trips) {
    weft::promise<long> done;
    auto finished = done.get_task();
    hop<Post>::send(a, hop<Post>{&a, &b, 2 * round_trips, &done});
    return finished.get();
}

} // namespace weft_bench
