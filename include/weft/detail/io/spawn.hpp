// weft/detail/io/spawn.hpp — starting a child: posix_spawn with every descriptor but the three
// standard streams closed in the child, signals reset, an optional process group; the exit
// status decoded; a process-wide list of children whose waiter could not run (orphans).
// Design note: docs/decisions/0014-processes.md (why posix_spawn, why socket pairs for the
// pipes, how the exit is awaited, what happens where pidfd is missing).
// SPDX-License-Identifier: MIT
#pragma once

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 34)
#error "weft/io/process.hpp needs glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np)"
#endif

namespace weft::detail::io {

/// An owned descriptor of the parent's, closed when it goes (the child's ends of its pipes,
/// the copies of the caller's descriptors).
class owned_fd {
public:
    owned_fd() noexcept = default;
    explicit owned_fd(int fd) noexcept : fd_(fd) {}
    owned_fd(owned_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    owned_fd& operator=(owned_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~owned_fd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset() noexcept {
        if (fd_ >= 0) {
            ::close(std::exchange(fd_, -1));
        }
    }

private:
    int fd_ = -1;
};

/// A copy of `fd` numbered 3 or above, close-on-exec (so the child's dup2 onto 0, 1, 2 never
/// overwrites a source it has yet to copy).
inline owned_fd high_copy(int fd) {
    const int c = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (c < 0) {
        throw std::system_error(errno, std::system_category(), "weft: fcntl(F_DUPFD_CLOEXEC)");
    }
    return owned_fd(c);
}

/// posix_spawn's file actions and attributes, released by their destructors.
struct spawn_actions {
    spawn_actions() {
        if (const int e = ::posix_spawn_file_actions_init(&files); e != 0) {
            throw std::system_error(e, std::system_category(), "weft: posix_spawn_file_actions_init");
        }
        if (const int e = ::posix_spawnattr_init(&attr); e != 0) {
            ::posix_spawn_file_actions_destroy(&files);
            throw std::system_error(e, std::system_category(), "weft: posix_spawnattr_init");
        }
    }
    ~spawn_actions() {
        ::posix_spawnattr_destroy(&attr);
        ::posix_spawn_file_actions_destroy(&files);
    }
    spawn_actions(const spawn_actions&) = delete;
    spawn_actions& operator=(const spawn_actions&) = delete;

    static void check(int e, const char* what) {
        if (e != 0) {
            throw std::system_error(e, std::system_category(), what);
        }
    }

    posix_spawn_file_actions_t files;
    posix_spawnattr_t attr;
};

/// The child's environment: the parent's (if inherited) with `set` overriding and `unset`
/// removed, as "NAME=value" strings.
inline std::vector<std::string>
child_environment(bool inherit, const std::map<std::string, std::string>& set, const std::vector<std::string>& unset) {
    for (const auto& [name, value] : set) {
        if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos ||
            value.find('\0') != std::string::npos) {
            throw std::invalid_argument("weft: an environment variable's name must be non-empty and contain no '=' "
                                        "or NUL, its value no NUL: '" +
                                        name + "'");
        }
    }
    std::vector<std::string> env;
    if (inherit && environ != nullptr) {
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string_view entry(*e);
            const std::string name(entry.substr(0, entry.find('=')));
            bool dropped = set.count(name) != 0;
            for (const auto& u : unset) {
                dropped = dropped || u == name;
            }
            if (!dropped) {
                env.emplace_back(entry);
            }
        }
    }
    for (const auto& [name, value] : set) {
        env.push_back(name + "=" + value);
    }
    return env;
}

/// Pointers into `strings`, null-terminated (argv, envp).
inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> v;
    v.reserve(strings.size() + 1);
    for (auto& s : strings) {
        v.push_back(s.data());
    }
    v.push_back(nullptr);
    return v;
}

/// A wait status as code / signal.
struct decoded_status {
    int code = -1;
    int signal = 0;
    bool core_dumped = false;
};
inline decoded_status decode_wait_status(int status) noexcept {
    decoded_status d;
    if (WIFEXITED(status)) {
        d.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        d.signal = WTERMSIG(status);
        d.core_dumped = WCOREDUMP(status);
    }
    return d;
}

/// Children whose waiter could not run to the end (their io_context went first): reaped
/// without blocking at every spawn and every time one is added. A child that exits after the
/// last spawn stays a zombie until the process spawns again or exits.
class orphanage {
public:
    static orphanage& instance() {
        static orphanage o;
        return o;
    }
    void adopt(pid_t pid) noexcept {
        std::lock_guard lock(mutex_);
        try {
            pids_.push_back(pid);
        } catch (...) {
            // no memory: the child stays a zombie until this process exits (nothing else to do)
        }
        reap_locked();
    }
    void reap() noexcept {
        std::lock_guard lock(mutex_);
        reap_locked();
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return pids_.size();
    }

private:
    void reap_locked() noexcept {
        std::erase_if(pids_, [](pid_t pid) {
            int status = 0;
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            return r == pid || (r < 0 && errno == ECHILD);
        });
    }

    std::mutex mutex_;
    // --- guarded by mutex_ ------------------------------------------------------------------
    std::vector<pid_t> pids_;
};

} // namespace weft::detail::io
