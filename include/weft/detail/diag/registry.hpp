// weft/detail/diag/registry.hpp — the live task registry: one record per coroutine task and
// per spawned function while it lives, with its name, creation site, state, what it awaits and
// who created it (the async stack is the chain of creators).
// Design note: records sit in 16 shards, each an intrusive list under its own mutex; a task is
// added to the shard of the thread that creates it and removed from that shard by whichever
// thread ends it. A record's mutable fields are relaxed atomics written by the thread running
// the task and read by a dump; links between records are ids, never pointers, so a dump never
// follows a pointer to a record that ended. A dump locks every shard (in index order) while it
// copies: records cannot be freed under it, and adding or ending tasks waits for the copy only.
// The thread-local "current record" is pushed and popped around each slice a task runs (a
// spawned function's call, a coroutine's start and each resume) and restored at every suspend,
// so the creator of a task is the task whose code created it.
// Decision: docs/decisions/0017-diagnostics.md; guide: docs/guide/diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/diag/switch.hpp>
#include <weft/detail/diag/trace.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <typeinfo>
#include <unordered_map>
#include <vector>

namespace weft::detail::diag {

enum class record_state : std::uint8_t {
    queued,
    running,
    suspended,
    blocked
};

enum class record_kind : std::uint8_t {
    coroutine,
    spawned
};

struct shard;

/// One live task. Immutable fields are set before it is added; the atomics after.
struct task_record {
    std::uint64_t id = 0;
    record_kind kind = record_kind::coroutine;
    const char* function = nullptr;           ///< a coroutine's function (static text)
    const std::type_info* callable = nullptr; ///< a spawned function's type
    std::string name;                         ///< a name given at spawn, else empty
    const char* trace_name = nullptr;         ///< the name its trace slices carry
    bool trace_name_mangled = false;          ///< trace_name is a mangled type name
    std::uint64_t spawn_flow = 0;             ///< the trace flow from its spawn call
    const char* file = nullptr;               ///< creation site
    unsigned line = 0;
    std::uint64_t creator = 0;   ///< id of the task that created it, 0: none
    const void* state = nullptr; ///< the task's state (identity only)
    atomic<record_state> status{record_state::running};
    atomic<const void*> awaiting_state{nullptr};          ///< the task awaited while suspended
    atomic<const std::type_info*> awaiting_type{nullptr}; ///< the awaiter's type while suspended
    atomic<const void*> scheduler{nullptr};               ///< the scheduler it was given or last ran on
    atomic<std::int32_t> thread{0};                       ///< the thread that ran it last
    task_record* saved_current_ptr = nullptr;             ///< the current record its slice replaced
    // --- owned by the shard's list (its mutex) ---------------------------------------------
    task_record* prev = nullptr;
    task_record* next = nullptr;
    shard* home = nullptr;
};

struct shard {
    std::mutex mutex;
    // --- guarded by mutex ------------------------------------------------------------------
    task_record* head = nullptr;
    std::size_t count = 0;
};

class registry {
public:
    static constexpr std::size_t shard_count = 16;

    static registry& instance() noexcept {
        static registry r;
        return r;
    }

    std::uint64_t next_id() noexcept {
        return last_id_.fetch_add(1, relaxed) + 1; // order: relaxed — a counter
    }

    void add(task_record* r) noexcept {
        shard& s = shards_[static_cast<std::size_t>(thread_id()) % shard_count];
        r->home = &s;
        std::lock_guard lock(s.mutex);
        r->next = s.head;
        if (s.head != nullptr) {
            s.head->prev = r;
        }
        s.head = r;
        ++s.count;
    }

    void remove(task_record* r) noexcept {
        shard& s = *r->home;
        std::lock_guard lock(s.mutex);
        (r->prev != nullptr ? r->prev->next : s.head) = r->next;
        if (r->next != nullptr) {
            r->next->prev = r->prev;
        }
        --s.count;
    }

