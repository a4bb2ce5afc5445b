// weft/io/udp.hpp — UDP over the reactor: send_to / receive_from, IPv4 and IPv6.
// Design note: docs/decisions/0006-io-reactor.md; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/handle.hpp>
#include <weft/io/endpoint.hpp>
#include <weft/io/io_context.hpp>

#include <cerrno>
#include <system_error>

#include <sys/socket.h>

namespace weft {

/// One datagram received: its size (truncated to the buffer if larger) and its sender.
struct datagram {
    std::size_t size = 0;
    endpoint from;
};

/// A UDP socket. Same rules as tcp_socket (policy, token, errors, buffer lifetime).
class udp_socket : public detail::io::io_handle {
public:
    udp_socket() noexcept = default;

    /// A socket bound to `at` (port 0: any free port).
    static udp_socket bind(io_context& io, const endpoint& at) {
        udp_socket s = open(io, at.family());
        if (::bind(s.native_handle(), at.data(), at.size()) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: bind " + at.to_string());
        }
        return s;
    }
    /// An unbound socket of `family` (AF_INET or AF_INET6), for sending.
    static udp_socket open(io_context& io, int family) {
        detail::io::io_core& core = io.core();
        return udp_socket(core, make_socket(core, family, SOCK_DGRAM));
    }

    template<detail::io::lasting_byte_range B>
    task<std::size_t> send_to(B&& buffer, const endpoint& to, const op_options& opts = {}) {
        auto bytes = detail::io::readable_bytes(buffer);
        return start_op<std::size_t, detail::io::byte_count>(
            detail::io::op_kind::send_to, opts, [&](detail::io::io_op& op) {
                op.buf = const_cast<std::byte*>(bytes.data());
                op.len = bytes.size();
                op.x().peer = to;
                op.x().peer_len = to.size();
            });
    }
    template<detail::io::lasting_byte_range B>
    task<datagram> receive_from(B&& buffer, const op_options& opts = {}) {
        auto bytes = detail::io::writable_bytes(buffer);
        return start_op<datagram, to_datagram>(detail::io::op_kind::recv_from, opts, [&](detail::io::io_op& op) {
            op.buf = bytes.data();
            op.len = bytes.size();
        });
    }

    endpoint local_endpoint() const { return socket_name(&::getsockname); }

private:
    udp_socket(detail::io::io_core& core, int fd) : io_handle(core, fd) {}

    struct to_datagram {
        datagram operator()(detail::io::io_op& op) const {
            return datagram{static_cast<std::size_t>(op.result),
                            endpoint::from_native(op.x().peer.data(), op.x().msg.msg_namelen)};
        }
    };
};

} // namespace weft
