// weft/detail/ref_count.hpp — an intrusive reference count for an engine object that deletes
// itself when its last owner lets go (a strand's core, the gate behind limited_scheduler):
// the front object owns one reference, work in flight on a base scheduler owns the others.
// Design note: none beyond the `// order:` comments below.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>

#include <cstdint>

namespace weft::detail {

/// Derived must befriend ref_counted<Derived> if its destructor is private. Starts at 1.
template<typename Derived>
class ref_counted {
public:
    void add_ref() noexcept {
        refs_.fetch_add(1, relaxed); // order: relaxed — the caller holds a reference
    }
    /// The current count; exact only when no other owner can add or drop one meanwhile.
    std::uint32_t use_count() const noexcept {
        return refs_.load(acquire); // order: acquire — sees the writes of owners that let go
    }
    void release_ref() noexcept {
        // order: acq_rel — the last owner deletes the object and sees every other owner's writes
        if (refs_.fetch_sub(1, acq_rel) == 1) {
            delete static_cast<Derived*>(this);
        }
    }

protected:
    ref_counted() noexcept = default;
    ~ref_counted() = default;
    ref_counted(const ref_counted&) = delete;
    ref_counted& operator=(const ref_counted&) = delete;

private:
    atomic<std::uint32_t> refs_{1};
};

} // namespace weft::detail
