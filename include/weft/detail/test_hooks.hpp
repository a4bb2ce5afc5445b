// weft/detail/test_hooks.hpp — named interleaving points a test can stop a thread at.
// Design note: a test installs one callback that receives the hook's name
// (for instance "park.after_check") and may block there, so a race window is entered on purpose
// instead of by luck. Compiled to nothing unless WEFT_TESTING is defined; define it for a whole
// program or not at all (the headers are inline, so mixing would break the one-definition rule).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>

namespace weft::detail {

#if defined(WEFT_TESTING)
using test_hook_fn = void (*)(const char* name);

inline atomic<test_hook_fn>& test_hook_slot() noexcept {
    static atomic<test_hook_fn> fn{nullptr};
    return fn;
}

inline void test_hook(const char* name) noexcept {
    // order: acquire — pairs with the installer's release store: its state is visible
    if (test_hook_fn fn = test_hook_slot().load(acquire)) {
        fn(name);
    }
}
#else
inline void test_hook(const char*) noexcept {}
#endif

} // namespace weft::detail
