// promise_bridge: turn a callback-style API into a task with weft::promise
// (TaskCompletionSource), and run the continuation back on the pool (a source policy).
#include <weft/weft.hpp>

#include <cstdio>
#include <functional>
#include <thread>

// A legacy API that calls back on a thread of its own (which its caller joins).
std::thread legacy_fetch(int key, std::function<void(int)> on_done) {
    return std::thread([key, cb = std::move(on_done)] { cb(key * 10); });
}

weft::task<int> fetch(int key, weft::thread_pool& pool, std::thread& io) {
    auto p = std::make_shared<weft::promise<int>>(weft::any_scheduler(pool));
    auto t = p->get_task();
    io = legacy_fetch(key, [p](int value) { p->set_value(value); });
    return t;
}

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    std::thread io;
    auto t = fetch(4, pool, io).then([&pool](int v) {
        // placement rule 2: the promise's policy sent this to the pool, not the legacy thread
        return pool.runs_on_this_thread() ? v : -1;
    });
    std::printf("fetched %d on a pool worker\n", t.get());
    io.join();
    return t.get() == 40 ? 0 : 1;
}
