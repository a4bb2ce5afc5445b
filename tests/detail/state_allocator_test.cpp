// Tests for weft/detail/state_allocator.hpp: per-thread caches with remote frees.
#include <weft/detail/state_allocator.hpp>

#include "../catch.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

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
    void* drain = wd::allocate_state(200);  // empty this class's local list first
    void* a = wd::allocate_state(200);
    std::thread([a] { wd::deallocate_state(a); }).join();
    void* b = wd::allocate_state(200);  // local list empty: takes the remote list
    CHECK(a == b);
    wd::deallocate_state(b);
    wd::deallocate_state(drain);
#endif
}

TEST_CASE("blocks are 16-byte aligned, large ones bypass the caches, nullptr is ignored", "[allocator]") {
    for (std::size_t size : {1u, 16u, 63u, 64u, 100u, 496u, 497u, 4096u, 100000u}) {
        void* p = wd::allocate_state(size);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
        std::memset(p, 0xab, size);  // the whole size is usable (ASan/valgrind check)
        wd::deallocate_state(p);
    }
    wd::deallocate_state(nullptr);
}

TEST_CASE("a thread's cache outlives the thread: late remote frees are safe and reused", "[allocator]") {
    std::vector<void*> blocks;
    std::thread owner([&] {
        for (int i = 0; i < 100; ++i) {
            blocks.push_back(wd::allocate_state(128));
        }
    });
    owner.join();  // its cache is parked
    for (void* p : blocks) {
        wd::deallocate_state(p);  // remote frees to a parked cache
    }
    std::thread adopter([] {
        std::vector<void*> again;
        for (int i = 0; i < 200; ++i) {
            again.push_back(wd::allocate_state(128));
        }
        for (void* p : again) {
            wd::deallocate_state(p);
        }
    });
    adopter.join();
    SUCCEED("no crash; ASan/TSan and valgrind see no error");
}

TEST_CASE("two threads freeing each other's blocks: every block is handed out once at a time", "[allocator][stress]") {
    constexpr int rounds = 20'000;
    std::atomic<void*> mailbox[2] = {};
    std::atomic<bool> stop{false};
    auto worker = [&](int me) {
        const int other = 1 - me;
        for (int i = 0; i < rounds; ++i) {
            auto* p = static_cast<std::uint64_t*>(wd::allocate_state(96));
            *p = static_cast<std::uint64_t>(me * rounds + i);  // we own it now: write it
            void* prev = mailbox[other].exchange(p);             // hand it to the other thread
            if (prev != nullptr) {
                wd::deallocate_state(prev);
            }
            if (void* mine = mailbox[me].exchange(nullptr)) {
                wd::deallocate_state(mine);  // a block the other thread allocated: remote free
            }
        }
    };
    std::thread a(worker, 0);
    std::thread b(worker, 1);
    a.join();
    b.join();
    stop = true;
    for (auto& m : mailbox) {
        if (void* p = m.exchange(nullptr)) {
            wd::deallocate_state(p);
        }
    }
    SUCCEED("TSan sees no race on the cache lists");
}
