// weft/detail/diag/trace.hpp — trace events into per-thread buffers.
// Design note: a trace session owns one fixed-size buffer per thread that wrote to it. A thread
// finds its buffer through a thread-local pointer tagged with the session's generation; the
// first event of a session on a thread takes the session's mutex once to add its buffer. After
// that an event is a clock read and a store into the buffer, published by a release store of
// the buffer's count: only its thread writes it, and a full buffer drops the event and counts
// it (never blocks, never overwrites, so every event below the published count is final and
// an exporter reads it without a lock). Buffers are reference counted, so a thread still
// writing its last event while the session ends keeps its buffer alive. Event names are static
// text (a coroutine's function, an interned task name) or a mangled type name, demangled at
// export.
// Decision: docs/decisions/0017-diagnostics.md; guide: docs/guide/diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/diag/switch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <pthread.h>

namespace weft::detail::diag {

/// One trace event (Chrome trace-event phases: B/E slices, i instants, s/f flows). Trivial: a
/// buffer's pages are not touched before its thread writes them.
struct trace_event {
    std::uint64_t ns; ///< steady_clock time
    std::uint64_t id; ///< a flow's id, or the task's record id (0: none)
    const char* name; ///< static or interned text
    const char* category;
    char phase;
    bool mangled;     ///< name is a mangled type name
    std::uint8_t arg; ///< a small argument (placement: 1 = ran inline)
};

struct thread_buffer {
    explicit thread_buffer(std::size_t n) : events(std::make_unique_for_overwrite<trace_event[]>(n)), capacity(n) {}
    std::unique_ptr<trace_event[]> events; // [0, count) are final
    std::size_t capacity;
    atomic<std::size_t> count{0}; // written by its thread only (release), read by the exporter
    atomic<std::uint64_t> dropped{0};
    std::int32_t tid = 0;
    std::string thread_name;
};

class trace_sessions {
public:
    static trace_sessions& instance() noexcept {
        static trace_sessions s;
        return s;
    }

    /// Starts a session (ending the previous one's collection); returns its generation.
    std::uint64_t start(std::size_t capacity_per_thread) {
        std::lock_guard lock(mutex_);
        buffers_.clear();
        capacity_ = capacity_per_thread;
        active_ = true;
        const std::uint64_t g = generation_.load(relaxed) + 1; // order: relaxed — under mutex_
        generation_.store(g, release); // order: release — a thread that sees it finds capacity_
        return g;
    }

    /// Ends the session: its buffers, for export. Events written after this are dropped.
    std::vector<std::shared_ptr<thread_buffer>> stop() {
        std::lock_guard lock(mutex_);
        generation_.store(generation_.load(relaxed) + 1, release); // order: release — new slow paths see no session
        active_ = false;
        return std::move(buffers_);
    }

    /// The calling thread's buffer for the current session (nullptr: none running).
    thread_buffer* buffer_here() noexcept {
        thread_local std::shared_ptr<thread_buffer> mine;
        thread_local std::uint64_t mine_generation = 0;
        // order: acquire — pairs with start()'s release: capacity_ and the session are seen
        const std::uint64_t g = generation_.load(acquire);
        if (g == mine_generation && mine != nullptr) {
            return mine.get();
        }
        return join(mine, mine_generation, g);
    }

    /// Interns `text` for the session's life and beyond (names given at spawn).
    const char* intern(std::string_view text) {
        std::lock_guard lock(names_mutex_);
        return names_.emplace(text).first->c_str();
    }

private:
    [[gnu::noinline]] thread_buffer*
    join(std::shared_ptr<thread_buffer>& mine, std::uint64_t& mine_generation, std::uint64_t g) noexcept {
        try {
            std::lock_guard lock(mutex_);
            if (!active_ || generation_.load(relaxed) != g) { // order: relaxed — under mutex_
                mine.reset();
                mine_generation = g;
                return nullptr;
            }
            auto b = std::make_shared<thread_buffer>(capacity_);
            b->tid = thread_id();
            char name[32] = {};
            if (::pthread_getname_np(::pthread_self(), name, sizeof name) == 0) {
                b->thread_name = name;
            }
            buffers_.push_back(b);
            mine = std::move(b);
            mine_generation = g;
            return mine.get();
        } catch (...) {
            return nullptr; // out of memory: this thread's events are not traced
        }
    }

    std::mutex mutex_;
    atomic<std::uint64_t> generation_{0}; // bumped by start and stop; written under mutex_
    // --- guarded by mutex_ -----------------------------------------------------------------
    std::vector<std::shared_ptr<thread_buffer>> buffers_;
    std::size_t capacity_ = 0;
    bool active_ = false;

    std::mutex names_mutex_;
    // --- guarded by names_mutex_ -----------------------------------------------------------
    std::unordered_set<std::string> names_; // never shrinks: an event may point into it
};

inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

/// Appends one event to this thread's buffer (trace on); drops and counts it when full.
inline void emit(char phase,
                 const char* name,
                 std::uint64_t id,
                 const char* category = "task",
                 bool mangled = false,
                 std::uint8_t arg = 0) noexcept {
    thread_buffer* b = trace_sessions::instance().buffer_here();
    if (b == nullptr) {
        return;
    }
    const std::size_t n = b->count.load(relaxed); // order: relaxed — only this thread writes it
    if (n == b->capacity) {
        b->dropped.fetch_add(1, relaxed); // order: relaxed — a counter
        return;
    }
    b->events[n] = trace_event{now_ns(), id, name, category, phase, mangled, arg};
    b->count.store(n + 1, release); // order: release — the exporter reads events[n] after seeing it
}

/// A fresh flow id: never reused within the process.
inline std::uint64_t next_flow_id() noexcept {
    static constinit atomic<std::uint64_t> last{0};
    return last.fetch_add(1, relaxed) + 1; // order: relaxed — a counter
}

} // namespace weft::detail::diag
