// benchmarks/process_bench.cpp — beyond one process: round trips over a UNIX stream socket
// against TCP loopback (weft on both backends, and plain blocking threads as the kernel's
// floor), and a child's spawn + wait through weft::process against posix_spawn + waitpid by
// hand, all in this one process and run.
//
// Round trip: a client coroutine writes 64 bytes, an echo coroutine on the same io_context
// (one I/O thread) sends them back, the client reads them; 1,000 per iteration. The blocking
// floor does the same with two threads and blocking read/write on a socketpair or a TCP pair.
// Spawn + wait: /bin/true, started and reaped; weft adds a pidfd on the reactor, closing every
// descriptor above 2 in the child and resetting its signals (what a plain posix_spawn skips).
#include <weft/io/io_context.hpp>
#include <weft/io/process.hpp>
#include <weft/io/tcp.hpp>
#include <weft/io/unix.hpp>
#include <weft/task.hpp>

#include <array>
#include <cstddef>
#include <thread>

#include "bench_support.hpp"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

constexpr int trips_per_iteration = 1000;
constexpr std::size_t message = 64;

template<typename Socket>
weft::task<void> echo(Socket& s) {
    std::array<std::byte, message> buf{};
    for (;;) {
        const std::size_t n = co_await s.read_some(buf);
        if (n == 0) {
            co_return;
        }
        co_await s.write_all(std::span(buf.data(), n));
    }
}

template<typename Socket>
weft::task<int> trips(Socket& s, int count) {
    std::array<std::byte, message> out{};
    std::array<std::byte, message> in{};
    int good = 0;
    for (int i = 0; i < count; ++i) {
        out[0] = static_cast<std::byte>(i);
        co_await s.write_all(out);
        co_await s.read_exact(in);
        good += in[0] == out[0] ? 1 : 0;
    }
    co_return good;
}

template<typename Socket>
void run_trips(benchmark::State& state, weft::io_context& io, Socket& client, Socket& server) {
    weft::task<void> echoing = echo(server);
    for (auto _ : state) {
        weft_bench::check(trips(client, trips_per_iteration).get() == trips_per_iteration, "round trips");
    }
    client.shutdown_send();
    echoing.wait();
    state.SetItemsProcessed(state.iterations() * trips_per_iteration);
    state.SetLabel(io.backend_name());
}

