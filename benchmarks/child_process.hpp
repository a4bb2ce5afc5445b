// benchmarks/child_process.hpp — a benchmark's server or worker as its own process: started
// with posix_spawn, its stdout's lines read by the driver (a server's first line announces its
// port), stopped with SIGTERM (so a wrapper such as strace or valgrind writes its report), then
// SIGKILL after 5 s. Shared by the echo and placement benchmarks.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace bench_support {

/// The directory of the running executable (the benchmark's siblings live there).
inline std::string self_dir() {
    char path[4096] = {};
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    std::string p(path, n > 0 ? static_cast<std::size_t>(n) : 0);
    return p.substr(0, p.rfind('/'));
}

class child_process {
public:
    child_process(const std::string& exe, const std::vector<std::string>& args) {
        int out[2];
        if (::pipe(out) != 0) {
            throw std::runtime_error("pipe failed");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(exe.c_str()));
        for (const auto& a : args) {
            argv.push_back(const_cast<char*>(a.c_str()));
        }
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        if (rc != 0) {
            ::close(out[0]);
            pid_ = -1;
            throw std::runtime_error("cannot start " + exe);
        }
        out_ = out[0];
    }
    ~child_process() { stop(); }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    /// The next line the child writes (without its newline); empty at end of output.
    std::string read_line() {
        std::string line;
        char ch = 0;
        while (::read(out_, &ch, 1) == 1 && ch != '\n') {
            line.push_back(ch);
        }
        return line;
    }

    /// Waits for a child that ends by itself; its exit status (-1 if killed by a signal).
    int wait() {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        close_output();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    void stop() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            for (int i = 0; i < 500 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            if (::waitpid(pid_, nullptr, WNOHANG) == 0) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
            pid_ = -1;
        }
        close_output();
    }

private:
    void close_output() {
        if (out_ >= 0) {
            ::close(out_);
            out_ = -1;
        }
    }
    pid_t pid_ = -1;
    int out_ = -1;
};

} // namespace bench_support
