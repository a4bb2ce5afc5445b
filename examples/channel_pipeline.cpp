// A bounded pipeline (.NET System.Threading.Channels with SemaphoreSlim and an async lock):
// a producer writes 1,000 jobs into a channel of capacity 16 (it waits while the channel is
// full), 4 workers on the pool read them, an async_mutex guards the shared tally across an
// await, and the last stage selects between results and a stop signal.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <map>
#include <vector>

weft::task<void> produce(weft::thread_pool& pool, weft::channel<int>& jobs) {
    co_await weft::resume_on(pool);
    for (int i = 1; i <= 1000; ++i) {
        co_await jobs.write(i); // back-pressure: waits while 16 jobs are queued
    }
    jobs.complete(); // workers drain what is left, then see the end
}

weft::task<void> work(weft::thread_pool& pool,
                      weft::channel<int>& jobs,
                      weft::channel<long>& results,
                      weft::async_mutex& tally_lock,
                      std::map<int, int>& tally) {
    co_await weft::resume_on(pool);
    while (auto job = co_await jobs.read()) {
        {
            auto hold = co_await tally_lock.lock(); // held across nothing here, but it could be
            ++tally[*job % 10];
        }
        co_await results.write(static_cast<long>(*job) * *job);
    }
}

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::channel<int> jobs({.capacity = 16});
    weft::channel<long> results({.capacity = 16});
    weft::channel<int> stop({.capacity = 1});
    weft::async_mutex tally_lock;
    std::map<int, int> tally;

    weft::task<void> producer = produce(pool, jobs);
    std::vector<weft::task<void>> workers;
    for (int w = 0; w < 4; ++w) {
        workers.push_back(work(pool, jobs, results, tally_lock, tally));
    }
    // when every worker is done, signal the collector through `stop`
    weft::task<void> closer = weft::when_all(std::move(workers)).then([&stop] { (void)stop.try_write(0); });

    long sum = 0;
    int received = 0;
    for (;;) {
        auto r = weft::select(results, stop).get(); // exactly one of the two is read
        if (r.index() == 1) {
            break;
        }
        sum += std::get<0>(r).value();
        ++received;
    }
    while (auto late = results.try_read()) { // what was still buffered when `stop` won
        sum += *late;
        ++received;
    }
    producer.get();
    closer.get();
    std::printf("%d results, sum of squares %ld, jobs ending in 7: %d\n", received, sum, tally[7]);
    return received == 1000 && sum == 333'833'500L && tally[7] == 100 ? 0 : 1;
}
