// weft/io/unix.hpp — UNIX-domain sockets over the reactor: unix_endpoint (a filesystem path or
// an abstract name), unix_listener / unix_socket (streams: the same read/write surface and
// outcomes as TCP), unix_datagram_socket, and connected pairs (socketpair).
// Design note: docs/decisions/0014-processes.md; guide: docs/guide/processes.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/io/stream.hpp>
#include <weft/io/io_context.hpp>
#include <weft/io/timer.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace weft {

/// A UNIX-domain socket address: a filesystem path (`unix_endpoint::path("/run/app.sock")`),
/// an abstract name (`unix_endpoint::abstract("app")`: Linux only, no file, gone with the last
/// socket bound to it), or unnamed (a socketpair's end, a client that never bound).
///
/// Thread safety: a value type.
/// Exceptions:    a path or name longer than max_length bytes is std::system_error with
///                ENAMETOOLONG (never silently truncated); an empty path, or one containing
///                a NUL byte, is std::invalid_argument.
class unix_endpoint {
public:
    /// The longest path or abstract name: sun_path's size less its terminating NUL (107 on Linux).
    static constexpr std::size_t max_length = sizeof(sockaddr_un::sun_path) - 1;

    unix_endpoint() noexcept { clear(); }

    static unix_endpoint path(std::string_view p) {
        if (p.empty() || p.find('\0') != std::string_view::npos) {
            throw std::invalid_argument("weft: a UNIX socket path must be non-empty and contain no NUL byte");
        }
        check_length(p);
        unix_endpoint e;
        std::memcpy(e.addr_.sun_path, p.data(), p.size());
        e.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size() + 1);
        return e;
    }
    /// An abstract name (any bytes; the kernel keys it by exactly these bytes).
    static unix_endpoint abstract(std::string_view name) {
        check_length(name);
        unix_endpoint e;
        std::memcpy(e.addr_.sun_path + 1, name.data(), name.size()); // sun_path[0] == '\0'
        e.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        return e;
    }
    /// From a kernel-filled address (getsockname, accept, recvfrom).
    static unix_endpoint from_native(const sockaddr* sa, socklen_t len) noexcept {
        unix_endpoint e;
        len = std::min<socklen_t>(len, sizeof e.addr_);
        std::memcpy(&e.addr_, sa, len);
        e.addr_.sun_family = AF_UNIX;
        e.size_ = std::max<socklen_t>(len, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)));
        return e;
    }

    bool is_unnamed() const noexcept { return size_ <= offsetof(sockaddr_un, sun_path); }
    bool is_abstract() const noexcept { return !is_unnamed() && addr_.sun_path[0] == '\0'; }
    /// The path, or the abstract name without its leading NUL; empty when unnamed.
    std::string name() const {
        if (is_unnamed()) {
            return {};
        }
        const std::size_t n = size_ - offsetof(sockaddr_un, sun_path);
        if (is_abstract()) {
            return std::string(addr_.sun_path + 1, n - 1);
        }
        return std::string(addr_.sun_path, ::strnlen(addr_.sun_path, n));
    }
    /// The path, "@name" for an abstract name, "(unnamed)".
    std::string to_string() const {
        if (is_unnamed()) {
            return "(unnamed)";
        }
        return is_abstract() ? "@" + name() : name();
    }

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&addr_); }
    socklen_t size() const noexcept { return size_; }

    friend bool operator==(const unix_endpoint& a, const unix_endpoint& b) noexcept {
        return a.size_ == b.size_ && std::memcmp(&a.addr_, &b.addr_, a.size_) == 0;
    }

private:
    static void check_length(std::string_view s) {
        if (s.size() > max_length) {
            throw std::system_error(ENAMETOOLONG,
                                    std::system_category(),
                                    "weft: a UNIX socket address is at most " + std::to_string(max_length) +
                                        " bytes, this one " + std::to_string(s.size()));
        }
    }
    void clear() noexcept {
        std::memset(&addr_, 0, sizeof addr_);
        addr_.sun_family = AF_UNIX;
        size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    }

    sockaddr_un addr_;
    socklen_t size_ = 0;
};

