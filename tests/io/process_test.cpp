// tests/io/process_test.cpp — child processes: output, exit, signals, cancellation and timeouts,
// no zombie and no leaked descriptor, spawn errors, the pidfd-less fallback.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "io/io_support.hpp"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#ifndef WEFT_TEST_CHILD
#error "WEFT_TEST_CHILD must name the test child program"
#endif

namespace {

const std::string child = WEFT_TEST_CHILD;

weft::process_options child_run(std::vector<std::string> args) {
    return {.program = child, .args = std::move(args)};
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(i % 251);
    }
    return s;
}

/// Our children that are zombies now (state Z in /proc/<pid>/stat, parent us).
int zombie_children() {
    int n = 0;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) {
        return -1;
    }
    const std::string me = std::to_string(::getpid());
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string stat;
        std::getline(f, stat);
        const std::size_t close_paren = stat.rfind(')');
        if (close_paren == std::string::npos || close_paren + 4 > stat.size()) {
            continue;
        }
        const char state = stat[close_paren + 2];
        const std::string rest = stat.substr(close_paren + 4);
        const std::string ppid = rest.substr(0, rest.find(' '));
        n += state == 'Z' && ppid == me ? 1 : 0;
    }
    ::closedir(d);
    return n;
}

bool gone(pid_t pid) {
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// Runs two no-ops one after the other on the I/O thread (one here): the close requests
/// handed to it before have run.
void let_io_poll(weft::io_context& io) {
    for (int i = 0; i < 2; ++i) {
        await_get(weft::spawn(io, [] {}));
    }
}

/// Restores the real syscall table when the test ends.
struct restore_sys {
    ~restore_sys() { weft::detail::io::sys() = weft::detail::io::real_sys; }
};

} // namespace

TEST_CASE("process: a child's 1 MiB of output is read whole, with its exit code") {
    weft::io_context io;
    const auto r = await_get(weft::run_process(io, child_run({"pattern", "1048576"})));
    CHECK(r.status.exited());
    CHECK(r.status.code == 0);
    CHECK(r.out.size() == 1048576);
    CHECK(r.out == pattern(1048576));
    CHECK(r.err.empty());
}

TEST_CASE("process: exit codes and signal deaths are reported as such") {
    weft::io_context io;
    const auto seven = await_get(weft::run_process(io, {.program = "sh", .args = {"-c", "exit 7"}}));
    CHECK(seven.status.code == 7);
    CHECK(seven.status.signal == 0);
    CHECK_FALSE(seven.status.success());
    CHECK(seven.status.to_string() == "exit code 7");
    const auto term = await_get(weft::run_process(io, {.program = "sh", .args = {"-c", "kill -TERM $$"}}));
    CHECK(term.status.signal == SIGTERM);
    CHECK(term.status.code == -1);
    CHECK_FALSE(term.status.exited());
    CHECK(term.status.to_string().rfind("killed by signal 15", 0) == 0);
    const auto ok = await_get(weft::run_process(io, {.program = "true"}));
    CHECK(ok.status.success());
}

TEST_CASE("process: 1 MiB to stderr then 1 MiB to stdout, and interleaved, never deadlock") {
    weft::io_context io;
    for (const char* mode : {"spew", "interleave"}) {
        const auto r = await_get(weft::run_process(io, child_run({mode, "1048576"})));
        CHECK(r.status.success());
        CHECK(r.out == pattern(1048576));
        CHECK(r.err == pattern(1048576));
    }
}

TEST_CASE("process: stdin, stdout and stderr as pipes: 256 KiB through cat-like echo, then end of input") {
    weft::io_context io;
    auto p = weft::process::spawn(
        io, {.program = child, .args = {"echo"}, .std_in = weft::stdio::pipe(), .std_out = weft::stdio::pipe()});
    const std::string sent = pattern(256 * 1024);
    auto writer = [&]() -> weft::task<void> {
        co_await p.stdin_pipe().write_all(sent);
        p.stdin_pipe().shutdown_send();
    };
    auto reader = [&]() -> weft::task<std::string> {
        std::string got;
        std::array<char, 8192> buf;
        for (;;) {
            const std::size_t n = co_await p.stdout_pipe().read_some(buf);
            if (n == 0) {
                co_return got;
            }
            got.append(buf.data(), n);
        }
    };
    auto w = writer();
    auto r = reader();
    await_get(w);
    CHECK(await_get(r) == sent);
    CHECK(await_get(p.wait()).success());
    CHECK_FALSE(p.stderr_pipe().is_open()); // not piped
}

