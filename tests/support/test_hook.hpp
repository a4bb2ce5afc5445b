// tests/support/test_hook.hpp — installs a test's callback at weft's named interleaving points
// (weft/detail/test_hooks.hpp) for a scope; the test executables are built with WEFT_TESTING.
#pragma once

#include <weft/detail/test_hooks.hpp>

#include <atomic>
#include <chrono>
#include <cstring>

#include "support/eventually.hpp"

namespace weft_test {

/// Installs a test hook for the life of the object.
class scoped_hook {
public:
    explicit scoped_hook(weft::detail::test_hook_fn fn) { weft::detail::test_hook_slot().store(fn); }
    ~scoped_hook() { weft::detail::test_hook_slot().store(nullptr); }
    scoped_hook(const scoped_hook&) = delete;
    scoped_hook& operator=(const scoped_hook&) = delete;
};

/// Holds the first thread that reaches the interleaving point `point` until the test calls
/// release(), for the life of the object (installed as the test hook). Every wait is bounded
/// (20 s), so a broken protocol fails instead of hanging. Declare it before the objects whose
/// threads may reach the point, so they are gone before it is.
class hold_first_at {
public:
    explicit hold_first_at(const char* point) : point_(point) {
        current().store(this);
        weft::detail::test_hook_slot().store(&on_point);
    }
    ~hold_first_at() {
        weft::detail::test_hook_slot().store(nullptr);
        current().store(nullptr);
    }
    hold_first_at(const hold_first_at&) = delete;
    hold_first_at& operator=(const hold_first_at&) = delete;

    /// True once a thread is held there (false if none came within 20 s).
    bool wait_until_held() const {
        return eventually([this] { return reached_.load(); }, std::chrono::seconds(20));
    }
    void release() { released_.store(true); }

private:
    static void on_point(const char* name) {
        hold_first_at* self = current().load();
        if (self == nullptr || std::strcmp(name, self->point_) != 0 || !self->armed_.exchange(false)) {
            return;
        }
        self->reached_.store(true);
        eventually([self] { return self->released_.load(); }, std::chrono::seconds(20));
    }
    static std::atomic<hold_first_at*>& current() {
        static std::atomic<hold_first_at*> holder{nullptr};
        return holder;
    }

    const char* point_;
    std::atomic<bool> armed_{true};
    std::atomic<bool> reached_{false};
    std::atomic<bool> released_{false};
};

} // namespace weft_test
