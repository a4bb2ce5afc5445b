// weft/detail/down_cast.hpp — a pointer cast through a reference, for pointers known non-null.
// Design note: static_cast on a pointer between bases at different offsets emits a null check;
// at -O2 GCC then warns "potential null pointer dereference" on the other branch. The callbacks
// that use this are only ever handed their own non-null node.
// SPDX-License-Identifier: MIT
#pragma once

namespace weft::detail {

template<typename To, typename From>
To* down_cast(From* p) noexcept {
    return &static_cast<To&>(*p);
}

} // namespace weft::detail
