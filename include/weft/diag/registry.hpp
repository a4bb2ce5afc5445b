// weft/diag/registry.hpp — the live task registry, seen from outside: switch diagnostics on,
// take a snapshot of every live task (name, creation site, state, thread, scheduler, what it
// awaits, its async stack), dump it as text or JSON, on demand or on a signal.
// Design note: the registry's is at the top of weft/detail/diag/registry.hpp.
// Guide: docs/guide/diagnostics.md; decision: docs/decisions/0017-diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/diag/registry.hpp>
#include <weft/detail/diag/switch.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include <cxxabi.h>
#include <fcntl.h>
#include <unistd.h>

namespace weft::diag {

/// What diagnostics record. `trace` implies `registry`.
enum class feature : unsigned {
    registry = detail::diag::registry_bit,
    trace = detail::diag::trace_bit
};

/// Switches a feature on at run time (tasks started from now on are recorded).
inline void enable(feature f) noexcept {
    unsigned bits = static_cast<unsigned>(f);
    if (f == feature::trace) {
        bits |= detail::diag::registry_bit;
    }
    // order: relaxed — a switch; tasks started after a thread sees it are recorded
    detail::diag::switch_word.fetch_or(bits, detail::relaxed);
}
/// Switches a feature off (tasks already recorded stay until they end).
inline void disable(feature f) noexcept {
    // order: relaxed — a switch
    detail::diag::switch_word.fetch_and(~static_cast<unsigned>(f), detail::relaxed);
}
inline bool enabled(feature f) noexcept {
    // order: relaxed — a switch
    return (detail::diag::switch_word.load(detail::relaxed) & static_cast<unsigned>(f)) != 0;
}

/// One frame of an async stack.
struct stack_frame {
    std::uint64_t id = 0;
    std::string name;
    std::string file; ///< empty for a spawned function
    unsigned line = 0;
};

/// A live task as a snapshot saw it.
struct task_info {
    std::uint64_t id = 0;
    std::string kind; ///< "coroutine" or "spawned"
    std::string name; ///< a coroutine's function, a spawn's name or its function's type
    std::string file; ///< a coroutine's creation site (empty for a spawned function)
    unsigned line = 0;
    std::string state;               ///< "queued", "running", "suspended"
    std::int32_t thread = 0;         ///< the kernel's id of the thread that ran it last
    const void* scheduler = nullptr; ///< a spawn's scheduler; a coroutine's current one when it last ran
    std::string awaits;              ///< while suspended: the awaiter's type, demangled
    std::uint64_t awaits_task = 0;   ///< while suspended on a recorded task: its id
    std::uint64_t creator = 0;       ///< the task whose code created it (0: none recorded)
    std::vector<stack_frame> stack;  ///< itself, its creator, that one's creator... (live ones)
};

namespace detail {

inline std::string demangled(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> text(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && text != nullptr ? std::string(text.get()) : std::string(mangled);
}

inline const char* state_name(weft::detail::diag::record_state s) noexcept {
    using weft::detail::diag::record_state;
    switch (s) {
    case record_state::queued:
        return "queued";
    case record_state::running:
        return "running";
    case record_state::suspended:
        return "suspended";
    case record_state::blocked:
        return "blocked";
    }
    return "?";
}

inline void json_string(std::string& out, const std::string& s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

} // namespace detail

/// Every live recorded task, with its async stack. Takes each registry shard's lock while it
/// copies (tasks starting or ending meanwhile wait for the copy, nothing else does); names are
/// demangled after the locks are released.
inline std::vector<task_info> snapshot() {
    using namespace weft::detail::diag;
    struct raw {
        task_info info;
        const std::type_info* callable = nullptr;
        const std::type_info* awaiting_type = nullptr;
        const void* awaiting_state = nullptr;
        const void* state = nullptr;
        const char* function = nullptr;
    };
    std::vector<raw> raws;
    registry::instance().for_each([&](const task_record& r) {
        raw x;
        x.info.id = r.id;
        x.info.kind = r.kind == record_kind::coroutine ? "coroutine" : "spawned";
        x.info.name = r.name;
        x.info.file = r.file != nullptr ? r.file : "";
        x.info.line = r.line;
        x.info.state = detail::state_name(r.status.load(weft::detail::relaxed)); // order: relaxed — a snapshot
        x.info.thread = r.thread.load(weft::detail::relaxed);                    // order: relaxed — a snapshot
        x.info.scheduler = r.scheduler.load(weft::detail::relaxed);              // order: relaxed — a snapshot
        x.info.creator = r.creator;
        x.callable = r.callable;
        x.function = r.function;
        x.awaiting_type = r.awaiting_type.load(weft::detail::relaxed);   // order: relaxed — a snapshot
        x.awaiting_state = r.awaiting_state.load(weft::detail::relaxed); // order: relaxed — a snapshot
        x.state = r.state;
        raws.push_back(std::move(x));
    });
    std::unordered_map<const void*, std::uint64_t> by_state;
    std::unordered_map<std::uint64_t, std::size_t> by_id;
    for (std::size_t i = 0; i < raws.size(); ++i) {
        auto& x = raws[i];
        if (x.info.name.empty()) {
            x.info.name = x.function != nullptr ? x.function
                                                : (x.callable != nullptr ? detail::demangled(x.callable->name()) : "?");
        }
        if (x.info.state == "suspended" && x.awaiting_type != nullptr) {
            x.info.awaits = detail::demangled(x.awaiting_type->name());
        }
        by_state.emplace(x.state, x.info.id);
        by_id.emplace(x.info.id, i);
    }
    std::vector<task_info> out;
    out.reserve(raws.size());
    for (auto& x : raws) {
        if (x.awaiting_state != nullptr && x.info.state == "suspended") {
            if (const auto found = by_state.find(x.awaiting_state); found != by_state.end()) {
                x.info.awaits_task = found->second;
            }
        }
        out.push_back(x.info);
    }
    for (auto& t : out) {
        std::uint64_t at = t.id;
        for (std::size_t depth = 0; depth <= out.size() && at != 0; ++depth) { // bounded: no cycle can loop
            const auto found = by_id.find(at);
            if (found == by_id.end()) {
                break; // an ended creator: the live part of the stack ends here
            }
            const task_info& f = out[found->second];
            t.stack.push_back(stack_frame{f.id, f.name, f.file, f.line});
            at = f.creator;
        }
    }
    return out;
}

/// The number of live recorded tasks (cheaper than a snapshot).
inline std::size_t live_tasks() {
    return weft::detail::diag::registry::instance().live();
}

/// The snapshot as text: one block per task, its async stack under it.
inline std::string dump_text(const std::vector<task_info>& tasks) {
    std::string out = "weft: " + std::to_string(tasks.size()) + " live task(s)\n";
    for (const auto& t : tasks) {
        out += "#" + std::to_string(t.id) + " " + t.state + " " + t.kind + " " + t.name;
        if (!t.file.empty()) {
            out += " (" + t.file + ":" + std::to_string(t.line) + ")";
        }
        out += " thread " + std::to_string(t.thread) + "\n";
        if (!t.awaits.empty()) {
            out += "    awaits " +
                   (t.awaits_task != 0 ? "#" + std::to_string(t.awaits_task) + " via " : std::string()) + t.awaits +
                   "\n";
        }
        for (std::size_t i = 0; i < t.stack.size(); ++i) {
            const auto& f = t.stack[i];
            out += (i == 0 ? "    stack: #" : "        <- #") + std::to_string(f.id) + " " + f.name;
            if (!f.file.empty()) {
                out += " (" + f.file + ":" + std::to_string(f.line) + ")";
            }
            out += "\n";
        }
    }
    return out;
}
inline std::string dump_text() {
    return dump_text(snapshot());
}

/// The snapshot as JSON: {"tasks": [{"id", "kind", "name", "file", "line", "state", "thread",
/// "awaits", "awaits_task", "creator", "stack": [{"id", "name", "file", "line"}]}]}.
inline std::string dump_json(const std::vector<task_info>& tasks) {
    std::string out = "{\"tasks\":[";
    bool first = true;
    for (const auto& t : tasks) {
        out += first ? "\n" : ",\n";
        first = false;
        out += "{\"id\":" + std::to_string(t.id) + ",\"kind\":";
        detail::json_string(out, t.kind);
        out += ",\"name\":";
        detail::json_string(out, t.name);
        out += ",\"file\":";
        detail::json_string(out, t.file);
        out += ",\"line\":" + std::to_string(t.line) + ",\"state\":";
        detail::json_string(out, t.state);
        out += ",\"thread\":" + std::to_string(t.thread) + ",\"awaits\":";
        detail::json_string(out, t.awaits);
        out += ",\"awaits_task\":" + std::to_string(t.awaits_task) + ",\"creator\":" + std::to_string(t.creator) +
               ",\"stack\":[";
        for (std::size_t i = 0; i < t.stack.size(); ++i) {
            const auto& f = t.stack[i];
            out += i == 0 ? "{\"id\":" : ",{\"id\":";
            out += std::to_string(f.id) + ",\"name\":";
            detail::json_string(out, f.name);
            out += ",\"file\":";
            detail::json_string(out, f.file);
            out += ",\"line\":" + std::to_string(f.line) + "}";
        }
        out += "]}";
    }
    out += "\n]}\n";
    return out;
}
inline std::string dump_json() {
    return dump_json(snapshot());
}

/// The form of a dump written by dump_on_signal.
enum class dump_format {
    text,
    json
};

/// While it lives, signal `signo` (e.g. SIGUSR1) writes a dump to `fd` (text or JSON). The
/// handler only writes one byte to a pipe (async-signal-safe); a thread of this object takes the
/// snapshot and writes it. One at a time per process (a second one throws std::logic_error).
/// The previous handler is restored by the destructor.
class dump_on_signal {
public:
    explicit dump_on_signal(int signo, int fd = 2, dump_format format = dump_format::text)
        : signo_(signo)
        , fd_(fd)
        , format_(format) {
        if (active_pipe() >= 0) {
            throw std::logic_error("weft: a diag::dump_on_signal is already installed");
        }
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::generic_category(), "weft: dump_on_signal pipe");
        }
        read_end_ = fds[0];
        write_end_ = fds[1];
        active_pipe() = write_end_;
        struct sigaction sa {};
        sa.sa_handler = &on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (::sigaction(signo_, &sa, &previous_) != 0) {
            const int e = errno;
            active_pipe() = -1;
            ::close(read_end_);
            ::close(write_end_);
            throw std::system_error(e, std::generic_category(), "weft: dump_on_signal sigaction");
        }
        thread_ = std::thread([this] { serve(); });
    }
    ~dump_on_signal() {
        ::sigaction(signo_, &previous_, nullptr);
        active_pipe() = -1;
        const char stop = 'q';
        (void)!::write(write_end_, &stop, 1);
        thread_.join();
        ::close(read_end_);
        ::close(write_end_);
    }
    dump_on_signal(const dump_on_signal&) = delete;
    dump_on_signal& operator=(const dump_on_signal&) = delete;

