// tests/support/env.hpp — sizes and seeds of the stress tests, overridable from the environment
// (WEFT_SHUTDOWN_RUNS=10, WEFT_SEED=123, ...), so a failure can be replayed or a run shortened.
#pragma once

#include <cstdlib>

namespace weft_test {

/// The value of environment variable `name` as a number, or `fallback` when it is not set.
inline long env_or(const char* name, long fallback) {
    if (const char* s = std::getenv(name)) {
        return std::atol(s);
    }
    return fallback;
}

} // namespace weft_test
