// weft/detail/io/sys.hpp — the syscall seam both reactor backends go through.
// Design note: docs/decisions/0006-io-reactor.md §10. In a normal build the
// table is a constant of the real functions, so every call is direct. In a WEFT_TESTING build
// it is a mutable table a test may patch (tests/io/io_fault_test.cpp does) to inject EINTR, EAGAIN,
// short counts, resets, EMFILE, a failing io_uring setup... Patch it only while no io_context
// exists: the I/O threads read it without synchronisation (thread start orders the patch).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/config.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if WEFT_HAS_URING
#include <liburing.h>
#else
struct io_uring;
struct io_uring_params;
struct io_uring_cqe;
struct __kernel_timespec;
#endif

namespace weft::detail::io {

/// Operation kinds; also the `kind` a result filter sees (cancel: an async-cancel request).
enum class op_kind : std::uint8_t {
    recv,
    send,
    recv_from,
    send_to,
    accept,
    connect,
    read_at,
    write_at,
    open_at,
    poll_in, ///< waits until the fd is readable (a pidfd: the child has exited); no transfer
    timer,
    cancel
};

struct sys_table {
    ssize_t (*recv)(int, void*, std::size_t, int);
    ssize_t (*send)(int, const void*, std::size_t, int);
    ssize_t (*recvmsg)(int, msghdr*, int);
    ssize_t (*sendmsg)(int, const msghdr*, int);
    ssize_t (*pread)(int, void*, std::size_t, off_t);
    ssize_t (*pwrite)(int, const void*, std::size_t, off_t);
    int (*openat)(int, const char*, int, mode_t);
    int (*accept4)(int, sockaddr*, socklen_t*, int);
    int (*connect)(int, const sockaddr*, socklen_t);
    int (*close)(int);
    int (*epoll_create1)(int);
    int (*epoll_ctl)(int, int, int, epoll_event*);
    int (*epoll_wait)(int, epoll_event*, int, int);
    /// epoll_wait with a nanosecond timeout (Linux 5.11); -1/ENOSYS on older kernels.
    int (*epoll_pwait2)(int, epoll_event*, int, const timespec*);
    int (*timerfd_settime)(int, int, const itimerspec*, itimerspec*);
    /// A pidfd for a child (Linux 5.3); -1/ENOSYS (or EPERM under a seccomp filter) where the
    /// kernel has none: process then polls waitpid on a timer (weft/io/process.hpp).
    int (*pidfd_open)(pid_t, unsigned);
    ssize_t (*eventfd_write)(int, const void*, std::size_t);
    // io_uring (liburing returns -errno instead of setting errno)
    int (*uring_queue_init_params)(unsigned, io_uring*, io_uring_params*);
    int (*uring_submit)(io_uring*);
    int (*uring_submit_and_wait_timeout)(io_uring*, io_uring_cqe**, unsigned, __kernel_timespec*, sigset_t*);
    /// Clamps the length of every read/write a backend issues (short I/O injection).
    std::size_t (*clamp_len)(op_kind, std::size_t);
    /// io_uring: consulted as each op is issued; a non-zero -errno replaces the op with a NOP
    /// whose completion carries that error (the kernel never consumed data for it). For
    /// op_kind::cancel it replaces the async-cancel's own result.
    int (*inject)(op_kind);
    /// Test only: process each batch of io_uring completions in reverse order.
    bool reverse_cqe_batches;
    /// The clock the adaptive policy times continuations with (steady_clock, in ns).
    std::int64_t (*now_ns)();
};

namespace real {
inline ssize_t recv(int fd, void* b, std::size_t n, int f) {
    return ::recv(fd, b, n, f);
}
inline ssize_t send(int fd, const void* b, std::size_t n, int f) {
    return ::send(fd, b, n, f);
}
inline ssize_t recvmsg(int fd, msghdr* m, int f) {
    return ::recvmsg(fd, m, f);
}
inline ssize_t sendmsg(int fd, const msghdr* m, int f) {
    return ::sendmsg(fd, m, f);
}
inline ssize_t pread(int fd, void* b, std::size_t n, off_t o) {
    return ::pread(fd, b, n, o);
}
inline ssize_t pwrite(int fd, const void* b, std::size_t n, off_t o) {
    return ::pwrite(fd, b, n, o);
}
inline int openat(int d, const char* p, int f, mode_t m) {
    return ::openat(d, p, f, m);
}
inline int accept4(int fd, sockaddr* a, socklen_t* l, int f) {
    return ::accept4(fd, a, l, f);
}
inline int connect(int fd, const sockaddr* a, socklen_t l) {
    return ::connect(fd, a, l);
}
inline int close(int fd) {
    return ::close(fd);
}
inline int epoll_create1(int f) {
    return ::epoll_create1(f);
}
inline int epoll_ctl(int e, int op, int fd, epoll_event* ev) {
    return ::epoll_ctl(e, op, fd, ev);
}
inline int epoll_wait(int e, epoll_event* ev, int n, int t) {
    return ::epoll_wait(e, ev, n, t);
}
inline int epoll_pwait2(int e, epoll_event* ev, int n, const timespec* t) {
#if defined(SYS_epoll_pwait2)
    return static_cast<int>(::syscall(SYS_epoll_pwait2, e, ev, n, t, nullptr, 0));
#else
    (void)e, (void)ev, (void)n, (void)t;
    errno = ENOSYS;
    return -1;
#endif
}
inline int timerfd_settime(int fd, int flags, const itimerspec* v, itimerspec* old) {
    return ::timerfd_settime(fd, flags, v, old);
}
inline int pidfd_open(pid_t pid, unsigned flags) {
#if defined(SYS_pidfd_open)
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
#else
    (void)pid, (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}
inline ssize_t eventfd_write(int fd, const void* b, std::size_t n) {
    return ::write(fd, b, n);
}
#if WEFT_HAS_URING
inline int uring_queue_init_params(unsigned n, io_uring* r, io_uring_params* p) {
    return ::io_uring_queue_init_params(n, r, p);
}
inline int uring_submit(io_uring* r) {
    return ::io_uring_submit(r);
}
inline int uring_submit_and_wait_timeout(io_uring* r, io_uring_cqe** c, unsigned n, __kernel_timespec* t, sigset_t* s) {
    return ::io_uring_submit_and_wait_timeout(r, c, n, t, s);
}
#else
inline int uring_queue_init_params(unsigned, io_uring*, io_uring_params*) {
    return -38;
} // ENOSYS
inline int uring_submit(io_uring*) {
    return -38;
}
inline int uring_submit_and_wait_timeout(io_uring*, io_uring_cqe**, unsigned, __kernel_timespec*, sigset_t*) {
    return -38;
}
#endif
inline std::size_t clamp_len(op_kind, std::size_t n) {
    return n;
}
inline int inject(op_kind) {
    return 0;
}
inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace real

inline constexpr sys_table real_sys{
    &real::recv,
    &real::send,
    &real::recvmsg,
    &real::sendmsg,
    &real::pread,
    &real::pwrite,
    &real::openat,
    &real::accept4,
    &real::connect,
    &real::close,
    &real::epoll_create1,
    &real::epoll_ctl,
    &real::epoll_wait,
    &real::epoll_pwait2,
    &real::timerfd_settime,
    &real::pidfd_open,
    &real::eventfd_write,
    &real::uring_queue_init_params,
    &real::uring_submit,
    &real::uring_submit_and_wait_timeout,
    &real::clamp_len,
    &real::inject,
    false,
    &real::now_ns,
};

#if defined(WEFT_TESTING)
/// The patchable table (tests only); starts as the real one.
inline sys_table& sys() noexcept {
    static sys_table table = real_sys;
    return table;
}
#else
inline constexpr const sys_table& sys() noexcept {
    return real_sys;
}
#endif

} // namespace weft::detail::io