TEST_CASE("process: environment, working directory, argv0, stdio null, from and to_stdout") {
    weft::io_context io;
    const auto env = await_get(weft::run_process(io,
                                                 {.program = "sh",
                                                  .args = {"-c", "echo \"$WEFT_A|${WEFT_B-unset}|$0\"; pwd"},
                                                  .argv0 = "named",
                                                  .working_directory = "/",
                                                  .environment = {{"WEFT_A", "alpha"}},
                                                  .remove_environment = {"WEFT_B"}}));
    CHECK(env.out == "alpha|unset|named\n/\n");
    const auto empty_env = await_get(weft::run_process(
        io, {.program = "/bin/sh", .args = {"-c", "env | grep -c . || true"}, .inherit_environment = false}));
    CHECK(std::stoi(empty_env.out) <= 3); // the shell sets PWD and maybe SHLVL, _ itself; nothing inherited
    const auto merged = await_get(weft::run_process(
        io, {.program = "sh", .args = {"-c", "echo out; echo err >&2"}, .std_err = weft::stdio::to_stdout()}));
    CHECK(merged.out == "out\nerr\n");
    CHECK(merged.err.empty());
    const auto nulled = await_get(
        weft::run_process(io, {.program = "sh", .args = {"-c", "cat; echo done"}, .std_in = weft::stdio::null()}));
    CHECK(nulled.out == "done\n");

    char path[] = "/tmp/weft-process-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    const auto to_file = await_get(weft::run_process(
        io, {.program = "sh", .args = {"-c", "echo into-the-file"}, .std_out = weft::stdio::from(fd)}));
    CHECK(to_file.status.success());
    CHECK(to_file.out.empty());
    char back[32] = {};
    CHECK(::pread(fd, back, sizeof back, 0) == 14);
    CHECK(std::string(back) == "into-the-file\n");
    ::close(fd);
}

