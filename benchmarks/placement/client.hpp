// benchmarks/placement/client.hpp — the placement benchmark's load generator: one thread, its
// own clock, N closed-loop connections (one request in flight each) plus a control connection
// for the server's statistics. Each window is bounded in time and in requests; afterwards the
// client stops sending and drains every outstanding reply, so cells never overlap.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "placement/histogram.hpp"
#include "placement/protocol.hpp"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace placement {

using clock_type = std::chrono::steady_clock;

/// What a window's requests ask for: a fixed amount of work, or the mixed load (10% heavy).
struct work_spec {
    std::string label; ///< "0", "1", ..., "mixed"
    std::uint32_t light_ns = 0;
    std::uint32_t heavy_ns = 0; ///< used for one request in ten when > 0
};

struct window_result {
    double requests_per_s = 0;
    std::uint64_t requests = 0;
    histogram latency;          ///< ns, send to full reply, every request of the window
    server_stats before, after; ///< the server's counters at the window's start and end
    std::uint64_t requests_between_stats = 0;
};

class client {
public:
    client(unsigned port, int conns) : port_(port) {
        ep_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            throw std::runtime_error("epoll_create1 failed");
        }
        conns_.resize(static_cast<std::size_t>(conns) + 1); // the last one is the control connection
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            conns_[i].fd = connect_loopback();
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = i;
            ::epoll_ctl(ep_, EPOLL_CTL_ADD, conns_[i].fd, &ev);
        }
    }
    ~client() {
        for (auto& c : conns_) {
            ::close(c.fd);
        }
        ::close(ep_);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Warm-up, then a measured window of `seconds` (or `max_requests`, whichever comes first).
    window_result run(const work_spec& work, double warmup_s, double seconds, std::uint64_t max_requests) {
        window_result out;
        const auto start = clock_type::now();
        const auto measure_from = start + to_duration(warmup_s);
        auto measure_to = measure_from + to_duration(seconds);
        const std::size_t control = conns_.size() - 1;
        enum class phase {
            warmup,
            measuring,
            draining
        } ph = phase::warmup;
        int stats_replies = 0;
        std::uint64_t completed_at_stats1 = 0;
        for (std::size_t i = 0; i < control; ++i) {
            send_request(i, work);
        }
        std::size_t outstanding = control;
        bool stats_outstanding = false;
        epoll_event events[256];
        const auto give_up = measure_to + std::chrono::seconds(60);
        for (;;) {
            auto now = clock_type::now();
            if (ph == phase::warmup && now >= measure_from) {
                ph = phase::measuring;
                send_stats_request(control);
                stats_outstanding = true;
            }
            if (ph == phase::measuring && (now >= measure_to || out.requests >= max_requests)) {
                measure_to = now;
                ph = phase::draining;
                if (!stats_outstanding) {
                    send_stats_request(control);
                    stats_outstanding = true;
                }
            }
            if (ph == phase::draining && outstanding == 0 && stats_replies == 2) {
                break;
            }
            if (now > give_up) {
                throw std::runtime_error("the server stopped answering (60 s past the window)");
            }
            const int n = ::epoll_wait(ep_, events, 256, 10);
            now = clock_type::now();
            for (int e = 0; e < n; ++e) {
                const auto i = static_cast<std::size_t>(events[e].data.u64);
                if (!receive(i)) {
                    continue;
                }
                if (i == control) {
                    std::uint64_t seq = 0;
                    const server_stats s = decode_stats(conns_[i].in, seq);
                    stats_outstanding = false;
                    if (++stats_replies == 1) {
                        out.before = s;
                        completed_at_stats1 = completed_;
                        if (ph == phase::draining) { // the window ended before the first reply
                            send_stats_request(control);
                            stats_outstanding = true;
                        }
                    } else {
                        out.after = s;
                        out.requests_between_stats = completed_ - completed_at_stats1;
                    }
                    continue;
                }
                auto& c = conns_[i];
                const request echoed = decode_request(c.in);
                if (echoed.sequence != c.sequence) {
                    throw std::runtime_error("a reply does not match its request");
                }
                ++completed_;
                if (ph == phase::measuring) {
                    ++out.requests;
                    out.latency.record(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent_at).count()));
                }
                if (ph == phase::draining) {
                    --outstanding;
                } else {
                    send_request(i, work);
                }
            }
        }
        out.requests_per_s =
            static_cast<double>(out.requests) / std::chrono::duration<double>(measure_to - measure_from).count();
        return out;
    }

private:
    struct connection {
        int fd = -1;
        std::size_t got = 0;
        std::uint64_t sequence = 0;
        clock_type::time_point sent_at;
        unsigned char in[message_bytes];
    };

    static clock_type::duration to_duration(double s) {
        return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
    }

    int connect_loopback() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_port = htons(static_cast<std::uint16_t>(port_));
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
            throw std::runtime_error("cannot connect to the server");
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }

    void send_all(int fd, const unsigned char* data) {
        std::size_t sent = 0;
        while (sent < message_bytes) { // 64 bytes into an empty socket buffer: one call
            const ssize_t r = ::send(fd, data + sent, message_bytes - sent, MSG_NOSIGNAL);
            if (r <= 0) {
                throw std::runtime_error("send failed: the server closed a connection");
            }
            sent += static_cast<std::size_t>(r);
        }
    }

    void send_request(std::size_t i, const work_spec& work) {
        auto& c = conns_[i];
        request r;
        r.work_ns = work.light_ns;
        if (work.heavy_ns > 0) {
            rng_ ^= rng_ << 13; // xorshift64: the same mixed sequence every run
            rng_ ^= rng_ >> 7;
            rng_ ^= rng_ << 17;
            if (rng_ % 10 == 0) {
                r.work_ns = work.heavy_ns;
            }
        }
        r.sequence = ++c.sequence;
        unsigned char out[message_bytes];
        encode(r, out);
        c.sent_at = clock_type::now();
        send_all(c.fd, out);
    }

    void send_stats_request(std::size_t i) {
        request r;
        r.what = kind::stats;
        r.sequence = ++conns_[i].sequence;
        unsigned char out[message_bytes];
        encode(r, out);
        send_all(conns_[i].fd, out);
    }

    /// Reads what is there; true when a whole reply has arrived.
    bool receive(std::size_t i) {
        auto& c = conns_[i];
        const ssize_t r = ::recv(c.fd, c.in + c.got, message_bytes - c.got, 0);
        if (r <= 0) {
            throw std::runtime_error("the server closed a connection");
        }
        c.got += static_cast<std::size_t>(r);
        if (c.got < message_bytes) {
            return false;
        }
        c.got = 0;
        return true;
    }

    unsigned port_;
    int ep_ = -1;
    std::vector<connection> conns_;
    std::uint64_t completed_ = 0;
    std::uint64_t rng_ = 0x2545f4914f6cdd1dULL;
};

} // namespace placement
