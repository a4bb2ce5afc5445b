// http_workers: the HTTP example, with long requests handed to worker processes (the CGI-like
// model). GET /work?ms=N goes to one of W worker processes — this program again, started with
// --worker NAME — over a UNIX socket; the worker spends N ms on it (blocking, as a CGI program
// would) and answers. While every worker is busy a /work request waits for one (back-pressure);
// past a bound on the waiting ones the server answers 503 at once. Short requests (GET /) are
// answered by the server meanwhile: no worker is involved.
// `http_workers PORT [WORKERS]` serves until killed; with no argument it checks itself: four
// /work requests on two workers (two run, one waits, one is refused), twenty short requests
// answered while they run, then the workers end with their connections and are reaped.
#include <weft/weft.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_common.hpp"
#include <unistd.h>

namespace {

// --- the worker process -----------------------------------------------------------------------

int worker_main(const std::string& name) {
    weft::io_context io;
    weft::unix_socket s = weft::unix_socket::connect(io, weft::unix_endpoint::abstract(name)).get();
    std::string in;
    std::array<char, 64> buf;
    for (;;) {
        const std::size_t n = s.read_some(buf).get();
        if (n == 0) {
            return 0; // the server closed our connection: done
        }
        in.append(buf.data(), n);
        for (std::size_t eol = in.find('\n'); eol != std::string::npos; eol = in.find('\n')) {
            const int ms = std::atoi(in.substr(0, eol).c_str());
            in.erase(0, eol + 1);
            std::this_thread::sleep_for(std::chrono::milliseconds(ms)); // the long-running part
            const std::string answer =
                "worked " + std::to_string(ms) + " ms in process " + std::to_string(::getpid()) + "\n";
            s.write_all(answer).get();
        }
    }
}

// --- the server side --------------------------------------------------------------------------

/// The worker processes and a connection to each. An idle worker's index waits in `idle`.
struct worker_pool {
    explicit worker_pool(std::size_t max_waiting_) : max_waiting(max_waiting_) {}
    std::vector<weft::process> children;
    std::vector<weft::unix_socket> links;
    weft::channel<std::size_t> idle;
    std::size_t max_waiting;
    std::atomic<std::size_t> waiting{0};
    std::atomic<std::size_t> busy{0};
    std::atomic<std::size_t> most_waiting{0}; // figures the self-check reads
    std::atomic<std::size_t> most_busy{0};
    std::atomic<std::size_t> refused{0};
};

void raise_to(std::atomic<std::size_t>& peak, std::size_t v) {
    for (std::size_t p = peak.load(); v > p && !peak.compare_exchange_weak(p, v);) {
    }
}

/// Starts `count` workers and accepts their connections.
weft::task<void> start_workers(weft::io_context& io, worker_pool& pool, std::size_t count) {
    const std::string name = "weft-http-workers-" + std::to_string(::getpid());
    auto listener = weft::unix_listener::bind(io, weft::unix_endpoint::abstract(name));
    for (std::size_t i = 0; i < count; ++i) {
        pool.children.push_back(weft::process::spawn(
            io, {.program = "/proc/self/exe", .args = {"--worker", name}, .argv0 = "http_worker"}));
    }
    for (std::size_t i = 0; i < count; ++i) {
        pool.links.push_back(co_await listener.accept());
        (void)pool.idle.try_write(i);
    }
}

/// Runs one /work request on a worker: waits for an idle one (or refuses when too many wait).
weft::task<std::string> on_worker(worker_pool& pool, int ms, bool close) {
    std::optional<std::size_t> w = pool.idle.try_read();
    if (!w) { // every worker is busy
        if (pool.waiting.fetch_add(1) >= pool.max_waiting) {
            pool.waiting.fetch_sub(1);
            pool.refused.fetch_add(1);
            co_return reply(503, "Service Unavailable", "all workers busy\n", close);
        }
        raise_to(pool.most_waiting, pool.waiting.load());
        w = co_await pool.idle.read(); // back-pressure: wait for one
        pool.waiting.fetch_sub(1);
    }
    raise_to(pool.most_busy, pool.busy.fetch_add(1) + 1);
    std::string answer;
    bool failed = false;
    try {
        weft::unix_socket& link = pool.links.at(w.value());
        const std::string job = std::to_string(ms) + "\n";
        co_await link.write_all(job);
        std::array<char, 128> buf;
        while (answer.find('\n') == std::string::npos) {
            const std::size_t n = co_await link.read_some(buf);
            if (n == 0) {
                throw std::runtime_error("worker gone");
            }
            answer.append(buf.data(), n);
        }
    } catch (const std::exception&) {
        failed = true; // the worker died: it is not handed out again
    }
    pool.busy.fetch_sub(1);
    if (failed) {
        co_return reply(502, "Bad Gateway", "worker failed\n", close);
    }
    (void)pool.idle.try_write(*w);
    co_return reply(200, "OK", answer, close);
}

weft::task<void> session(weft::tcp_socket s, worker_pool& pool) {
    std::string in;
    std::array<char, 4096> buf;
    try {
        for (bool open = true; open;) {
            const std::size_t n = co_await s.read_some(buf);
            if (n == 0) {
                break;
            }
            in.append(buf.data(), n);
            for (;;) { // every complete request, in order
                request_result r = parse_one(in);
                if (r.consumed == 0 && !r.bad) {
                    break;
                }
                std::string out = r.response;
                if (!r.bad && r.method == "GET" && r.target.rfind("/work?ms=", 0) == 0) {
                    const int ms = std::atoi(r.target.c_str() + 9);
                    out = reply(400, "Bad Request", "ms must be 0..60000\n", r.close);
                    if (ms >= 0 && ms <= 60000) {
                        out = co_await on_worker(pool, ms, r.close);
                    }
                }
                co_await s.write_all(out);
                if (r.bad || r.close) {
                    open = false;
                    break;
                }
                in.erase(0, r.consumed);
            }
        }
    } catch (const std::system_error&) {
        // a reset peer ends its session only
    }
    s.close();
}

weft::task<void> serve(weft::tcp_listener& l, worker_pool& pool) {
    try {
        for (;;) {
            (void)session(co_await l.accept(), pool);
        }
    } catch (const std::system_error& e) {
        if (e.code() != weft::io_errc::closed) {
            throw;
        }
    }
}

/// Ends the workers: closing a worker's connection ends it; every one is reaped.
bool stop_workers(worker_pool& pool) {
    pool.links.clear();
    bool clean = true;
    for (auto& child : pool.children) {
        clean = child.wait().get().success() && clean;
    }
    return clean;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--worker") {
        return worker_main(argv[2]);
    }
    const bool check = argc < 2;
    const std::size_t workers = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 2;
    weft::io_context io;
    worker_pool pool(check ? 1 : 64);
    start_workers(io, pool, workers).get();
    auto listener = weft::tcp_listener::bind(
        io, weft::endpoint::any_v4(static_cast<std::uint16_t>(check ? 0 : std::atoi(argv[1]))));
    const auto port = listener.local_endpoint().port();
    std::printf("http_workers on port %u, %zu worker processes\n", port, workers);
    std::fflush(stdout);
    auto server = serve(listener, pool);
    if (!check) {
        server.wait();
        return stop_workers(pool) ? 0 : 1;
    }
    // four long requests on two workers: two run, one waits, one is refused (at most one waits)
    const auto at = weft::endpoint::loopback_v4(port);
    std::vector<weft::task<std::string>> long_ones;
    for (int i = 0; i < 4; ++i) {
        long_ones.push_back(exchange(io, at, "GET /work?ms=1500 HTTP/1.1\r\nConnection: close\r\n\r\n"));
    }
    int short_ok = 0;
    for (int i = 0; i < 20; ++i) {
        short_ok += count(exchange(io, at, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").get(), "Hello, World!") == 1;
    }
    std::size_t long_done_when_short_done = 0;
    for (auto& t : long_ones) {
        long_done_when_short_done += t.is_ready() ? 1u : 0u;
    }
    std::set<std::string> by;
    int worked = 0;
    int refused = 0;
    for (auto& t : long_ones) {
        const std::string r = t.get();
        if (r.rfind("HTTP/1.1 200", 0) == 0 && r.find("worked 1500 ms in process ") != std::string::npos) {
            ++worked;
            by.insert(r.substr(r.find("in process ")));
        }
        refused += r.rfind("HTTP/1.1 503", 0) == 0 ? 1 : 0;
    }
    listener.close();
    const bool clean = stop_workers(pool);
    const bool ok = worked == 3 && refused == 1 && by.size() == 2 && pool.most_busy.load() == 2 &&
                    pool.most_waiting.load() == 1 && short_ok == 20 && long_done_when_short_done <= 1 && clean;
    std::printf("work: %d done by %zu workers (at most %zu busy, %zu waiting), %d refused; short requests: %d "
                "answered meanwhile; workers exited and were reaped: %s: %s\n",
                worked,
                by.size(),
                pool.most_busy.load(),
                pool.most_waiting.load(),
                refused,
                short_ok,
                clean ? "yes" : "no",
                ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
