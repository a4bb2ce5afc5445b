// benchmarks/echo/server_main.hpp — what every echo server of the benchmark shares: it binds
// 127.0.0.1 on a free port, prints "port N" on stdout for the driver, and serves until killed.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace echo_bench {

inline void announce(unsigned port) {
    std::printf("port %u\n", port);
    std::fflush(stdout);
}

} // namespace echo_bench
