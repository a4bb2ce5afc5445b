// benchmarks/echo/echo_bench.cpp — the echo benchmark's driver: one client drives every echo
// server (each its own process, started here) over loopback with 64-byte messages, closed
// loop, 1 and 32 connections, and reports round trips per second and p50/p99 latency.
//
// weft_echo_bench [--seconds S] [--reps R] [--conns 1,32] [--servers a,b,...] [--json FILE]
// Servers: epoll_loop (the floor), asio_epoll, asio_uring (when it was built), weft_epoll,
// weft_uring, weft_uring_pool / weft_epoll_pool (continuations hop to a 1-worker pool).
// On 2 or more CPUs the server runs on CPU 0 and the client on CPU 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t message = 64;

struct server_kind {
    std::string name;
    std::string exe;
    std::vector<std::string> args;
};

struct cell {
    std::string server;
    int conns = 0;
    std::vector<double> rps, p50_us, p99_us;
};

bool pin_to(int cpu) {
    if (std::thread::hardware_concurrency() < 2) {
        return false;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

/// A running server process and its port.
struct server_process {
    bench_support::child_process child;
    unsigned port = 0;

    explicit server_process(const server_kind& k) : child(spawn_on_cpu0(k)) {
        const std::string line = child.read_line();
        if (std::sscanf(line.c_str(), "port %u", &port) != 1) {
            throw std::runtime_error(k.name + " did not start (" + line + ")");
        }
    }
    // the child inherits this thread's affinity: CPU 0 while spawning, then back to CPU 1
    static bench_support::child_process spawn_on_cpu0(const server_kind& k) {
        pin_to(0);
        struct back_to_1 {
            ~back_to_1() { pin_to(1); }
        } restore;
        return bench_support::child_process(k.exe, k.args);
    }
};

struct connection {
    int fd = -1;
    std::size_t got = 0;
    clock_type::time_point sent_at;
    char in[message];
};

/// One closed-loop run: `conns` connections, warm-up then `seconds` measured.
void run_client(unsigned port, int conns, double seconds, double& rps, double& p50, double& p99) {
    const int ep = ::epoll_create1(0);
    std::vector<connection> cs(static_cast<std::size_t>(conns));
    char out[message];
    std::memset(out, 'x', sizeof out);
    for (auto& c : cs) {
        c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_port = htons(static_cast<std::uint16_t>(port));
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
            throw std::runtime_error("connect failed");
        }
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &c;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    std::vector<std::uint32_t> samples;
    samples.reserve(4'000'000);
    const auto start = clock_type::now();
    const auto measure_from = start + std::chrono::milliseconds(300);
    const auto end =
        measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    std::uint64_t round_trips = 0;
    for (auto& c : cs) {
        c.sent_at = clock_type::now();
        (void)::send(c.fd, out, message, MSG_NOSIGNAL);
    }
    epoll_event events[256];
    for (auto now = clock_type::now(); now < end;) {
        const int n = ::epoll_wait(ep, events, 256, 100);
        now = clock_type::now();
        for (int i = 0; i < n; ++i) {
            auto& c = *static_cast<connection*>(events[i].data.ptr);
            const ssize_t r = ::recv(c.fd, c.in + c.got, message - c.got, 0);
            if (r <= 0) {
                throw std::runtime_error("the server closed a connection");
            }
            c.got += static_cast<std::size_t>(r);
            if (c.got < message) {
                continue;
            }
            c.got = 0;
            if (now >= measure_from) {
                ++round_trips;
                samples.push_back(static_cast<std::uint32_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent_at).count()));
            }
            c.sent_at = now;
            (void)::send(c.fd, out, message, MSG_NOSIGNAL);
        }
    }
    for (auto& c : cs) {
        ::close(c.fd);
    }
    ::close(ep);
    rps = static_cast<double>(round_trips) / seconds;
    auto pct = [&](double q) {
        if (samples.empty()) {
            return 0.0;
        }
        const auto k = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1));
        std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k), samples.end());
        return samples[k] / 1000.0;
    };
    p50 = pct(0.50);
    p99 = pct(0.99);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}