    /// Calls `visit(const task_record&)` for every live record, every shard locked meanwhile.
    template<typename Visit>
    void for_each(Visit visit) {
        std::array<std::unique_lock<std::mutex>, shard_count> locks;
        for (std::size_t i = 0; i < shard_count; ++i) {
            locks[i] = std::unique_lock(shards_[i].mutex);
        }
        for (auto& s : shards_) {
            for (const task_record* r = s.head; r != nullptr; r = r->next) {
                visit(*r);
            }
        }
    }

    std::size_t live() {
        std::size_t n = 0;
        for (auto& s : shards_) {
            std::lock_guard lock(s.mutex);
            n += s.count;
        }
        return n;
    }

private:
    registry() = default;
    atomic<std::uint64_t> last_id_{0};
    std::array<shard, shard_count> shards_;
};

/// The record whose code runs on this thread now (nullptr: none, or registry off).
inline task_record*& current_record() noexcept {
    static thread_local task_record* current = nullptr;
    return current;
}

/// A new record, not yet in the registry: the caller sets the rest of its immutable fields, then
/// publish_record() adds it (a dump may read it from then on).
inline task_record*
new_record(record_kind kind, const void* state, const char* function, const char* file, unsigned line) noexcept {
    try {
        auto* r = new task_record;
        r->id = registry::instance().next_id();
        r->kind = kind;
        r->function = function;
        r->file = file;
        r->line = line;
        r->state = state;
        r->trace_name = function != nullptr ? function : "task";
        if (const task_record* c = current_record(); c != nullptr) {
            r->creator = c->id;
        }
        r->thread.store(thread_id(), relaxed); // order: relaxed — read by dumps only
        return r;
    } catch (...) {
        return nullptr; // out of memory: this task goes unrecorded, nothing else changes
    }
}

/// Adds a record made by new_record() (its shard's lock publishes its fields to dumps).
inline void publish_record(task_record* r) noexcept {
    if (r != nullptr) {
        registry::instance().add(r);
    }
}

/// new_record() and publish_record() at once (nothing else to set).
inline task_record*
begin_record(record_kind kind, const void* state, const char* function, const char* file, unsigned line) noexcept {
    task_record* r = new_record(kind, state, function, file, line);
    publish_record(r);
    return r;
}

inline void end_record(task_record* r) noexcept {
    if (r != nullptr) {
        registry::instance().remove(r);
        delete r;
    }
}

/// Makes `r` the current record for a slice of its code on this thread (a trace slice begins).
inline void enter(task_record* r) noexcept {
    r->saved_current_ptr = current_record();
    current_record() = r;
    if (trace_on()) {
        emit('B', r->trace_name, r->id, "task", r->trace_name_mangled);
    }
    r->status.store(record_state::running, relaxed); // order: relaxed — read by dumps only
    r->thread.store(thread_id(), relaxed);           // order: relaxed — read by dumps only
    r->awaiting_state.store(nullptr, relaxed);       // order: relaxed — read by dumps only
    r->awaiting_type.store(nullptr, relaxed);        // order: relaxed — read by dumps only
}

/// Ends the slice `r` began with enter(): the previous record is current again.
inline void leave(task_record* r) noexcept {
    if (trace_on()) {
        emit('E', nullptr, r->id);
    }
    current_record() = r->saved_current_ptr;
}

/// A flow's start on this thread, inside a slice: the current one, or a zero-length slice
/// named `what` when no recorded task runs here (a flow outside any slice is dropped by viewers).
inline void flow_start(const char* what, const char* category, std::uint64_t id) noexcept {
    const bool own_slice = current_record() == nullptr;
    if (own_slice) {
        emit('B', what, 0, category);
    }
    emit('s', what, id, category);
    if (own_slice) {
        emit('E', nullptr, 0, category);
    }
}

/// `r` suspends awaiting `type` (and, for a task, its state): recorded before the awaiter's
/// await_suspend, which may let another thread resume it at once.
inline void suspending(task_record* r, const std::type_info* type, const void* awaited) noexcept {
    r->awaiting_type.store(type, relaxed);             // order: relaxed — read by dumps only
    r->awaiting_state.store(awaited, relaxed);         // order: relaxed — read by dumps only
    r->status.store(record_state::suspended, relaxed); // order: relaxed — read by dumps only
    leave(r);
}

/// A blocking wait (get(), wait()) by the task running on this thread, shown as "blocked" for
/// its length; on entry it looks for a cycle of waits through the registry (registry on).
class blocked_scope {
public:
    /// Throws deadlock_error (made by `fail`) when waiting for `awaited` would close a cycle.
    template<typename Fail>
    blocked_scope(const void* awaited, Fail fail) : record_(current_record()) {
        if (record_ == nullptr) {
            return;
        }
        // order: seq_cst — two tasks that block on each other at once: each marks itself, then
        //        reads the other's mark; seq_cst forbids both reads missing both marks
        record_->awaiting_state.store(awaited, seq_cst);
        record_->status.store(record_state::blocked, seq_cst);
        std::string cycle = find_cycle(awaited);
        if (!cycle.empty()) {
            unmark();
            record_ = nullptr;
            fail(std::move(cycle));
        }
    }
    ~blocked_scope() {
        if (record_ != nullptr) {
            unmark();
        }
    }
    blocked_scope(const blocked_scope&) = delete;
    blocked_scope& operator=(const blocked_scope&) = delete;

private:
    void unmark() noexcept {
        record_->status.store(record_state::running, seq_cst); // order: seq_cst — see above
        record_->awaiting_state.store(nullptr, seq_cst);       // order: seq_cst — see above
    }

