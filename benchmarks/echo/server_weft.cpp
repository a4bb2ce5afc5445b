// benchmarks/echo/server_weft.cpp — the weft echo server of the echo benchmark: one I/O thread,
// a coroutine per connection (read_some, write_all). argv[1]: uring | epoll (the backend);
// argv[2] (optional): inline | pool — the continuation policy (pool: a 1-worker thread_pool).
#include <weft/weft.hpp>

#include <array>
#include <cstring>
#include <optional>

#include "echo/server_main.hpp"

namespace {

weft::task<void> session(weft::tcp_socket s) {
    std::array<std::byte, 4096> buf;
    try {
        while (std::size_t n = co_await s.read_some(buf)) {
            co_await s.write_all(std::span(buf.data(), n));
        }
    } catch (const std::system_error&) {
    }
    s.close();
}

weft::task<void> serve(weft::tcp_listener& l) {
    for (;;) {
        weft::tcp_socket s = co_await l.accept();
        s.set_no_delay(true);
        (void)session(std::move(s));
    }
}

} // namespace

int main(int argc, char** argv) {
    const bool epoll = argc > 1 && std::strcmp(argv[1], "epoll") == 0;
    const bool hop = argc > 2 && std::strcmp(argv[2], "pool") == 0;
    std::optional<weft::thread_pool> pool;
    weft::io_options opts{.backend = epoll ? weft::io_backend::epoll : weft::io_backend::uring};
    if (hop) {
        pool.emplace(weft::pool_options{.threads = 1});
        opts.policy = weft::io_policy::on(*pool);
    }
    weft::io_context io{opts};
    if (!epoll && io.backend_name() != "io_uring") {
        std::fprintf(stderr, "io_uring unavailable: %s\n", io.fallback_reason().c_str());
        return 2;
    }
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    echo_bench::announce(listener.local_endpoint().port());
    serve(listener).wait();
}
