// tests/io/udp_test.cpp — UDP sockets: send_to and receive_from over IPv4 and IPv6.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <string>

#include "io/io_support.hpp"

TEST_CASE("io: UDP send_to and receive_from over IPv4 and IPv6") {
    weft::io_context io;
    for (const bool v6 : {false, true}) {
        auto rx = weft::udp_socket::bind(io, v6 ? weft::endpoint::loopback_v6(0) : weft::endpoint::loopback_v4(0));
        auto tx = weft::udp_socket::bind(io, v6 ? weft::endpoint::loopback_v6(0) : weft::endpoint::loopback_v4(0));
        std::array<char, 64> buf{};
        auto got = rx.receive_from(buf);
        CHECK(await_get(tx.send_to(std::string_view("datagram"), rx.local_endpoint())) == 8);
        const weft::datagram d = await_get(got);
        CHECK(d.size == 8);
        CHECK(std::string(buf.data(), 8) == "datagram");
        CHECK(d.from == tx.local_endpoint());
    }
}