void BM_round_trip_unix(benchmark::State& state, weft::io_backend backend) {
    weft::io_context io{weft::io_options{.backend = backend}};
    auto [client, server] = weft::unix_socket::pair(io);
    run_trips(state, io, client, server);
}
void BM_round_trip_tcp(benchmark::State& state, weft::io_backend backend) {
    weft::io_context io{weft::io_options{.backend = backend}};
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    auto accepted = listener.accept();
    auto client = weft::tcp_socket::connect(io, listener.local_endpoint()).get();
    auto server = std::move(accepted).get();
    client.set_no_delay(true);
    server.set_no_delay(true);
    run_trips(state, io, client, server);
}
BENCHMARK_CAPTURE(BM_round_trip_unix, weft_uring, weft::io_backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(BM_round_trip_tcp, weft_uring, weft::io_backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(BM_round_trip_unix, weft_epoll, weft::io_backend::epoll)->UseRealTime();
BENCHMARK_CAPTURE(BM_round_trip_tcp, weft_epoll, weft::io_backend::epoll)->UseRealTime();

// --- the kernel's floor: two threads, blocking read and write ----------------------------------

bool read_full(int fd, std::byte* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

void blocking_trips(benchmark::State& state, int client, int server) {
    std::thread echoer([server] {
        std::array<std::byte, message> buf{};
        while (read_full(server, buf.data(), message) && ::write(server, buf.data(), message) == message) {
        }
    });
    std::array<std::byte, message> buf{};
    for (auto _ : state) {
        for (int i = 0; i < trips_per_iteration; ++i) {
            weft_bench::check(::write(client, buf.data(), message) == message && read_full(client, buf.data(), message),
                              "blocking round trip");
        }
    }
    ::shutdown(client, SHUT_WR);
    echoer.join();
    ::close(client);
    ::close(server);
    state.SetItemsProcessed(state.iterations() * trips_per_iteration);
}

void BM_round_trip_unix_blocking(benchmark::State& state) {
    int fds[2];
    weft_bench::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
    blocking_trips(state, fds[0], fds[1]);
}
void BM_round_trip_tcp_blocking(benchmark::State& state) {
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    weft_bench::check(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(l, 1) == 0 &&
                          ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0,
                      "listen");
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    weft_bench::check(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "connect");
    const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(l);
    const int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    blocking_trips(state, c, s);
}
BENCHMARK(BM_round_trip_unix_blocking)->UseRealTime();
BENCHMARK(BM_round_trip_tcp_blocking)->UseRealTime();

// --- spawn + wait --------------------------------------------------------------------------------

/// An async program's loop: spawn, co_await the exit, on the I/O thread (one wake-up per child,
/// the I/O thread's, as a blocking waitpid has one).
weft::task<int> spawn_loop(weft::io_context& io, int count) {
    co_await weft::spawn(io, [] {}); // onto the I/O thread
    int ok = 0;
    for (int i = 0; i < count; ++i) {
        auto p = weft::process::spawn(io, {.program = "/bin/true"});
        const weft::exit_status st = co_await p.wait();
        ok += st.success() ? 1 : 0;
    }
    co_return ok;
}
void BM_spawn_wait_weft(benchmark::State& state, weft::io_backend backend) {
    weft::io_context io{weft::io_options{.backend = backend}};
    constexpr int per_iteration = 20;
    for (auto _ : state) {
        weft_bench::check(spawn_loop(io, per_iteration).get() == per_iteration, "/bin/true exits 0");
    }
    state.SetItemsProcessed(state.iterations() * per_iteration);
    state.counters["us_per_child"] = benchmark::Counter(static_cast<double>(state.iterations() * per_iteration),
                                                        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetLabel(io.backend_name());
}
BENCHMARK_CAPTURE(BM_spawn_wait_weft, uring, weft::io_backend::uring)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_spawn_wait_weft, epoll, weft::io_backend::epoll)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// The same from a thread that blocks on each exit (wait().get()): a second wake-up per child,
/// the caller's, after the I/O thread's.
void BM_spawn_wait_weft_blocking_get(benchmark::State& state, weft::io_backend backend) {
    weft::io_context io{weft::io_options{.backend = backend}};
    for (auto _ : state) {
        auto p = weft::process::spawn(io, {.program = "/bin/true"});
        weft_bench::check(p.wait().get().success(), "/bin/true exits 0");
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(io.backend_name());
}
BENCHMARK_CAPTURE(BM_spawn_wait_weft_blocking_get, uring, weft::io_backend::uring)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_spawn_wait_weft_blocking_get, epoll, weft::io_backend::epoll)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_spawn_wait_posix_spawn(benchmark::State& state) {
    char program[] = "/bin/true";
    char* argv[] = {program, nullptr};
    for (auto _ : state) {
        pid_t pid = 0;
        weft_bench::check(::posix_spawn(&pid, program, nullptr, nullptr, argv, environ) == 0, "posix_spawn");
        int status = 0;
        weft_bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "waitpid");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_spawn_wait_posix_spawn)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// posix_spawn with what weft asks of it (every descriptor above 2 closed, signals reset), and a
/// blocking waitpid: the spawn's share of weft's cost, apart from the wait.
void BM_spawn_wait_posix_spawn_same_actions(benchmark::State& state) {
    char program[] = "/bin/true";
    char* argv[] = {program, nullptr};
    posix_spawn_file_actions_t files;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&files);
    ::posix_spawn_file_actions_addclosefrom_np(&files, 3);
    ::posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t all;
    ::sigemptyset(&none);
    ::sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    for (auto _ : state) {
        pid_t pid = 0;
        weft_bench::check(::posix_spawn(&pid, program, &files, &attr, argv, environ) == 0, "posix_spawn");
        int status = 0;
        weft_bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "waitpid");
    }
    ::posix_spawnattr_destroy(&attr);
    ::posix_spawn_file_actions_destroy(&files);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_spawn_wait_posix_spawn_same_actions)->UseRealTime()->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
