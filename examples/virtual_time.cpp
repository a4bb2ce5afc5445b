// virtual_time: code that waits takes a weft::timer_source&; its test moves a manual clock
// instead of sleeping. A fetch retried with a timeout and a doubling back-off is driven
// through three timeouts and a success, about 2 s of its time, in microseconds of real time.
#include <weft/testing/manual_timer_source.hpp>
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

// production code: the caller chooses the clock (weft::system_timers() for real)
weft::task<int> fetch_with_retry(weft::timer_source& timers, weft::task<int> (*fetch)(int), int attempts) {
    auto backoff = 100ms;
    for (int attempt = 1;; ++attempt) {
        bool timed_out = false;
        try {
            co_return co_await weft::with_timeout(timers, fetch(attempt), 1s);
        } catch (const weft::timeout_error&) {
            if (attempt == attempts) {
                throw;
            }
            timed_out = true;
        }
        if (timed_out) { // co_await is not allowed inside a catch block
            co_await weft::delay(timers, backoff);
            backoff *= 2;
        }
    }
}

namespace {
std::vector<weft::promise<int>> pending; // the fake server: one promise per attempt

weft::task<int> fake_fetch(int) {
    pending.emplace_back();
    return pending.back().get_task();
}
} // namespace

int main() {
    weft::testing::manual_timer_source clock;
    const auto start = clock.now();
    weft::task<int> result = fetch_with_retry(clock, fake_fetch, 5);

    clock.advance(1s);    // attempt 1 times out, back-off 100 ms
    clock.advance(100ms); // attempt 2 starts
    clock.advance(1s);    // attempt 2 times out, back-off 200 ms
    clock.advance(200ms); // attempt 3 starts
    clock.advance(1s);    // attempt 3 times out, back-off 400 ms
    clock.advance(400ms); // attempt 4 starts
    clock.advance(300ms); // ... and the server answers 300 ms into it
    pending.back().set_value(42);

    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start);
    std::printf("attempts: %zu, value: %d, virtual time: %lld ms\n",
                pending.size(),
                result.get(),
                static_cast<long long>(elapsed.count()));
    return pending.size() == 4 && result.get() == 42 && elapsed == 4000ms && clock.pending() == 0 ? 0 : 1;
}
