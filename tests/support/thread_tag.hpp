// tests/support/thread_tag.hpp — the calling thread's kernel id, read with a real system call.
// Inside coroutines, use this rather than std::this_thread::get_id(): clang 14 may reuse a
// pthread_self() result computed before a suspension after resuming on another thread
// (LLVM issue 47179), which would make a test compare stale ids.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

namespace weft_test {

inline long this_thread_tag() noexcept {
    return ::syscall(SYS_gettid);
}

} // namespace weft_test
