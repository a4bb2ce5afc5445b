// weft/detail/state_allocator.hpp — per-thread caches for task states and coroutine frames.
//
// Design note. Task states are small (100-500 bytes), made on one thread and often freed on
// another (a chain built on the main thread runs and dies on a worker). glibc keeps only 7
// freed blocks per size per thread; past that every allocation and free takes its locked
// paths, which cost more than the whole task protocol (callgrind: 55% of a `then` link).
//
// Each thread owns a cache with, per size class (64-byte steps up to 512 bytes), a plain local
// free list and an atomic "remote" list. Every block carries a 16-byte header naming its owner
// cache. free(): a block of this thread's cache goes on the local list (up to a cap, else back to
// the system); a block of another cache is pushed onto that cache's remote list (lock-free push).
// alloc(): the local list, else the whole remote list taken with one exchange, else the system.
// The remote lists are push-only with a take-all consumer, so there is no ABA problem.
//
// A thread's cache outlives the thread: at thread exit it is parked in a registry (never freed)
// and adopted by the next new thread, so a remote free never targets freed memory and blocks
// freed to a dead thread's cache are reused. Under AddressSanitizer the caches are bypassed, so
// that ASan sees every state's lifetime.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/atomic.hpp>

#include <cstddef>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace weft::detail {

inline constexpr std::size_t alloc_granule = 64;
inline constexpr std::size_t alloc_classes = 8; // blocks of 64, 128, ... 512 bytes
inline constexpr std::size_t alloc_header = 16; // keeps the payload 16-byte aligned
inline constexpr unsigned local_cache_cap = 4096;

struct thread_cache;

/// In front of every block. While the block is on a free list, `next_free` replaces `owner`
/// (the list it is on names the owner), so the lists point at the starts of allocations and
/// leak checkers see parked blocks as reachable.
struct alignas(alloc_header) block_header {
    union {
        thread_cache* owner; // nullptr: a large block, straight from the system
        block_header* next_free;
    };
    std::size_t size_class;
};
static_assert(sizeof(block_header) == alloc_header);

struct thread_cache {
    struct alignas(WEFT_CACHE_LINE) remote_list {
        atomic<block_header*> head{nullptr}; // pushed by other threads, taken whole by the owner
    };
    remote_list remote[alloc_classes];
    // --- owner thread only ---------------------------------------------------------------------
    block_header* local[alloc_classes] = {};
    unsigned local_count[alloc_classes] = {};
};

/// Caches of exited threads, waiting for adoption; never freed (remote frees may target them).
struct cache_registry {
    std::mutex mutex;
    // --- guarded by mutex ------------------------------------------------------------------------
    std::vector<thread_cache*> parked;

    static cache_registry& get() noexcept {
        static cache_registry* registry = new cache_registry;
        return *registry;
    }
};

class thread_cache_owner {
public:
    thread_cache_owner() {
        auto& reg = cache_registry::get();
        {
            std::lock_guard lock(reg.mutex);
            if (!reg.parked.empty()) {
                cache_ = reg.parked.back();
                reg.parked.pop_back();
            }
        }
        if (cache_ == nullptr) {
            cache_ = new thread_cache;
        }
    }
    ~thread_cache_owner() {
        thread_cache* cache = std::exchange(cache_, nullptr); // later calls on this thread:
        for (std::size_t c = 0; c < alloc_classes; ++c) {     // system memory, remote frees
            while (block_header* h = cache->local[c]) {
                cache->local[c] = h->next_free;
                ::operator delete(h);
            }
            cache->local_count[c] = 0;
        }
        auto& reg = cache_registry::get();
        std::lock_guard lock(reg.mutex);
        reg.parked.push_back(cache); // remote lists stay: the next owner reuses them
    }
    thread_cache_owner(const thread_cache_owner&) = delete;
    thread_cache_owner& operator=(const thread_cache_owner&) = delete;
    thread_cache* cache() const noexcept { return cache_; }

private:
    thread_cache* cache_ = nullptr;
};

