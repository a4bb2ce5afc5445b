// weft/io/process.hpp — child processes as tasks: spawn a program with its standard streams
// piped to the parent as async streams on the reactor, await its exit (a pidfd on the reactor),
// kill it, end it by a token or a timeout, never leave a zombie or leak a descriptor into it.
// Design note: docs/decisions/0014-processes.md; guide: docs/guide/processes.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/io/spawn.hpp>
#include <weft/io/io_context.hpp>
#include <weft/io/unix.hpp>
#include <weft/promise.hpp>
#include <weft/task.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace weft {

/// Where a child's standard stream goes.
class stdio {
public:
    enum class kind : unsigned char {
        inherit,   ///< the parent's own stream (the default)
        null,      ///< /dev/null
        pipe,      ///< a stream to the parent: process::stdin_pipe(), stdout_pipe(), stderr_pipe()
        fd,        ///< a copy of a descriptor of the caller's (a file, another child's pipe)
        to_stdout, ///< stderr only: wherever the child's stdout goes (2>&1)
    };
    static stdio inherit() noexcept { return stdio(kind::inherit, -1); }
    static stdio null() noexcept { return stdio(kind::null, -1); }
    static stdio pipe() noexcept { return stdio(kind::pipe, -1); }
    /// The child gets a copy of `fd`; the caller keeps (and later closes) its own. The copy
    /// shares the open file's flags: pass a blocking descriptor (children expect blocking stdio).
    static stdio from(int fd) noexcept { return stdio(kind::fd, fd); }
    static stdio to_stdout() noexcept { return stdio(kind::to_stdout, -1); }

    kind mode() const noexcept { return mode_; }
    int fd() const noexcept { return fd_; }

private:
    stdio(kind k, int fd) noexcept : mode_(k), fd_(fd) {}
    kind mode_;
    int fd_;
};

/// What to run and how (.NET ProcessStartInfo).
struct process_options {
    /// A path, or a name looked up in the parent's PATH (as execvp does).
    std::string program{};
    /// The arguments after argv[0].
    std::vector<std::string> args{};
    /// argv[0], if not the program.
    std::string argv0{};
    /// Empty: the parent's. A relative program path is looked up from here.
    std::string working_directory{};
    /// Start from the parent's environment (true) or from an empty one.
    bool inherit_environment = true;
    /// Set in the child (overriding inherited values).
    std::map<std::string, std::string> environment{};
    /// Removed from the inherited environment.
    std::vector<std::string> remove_environment{};
    stdio std_in = stdio::inherit();
    stdio std_out = stdio::inherit();
    stdio std_err = stdio::inherit();
    /// The child leads a new process group: kill() and a canceled wait signal the whole group
    /// (its own children too), and a terminal's Ctrl-C no longer reaches it.
    bool new_process_group = false;
    /// Sent when a wait's token is canceled (then the child is reaped and the wait completes
    /// canceled). The default cannot be caught; a catchable signal the child ignores would
    /// leave the wait waiting.
    int cancel_signal = SIGKILL;
    /// Destroying the process object kills a child still running (else the child runs on and
    /// is reaped in the background when it exits).
    bool kill_on_drop = false;
};

/// How a child ended: an exit code, or the signal that killed it.
struct exit_status {
    int code = -1;  ///< the exit code (0-255); -1 if a signal ended it
    int signal = 0; ///< the signal that ended it; 0 if it exited
    bool core_dumped = false;

    bool exited() const noexcept { return signal == 0; }
    bool success() const noexcept { return signal == 0 && code == 0; }
    /// "exit code 3", "killed by signal 9 (Killed)".
    std::string to_string() const {
        if (exited()) {
            return "exit code " + std::to_string(code);
        }
        const char* name = ::strsignal(signal);
        return "killed by signal " + std::to_string(signal) + (name != nullptr ? " (" + std::string(name) + ")" : "") +
               (core_dumped ? ", core dumped" : "");
    }
    friend bool operator==(const exit_status&, const exit_status&) = default;
};