double spread(const std::vector<double>& v) { // (max - min) / median
    if (v.size() < 2) {
        return 0.0;
    }
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double m = median(v);
    return m > 0 ? (*hi - *lo) / m : 0.0;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= s.size()) {
        const std::size_t comma = s.find(',', at);
        out.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) {
            break;
        }
        at = comma + 1;
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    double seconds = 2.0;
    int reps = 3;
    std::vector<int> conn_counts{1, 32};
    std::string json;
    std::vector<std::string> wanted;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--seconds") {
            seconds = std::atof(value.c_str());
        } else if (flag == "--reps") {
            reps = std::atoi(value.c_str());
        } else if (flag == "--conns") {
            conn_counts.clear();
            for (const auto& c : split(value)) {
                conn_counts.push_back(std::atoi(c.c_str()));
            }
        } else if (flag == "--servers") {
            wanted = split(value);
        } else if (flag == "--json") {
            json = value;
        } else {
            std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    ::signal(SIGPIPE, SIG_IGN);
    const std::string dir = bench_support::self_dir();
    std::vector<server_kind> all{
        {"epoll_loop", dir + "/echo_server_epoll_loop", {}},
        {"asio_epoll", dir + "/echo_server_asio_epoll", {}},
        {"asio_uring", dir + "/echo_server_asio_uring", {}},
        {"weft_epoll", dir + "/echo_server_weft", {"epoll"}},
        {"weft_uring", dir + "/echo_server_weft", {"uring"}},
        {"weft_epoll_pool", dir + "/echo_server_weft", {"epoll", "pool"}},
        {"weft_uring_pool", dir + "/echo_server_weft", {"uring", "pool"}},
    };
    if (wanted.empty()) {
        wanted = {"epoll_loop", "asio_epoll", "asio_uring", "weft_epoll", "weft_uring"};
    }
    pin_to(1);
    std::vector<cell> cells;
    int failures = 0;
    std::printf("%-16s %5s %12s %8s %9s %9s\n", "server", "conns", "round trips/s", "spread", "p50 us", "p99 us");
    for (const auto& name : wanted) {
        auto it = std::find_if(all.begin(), all.end(), [&](const server_kind& k) { return k.name == name; });
        if (it == all.end() || ::access(it->exe.c_str(), X_OK) != 0) {
            std::printf("%-16s (not built here: skipped)\n", name.c_str());
            continue;
        }
        for (const int conns : conn_counts) {
            cell c{name, conns, {}, {}, {}};
            try {
                for (int r = 0; r < reps; ++r) {
                    server_process server(*it);
                    double rps = 0, p50 = 0, p99 = 0;
                    run_client(server.port, conns, seconds, rps, p50, p99);
                    c.rps.push_back(rps);
                    c.p50_us.push_back(p50);
                    c.p99_us.push_back(p99);
                }
            } catch (const std::exception& e) {
                std::printf("%-16s %5d failed: %s\n", name.c_str(), conns, e.what());
                ++failures;
                continue;
            }
            const double sp = spread(c.rps);
            std::printf("%-16s %5d %12.0f %7.1f%%%s %9.1f %9.1f\n",
                        name.c_str(),
                        conns,
                        median(c.rps),
                        100 * sp,
                        sp > 0.10 ? "!" : " ",
                        median(c.p50_us),
                        median(c.p99_us));
            std::fflush(stdout);
            cells.push_back(std::move(c));
        }
    }
    if (!json.empty()) {
        std::ofstream f(json);
        f << "{\n  \"benchmark\": \"echo\",\n  \"message_bytes\": " << message << ",\n  \"seconds\": " << seconds
          << ",\n  \"reps\": " << reps << ",\n  \"cells\": [\n";
        for (std::size_t i = 0; i < cells.size(); ++i) {
            const auto& c = cells[i];
            f << "    {\"server\": \"" << c.server << "\", \"conns\": " << c.conns
              << ", \"round_trips_per_s\": " << median(c.rps) << ", \"spread\": " << spread(c.rps)
              << ", \"p50_us\": " << median(c.p50_us) << ", \"p99_us\": " << median(c.p99_us) << "}"
              << (i + 1 < cells.size() ? "," : "") << "\n";
        }
        f << "  ]\n}\n";
    }
    std::printf("(medians of %d runs of %.1f s; spread = (max - min) / median of round trips/s, '!' above 10%%)\n",
                reps,
                seconds);
    return failures == 0 ? 0 : 1;
}
