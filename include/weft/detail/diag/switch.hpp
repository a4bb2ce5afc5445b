// weft/detail/diag/switch.hpp — whether diagnostics are on: one word, read with one relaxed
// load on the paths that feed them (spawn, a coroutine's start and awaits, a placement
// decision). Set at run time (weft::diag::enable) or at start-up by WEFT_DIAG.
// Design note: docs/decisions/0017-diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>
#include <weft/detail/atomic.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <sys/syscall.h>
#include <unistd.h>

namespace weft::detail::diag {

enum feature : unsigned {
    registry_bit = 1u, ///< the live task registry (names, states, async stacks)
    trace_bit = 2u,    ///< trace events into per-thread buffers
};

/// The switch. constinit: no guard on the hot path.
inline constinit atomic<unsigned> switch_word{0};

/// False when WEFT_DIAGNOSTICS is 0: every hook compiles away.
inline constexpr bool compiled_in = WEFT_DIAGNOSTICS != 0;

inline bool registry_on() noexcept {
    if constexpr (!compiled_in) {
        return false;
    }
    return (switch_word.load(relaxed) & registry_bit) != 0; // order: relaxed — a hint, see 0017
}
inline bool trace_on() noexcept {
    if constexpr (!compiled_in) {
        return false;
    }
    return (switch_word.load(relaxed) & trace_bit) != 0; // order: relaxed — a hint, see 0017
}

/// WEFT_DIAG: a comma-separated list of "registry", "trace", "all" (unknown words are ignored).
inline unsigned features_from(const char* text) noexcept {
    unsigned bits = 0;
    if (text == nullptr) {
        return 0;
    }
    const char* p = text;
    while (*p != '\0') {
        const char* end = std::strchr(p, ',');
        const std::size_t n = end == nullptr ? std::strlen(p) : static_cast<std::size_t>(end - p);
        auto is = [&](const char* word) {
            return std::strlen(word) == n && std::strncmp(p, word, n) == 0;
        };
        if (is("registry")) {
            bits |= registry_bit;
        } else if (is("trace")) {
            bits |= trace_bit | registry_bit;
        } else if (is("all")) {
            bits |= registry_bit | trace_bit;
        }
        p += n;
        if (*p == ',') {
            ++p;
        }
    }
    return bits;
}

/// WEFT_DIAG read once at start-up (a program is diagnosed without a rebuild).
inline const unsigned features_from_environment = [] {
    const unsigned bits = features_from(std::getenv("WEFT_DIAG"));
    switch_word.fetch_or(bits, relaxed); // order: relaxed — before main, a switch
    return bits;
}();

/// The kernel's id of the calling thread (what a trace and `top -H` show), cached.
inline std::int32_t thread_id() noexcept {
    static thread_local std::int32_t tid = static_cast<std::int32_t>(::syscall(SYS_gettid));
    return tid;
}

} // namespace weft::detail::diag