    /// What the search needs of one record, copied while the shards are locked (the names are
    /// put into words only for the tasks on a cycle).
    struct waiting {
        std::uint64_t id;
        const void* awaits; // what it waits for (blocked) or awaits (suspended); nullptr: neither
        std::string name;   // a spawn's given name (empty for most)
        const char* function;
        const char* file;
        unsigned line;
    };

    /// Follows "waits for" from `awaited`: a path back to this task is a cycle, named.
    std::string find_cycle(const void* awaited) const {
        std::unordered_map<const void*, waiting> by_state; // a task's state -> its record's copy
        registry::instance().for_each([&](const task_record& r) {
            const record_state st = r.status.load(seq_cst); // order: seq_cst — see the constructor
            const void* on = st == record_state::blocked || st == record_state::suspended
                                 ? r.awaiting_state.load(seq_cst) // order: seq_cst — see the constructor
                                 : nullptr;
            by_state.emplace(r.state, waiting{r.id, on, r.name, r.function, r.file, r.line});
        });
        std::string path = "#" + std::to_string(record_->id) + " " +
                           describe(record_->name, record_->function, record_->file, record_->line);
        const void* next = awaited;
        for (std::size_t depth = 0; depth <= by_state.size() && next != nullptr; ++depth) {
            if (next == record_->state) {
                return "weft: deadlock: a cycle of blocking waits: " + path + " (this wait would never end)";
            }
            const auto found = by_state.find(next);
            if (found == by_state.end()) {
                return {}; // not a recorded task: no cycle known
            }
            const waiting& w = found->second;
            path += " waits for #" + std::to_string(w.id) + " " + describe(w.name, w.function, w.file, w.line);
            next = w.awaits;
        }
        return {};
    }

    static std::string describe(const std::string& given, const char* function, const char* file, unsigned line) {
        std::string name = !given.empty() ? given : (function != nullptr ? function : "a spawned function");
        if (file != nullptr) {
            name += " (" + std::string(file) + ":" + std::to_string(line) + ")";
        }
        return name;
    }

    task_record* record_;
};

} // namespace weft::detail::diag
