// weft/diag/trace.hpp — a trace of where tasks ran: start, stop, export as Chrome trace-event
// JSON (Perfetto, chrome://tracing) or as a self-contained HTML timeline. WEFT_DIAG=trace
// traces a whole program (written at exit to WEFT_TRACE_FILE, default weft-trace.json, and
// the same name with .html).
// Design note: the buffers' is at the top of weft/detail/diag/trace.hpp.
// Guide: docs/guide/diagnostics.md; decision: docs/decisions/0017-diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/diag/trace.hpp>
#include <weft/diag/registry.hpp>
#include <weft/diag/timeline_html.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

namespace weft::diag {

struct trace_options {
    /// Events each thread can hold; past that its events are dropped and counted.
    std::size_t events_per_thread = std::size_t{1} << 16;
};

/// One thread's part of a trace.
struct trace_thread {
    std::int32_t tid = 0;
    std::string name; ///< the thread's name ("weft-worker-0", "weft-io-0", "weft-timer-0"...)
    std::vector<weft::detail::diag::trace_event> events;
    std::uint64_t dropped = 0;
};

/// A finished trace: every thread's events, in order per thread.
class trace {
public:
    trace() = default;
    explicit trace(std::vector<trace_thread> threads) : threads_(std::move(threads)) {}

    const std::vector<trace_thread>& threads() const noexcept { return threads_; }
    std::size_t event_count() const noexcept {
        std::size_t n = 0;
        for (const auto& t : threads_) {
            n += t.events.size();
        }
        return n;
    }
    /// Events dropped because a thread's buffer was full.
    std::uint64_t dropped() const noexcept {
        std::uint64_t n = 0;
        for (const auto& t : threads_) {
            n += t.dropped;
        }
        return n;
    }

    /// Chrome trace-event JSON. Times in microseconds with three decimals (nanoseconds kept),
    /// from the first event; tid is the kernel's thread id; slices nest strictly per thread (an
    /// end without its begin, from before the trace started, is left out; a slice still open at
    /// the stop is closed at the thread's last event).
    std::string to_json() const {
        std::string out = "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"weft_dropped\":" + std::to_string(dropped()) +
                          ",\"weft_events\":" + std::to_string(event_count()) + "},\"traceEvents\":[";
        const std::string pid = std::to_string(::getpid());
        const std::uint64_t origin = first_ns();
        std::unordered_map<const char*, std::string> names; // by the event's name pointer
        bool first = true;
        auto open_event = [&] {
            out += first ? "\n{" : ",\n{";
            first = false;
        };
        for (const auto& t : threads_) {
            const std::string where = ",\"pid\":" + pid + ",\"tid\":" + std::to_string(t.tid);
            open_event();
            out += "\"ph\":\"M\",\"name\":\"thread_name\"" + where + ",\"args\":{\"name\":";
            detail::json_string(out, t.name.empty() ? "thread " + std::to_string(t.tid) : t.name);
            out += "}}";
            std::size_t depth = 0;
            std::uint64_t last = origin;
            for (const auto& e : t.events) {
                last = e.ns;
                if (e.phase == 'E') {
                    if (depth == 0) {
                        continue; // its begin came before the trace started
                    }
                    --depth;
                } else if (e.phase == 'B') {
                    ++depth;
                }
                open_event();
                out += "\"ph\":\"";
                out += e.phase;
                out += "\"" + where + ",\"ts\":" + micros(e.ns - origin) + ",\"cat\":\"" + e.category + "\"";
                if (e.phase != 'E') {
                    out += ",\"name\":";
                    detail::json_string(out, name_of(e, names));
                }
                if (e.phase == 's' || e.phase == 'f') {
                    out += ",\"id\":" + std::to_string(e.id);
                    if (e.phase == 'f') {
                        out += ",\"bp\":\"e\"";
                    }
                } else if (e.phase == 'B' && e.id != 0) {
                    out += ",\"args\":{\"task\":" + std::to_string(e.id) + "}";
                } else if (e.phase == 'i') {
                    out += ",\"s\":\"t\"";
                }
                out += "}";
            }
            for (; depth > 0; --depth) {
                open_event();
                out += "\"ph\":\"E\"" + where + ",\"ts\":" + micros(last - origin) + "}";
            }
        }
        out += "\n]}\n";
        return out;
    }

