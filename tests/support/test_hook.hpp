// tests/support/test_hook.hpp — installs a test's callback at weft's named interleaving points
// (weft/detail/test_hooks.hpp) for a scope; the test executables are built with WEFT_TESTING.
#pragma once

#include <weft/detail/test_hooks.hpp>

namespace weft_test {

/// Installs a test hook for the life of the object.
class scoped_hook {
public:
    explicit scoped_hook(weft::detail::test_hook_fn fn) { weft::detail::test_hook_slot().store(fn); }
    ~scoped_hook() { weft::detail::test_hook_slot().store(nullptr); }
    scoped_hook(const scoped_hook&) = delete;
    scoped_hook& operator=(const scoped_hook&) = delete;
};

} // namespace weft_test
