// fork_join: divide and conquer with local_task (no heap per child), and a blocking call
// made inside weft::blocking so the pool adds a thread instead of losing a worker.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

long fib(weft::thread_pool& pool, int n) {
    if (n < 2) {
        return n;
    }
    weft::local_task child{pool, [&pool, n] {
                               return fib(pool, n - 1);
                           }};       // forked
    const long b = fib(pool, n - 2); // meanwhile, here
    return child.get() + b;          // joined
}

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto sum = weft::spawn(pool, [&pool] { return fib(pool, 25); });
    auto slow = weft::spawn(pool, [] {
        return weft::blocking([] { // e.g. a blocking read; the pool compensates meanwhile
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            return 1;
        });
    });
    const long f = sum.get();
    std::printf("fib(25) = %ld, blocking call returned %d\n", f, slow.get());
    return f == 75025 ? 0 : 1;
}
