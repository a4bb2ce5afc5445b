// hello_task: spawn work on a pool, chain continuations, join them, await in a coroutine.
#include <weft/weft.hpp>

#include <cstdio>

weft::task<int> answer(weft::thread_pool& pool) {
    int half = co_await weft::spawn(pool, [] { return 21; }); // await, like C#'s await
    co_return half * 2;
}

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};    // work-stealing workers
    weft::task<int> t = weft::spawn(pool, [] { return 6 * 7; }); // Task.Run
    auto u = t.then([](int x) { return x + 1; });                // ContinueWith
    auto both = weft::when_all(u, answer(pool));                 // Task.WhenAll
    auto [plus_one, coro] = both.get();                          // blocks; rethrows
    std::printf("%d %d %d\n", t.get(), plus_one, coro);          // 42 43 42
    return plus_one == 43 && coro == 42 ? 0 : 1;
}
