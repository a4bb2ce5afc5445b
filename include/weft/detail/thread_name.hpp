// weft/detail/thread_name.hpp — names the threads weft starts ("prefix-index", as top and gdb
// show them; Linux keeps 15 characters).
// Design note: none; docs/guide/thread_pool.md and docs/guide/schedulers.md list the names.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>

#include <pthread.h>

namespace weft::detail {

inline void set_thread_name(const std::string& prefix, std::size_t index) noexcept {
    try {
        std::string name = prefix + "-" + std::to_string(index);
        if (name.size() > 15) {
            name.resize(15);
        }
        ::pthread_setname_np(::pthread_self(), name.c_str());
    } catch (...) {
        // out of memory for a 16-byte string: the thread keeps its inherited name
    }
}

} // namespace weft::detail
