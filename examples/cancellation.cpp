// cancellation: a token cancels queued work before it starts, and running work cooperatively.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>

int main() {
    using namespace std::chrono_literals;
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::cancellation_source cs;

    // Cooperative: the work polls its token (it receives it as its last argument).
    auto worker = weft::spawn(
        pool,
        [](weft::cancellation_token& token) {
            long spins = 0;
            while (!token.is_cancellation_requested()) {
                ++spins;
            }
            token.throw_if_cancellation_requested(); // completes the task as canceled
            return spins;
        },
        cs.token());

    auto queued = weft::spawn(
        pool, [] { std::puts("never printed"); }, cs.token());
    auto reg = cs.token().register_callback([] { std::puts("callback: canceled"); });
    cs.cancel_after(20ms); // on the timer thread

    // cancel() sets the token first and then runs the callbacks one by one: the worker can see the
    // token and finish before the callback that cancels `queued` has run, so wait for both.
    worker.wait();
    queued.wait();
    std::printf("worker canceled: %s, queued canceled: %s\n",
                worker.is_canceled() ? "yes" : "no",
                queued.is_canceled() ? "yes" : "no");
    return worker.is_canceled() && queued.is_canceled() ? 0 : 1;
}
