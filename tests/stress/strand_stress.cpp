// Stress: a strand under contention. 8 producer threads x WEFT_STRAND_ITEMS items (default
// 100,000) into one strand over a 2-worker pool: every item runs exactly once, each producer's
// items run in its order, and never two at once — checked with plain (non-atomic) counters
// that TSan would flag if two items ever overlapped. Then the same with the producers being
// pool tasks, and with a strand over a strand.
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/env.hpp"

namespace {

std::size_t items_per_producer() {
    return static_cast<std::size_t>(weft_test::env_or("WEFT_STRAND_ITEMS", 100'000));
}

/// What the strand's items share; every field but `done` is touched only inside strand items.
struct ledger {
    explicit ledger(std::size_t producers) : last_seen(producers, 0) {}
    std::vector<std::size_t> last_seen; // per producer: the sequence number of its last item
    std::size_t inside = 0;             // items running right now (must stay 0 or 1)
    std::size_t overlaps = 0;
    std::size_t out_of_order = 0;
    std::size_t total = 0;
    std::atomic<std::size_t> done{0};
};

/// A work item with no task around it: the strand's own cost, not the task core's.
struct stamped_item final : weft::work_item {
    stamped_item() : weft::work_item(&invoke) {}
    ledger* book = nullptr;
    std::size_t producer = 0;
    std::size_t seq = 0; // 1-based
    static void invoke(weft::work_item* w, bool run) noexcept {
        auto* self = static_cast<stamped_item*>(w);
        ledger& b = *self->book;
        if (run) {
            b.overlaps += ++b.inside != 1;
            b.out_of_order += b.last_seen[self->producer] + 1 != self->seq;
            b.last_seen[self->producer] = self->seq;
            ++b.total;
            --b.inside;
        }
        b.done.fetch_add(1, std::memory_order_release);
    }
};

void produce(weft::strand& s, ledger& book, std::vector<stamped_item>& items, std::size_t producer, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        stamped_item& it = items[producer * n + i];
        it.book = &book;
        it.producer = producer;
        it.seq = i + 1;
        s.schedule(&it);
    }
}

void check(ledger& book, std::size_t producers, std::size_t n) {
    while (book.done.load(std::memory_order_acquire) != producers * n) {
        std::this_thread::yield();
    }
    CHECK(book.total == producers * n);
    CHECK(book.overlaps == 0);
    CHECK(book.out_of_order == 0);
    for (std::size_t p = 0; p < producers; ++p) {
        CHECK(book.last_seen[p] == n);
    }
}

} // namespace

TEST_CASE("strand: 8 producer threads into one strand over a 2-worker pool", "[strand][stress]") {
    constexpr std::size_t producers = 8;
    const std::size_t n = items_per_producer();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    ledger book(producers);
    std::vector<stamped_item> items(producers * n);
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] { produce(s, book, items, p, n); });
    }
    for (auto& t : threads) {
        t.join();
    }
    check(book, producers, n);
    CHECK(s.stats().ran == producers * n);
}

TEST_CASE("strand: producers that are pool tasks, and a strand over a strand", "[strand][stress]") {
    constexpr std::size_t producers = 8;
    const std::size_t n = items_per_producer() / 4;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand outer{pool};
    weft::strand s{weft::any_scheduler(outer)};
    ledger book(producers);
    std::vector<stamped_item> items(producers * n);
    std::vector<weft::task<void>> tasks;
    for (std::size_t p = 0; p < producers; ++p) {
        tasks.push_back(weft::spawn(pool, [&, p] { produce(s, book, items, p, n); }));
    }
    weft::when_all(tasks).get();
    check(book, producers, n);
}

TEST_CASE("strand: spawned tasks from 8 threads, every task completes exactly once", "[strand][stress]") {
    constexpr std::size_t producers = 8;
    const std::size_t n = items_per_producer() / 10;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    std::size_t runs = 0; // plain: serialized by the strand
    std::vector<std::vector<weft::task<std::size_t>>> tasks(producers);
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (std::size_t i = 0; i < n; ++i) {
                tasks[p].push_back(weft::spawn(s, [&runs, i] {
                    ++runs;
                    return i;
                }));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (std::size_t p = 0; p < producers; ++p) {
        for (std::size_t i = 0; i < n; ++i) {
            REQUIRE(tasks[p][i].get() == i);
        }
    }
    auto total = weft::spawn(s, [&] { return runs; });
    CHECK(total.get() == producers * n);
}