TEST_CASE("process: spawn errors are clear: ENOENT, EACCES, a bad directory, bad arguments") {
    weft::io_context io;
    auto code_of = [&](const weft::process_options& o) {
        try {
            weft::process::spawn(io, o);
        } catch (const std::system_error& e) {
            return e.code().value();
        }
        return 0;
    };
    CHECK(code_of({.program = "/nonexistent/program"}) == ENOENT);
    CHECK(code_of({.program = "weft-no-such-program-in-path"}) == ENOENT);
    char path[] = "/tmp/weft-noexec-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    ::chmod(path, 0644);
    CHECK(code_of({.program = path}) == EACCES);
    {
        std::ofstream garbage(path, std::ios::binary | std::ios::trunc);
        garbage << "\x7fnot a program\n";
    }
    ::chmod(path, 0755);
    CHECK(code_of({.program = path}) == ENOEXEC); // not run through a shell
    ::unlink(path);
    CHECK(code_of({.program = "true", .working_directory = "/nonexistent-dir"}) == ENOENT);
    CHECK(code_of({.program = "true", .std_in = weft::stdio::from(-1)}) == EBADF);
    CHECK_THROWS_AS(weft::process::spawn(io, {.program = ""}), std::invalid_argument);
    CHECK_THROWS_AS(weft::process::spawn(io, {.program = "true", .args = {std::string("a\0b", 3)}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(weft::process::spawn(io, {.program = "true", .environment = {{"A=B", "c"}}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(weft::process::spawn(io, {.program = "true", .std_out = weft::stdio::to_stdout()}),
                    std::invalid_argument);
    // the task form: the error is the task's
    auto failed = weft::run_process(io, {.program = "/nonexistent/program"});
    CHECK(error_of(failed) == std::error_code(ENOENT, std::system_category()));
    CHECK(zombie_children() == 0);
}

TEST_CASE("process: 1,000 short children in a row leave no zombie and the descriptor count at its baseline") {
    weft::io_context io;
    (void)await_get(weft::run_process(io, {.program = "true"})); // the reactor's own descriptors are made
    let_io_poll(io); // the handles' closes, run on the I/O thread, have happened
    const int baseline = weft_test::open_fds();
    int ok = 0;
    for (int i = 0; i < 1000; ++i) {
        auto p = weft::process::spawn(io, {.program = "/bin/true", .std_out = weft::stdio::pipe()});
        ok += await_get(p.wait()).success() ? 1 : 0;
    }
    CHECK(ok == 1000);
    CHECK(zombie_children() == 0);
    let_io_poll(io);
    CHECK(weft_test::open_fds() == baseline);
}

TEST_CASE("process: 300 children exiting at once give 300 statuses, and a child spawned outside weft is left alone") {
    weft::io_context io;
    char program[] = "/bin/sh";
    char dash_c[] = "-c";
    char script[] = "exit 42";
    char* argv[] = {program, dash_c, script, nullptr};
    pid_t outsider = 0;
    REQUIRE(::posix_spawn(&outsider, program, nullptr, nullptr, argv, environ) == 0);
    std::vector<weft::process> children;
    std::vector<weft::task<weft::exit_status>> waits;
    for (int i = 0; i < 300; ++i) {
        children.push_back(
            weft::process::spawn(io, {.program = "sh", .args = {"-c", "exit " + std::to_string(i % 200)}}));
        waits.push_back(children.back().wait());
    }
    int right = 0;
    for (std::size_t i = 0; i < waits.size(); ++i) {
        right += await_get(waits[i]).code == static_cast<int>(i % 200) ? 1 : 0;
    }
    CHECK(right == 300);
    // weft reaps its own pids only: the outsider's status is still ours to collect
    int status = 0;
    CHECK(::waitpid(outsider, &status, 0) == outsider);
    CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("process: children whose handles are dropped at once are all reaped in the background") {
    weft::io_context io;
    std::vector<pid_t> pids;
    for (int i = 0; i < 500; ++i) {
        auto p = weft::process::spawn(io, {.program = "/bin/true"});
        pids.push_back(p.id());
    } // each handle dropped at once
    int reaped = 0;
    CHECK(eventually([&] {
        reaped = 0;
        for (const pid_t pid : pids) {
            reaped += gone(pid) ? 1 : 0; // (a reused pid would count as alive: never as reaped)
        }
        return reaped == 500;
    }));
    CHECK(reaped == 500);
    CHECK(zombie_children() == 0);
}

TEST_CASE("process: a canceled wait kills the child, reaps it, and completes canceled") {
    weft::io_context io;
    auto p = weft::process::spawn(io, {.program = "sleep", .args = {"100"}});
    const pid_t pid = p.id();
    weft::cancellation_source cancel;
    auto w = p.wait({.token = cancel.token()});
    CHECK_FALSE(w.wait_for(20ms));
    cancel.cancel();
    REQUIRE(w.wait_for(20s));
    CHECK(w.is_canceled());
    CHECK(gone(pid));             // reaped: not even a zombie
    CHECK_FALSE(p.kill(SIGTERM)); // never signals a reaped pid
    const auto after = p.try_wait();
    REQUIRE(after.has_value());
    CHECK(after->signal == SIGKILL);

    // output() with a token: the same, and what the child wrote before is not lost
    auto q = weft::process::spawn(io,
                                  {.program = "sh",
                                   .args = {"-c", "echo started; echo on-stderr >&2; exec sleep 100"},
                                   .std_out = weft::stdio::pipe(),
                                   .std_err = weft::stdio::pipe()});
    weft::cancellation_source stop;
    auto collecting = q.output({.token = stop.token()});
    const std::string comm = "/proc/" + std::to_string(q.id()) + "/comm";
    CHECK(eventually([&] { // the shell has written both lines and exec'd the sleep
        std::ifstream f(comm);
        std::string name;
        std::getline(f, name);
        return name == "sleep";
    }));
    CHECK_FALSE(collecting.is_ready());
    stop.cancel();
    REQUIRE(collecting.wait_for(20s));
    CHECK(collecting.is_canceled());
    try {
        collecting.get();
        FAIL("output() should have been canceled");
    } catch (const weft::output_canceled& e) {
        CHECK(e.partial().out == "started\n");
        CHECK(e.partial().err == "on-stderr\n");
        CHECK(e.partial().status.signal == SIGKILL);
    }
    CHECK(q.try_wait().value().signal == SIGKILL);
}

TEST_CASE("process: a timeout ends the whole process group, grandchildren included") {
    weft::io_context io;
    auto p = weft::process::spawn(
        io, {.program = "sh", .args = {"-c", "sleep 100 & sleep 100; wait"}, .new_process_group = true});
    const pid_t group = p.id();
    auto w = weft::with_timeout(
        io, [&](weft::cancellation_token t) { return p.wait({.token = t}); }, 50ms);
    REQUIRE(w.wait_for(20s));
    CHECK_THROWS_AS(w.get(), weft::timeout_error);
    CHECK(p.try_wait().value().signal == SIGKILL);
    // the group had the shell and both sleeps: all killed (the sleeps are reaped by init)
    CHECK(eventually([&] { return ::kill(-group, 0) != 0 && errno == ESRCH; }));
}

TEST_CASE("process: output returns once the child exits even if a grandchild holds the pipes") {
    weft::io_context io;
    auto p = weft::process::spawn(io,
                                  {.program = "sh",
                                   .args = {"-c", "echo hi; sleep 30 &"},
                                   .std_out = weft::stdio::pipe(),
                                   .std_err = weft::stdio::pipe(),
                                   .new_process_group = true});
    const pid_t group = p.id();
    auto out = p.output();
    const bool done = out.wait_for(20s); // waiting for end of stream would take the sleep's 30 s
    ::kill(-group, SIGKILL);             // the sleep, still in the group
    REQUIRE(done);
    const auto r = out.get();
    CHECK(r.out == "hi\n");
    CHECK(r.status.success());
}

TEST_CASE("process: kill, terminate and try_wait, and a dropped child with kill_on_drop") {
    weft::io_context io;
    auto p = weft::process::spawn(io, {.program = "sleep", .args = {"100"}});
    CHECK_FALSE(p.try_wait().has_value());
    CHECK(p.terminate());
    CHECK(await_get(p.wait()).signal == SIGTERM);
    CHECK(await_get(p.wait()).signal == SIGTERM); // the same status, any number of times
    CHECK_FALSE(p.kill());
    pid_t pid = 0;
    {
        auto q = weft::process::spawn(io, {.program = "sleep", .args = {"100"}, .kill_on_drop = true});
        pid = q.id();
    }
    CHECK(eventually([&] { return gone(pid); }));
    weft::process empty;
    CHECK_FALSE(empty.valid());
    CHECK_THROWS_AS(empty.wait(), weft::no_state);
}

TEST_CASE("process: a child inherits no descriptor but its three streams, whatever other threads open") {
    weft::io_context io;
    // a descriptor opened without close-on-exec, and one far up the table
    int raw[2];
    REQUIRE(::pipe(raw) == 0);
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    int high = -1;
    if (lim.rlim_max > 100001) {
        rlimit raised = lim;
        raised.rlim_cur = 100001;
        ::setrlimit(RLIMIT_NOFILE, &raised);
        high = ::dup2(raw[0], 100000);
    }
    std::atomic<bool> stop{false};
    std::atomic<int> opened{0};
    std::thread opener([&] {
        while (!stop.load()) {
            int p[2];
            const int s = ::socket(AF_INET, SOCK_STREAM, 0);
            const int e = ::eventfd(0, 0);
            if (::pipe(p) == 0) {
                ::close(p[0]);
                ::close(p[1]);
            }
            if (s >= 0) {
                ::close(s);
            }
            if (e >= 0) {
                ::close(e);
            }
            opened.fetch_add(1);
        }
    });
    int clean = 0;
    const int runs = 200;
    for (int i = 0; i < runs; ++i) {
        const auto r = await_get(weft::run_process(io, child_run({"fds"})));
        clean += r.out == "0 1 2\n" ? 1 : 0;
        if (r.out != "0 1 2\n") {
            UNSCOPED_INFO("child saw: " << r.out);
        }
    }
    stop.store(true);
    opener.join();
    CHECK(clean == runs);
    CHECK(opened.load() > 0);
    ::close(raw[0]);
    ::close(raw[1]);
    if (high >= 0) {
        ::close(high);
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

TEST_CASE("process: every descriptor weft opens is close-on-exec (audit)") {
    auto listing = [] {
        std::vector<int> fds;
        if (DIR* d = ::opendir("/proc/self/fd")) {
            const int own = ::dirfd(d);
            while (const dirent* e = ::readdir(d)) {
                if (e->d_name[0] != '.' && std::atoi(e->d_name) != own) {
                    fds.push_back(std::atoi(e->d_name));
                }
            }
            ::closedir(d);
        }
        return fds;
    };
    const auto before = listing();
    {
        weft::io_context io;
        auto tcp = connect_pair(io);
        auto udp = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
        auto unix_streams = weft_test::connect_unix_pair(io);
        auto dgrams = weft::unix_datagram_socket::pair(io);
        auto f = await_get(weft::file::open(io, "/proc/self/status"));
        auto p = weft::process::spawn(
            io, {.program = "sleep", .args = {"100"}, .std_in = weft::stdio::pipe(), .std_out = weft::stdio::pipe()});
        auto timer = weft::delay(io, 1h);
        int weft_fds = 0;
        int inheritable = 0;
        for (const int fd : listing()) {
            if (std::find(before.begin(), before.end(), fd) != before.end()) {
                continue;
            }
            ++weft_fds;
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0 && (flags & FD_CLOEXEC) == 0) {
                ++inheritable;
                UNSCOPED_INFO("descriptor " << fd << " is inheritable");
            }
        }
        CHECK(weft_fds >= 12); // the reactor's own, the sockets, the file, the pipes, the pidfd
        CHECK(inheritable == 0);
        p.kill();
        (void)await_get(p.wait());
    }
}

TEST_CASE("process: the child starts with no signal blocked or ignored, whatever the parent's") {
    weft::io_context io;
    struct sigaction ign {
    }, old_pipe{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old_pipe);
    sigset_t term, old_mask;
    ::sigemptyset(&term);
    ::sigaddset(&term, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &term, &old_mask);
    auto p = weft::process::spawn(io, {.program = child, .args = {"signals"}, .std_out = weft::stdio::pipe()});
    CHECK_THROWS_AS(weft::process::spawn(io, {.program = "/nonexistent/program"}), std::system_error);
    sigset_t after;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &after);
    CHECK(::sigismember(&after, SIGTERM) == 1); // a spawn, failed or not, leaves the caller's mask alone
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    const auto r = await_get(p.output());
    REQUIRE(r.out.size() == 50);
    const auto blocked = std::stoull(r.out.substr(8, 16), nullptr, 16);
    const auto ignored = std::stoull(r.out.substr(33, 16), nullptr, 16);
    CHECK(blocked == 0);
    // every signal at its default but glibc's two internal ones (32 and 33), which its
    // posix_spawn leaves ignored when the parent handles them (a glibc child reinstalls them)
    CHECK((ignored & ~0x180000000ull) == 0);
}

TEST_CASE("process: without a pidfd (an old kernel) the exit is polled: status, cancel and reaping still hold") {
    restore_sys restore;
    weft::detail::io::sys().pidfd_open = [](pid_t, unsigned) {
        errno = ENOSYS;
        return -1;
    };
    weft::io_context io;
    const auto r = await_get(weft::run_process(io, {.program = "sh", .args = {"-c", "echo polled; exit 5"}}));
    CHECK(r.out == "polled\n");
    CHECK(r.status.code == 5);
    auto p = weft::process::spawn(io, {.program = "sleep", .args = {"100"}});
    const pid_t pid = p.id();
    weft::cancellation_source cancel;
    auto w = p.wait({.token = cancel.token()});
    cancel.cancel();
    REQUIRE(w.wait_for(20s));
    CHECK(w.is_canceled());
    CHECK(gone(pid));
    CHECK(zombie_children() == 0);
}

TEST_CASE("process: a child left running when its io_context ends is reaped later, not left a zombie") {
    pid_t pid = 0;
    {
        weft::io_context io;
        auto p = weft::process::spawn(io, {.program = child, .args = {"echo"}, .std_in = weft::stdio::pipe()});
        pid = p.id();
    } // the handle dropped (closing the child's stdin: it exits), then its io_context
    CHECK(eventually([&] {
        weft::detail::io::orphanage::instance().reap();
        return gone(pid);
    }));
    CHECK(zombie_children() == 0);
}

TEST_CASE("process: the wait's continuation runs where its policy says") {
    weft::io_context io;
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    // a child that runs until its input ends: still running when the wait starts
    auto p = weft::process::spawn(io, {.program = child, .args = {"echo"}, .std_in = weft::stdio::pipe()});
    auto on_pool = [&]() -> weft::task<bool> {
        co_await p.wait({.policy = weft::io_policy::on(pool)});
        co_return pool.runs_on_this_thread();
    };
    auto t = on_pool();
    p.stdin_pipe().close();
    CHECK(await_get(t));
    // a child found exited at the call: the task is complete at once, the coroutine goes on
    // where it is (as a write that completes on its caller)
    auto inline_here = [&]() -> weft::task<bool> {
        co_await p.wait({.policy = weft::io_policy::on(pool)});
        co_return !pool.runs_on_this_thread();
    };
    auto u = inline_here();
    CHECK(u.is_ready());
    CHECK(await_get(u));
}