WEFT_TLS_ACCESSOR inline thread_cache* this_thread_cache() {
    static thread_local thread_cache_owner owner;
    WEFT_TLS_OPAQUE();
    return owner.cache();
}

/// This thread's cache, or nullptr once the thread's cache has been parked (thread exit).
/// Allocates `size` bytes for a task state or coroutine frame (16-byte aligned).
inline void* allocate_state(std::size_t size) {
#if WEFT_ASAN
    return ::operator new(size);
#else
    const std::size_t cls = (size + alloc_header - 1) / alloc_granule;
    if (cls >= alloc_classes) {
        auto* h = static_cast<block_header*>(::operator new(size + alloc_header));
        h->owner = nullptr;
        h->size_class = alloc_classes;
        return reinterpret_cast<unsigned char*>(h) + alloc_header;
    }
    thread_cache* tc = this_thread_cache();
    if (tc == nullptr) { // this thread is exiting: plain system memory, owned by nobody
        auto* h = static_cast<block_header*>(::operator new(size + alloc_header));
        h->owner = nullptr;
        h->size_class = alloc_classes;
        return reinterpret_cast<unsigned char*>(h) + alloc_header;
    }
    block_header* h = tc->local[cls];
    if (h == nullptr) {
        // order: acquire — pairs with the release push in deallocate_state(): the blocks'
        //        `next_free` links written by the freeing threads are visible
        h = tc->remote[cls].head.exchange(nullptr, acquire);
        tc->local_count[cls] = 0;
    }
    if (h != nullptr) {
        tc->local[cls] = h->next_free;
        if (tc->local_count[cls] > 0) {
            --tc->local_count[cls];
        }
        h->owner = tc; // size_class is unchanged
        return reinterpret_cast<unsigned char*>(h) + alloc_header;
    }
    h = static_cast<block_header*>(::operator new((cls + 1) * alloc_granule));
    h->owner = tc;
    h->size_class = cls;
    return reinterpret_cast<unsigned char*>(h) + alloc_header;
#endif
}

/// Frees a block from allocate_state(), on any thread.
inline void deallocate_state(void* p) noexcept {
#if WEFT_ASAN
    ::operator delete(p);
#else
    if (p == nullptr) {
        return;
    }
    auto* h = reinterpret_cast<block_header*>(static_cast<unsigned char*>(p) - alloc_header);
    thread_cache* owner = h->owner;
    if (owner == nullptr) {
        ::operator delete(h);
        return;
    }
    const std::size_t cls = h->size_class;
    thread_cache* mine = nullptr;
    try {
        mine = this_thread_cache();
    } catch (...) {
        mine = nullptr; // no cache could be made for this thread: hand the block to its owner
    }
    if (owner == mine) {
        if (mine->local_count[cls] < local_cache_cap) {
            h->next_free = mine->local[cls];
            mine->local[cls] = h;
            ++mine->local_count[cls];
        } else {
            ::operator delete(h);
        }
        return;
    }
    auto& head = owner->remote[cls].head;
    block_header* old = head.load(relaxed); // order: relaxed — the CAS below decides
    do {
        h->next_free = old;
        // order: release — publishes h->next_free (and the end of the block's use) to the
        //        owner's acquire exchange in allocate_state()
    } while (!head.compare_exchange_weak(old, h, release, relaxed));
#endif
}

/// Class-specific allocation for task states (and, through the promise type, coroutine frames).
/// Over-aligned types (a task<T> of an over-aligned T) bypass the caches.
struct pooled_allocation {
    static void* operator new(std::size_t size) { return allocate_state(size); }
    static void operator delete(void* p) noexcept { deallocate_state(p); }
    static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
    static void operator delete(void* p, std::align_val_t al) noexcept { ::operator delete(p, al); }
};

} // namespace weft::detail
