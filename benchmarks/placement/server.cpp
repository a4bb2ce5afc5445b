// benchmarks/placement/server.cpp — the placement benchmark's server: a weft io_context whose
// sessions read a 64-byte request, spin the CPU work it asks for, and write it back. Where that
// work runs is the continuation placement under test.
//
// placement_server POLICY IO_THREADS [BACKEND]
//   POLICY: inline (io_policy::inline_on_io), pool (io_policy::on(thread_pool)),
//           adaptive (io_policy::adaptive(thread_pool)); the pool has one worker per CPU.
//   BACKEND: uring | epoll (default: weft's automatic choice).
// Prints "port N steps_per_ns X backend B" and serves until killed.
#include <weft/weft.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "placement/protocol.hpp"
#include "placement/setup.hpp"
#include "placement/spin_work.hpp"
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

namespace {

double g_steps_per_ns = 1.0;
std::uint64_t g_sink = 0; // written by whoever ran the last request; read by nobody

weft::task<void> session(weft::io_context& io, weft::tcp_socket s) {
    std::array<unsigned char, placement::message_bytes> buf{};
    try {
        for (;;) {
            co_await s.read_exact(std::span(buf));
            const placement::request r = placement::decode_request(buf.data());
            if (r.what == placement::kind::stats) {
                const auto t = io.stats().total();
                placement::server_stats st{placement::process_cpu_ns(),
                                           t.continuations_inline,
                                           t.continuations_hopped,
                                           t.adaptive_hops,
                                           t.ops_finished,
                                           t.loops,
                                           t.wakeups};
                placement::encode_stats(r.sequence, st, buf.data());
            } else if (r.work_ns > 0) {
                const auto steps = static_cast<std::uint64_t>(g_steps_per_ns * r.work_ns);
                std::atomic_ref(g_sink).store(placement::spin_steps(steps, r.sequence), std::memory_order_relaxed);
            }
            co_await s.write_all(std::span(std::as_const(buf)));
        }
    } catch (const std::system_error&) {
        // the client closed the connection (EOF from read_exact) or reset it
    }
    s.close();
}

weft::task<void> serve(weft::io_context& io, weft::tcp_listener& l) {
    for (;;) {
        weft::tcp_socket s = co_await l.accept();
        s.set_no_delay(true);
        (void)session(io, std::move(s));
    }
}

} // namespace

namespace {
/// WEFT_PLACEMENT_TRACE=path (scripts/bench.sh): trace this server; the client's SIGTERM, its
/// way to stop a server, writes the trace (path and path.html) before the process exits.
void trace_until_terminated() {
    const char* path = std::getenv("WEFT_PLACEMENT_TRACE");
    if (path == nullptr || *path == '\0') {
        return;
    }
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr); // every thread started from here on inherits it
    weft::diag::trace_start({.events_per_thread = std::size_t{1} << 18});
    std::thread([term, file = std::string(path)] {
        int sig = 0;
        sigwait(&term, &sig);
        const weft::diag::trace t = weft::diag::trace_stop();
        t.write_json(file);
        t.write_html(file + ".html");
        std::_Exit(0);
    }).detach();
}
/// `placement_server hog N`: the noisy neighbour of `weft_placement_bench --hog N`, N threads
/// that only burn CPU until the driver stops this process (or dies: PR_SET_PDEATHSIG).
int run_hog(unsigned threads) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<std::thread> burners;
    for (unsigned i = 0; i < threads; ++i) {
        burners.emplace_back([] {
            std::uint64_t x = 0x9e3779b97f4a7c15ULL;
            for (;;) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                asm volatile("" : "+r"(x)); // keeps the loop: the hog must really run
            }
        });
    }
    std::printf("hog %u\n", threads);
    std::fflush(stdout);
    for (auto& t : burners) {
        t.join(); // never returns: SIGTERM/SIGKILL ends the process
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string_view(argv[1]) == "hog") {
        return run_hog(static_cast<unsigned>(std::max(1, std::atoi(argv[2]))));
    }
    trace_until_terminated();
    if (argc < 3) {
        std::fprintf(stderr, "usage: placement_server inline|pool|adaptive IO_THREADS [uring|epoll]\n");
        return 2;
    }
    const std::string_view policy = argv[1];
    const auto io_threads = static_cast<unsigned>(std::atoi(argv[2]));
    const std::string_view backend = argc > 3 ? argv[3] : "";
    g_steps_per_ns = placement::calibrate_steps_per_ns();

    std::optional<weft::thread_pool> pool;
    weft::io_options opts;
    try {
        opts = placement::io_options_for(policy, io_threads, backend, pool);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "placement_server: %s\n", e.what());
        return 2;
    }
    weft::io_context io{opts};
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    std::printf("port %u steps_per_ns %.4f backend %s\n",
                listener.local_endpoint().port(),
                g_steps_per_ns,
                std::string(io.backend_name()).c_str());
    std::fflush(stdout);
    serve(io, listener).wait();
}