/// What output() and run_process() collect.
struct process_output {
    exit_status status{};
    std::string out{}; ///< everything the child wrote to its stdout pipe
    std::string err{}; ///< ... and to its stderr pipe
};

/// How output() ends when its token is canceled: the child was sent its cancel_signal and
/// reaped; what it had written by then, and its status, are kept here (nothing is dropped).
class output_canceled : public operation_canceled {
public:
    explicit output_canceled(process_output partial)
        : operation_canceled("weft: output canceled: the child was killed and reaped")
        , partial_(std::make_shared<const process_output>(std::move(partial))) {}
    const process_output& partial() const noexcept { return *partial_; }

private:
    std::shared_ptr<const process_output> partial_; // shared: the exception copies without throwing
};

namespace detail::io {

/// A child's pidfd on the reactor: readable once the child has exited.
class pid_watch : public io_handle {
public:
    pid_watch() noexcept = default;
    pid_watch(io_core& core, int fd) : io_handle(core, fd) {}
    task<void> exited(const op_options& opts) {
        return start_op<void, no_value>(op_kind::poll_in, opts, [](io_op&) {});
    }
};

/// One child, shared by its process object and the tasks waiting for it. Only weft reaps it
/// (waitpid on its own pid, never -1), and only under `mutex`: so until the status is known
/// the pid cannot be reused, and signalling it by pid is race-free.
struct child_state {
    child_state(io_core& c, bool group_leader, int on_cancel)
        : core(&c)
        , group(group_leader)
        , cancel_signal(on_cancel) {}
    child_state(const child_state&) = delete;
    child_state& operator=(const child_state&) = delete;
    /// The last owner gone and the child not reaped: the orphanage reaps it later.
    ~child_state() {
        if (pid > 0 && !status && reap_error == 0) {
            orphanage::instance().adopt(pid);
        }
    }

    /// Reaps the child if it has exited; true once its status (or reap_error) is known.
    bool try_reap() noexcept {
        std::lock_guard lock(mutex);
        if (status || reap_error != 0) {
            return true;
        }
        int st = 0;
        pid_t r = 0;
        do {
            r = ::waitpid(pid, &st, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid) {
            status = decode_wait_status(st);
            return true;
        }
        if (r < 0) {
            reap_error = errno; // ECHILD: reaped by someone else (waitpid(-1), SIGCHLD ignored)
            return true;
        }
        return false;
    }
    exit_status result() {
        std::lock_guard lock(mutex);
        if (reap_error != 0) {
            throw std::system_error(reap_error,
                                    std::system_category(),
                                    "weft: child " + std::to_string(pid) +
                                        " was reaped elsewhere (a waitpid(-1), or SIGCHLD set to SIG_IGN)");
        }
        return exit_status{status->code, status->signal, status->core_dumped};
    }
    bool reaped() {
        std::lock_guard lock(mutex);
        return status.has_value() || reap_error != 0;
    }
    /// Signals the child (its group if it leads one); false once it has been reaped.
    bool signal(int sig) noexcept {
        std::lock_guard lock(mutex);
        if (status || reap_error != 0) {
            return false;
        }
        return ::kill(group ? -pid : pid, sig) == 0;
    }

    core_ref core;
    pid_t pid = -1;
    bool group;
    int cancel_signal;
    pid_watch watch; ///< closed where the kernel gave no pidfd: the exit is polled instead
    std::mutex mutex;
    // --- guarded by mutex --------------------------------------------------------------------
    std::optional<decoded_status> status;
    int reap_error = 0;
};

/// Waits for the child to exit (or for the token: then kills it, reaps it, and completes
/// canceled). Where there is no pidfd the exit is polled, every 1 ms growing to 50 ms.
inline task<exit_status> wait_for_exit(std::shared_ptr<child_state> st, op_options opts) {
    auto pause = std::chrono::milliseconds(1);
    bool canceled = false;
    while (!st->try_reap()) {
        try {
            if (st->watch.is_open()) {
                co_await st->watch.exited(opts);
            } else {
                co_await timer_on(*st->core.get(), io_clock::now() + pause, {.token = opts.token});
                pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::milliseconds(50));
            }
        } catch (const operation_canceled&) {
            if (!opts.token.is_cancellation_requested()) {
                throw; // the io_context is shutting down: the orphanage reaps the child later
            }
            canceled = true;
        }
        if (canceled) {
            break;
        }
    }
    if (!canceled) {
        co_return st->result();
    }
    st->signal(st->cancel_signal);
    pause = std::chrono::milliseconds(1);
    const op_options no_token{.policy = opts.policy};
    while (!st->try_reap()) {
        if (st->watch.is_open()) {
            co_await st->watch.exited(no_token);
        } else {
            co_await timer_on(*st->core.get(), io_clock::now() + pause, {});
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::milliseconds(50));
        }
    }
    throw operation_canceled("weft: wait canceled: the child was sent signal " + std::to_string(st->cancel_signal) +
                             " and reaped");
}

