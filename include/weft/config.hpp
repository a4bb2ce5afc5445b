// weft/config.hpp — the only place that defines WEFT_* configuration macros.
// Design note: none; each macro is documented where it is defined.
// SPDX-License-Identifier: MIT
#pragma once

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

// WEFT_TSAN: 1 when built with ThreadSanitizer. TSan does not model
// std::atomic_thread_fence, so detail/atomic.hpp swaps fences for RMWs it can see.
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif
#ifndef WEFT_TSAN
#define WEFT_TSAN 0
#endif

// WEFT_ASAN: 1 when built with AddressSanitizer (frames are larger; tests size stacks by it).
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif
#ifndef WEFT_ASAN
#define WEFT_ASAN 0
#endif

// WEFT_DIAGNOSTICS: 1 (default) compiles weft::diag's hooks in (off at run time until enabled:
// a relaxed load and a branch on spawn, a coroutine's co_await and a placement decision);
// define it to 0 to compile them out (weft::diag then records nothing; docs/guide/diagnostics.md).
#ifndef WEFT_DIAGNOSTICS
#define WEFT_DIAGNOSTICS 1
#endif

// WEFT_CACHE_LINE: the destructive interference size. libstdc++ 12 under clang 14 lacks
// std::hardware_destructive_interference_size, so it is fixed here for x86-64 and aarch64.
#ifndef WEFT_CACHE_LINE
#define WEFT_CACHE_LINE 64
#endif

// WEFT_TLS_ACCESSOR / WEFT_TLS_OPAQUE(): every function that returns a thread_local is marked
// with the first and contains the second. clang 14 may keep a thread-local's address (or the
// result of a "const" function such as pthread_self) across a coroutine suspension and reuse
// it after the coroutine resumed on another thread (LLVM issue 47179). A call that cannot be
// inlined and has an opaque side effect cannot be reused that way.
#define WEFT_TLS_ACCESSOR [[gnu::noinline]]
#define WEFT_TLS_OPAQUE() __asm__ __volatile__("")