namespace detail::io {

/// socketpair(AF_UNIX, type) with both ends close-on-exec and as the backend wants them.
inline std::pair<int, int> make_unix_pair(io_core& core, int type) {
    int fds[2];
    const int flags = SOCK_CLOEXEC | (core.nonblocking_sockets() ? SOCK_NONBLOCK : 0);
    if (::socketpair(AF_UNIX, type | flags, 0, fds) != 0) {
        throw std::system_error(errno, std::system_category(), "weft: socketpair");
    }
    return {fds[0], fds[1]};
}

/// Two handles made by `make` from a socket pair's descriptors (the second closed if the first
/// cannot be made).
template<typename Socket, typename Make>
std::pair<Socket, Socket> adopt_pair(std::pair<int, int> fds, Make make) {
    Socket first;
    try {
        first = make(fds.first);
    } catch (...) {
        ::close(fds.second);
        throw;
    }
    return {std::move(first), make(fds.second)};
}

/// getsockname / getpeername of a UNIX socket.
inline unix_endpoint unix_name(int fd, int (*get)(int, sockaddr*, socklen_t*)) {
    sockaddr_un a{};
    socklen_t len = sizeof a;
    if (get(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::system_error(errno, std::system_category(), "weft: getsockname/getpeername");
    }
    return unix_endpoint::from_native(reinterpret_cast<const sockaddr*>(&a), len);
}

/// The connect step of unix_socket::connect on a non-blocking fd: 0 connected, else the errno.
/// A UNIX stream connect completes at once; EAGAIN means the listener's backlog is full.
inline int try_unix_connect(int fd, const unix_endpoint& to) noexcept {
    for (;;) {
        if (::connect(fd, to.data(), to.size()) == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return errno;
        }
    }
}

/// Clears O_NONBLOCK (io_uring's sockets are blocking: the kernel waits for them).
inline void make_blocking(int fd) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        throw std::system_error(errno, std::system_category(), "weft: fcntl(O_NONBLOCK)");
    }
}

} // namespace detail::io

class unix_listener;
class process;

/// A connected UNIX-domain stream. read_some / write_some / read_exact / write_all /
/// shutdown_send and their outcomes are tcp_socket's (docs/guide/io.md): the errno of a failed
/// transfer (EPIPE, ECONNRESET; never SIGPIPE), io_errc::closed, io_errc::eof, 0 at end of
/// stream, a canceled read_exact's bytes given back.
///
/// Thread safety: as tcp_socket. Lifetime: as tcp_socket.
class unix_socket : public detail::io::stream_socket {
public:
    unix_socket() noexcept = default;

    /// Connects to a listener at `to`. Fails with std::system_error: ENOENT (no such path),
    /// ECONNREFUSED (nobody listens there: a stale file, or an abstract name nobody bound),
    /// EACCES. While the listener's backlog is full the connect waits (retried with a growing
    /// pause, 1 to 50 ms) until there is room, or until opts.token cancels it.
    static task<unix_socket> connect(io_context& io, const unix_endpoint& to, const op_options& opts = {}) {
        detail::io::io_core& core = io.core();
        unix_socket s(core, make_socket(core, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK)); // non-blocking to connect
        const int err = detail::io::try_unix_connect(s.native_handle(), to);
        if (err == 0) {
            s.finish_connect();
            promise<unix_socket> p;
            p.set_value(std::move(s));
            return p.get_task();
        }
        if (err != EAGAIN) {
            throw std::system_error(err, std::system_category(), "weft: connect " + to.to_string());
        }
        return connect_when_room(detail::io::core_ref(&core), std::move(s), to, opts.token);
    }

    /// A connected pair (socketpair): both ends on `io`, unnamed.
    static std::pair<unix_socket, unix_socket> pair(io_context& io) {
        detail::io::io_core& core = io.core();
        return detail::io::adopt_pair<unix_socket>(detail::io::make_unix_pair(core, SOCK_STREAM),
                                                   [&](int fd) { return unix_socket(core, fd); });
    }

