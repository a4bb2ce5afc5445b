// Tests for weft/detail/mpsc_queue.hpp: the queue the pool's injector, the strand and the
// reactor share (its note: M1-M3).
#include <weft/detail/mpsc_queue.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {

struct test_item : weft::work_item {
    test_item() : weft::work_item(&invoke) {}
    static void invoke(weft::work_item*, bool) noexcept {}
    int producer = 0;
    int sequence = 0;
};

} // namespace

TEST_CASE("4 producers, batch consumers, every item once and per-producer FIFO", "[mpsc_queue]") {
    constexpr int producers = 4;
    constexpr int per_producer = 50'000;
    std::vector<test_item> items(producers * per_producer);
    weft::detail::mpsc_queue q;
    CHECK(q.empty_hint());
    std::atomic<int> started{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            started.fetch_add(1);
            for (int i = 0; i < per_producer; ++i) {
                test_item& it = items[static_cast<std::size_t>(p * per_producer + i)];
                it.producer = p;
                it.sequence = i;
                q.push(&it);
            }
        });
    }
    std::vector<int> last(producers, -1);
    int received = 0;
    weft::work_item* batch[16];
    while (received < producers * per_producer) {
        const std::size_t n = q.try_pop_batch(batch, 16);
        for (std::size_t k = 0; k < n; ++k) {
            auto* it = static_cast<test_item*>(batch[k]);
            REQUIRE(it->sequence == last[static_cast<std::size_t>(it->producer)] + 1);
            last[static_cast<std::size_t>(it->producer)] = it->sequence;
            ++received;
        }
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(q.try_pop_batch(batch, 16) == 0);
    CHECK(q.empty_hint());
}

TEST_CASE("an exclusive consumer takes batches in push order and sees the queue empty after", "[mpsc_queue]") {
    std::vector<test_item> items(100);
    weft::detail::mpsc_queue q;
    for (int i = 0; i < 100; ++i) {
        items[static_cast<std::size_t>(i)].sequence = i;
        q.push(&items[static_cast<std::size_t>(i)]);
        CHECK_FALSE(q.empty_hint());
    }
    weft::work_item* batch[64];
    int next = 0;
    for (std::size_t n = 0; (n = q.pop_batch_exclusive(batch, 64)) != 0;) {
        for (std::size_t k = 0; k < n; ++k) {
            CHECK(static_cast<test_item*>(batch[k])->sequence == next++);
        }
    }
    CHECK(next == 100);
    CHECK(q.empty_hint());
    q.push(&items[0]); // the stub was re-linked behind the last item: the queue is usable again
    CHECK(q.pop_batch_exclusive(batch, 64) == 1);
    CHECK(batch[0] == &items[0]);
}
