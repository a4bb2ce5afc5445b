// Tests for weft/detail/thread_pool/work_stealing_deque.hpp.
#include <weft/detail/thread_pool/work_stealing_deque.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace {

using deque = weft::detail::work_stealing_deque<int*>;

} // namespace

TEST_CASE("a deque of capacity 2 grows under pushes and keeps LIFO for the owner, FIFO for thieves", "[deque]") {
    deque q(2);
    REQUIRE(q.capacity() == 2);
    int v[10];
    for (int& x : v) {
        q.push(&x);
    }
    CHECK(q.capacity() == 16);
    CHECK(q.size_hint() == 10);
    CHECK(q.steal() == &v[0]); // the oldest
    CHECK(q.steal() == &v[1]);
    CHECK(q.pop() == &v[9]); // the newest
    CHECK(q.pop() == &v[8]);
    for (int i = 2; i < 8; ++i) {
        CHECK(q.steal() == &v[i]);
    }
    CHECK(q.pop() == nullptr);
    CHECK(q.steal() == nullptr);
    CHECK(q.size_hint() == 0);
}

TEST_CASE("a deque grows while items wrap around the ring and loses none", "[deque]") {
    deque q(2);
    std::vector<int> v(1000);
    std::size_t next = 0;
    std::size_t taken = 0;
    std::vector<int> hits(v.size(), 0);
    for (int round = 0; round < 200; ++round) {
        for (int k = 0; k < 3 && next < v.size(); ++k) {
            q.push(&v[next++]);
        }
        if (int* p = (round % 2 == 0) ? q.steal() : q.pop()) {
            ++hits[static_cast<std::size_t>(p - v.data())];
            ++taken;
        }
    }
    while (int* p = q.pop()) {
        ++hits[static_cast<std::size_t>(p - v.data())];
        ++taken;
    }
    CHECK(taken == next);
    for (std::size_t i = 0; i < next; ++i) {
        REQUIRE(hits[i] == 1);
    }
}

TEST_CASE("reserve makes the next pushes allocation-free", "[deque]") {
    deque q(2);
    q.reserve(100);
    CHECK(q.capacity() >= 100);
    const std::size_t cap = q.capacity();
    int v[100];
    for (int& x : v) {
        q.push(&x);
    }
    CHECK(q.capacity() == cap);
}

TEST_CASE("owner push and pop against two thieves: every item is taken exactly once", "[deque]") {
    constexpr int n = 200'000;
    std::vector<int> items(n);
    std::vector<std::atomic<int>> hits(n);
    deque q(2);
    std::atomic<bool> done{false};
    auto record = [&](int* p) {
        hits[static_cast<std::size_t>(p - items.data())].fetch_add(1);
    };
    std::vector<std::thread> thieves;
    for (int t = 0; t < 2; ++t) {
        thieves.emplace_back([&] {
            while (!done.load()) {
                if (int* p = q.steal()) {
                    record(p);
                }
            }
            while (int* p = q.steal()) {
                record(p);
            }
        });
    }
    for (int i = 0; i < n; ++i) {
        q.push(&items[static_cast<std::size_t>(i)]);
        if (i % 3 == 0) {
            if (int* p = q.pop()) {
                record(p);
            }
        }
    }
    while (int* p = q.pop()) {
        record(p);
    }
    done.store(true);
    for (auto& t : thieves) {
        t.join();
    }
    for (int i = 0; i < n; ++i) {
        REQUIRE(hits[static_cast<std::size_t>(i)].load() == 1);
    }
}
