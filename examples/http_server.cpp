// http_server: a small HTTP/1.1 server on weft's reactor: keep-alive, pipelining-safe (every
// complete request in the buffer is answered, in order, in one write), "Hello, World!" for
// GET /, 404 for other paths, 405 for other methods, 400 (and close) for malformed requests.
// `http_server PORT [IO_THREADS]` serves until killed (any HTTP/1.1 client; tried with curl);
// with no argument it serves on a free port, checks itself with pipelined and bad requests,
// and exits.
#include <weft/weft.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_common.hpp"

namespace {

weft::task<void> session(weft::tcp_socket s) {
    std::string in;
    std::array<char, 4096> buf;
    try {
        for (bool open = true; open;) {
            const std::size_t n = co_await s.read_some(buf);
            if (n == 0) {
                break;
            }
            in.append(buf.data(), n);
            std::string out;
            for (;;) { // every complete request, in order (pipelining)
                request_result r = parse_one(in);
                if (r.consumed == 0 && !r.bad) {
                    break;
                }
                out += r.response;
                if (r.bad || r.close) {
                    open = false;
                    break;
                }
                in.erase(0, r.consumed);
            }
            if (!out.empty()) {
                co_await s.write_all(out);
            }
        }
    } catch (const std::system_error&) {
        // a reset peer ends its session only
    }
    s.close();
}

weft::task<void> serve(weft::tcp_listener& l) {
    try {
        for (;;) {
            weft::tcp_socket s = co_await l.accept();
            s.set_no_delay(true);
            (void)session(std::move(s));
        }
    } catch (const std::system_error& e) {
        if (e.code() != weft::io_errc::closed) { // the listener was closed
            throw;
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    const unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
    weft::io_context io{weft::io_options{.threads = threads}};
    auto listener = weft::tcp_listener::bind(
        io, weft::endpoint::any_v4(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0)));
    const auto port = listener.local_endpoint().port();
    std::printf("http_server on port %u, %u I/O thread(s), %s\n", port, threads, io.backend_name().c_str());
    std::fflush(stdout);
    auto server = serve(listener);
    if (argc > 1) {
        server.wait();
        return 0;
    }
    const auto at = weft::endpoint::loopback_v4(port);
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string pipelined = exchange(io, at, get + get + "GET /nope HTTP/1.1\r\n\r\n" + get).get();
    const std::string bad = exchange(io, at, "BROKEN\r\n\r\n" + get).get();
    const std::string closing = exchange(io, at, "GET / HTTP/1.0\r\n\r\n" + get).get();
    const bool ok = count(pipelined, "HTTP/1.1 200 OK") == 3 && count(pipelined, "HTTP/1.1 404") == 1 &&
                    count(pipelined, "Content-Length: 13\r\n\r\nHello, World!") == 3 &&
                    pipelined.rfind("Hello, World!") == pipelined.size() - 13 && bad.rfind("HTTP/1.1 400", 0) == 0 &&
                    count(bad, "HTTP/1.1") == 1 && count(closing, "HTTP/1.1 200 OK") == 1;
    std::printf("pipelined: %zu responses, malformed: 400 + close, HTTP/1.0: one response: %s\n",
                count(pipelined, "HTTP/1.1 "),
                ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
