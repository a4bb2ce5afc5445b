// echo_server: a TCP echo server on weft's reactor. `echo_server PORT` serves until killed;
// with no argument it serves on a free port, runs one client against itself, and exits.
#include <weft/weft.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

weft::task<void> echo(weft::tcp_socket s) {
    std::array<std::byte, 4096> buf;
    try {
        for (;;) {
            std::size_t n = co_await s.read_some(buf); // resumes on the I/O thread
            if (n == 0) {
                break; // the peer closed: end of stream
            }
            co_await s.write_all(std::span(buf.data(), n)); // short writes are resumed
        }
    } catch (const std::system_error& e) { // ECONNRESET and friends
        std::fprintf(stderr, "connection: %s\n", e.what());
    }
    s.close();
}

weft::task<void> serve(weft::tcp_listener& listener, int connections) {
    for (int i = 0; connections < 0 || i < connections; ++i) {
        weft::tcp_socket s = co_await listener.accept();
        (void)echo(std::move(s)); // runs on by itself; the frame lives until it ends
    }
}

weft::task<bool> self_test(weft::io_context& io, weft::endpoint at) {
    weft::tcp_socket c = co_await weft::tcp_socket::connect(io, at);
    std::string msg = "hello, echo";
    co_await c.write_all(msg);
    std::string back(msg.size(), '\0');
    co_await c.read_exact(back);
    co_return back == msg;
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    weft::io_context io;
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::any_v4(port));
    std::printf("echo_server on port %u (%s)\n", listener.local_endpoint().port(), io.backend_name().c_str());
    if (argc > 1) {
        serve(listener, -1).wait(); // forever
        return 0;
    }
    auto server = serve(listener, 1);
    const bool ok = self_test(io, weft::endpoint::loopback_v4(listener.local_endpoint().port())).get();
    server.get();
    std::printf("%s\n", ok ? "echoed" : "mismatch");
    return ok ? 0 : 1;
}