/// Reads `s` to its end, or until `stop`: then takes what is already buffered (a grandchild
/// holding the pipe open must not keep the caller waiting). Never throws: an error is kept.
struct collected {
    std::string text;
    std::exception_ptr error;
};
inline task<collected> read_all(unix_socket& s, cancellation_token stop) {
    collected c;
    if (!s.is_open()) {
        co_return c;
    }
    std::vector<char> buf(64 * 1024);
    bool stopped = false;
    try {
        for (;;) {
            const std::size_t n = co_await s.read_some(buf, {.token = stop});
            if (n == 0) {
                co_return c;
            }
            c.text.append(buf.data(), n);
        }
    } catch (const operation_canceled&) {
        stopped = true;
    } catch (...) {
        c.error = std::current_exception();
    }
    while (stopped) { // the child has exited: what it wrote is all in the socket's buffer
        const ssize_t n = ::recv(s.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) {
            c.text.append(buf.data(), static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    co_return c;
}

} // namespace detail::io

/// A child process (.NET Process). Move-only. spawn() starts it; wait() is its exit as a task;
/// output() collects its piped stdout and stderr and its exit; kill() signals it.
///
/// Contract (docs/guide/processes.md):
/// - Descriptors: the child gets its three standard streams and nothing else: every other
///   descriptor of the parent, weft's or the user's, close-on-exec or not, is closed in it.
/// - Signals: the child starts with no signal blocked and every signal at its default
///   disposition (an ignored SIGPIPE in the parent is not inherited).
/// - Zombies: a child is reaped by weft alone (waitpid on its pid, never -1), by the first
///   wait to see it exit, or, once the object is destroyed, by a background waiter.
/// - Errors: spawn throws std::system_error with the errno of a program that cannot be run
///   (ENOENT, EACCES, ENOEXEC...) or a working directory that cannot be entered;
///   std::invalid_argument for an empty program or a NUL byte in an argument.
///
/// Thread safety: wait(), try_wait(), kill() from any thread, any number at once; the pipes
///                are unix_sockets (one read and one write in flight is the usual pattern).
class process {
public:
    process() noexcept = default;
    process(process&&) noexcept = default;
    process& operator=(process&& o) noexcept {
        if (this != &o) {
            let_go();
            state_ = std::move(o.state_);
            stdin_ = std::move(o.stdin_);
            stdout_ = std::move(o.stdout_);
            stderr_ = std::move(o.stderr_);
            kill_on_drop_ = o.kill_on_drop_;
        }
        return *this;
    }
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    /// A child still running is killed (kill_on_drop) or left running and reaped in the
    /// background when it exits.
    ~process() { let_go(); }

    static process spawn(io_context& io, const process_options& opts) {
        detail::io::io_core& core = io.core();
        if (opts.program.empty()) {
            throw std::invalid_argument("weft: process_options::program is empty");
        }
        detail::io::orphanage::instance().reap();
        std::vector<std::string> argv_text;
        argv_text.push_back(opts.argv0.empty() ? opts.program : opts.argv0);
        argv_text.insert(argv_text.end(), opts.args.begin(), opts.args.end());
        for (const auto& a : argv_text) {
            if (a.find('\0') != std::string::npos) {
                throw std::invalid_argument("weft: a process argument contains a NUL byte");
            }
        }
        std::vector<std::string> env_text =
            detail::io::child_environment(opts.inherit_environment, opts.environment, opts.remove_environment);
        std::vector<char*> argv = detail::io::c_strings(argv_text);
        std::vector<char*> envp = detail::io::c_strings(env_text);

        process p;
        p.kill_on_drop_ = opts.kill_on_drop;
        auto state = std::make_shared<detail::io::child_state>(core, opts.new_process_group, opts.cancel_signal);
        detail::io::spawn_actions a;
        std::array<detail::io::owned_fd, 3> child_ends;
        const stdio* streams[3] = {&opts.std_in, &opts.std_out, &opts.std_err};
        unix_socket* pipes[3] = {&p.stdin_, &p.stdout_, &p.stderr_};
        for (int i = 0; i < 3; ++i) {
            const auto n = static_cast<std::size_t>(i);
            switch (streams[i]->mode()) {
            case stdio::kind::inherit:
                break;
            case stdio::kind::null:
                detail::io::spawn_actions::check(
                    ::posix_spawn_file_actions_addopen(&a.files, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0),
                    "weft: posix_spawn_file_actions_addopen");
                break;
            case stdio::kind::pipe: {
                int fds[2];
                if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
                    throw std::system_error(errno, std::system_category(), "weft: socketpair");
                }
                detail::io::owned_fd child(fds[1]);
                detail::io::owned_fd parent(fds[0]);
                child_ends[n] = child.get() < 3 ? detail::io::high_copy(child.get()) : std::move(child);
                // the parent's end: non-blocking where the backend wants it (the child's stays blocking)
                if (core.nonblocking_sockets() && ::fcntl(parent.get(), F_SETFL, O_NONBLOCK) != 0) {
                    throw std::system_error(errno, std::system_category(), "weft: fcntl(O_NONBLOCK)");
                }
                *pipes[i] = unix_socket(core, parent.release());
                detail::io::spawn_actions::check(::posix_spawn_file_actions_adddup2(&a.files, child_ends[n].get(), i),
                                                 "weft: posix_spawn_file_actions_adddup2");
                break;
            }
            case stdio::kind::fd:
                if (streams[i]->fd() < 0 || ::fcntl(streams[i]->fd(), F_GETFD) < 0) {
                    throw std::system_error(
                        EBADF, std::system_category(), "weft: stdio::from() names no open descriptor");
                }
                child_ends[n] = detail::io::high_copy(streams[i]->fd());
                detail::io::spawn_actions::check(::posix_spawn_file_actions_adddup2(&a.files, child_ends[n].get(), i),
                                                 "weft: posix_spawn_file_actions_adddup2");
                break;
            case stdio::kind::to_stdout:
                if (i != 2) {
                    throw std::invalid_argument("weft: stdio::to_stdout() is for std_err only");
                }
                detail::io::spawn_actions::check(::posix_spawn_file_actions_adddup2(&a.files, 1, 2),
                                                 "weft: posix_spawn_file_actions_adddup2");
                break;
            }
        }
        // every other descriptor, close-on-exec or not (close_range, or a walk of /proc/self/fd)
        detail::io::spawn_actions::check(::posix_spawn_file_actions_addclosefrom_np(&a.files, 3),
                                         "weft: posix_spawn_file_actions_addclosefrom_np");
        if (!opts.working_directory.empty()) {
            detail::io::spawn_actions::check(
                ::posix_spawn_file_actions_addchdir_np(&a.files, opts.working_directory.c_str()),
                "weft: posix_spawn_file_actions_addchdir_np");
        }
        sigset_t none;
        sigset_t all;
        ::sigemptyset(&none);
        ::sigfillset(&all);
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        detail::io::spawn_actions::check(::posix_spawnattr_setsigmask(&a.attr, &none),
                                         "weft: posix_spawnattr_setsigmask");
        detail::io::spawn_actions::check(::posix_spawnattr_setsigdefault(&a.attr, &all),
                                         "weft: posix_spawnattr_setsigdefault");
        if (opts.new_process_group) {
            flags = static_cast<short>(flags | POSIX_SPAWN_SETPGROUP);
            detail::io::spawn_actions::check(::posix_spawnattr_setpgroup(&a.attr, 0),
                                             "weft: posix_spawnattr_setpgroup");
        }
        detail::io::spawn_actions::check(::posix_spawnattr_setflags(&a.attr, flags), "weft: posix_spawnattr_setflags");

        pid_t pid = -1;
        const bool search = opts.program.find('/') == std::string::npos;
        const int err = search ? ::posix_spawnp(&pid, opts.program.c_str(), &a.files, &a.attr, argv.data(), envp.data())
                               : ::posix_spawn(&pid, opts.program.c_str(), &a.files, &a.attr, argv.data(), envp.data());
        if (err != 0) {
            throw std::system_error(err, std::system_category(), "weft: spawn '" + opts.program + "'");
        }
        state->pid = pid; // from here on nothing may throw before `p` owns the state
        const int pidfd = detail::io::sys().pidfd_open(pid, 0);
        if (pidfd >= 0) {
            try {
                state->watch = detail::io::pid_watch(core, pidfd);
            } catch (...) {
                // no memory for the reactor's record (the fd was closed): the exit is polled
            }
        }
        p.state_ = std::move(state);
        return p;
    }

    bool valid() const noexcept { return state_ != nullptr; }
    pid_t id() const { return checked().pid; }
    /// The parent's ends of the piped streams (closed handles where the stream is not a pipe).
    /// Close stdin_pipe() (or shutdown_send()) to give the child end of input.
    unix_socket& stdin_pipe() noexcept { return stdin_; }
    unix_socket& stdout_pipe() noexcept { return stdout_; }
    unix_socket& stderr_pipe() noexcept { return stderr_; }

    /// The child's exit. Completes once it has exited and been reaped; every later wait gets
    /// the same status. opts.token canceled: the child is sent cancel_signal (its group, if it
    /// leads one), reaped, and the task completes canceled. opts.policy places the continuation.
    /// The token form of with_timeout ends a child that runs too long:
    /// `with_timeout(io, [&](cancellation_token t) { return p.wait({.token = t}); }, 5s)`.
    task<exit_status> wait(const op_options& opts = {}) { return detail::io::wait_for_exit(checked_state(), opts); }

    /// The exit status if the child has exited (it is reaped now), else nothing. Never blocks.
    std::optional<exit_status> try_wait() {
        auto& st = checked();
        if (!st.try_reap()) {
            return std::nullopt;
        }
        return st.result();
    }

    /// Sends `sig` to the child (to its group if it leads one). False once it has been reaped
    /// (a pid is never signalled after weft reaped it: it may belong to another process by then).
    bool kill(int sig = SIGKILL) { return checked().signal(sig); }
    bool terminate() { return kill(SIGTERM); }

    /// Everything the child writes to its stdout and stderr pipes (read at once, so neither
    /// fills up and stalls it) and its exit status. Takes the pipes (stdout_pipe() and
    /// stderr_pipe() are closed afterwards) and closes stdin_pipe(): write the child's input
    /// first. Once the child has exited, what it wrote is taken and the task completes, even if
    /// a grandchild still holds the pipes open. opts: as wait()'s; a canceled token ends it with
    /// output_canceled, which holds what the child wrote until it was killed, and its status.
    task<process_output> output(const op_options& opts = {}) {
        auto st = checked_state();
        stdin_.close();
        return collect(std::move(st), std::move(stdout_), std::move(stderr_), opts);
    }

private:
    detail::io::child_state& checked() const {
        if (!state_) {
            throw no_state();
        }
        return *state_;
    }
    std::shared_ptr<detail::io::child_state> checked_state() const {
        checked();
        return state_;
    }

    static task<process_output>
    collect(std::shared_ptr<detail::io::child_state> st, unix_socket out, unix_socket err, op_options opts) {
        cancellation_source stop;
        task<detail::io::collected> out_text = detail::io::read_all(out, stop.token());
        task<detail::io::collected> err_text = detail::io::read_all(err, stop.token());
        std::optional<exit_status> status;
        std::exception_ptr failure;
        try {
            status = co_await detail::io::wait_for_exit(st, opts);
        } catch (...) {
            failure = std::current_exception();
        }
        stop.cancel();
        detail::io::collected o = co_await std::move(out_text);
        detail::io::collected e = co_await std::move(err_text);
        if (failure) {
            bool canceled = false;
            try {
                std::rethrow_exception(failure);
            } catch (const operation_canceled&) {
                canceled = opts.token.is_cancellation_requested() && st->reaped();
            } catch (...) {
            }
            if (canceled) {
                throw output_canceled(process_output{st->result(), std::move(o.text), std::move(e.text)});
            }
            std::rethrow_exception(failure);
        }
        if (o.error) {
            std::rethrow_exception(o.error);
        }
        if (e.error) {
            std::rethrow_exception(e.error);
        }
        co_return process_output{*status, std::move(o.text), std::move(e.text)};
    }

    /// The process object lets go of its child: kill_on_drop kills it; if nothing else waits
    /// for it, a background waiter reaps it when it exits.
    void let_go() noexcept {
        auto st = std::move(state_);
        stdin_.close();
        stdout_.close();
        stderr_.close();
        if (!st || st->try_reap()) {
            return;
        }
        if (kill_on_drop_) {
            st->signal(SIGKILL);
        }
        if (st.use_count() > 1) {
            return; // a wait or output task holds it: that task reaps it
        }
        try {
            (void)reap_in_background(std::move(st));
        } catch (...) {
            // could not start the waiter: the state's last owner hands the pid to the orphanage
        }
    }
    static task<void> reap_in_background(std::shared_ptr<detail::io::child_state> st) {
        try {
            (void)co_await detail::io::wait_for_exit(std::move(st), {.policy = io_policy::inline_on_io()});
        } catch (...) {
            // the io_context shut down first: the state's last owner handed the pid to the orphanage
        }
    }

    std::shared_ptr<detail::io::child_state> state_;
    unix_socket stdin_;
    unix_socket stdout_;
    unix_socket stderr_;
    bool kill_on_drop_ = false;
};

/// Runs a child to its end and collects what it writes (.NET: Process.Start with redirected
/// output, then ReadToEndAsync and WaitForExitAsync). stdout and stderr are piped unless
/// `opts` sends them elsewhere (a stdio other than inherit). A child that cannot be started
/// fails the task (std::system_error: ENOENT, EACCES...). wait_opts: as process::wait's.
inline task<process_output> run_process(io_context& io, process_options opts, const op_options& wait_opts = {}) {
    if (opts.std_out.mode() == stdio::kind::inherit) {
        opts.std_out = stdio::pipe();
    }
    if (opts.std_err.mode() == stdio::kind::inherit) {
        opts.std_err = stdio::pipe();
    }
    process p;
    try {
        p = process::spawn(io, opts);
    } catch (...) {
        promise<process_output> failed;
        failed.set_exception(std::current_exception());
        return failed.get_task();
    }
    return p.output(wait_opts);
}

} // namespace weft
