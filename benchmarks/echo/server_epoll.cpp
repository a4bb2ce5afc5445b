// benchmarks/echo/server_epoll.cpp — the floor of the echo benchmark: a plain single-threaded
// level-triggered epoll loop, read then write back at once, nothing else.
#include <cerrno>

#include "echo/server_main.hpp"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main() {
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(lfd, SOMAXCONN) != 0) {
        return 1;
    }
    socklen_t len = sizeof at;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&at), &len);
    echo_bench::announce(ntohs(at.sin_port));
    const int ep = ::epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    epoll_event events[128];
    char buf[4096];
    for (;;) {
        const int n = ::epoll_wait(ep, events, 128, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == lfd) {
                const int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
                if (c >= 0) {
                    const int one = 1;
                    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
            if (got <= 0) {
                if (got == 0 || errno != EAGAIN) {
                    ::close(fd);
                }
                continue;
            }
            for (ssize_t sent = 0; sent < got;) { // 64-byte messages: one send, in practice
                const ssize_t w = ::send(fd, buf + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    break;
                }
                sent += w > 0 ? w : 0;
            }
        }
    }
}