    unix_endpoint local_endpoint() const { return detail::io::unix_name(checked().fd, &::getsockname); }
    unix_endpoint remote_endpoint() const { return detail::io::unix_name(checked().fd, &::getpeername); }
    /// The peer's process id, user and group at connect time (SO_PEERCRED).
    ucred peer_credentials() const {
        ucred c{};
        socklen_t len = sizeof c;
        if (::getsockopt(checked().fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: getsockopt(SO_PEERCRED)");
        }
        return c;
    }

private:
    friend class unix_listener;
    friend class process;
    friend struct detail::io::adopt_accepted_as<unix_socket>;
    unix_socket(detail::io::io_core& core, int fd) : stream_socket(core, fd) {}

    /// The socket was made non-blocking for the connect; io_uring wants it blocking.
    void finish_connect() {
        if (!core().nonblocking_sockets()) {
            detail::io::make_blocking(native_handle());
        }
    }

    static task<unix_socket>
    connect_when_room(detail::io::core_ref core, unix_socket s, unix_endpoint to, cancellation_token token) {
        auto pause = std::chrono::milliseconds(1);
        for (;;) {
            co_await detail::io::timer_on(*core.get(), detail::io::io_clock::now() + pause, {.token = token});
            const int err = detail::io::try_unix_connect(s.native_handle(), to);
            if (err == 0) {
                s.finish_connect();
                co_return std::move(s);
            }
            if (err != EAGAIN) {
                throw std::system_error(err, std::system_category(), "weft: connect " + to.to_string());
            }
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::milliseconds(50));
        }
    }
};

/// A listening UNIX-domain stream socket. accept() completes with a connected unix_socket.
///
/// The socket file stays after the listener closes (as with every peer); bind() replaces a
/// stale one: a socket file nobody listens on any more (connect says ECONNREFUSED). A live
/// listener's file is never replaced, even when its backlog is full: bind fails with
/// EADDRINUSE. A path that exists and is not a socket: EADDRINUSE too, the file untouched.
/// close() refuses new connections at once (connect: ECONNREFUSED; a path can be bound
/// again at once); the descriptor itself is closed on its I/O thread, and an abstract name
/// is free again once that has run (promptly, but not within the call).
class unix_listener : public detail::io::io_handle {
public:
    unix_listener() noexcept = default;
    unix_listener(unix_listener&&) noexcept = default;
    unix_listener& operator=(unix_listener&& o) noexcept {
        if (this != &o) {
            close();
            io_handle::operator=(std::move(o));
        }
        return *this;
    }
    ~unix_listener() { close(); }

    /// Stops accepting at once, fails the accepts in flight (io_errc::closed), closes the fd.
    void close() noexcept {
        if (is_open()) {
            ::shutdown(native_handle(), SHUT_RDWR); // connects are refused from now on
        }
        io_handle::close();
    }

    static unix_listener bind(io_context& io, const unix_endpoint& at, int backlog = SOMAXCONN) {
        if (at.is_unnamed()) {
            throw std::invalid_argument("weft: unix_listener::bind needs a path or an abstract name");
        }
        detail::io::io_core& core = io.core();
        unix_listener l(core, make_socket(core, AF_UNIX, SOCK_STREAM));
        const int fd = l.native_handle();
        if (::bind(fd, at.data(), at.size()) != 0) {
            int err = errno;
            if (err == EADDRINUSE && !at.is_abstract() && is_stale(at)) {
                ::unlink(at.name().c_str());
                err = ::bind(fd, at.data(), at.size()) == 0 ? 0 : errno;
            }
            if (err != 0) {
                throw std::system_error(err, std::system_category(), "weft: bind " + at.to_string());
            }
        }
        if (::listen(fd, backlog) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: listen");
        }
        return l;
    }

    /// The next connection. EMFILE/ENFILE and the like fail this accept only.
    task<unix_socket> accept(const op_options& opts = {}) {
        return start_op<unix_socket, detail::io::adopt_accepted_as<unix_socket>>(
            detail::io::op_kind::accept, opts, [](detail::io::io_op&) {});
    }

    unix_endpoint local_endpoint() const { return detail::io::unix_name(checked().fd, &::getsockname); }

private:
    unix_listener(detail::io::io_core& core, int fd) : io_handle(core, fd) {}