    /// A self-contained HTML page (no network): a lane per thread, the slices, the flow arrows.
    std::string to_html() const { return detail::timeline_html(to_json()); }

    void write_json(const std::string& path) const { write_file(path, to_json()); }
    void write_html(const std::string& path) const { write_file(path, to_html()); }

private:
    static std::string micros(std::uint64_t ns) {
        char buf[32];
        std::snprintf(buf,
                      sizeof buf,
                      "%llu.%03llu",
                      static_cast<unsigned long long>(ns / 1000),
                      static_cast<unsigned long long>(ns % 1000));
        return buf;
    }
    /// An event's name as text; a mangled type name is demangled once per export, not per event.
    static const std::string& name_of(const weft::detail::diag::trace_event& e,
                                      std::unordered_map<const char*, std::string>& names) {
        auto [at, added] = names.try_emplace(e.name);
        if (added) {
            at->second = e.name == nullptr ? "?" : (e.mangled ? detail::demangled(e.name) : std::string(e.name));
        }
        return at->second;
    }
    std::uint64_t first_ns() const noexcept {
        std::uint64_t origin = UINT64_MAX;
        for (const auto& t : threads_) {
            if (!t.events.empty()) {
                origin = std::min(origin, t.events.front().ns);
            }
        }
        return origin == UINT64_MAX ? 0 : origin;
    }
    static void write_file(const std::string& path, const std::string& text) {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f.good()) {
            throw std::runtime_error("weft: cannot write the trace to " + path);
        }
    }

    std::vector<trace_thread> threads_;
};

/// Starts tracing (the registry too): from now on every thread that runs a recorded task, a
/// placement decision or a flow writes into its own buffer. A trace already running is
/// restarted (its events are discarded).
inline void trace_start(trace_options options = {}) {
    if (options.events_per_thread == 0) {
        throw std::invalid_argument("weft: trace_options::events_per_thread must be positive");
    }
    weft::detail::diag::trace_sessions::instance().start(options.events_per_thread);
    enable(feature::trace);
}

/// Stops tracing and returns what was recorded (the registry stays on).
inline trace trace_stop() {
    disable(feature::trace);
    std::vector<trace_thread> threads;
    for (const auto& b : weft::detail::diag::trace_sessions::instance().stop()) {
        trace_thread t;
        t.tid = b->tid;
        t.name = b->thread_name;
        // order: acquire — pairs with emit()'s release: events below the count are final
        const std::size_t n = b->count.load(weft::detail::acquire);
        t.events.assign(b->events.get(), b->events.get() + n);
        t.dropped = b->dropped.load(weft::detail::relaxed); // order: relaxed — a counter
        threads.push_back(std::move(t));
    }
    return trace(std::move(threads));
}

namespace detail {
/// WEFT_DIAG=trace: a trace from start-up, written at exit.
struct environment_trace {
    environment_trace() {
        if ((weft::detail::diag::features_from_environment & weft::detail::diag::trace_bit) != 0) {
            trace_start();
            active = true;
        }
    }
    ~environment_trace() {
        if (!active) {
            return;
        }
        try {
            const char* file = std::getenv("WEFT_TRACE_FILE");
            const std::string path = file != nullptr && *file != '\0' ? file : "weft-trace.json";
            const trace t = trace_stop();
            t.write_json(path);
            t.write_html(path + ".html");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft: WEFT_DIAG=trace: %s\n", e.what());
        }
    }
    bool active = false;
};
inline environment_trace environment_trace_instance;
} // namespace detail

} // namespace weft::diag
