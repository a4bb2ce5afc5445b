// echo_client: sends lines to an echo server and checks what comes back, with a deadline.
// `echo_client HOST PORT [COUNT]`; with no argument it starts a small echo server of its own.
#include <weft/weft.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace std::chrono_literals;

weft::task<int> talk(weft::io_context& io, weft::endpoint server, int count) {
    weft::tcp_socket s = co_await weft::with_timeout(io, weft::tcp_socket::connect(io, server), 5s);
    s.set_no_delay(true);
    int good = 0;
    for (int i = 0; i < count; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        co_await s.write_all(line);
        std::string back(line.size(), '\0');
        co_await weft::with_timeout(io, s.read_exact(back), 5s); // timeout_error if it stalls
        good += back == line ? 1 : 0;
    }
    co_return good;
}

weft::task<void> tiny_echo_server(weft::tcp_listener& l) {
    weft::tcp_socket s = co_await l.accept();
    std::array<char, 512> buf;
    while (std::size_t n = co_await s.read_some(buf)) {
        co_await s.write_all(std::span(buf.data(), n));
    }
    s.close();
}

int main(int argc, char** argv) {
    weft::io_context io;
    const int count = argc > 3 ? std::atoi(argv[3]) : 100;
    weft::tcp_listener own;
    weft::task<void> own_server;
    weft::endpoint server;
    if (argc > 2) {
        server = weft::endpoint::parse(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])));
    } else {
        own = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
        own_server = tiny_echo_server(own);
        server = own.local_endpoint();
    }
    try {
        const int good = talk(io, server, count).get();
        std::printf("%d/%d lines echoed by %s\n", good, count, server.to_string().c_str());
        return good == count ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}
