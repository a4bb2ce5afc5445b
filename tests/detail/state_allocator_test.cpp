// Tests for weft/detail/state_allocator.hpp: per-thread caches with remote frees.
#include <weft/detail/state_allocator.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "../catch.hpp"

namespace wd = weft::detail;

TEST_CASE("a block freed on its own thread is reused by that thread", "[allocator]") {
#if WEFT_ASAN
    WEFT_SKIP("the caches are bypassed under AddressSanitizer");
#else
    void* a = wd::allocate_state(100);
    wd::deallocate_state(a);
    void* b = wd::allocate_state(100);
    CHECK(a == b);
    wd::deallocate_state(b);
#endif
}

TEST_CASE("a block freed on another thread goes back to its owner and is reused", "[allocator]") {
#if WEFT_ASAN
    WEFT_SKIP("the caches are bypassed under AddressSanitizer");
#else
    void* drain = wd::allocate_state(200); // empty this class's local list first
    void* a = wd::allocate_state(200);
    std::thread([a] { wd::deallocate_state(a); }).join();
    void* b = wd::allocate_state(200); // local list empty: takes the remote list
    CHECK(a == b);
    wd::deallocate_state(b);
    wd::deallocate_state(drain);
#endif
}

TEST_CASE("blocks are 16-byte aligned, large ones bypass the caches, nullptr is ignored", "[allocator]") {
    for (std::size_t size : {1u, 16u, 63u, 64u, 100u, 496u, 497u, 4096u, 100000u}) {
        void* p = wd::allocate_state(size);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
        std::memset(p, 0xab, size); // the whole size is usable (ASan/valgrind check)
        wd::deallocate_state(p);
    }
    wd::deallocate_state(nullptr);
}

TEST_CASE("a thread's cache outlives the thread: late remote frees are safe and reused", "[allocator]") {
    wd::deallocate_state(wd::allocate_state(128)); // this thread has its own cache already
    std::vector<void*> blocks;
    std::thread owner([&] {
        for (int i = 0; i < 100; ++i) {
            blocks.push_back(wd::allocate_state(128));
        }
    });
    owner.join(); // its cache is parked
    for (void* p : blocks) {
        wd::deallocate_state(p); // remote frees to a parked cache
    }
    std::vector<void*> again;
    std::thread adopter([&again] { // the next new thread adopts the parked cache
        for (int i = 0; i < 200; ++i) {
            again.push_back(wd::allocate_state(128));
        }
        for (void* p : again) {
            wd::deallocate_state(p);
        }
    });
    adopter.join();
#if !WEFT_ASAN
    // Every block freed to the dead thread's cache was handed out again (its remote list).
    const std::set<void*> reused(again.begin(), again.end());
    for (void* p : blocks) {
        CHECK(reused.count(p) == 1);
    }
#endif
}

TEST_CASE("two threads freeing each other's blocks: every block is handed out once at a time", "[allocator][stress]") {
    constexpr int rounds = 20'000;
    std::atomic<void*> mailbox[2] = {};
    std::atomic<int> stamp_lost{0};   // a block of ours overwritten while we held it
    std::atomic<int> wrong_sender{0}; // a block in our mailbox not stamped by the other thread
    auto worker = [&](int me) {
        const int other = 1 - me;
        for (int i = 0; i < rounds; ++i) {
            auto* p = static_cast<std::uint64_t*>(wd::allocate_state(96));
            const auto stamp = static_cast<std::uint64_t>(me * rounds + i);
            *p = stamp;                // we own it now: write it
            std::this_thread::yield(); // hold it a moment: another owner would overwrite it
            if (*p != stamp) {
                ++stamp_lost;
            }
            void* prev = mailbox[other].exchange(p); // hand it to the other thread
            if (prev != nullptr) {
                wd::deallocate_state(prev);
            }
            if (void* mine = mailbox[me].exchange(nullptr)) {
                if (*static_cast<std::uint64_t*>(mine) / rounds != static_cast<std::uint64_t>(other)) {
                    ++wrong_sender;
                }
                wd::deallocate_state(mine); // a block the other thread allocated: remote free
            }
        }
    };
    std::thread a(worker, 0);
    std::thread b(worker, 1);
    a.join();
    b.join();
    for (auto& m : mailbox) {
        if (void* p = m.exchange(nullptr)) {
            wd::deallocate_state(p);
        }
    }
    CHECK(stamp_lost == 0);
    CHECK(wrong_sender == 0);
}
