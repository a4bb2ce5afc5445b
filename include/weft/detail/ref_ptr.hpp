// weft/detail/ref_ptr.hpp — an owning handle to an intrusively reference-counted object: copy
// takes a reference, move steals it, destruction drops it. T provides add_ref() and
// release_ref() (ref_count.hpp's ref_counted, the task state, the cancellation state).
// Design note: none beyond this; the orders are the counted type's (`// order:` there).
// SPDX-License-Identifier: MIT
#pragma once

#include <utility>

namespace weft::detail {

template<typename T>
class ref_ptr {
public:
    ref_ptr() noexcept = default;
    /// Takes a new reference to `p` (may be null).
    explicit ref_ptr(T* p) noexcept : p_(p) {
        if (p_ != nullptr) {
            p_->add_ref();
        }
    }
    /// Takes over a reference the caller owns (a new object starts with one).
    static ref_ptr adopt(T* p) noexcept {
        ref_ptr r;
        r.p_ = p;
        return r;
    }
    ref_ptr(const ref_ptr& o) noexcept : ref_ptr(o.p_) {}
    ref_ptr(ref_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    ref_ptr& operator=(ref_ptr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~ref_ptr() {
        if (p_ != nullptr) {
            p_->release_ref();
        }
    }

    /// Gives up the reference without dropping it; the caller owns it now.
    T* release() noexcept { return std::exchange(p_, nullptr); }

    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    friend bool operator==(const ref_ptr& a, const ref_ptr& b) noexcept { return a.p_ == b.p_; }

private:
    T* p_ = nullptr;
};

} // namespace weft::detail