    /// Dumps written so far.
    std::uint64_t dumps() const noexcept {
        return dumps_.load(weft::detail::acquire);
    } // order: acquire — pairs with serve()

private:
    static volatile std::sig_atomic_t& active_pipe() noexcept {
        static volatile std::sig_atomic_t fd = -1;
        return fd;
    }
    static void on_signal(int) noexcept {
        const int saved = errno;
        const int fd = active_pipe();
        if (fd >= 0) {
            const char go = 'd';
            (void)!::write(fd, &go, 1);
        }
        errno = saved;
    }
    void serve() {
        for (;;) {
            char c = 0;
            const ssize_t got = ::read(read_end_, &c, 1);
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got != 1 || c == 'q') {
                return;
            }
            try {
                const std::string text = format_ == dump_format::json ? dump_json() : dump_text();
                std::size_t done = 0;
                while (done < text.size()) {
                    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
                    if (n <= 0) {
                        break;
                    }
                    done += static_cast<std::size_t>(n);
                }
            } catch (...) {
                // out of memory for a dump: skip this one
            }
            dumps_.fetch_add(1, weft::detail::release); // order: release — dumps() sees the write done
        }
    }

    int signo_;
    int fd_;
    dump_format format_;
    int read_end_ = -1;
    int write_end_ = -1;
    struct sigaction previous_ {};
    std::thread thread_;
    weft::detail::atomic<std::uint64_t> dumps_{0};
};

} // namespace weft::diag