    /// A socket file whose listener is gone: connect is refused. Anything else (it connects,
    /// the backlog is full, it is not a socket) is live or not ours to remove.
    static bool is_stale(const unix_endpoint& at) {
        struct stat st {};
        if (::lstat(at.name().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
            return false;
        }
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0) {
            return false;
        }
        const int err = detail::io::try_unix_connect(probe, at);
        ::close(probe);
        return err == ECONNREFUSED;
    }
};

/// One datagram received on a UNIX datagram socket: its size (truncated to the buffer if
/// larger) and its sender (unnamed unless the sender bound a name).
struct unix_datagram {
    std::size_t size = 0;
    unix_endpoint from;
};

/// A UNIX-domain datagram socket (SOCK_DGRAM: reliable and ordered on Linux, message
/// boundaries kept). Same rules as udp_socket (policy, token, errors, buffer lifetime).
class unix_datagram_socket : public detail::io::io_handle {
public:
    unix_datagram_socket() noexcept = default;

    /// A socket bound to `at` (a path: EADDRINUSE if the file exists; remove it first).
    static unix_datagram_socket bind(io_context& io, const unix_endpoint& at) {
        unix_datagram_socket s = open(io);
        if (::bind(s.native_handle(), at.data(), at.size()) != 0) {
            throw std::system_error(errno, std::system_category(), "weft: bind " + at.to_string());
        }
        return s;
    }
    /// An unbound socket (it can send; replies need a bound name).
    static unix_datagram_socket open(io_context& io) {
        detail::io::io_core& core = io.core();
        return unix_datagram_socket(core, make_socket(core, AF_UNIX, SOCK_DGRAM));
    }
    /// A connected pair (socketpair(SOCK_DGRAM)).
    static std::pair<unix_datagram_socket, unix_datagram_socket> pair(io_context& io) {
        detail::io::io_core& core = io.core();
        return detail::io::adopt_pair<unix_datagram_socket>(detail::io::make_unix_pair(core, SOCK_DGRAM),
                                                            [&](int fd) { return unix_datagram_socket(core, fd); });
    }

    /// Sets the default peer: send() goes there, and only its datagrams are received.
    void connect(const unix_endpoint& to) {
        if (const int err = detail::io::try_unix_connect(checked().fd, to); err != 0) {
            throw std::system_error(err, std::system_category(), "weft: connect " + to.to_string());
        }
    }

    template<detail::io::lasting_byte_range B>
    task<std::size_t> send_to(B&& buffer, const unix_endpoint& to, const op_options& opts = {}) {
        return send_message(detail::io::readable_bytes(buffer), &to, opts);
    }
    /// To the connected peer (a pair's other end, or connect()'s).
    template<detail::io::lasting_byte_range B>
    task<std::size_t> send(B&& buffer, const op_options& opts = {}) {
        return send_message(detail::io::readable_bytes(buffer), nullptr, opts);
    }
    template<detail::io::lasting_byte_range B>
    task<unix_datagram> receive_from(B&& buffer, const op_options& opts = {}) {
        auto bytes = detail::io::writable_bytes(buffer);
        return start_op<unix_datagram, to_datagram>(detail::io::op_kind::recv_from, opts, [&](detail::io::io_op& op) {
            op.buf = bytes.data();
            op.len = bytes.size();
        });
    }

    unix_endpoint local_endpoint() const { return detail::io::unix_name(checked().fd, &::getsockname); }

private:
    unix_datagram_socket(detail::io::io_core& core, int fd) : io_handle(core, fd) {}

    task<std::size_t> send_message(std::span<const std::byte> bytes, const unix_endpoint* to, const op_options& opts) {
        return start_op<std::size_t, detail::io::byte_count>(
            detail::io::op_kind::send_to, opts, [&](detail::io::io_op& op) {
                op.buf = const_cast<std::byte*>(bytes.data());
                op.len = bytes.size();
                if (to != nullptr) {
                    op.x().peer = endpoint::from_native(to->data(), to->size());
                    op.x().peer_len = to->size();
                } else {
                    op.x().peer_len = 0; // no address: the connected peer
                }
            });
    }

    struct to_datagram {
        unix_datagram operator()(detail::io::io_op& op) const {
            return unix_datagram{static_cast<std::size_t>(op.result),
                                 unix_endpoint::from_native(op.x().peer.data(), op.x().msg.msg_namelen)};
        }
    };
};

} // namespace weft
