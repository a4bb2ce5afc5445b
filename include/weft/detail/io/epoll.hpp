// weft/detail/io/epoll.hpp — the epoll backend (readiness, emulating completions).
// Design note: §8/§9 of the reactor note (weft/detail/io/reactor.hpp, which has §1–§12);
// this backend's own section (§9.1–§9.8) is here, next to its code:
//
// §9 epoll backend: readiness, emulating completions.
//    §9.1 A socket is registered once, edge-triggered, for IN|OUT|RDHUP, with data.ptr = its
//         descriptor (never the fd number). Each direction keeps a FIFO of waiting ops.
//    §9.2 An op first tries its syscall at once (the speculative attempt Asio also makes);
//         only EAGAIN queues it. Because the registration is permanent and edge-triggered,
//         readiness that arrives after the EAGAIN produces an event: nothing is missed.
//    §9.3 An event runs its direction's queue head-first until EAGAIN (FIFO per direction).
//    §9.4 close(): queued ops end with ECANCELED, EPOLL_CTL_DEL, then close(2). The backend's
//         own reference keeps the descriptor alive until the current batch of events is done,
//         so an event for a closed descriptor is seen as closed and dropped, never delivered
//         to a new socket that reused the fd number.
//    §9.5 Regular files cannot be polled (EPERM): file ops run on the blocking pool; the fd is
//         closed only when no pool thread still uses it.
//    §9.6 A read that came back short (or EAGAIN) drained the socket at that instant; any
//         byte that arrives later raises an edge. So until the next EPOLLIN, a new read skips
//         its first attempt and waits (saves the EAGAIN recv an echo loop would make per
//         message). Not so once the read side has ended: the edge that carried the peer's
//         FIN (EPOLLRDHUP), a reset or an error (EPOLLHUP, EPOLLERR) may have been consumed
//         before the short read that took the last bytes, and no edge follows it. So the
//         first such event marks the descriptor `read_side_done` for good, and from then on
//         every read tries its syscall (which returns 0 or the error at once).
//    §9.7 How the backends differ:
//    | concern          | io_uring                              | epoll                                   |
//    |------------------|---------------------------------------|-----------------------------------------|
//    | model            | completion: the kernel does the I/O   | readiness: we do the syscall on EAGAIN  |
//    | first attempt    | an SQE (the kernel may poll inside)   | the syscall at once, queue on EAGAIN    |
//    | sockets          | blocking fds                          | O_NONBLOCK, registered once, ET         |
//    | regular files    | true async read/write/openat          | a bounded blocking pool                 |
//    | cancel in flight | ASYNC_CANCEL SQE, end at target's CQE | unlink from the wait queue, end now     |
//    | close with ops   | submit, cancel each, close(2)         | end queued ops, EPOLL_CTL_DEL, close(2) |
//    | stale completion | names the old op (user_data)          | names the old descriptor (data.ptr),    |
//    |                  |                                       | kept alive until the batch is done      |
//    | wake-up          | eventfd read always in flight         | eventfd in the epoll set                |
//    | timer wait       | ns timeout of submit_and_wait         | epoll_pwait2 (ns), else a timerfd (§9.8)|
//    §9.8 Timer precision. epoll_wait's timeout is in milliseconds: rounded up (never early),
//         a timer would fire up to 1 ms late. So a finite wait uses epoll_pwait2 (ns, Linux
//         5.11); on an older kernel (ENOSYS, remembered) a timerfd in the set, armed per wait
//         with the relative timeout, ends the epoll_wait instead; only if no timerfd can be
//         made does the wait fall back to whole milliseconds.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/backend.hpp>
#include <weft/detail/io/reactor.hpp>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <vector>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

namespace weft::detail::io {

class epoll_backend final : public backend {
public:
    epoll_backend() {
        epfd_ = sys().epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) {
            throw std::system_error(errno, std::system_category(), "weft: epoll_create1");
        }
        wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wakefd_ < 0) {
            const int err = errno;
            ::close(epfd_);
            throw std::system_error(err, std::system_category(), "weft: eventfd");
        }
        epoll_event ev{};
        ev.events = EPOLLIN; // level-triggered: a missed read re-reports
        ev.data.ptr = &wakefd_;
        if (sys().epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
            const int err = errno;
            ::close(wakefd_);
            ::close(epfd_);
            throw std::system_error(err, std::system_category(), "weft: epoll_ctl(eventfd)");
        }
    }
    ~epoll_backend() override {
        release_zombies();
        if (timerfd_ >= 0) {
            ::close(timerfd_);
        }
        ::close(wakefd_);
        ::close(epfd_);
    }

    void attach(reactor* r) noexcept { reactor_ = r; }
    const char* name() const noexcept override { return "epoll"; }
    bool wants_nonblocking_sockets() const noexcept override { return true; }

    void begin(io_op* op) override {
        switch (op->kind) {
        case op_kind::read_at:
        case op_kind::write_at:
        case op_kind::open_at:
            to_pool(op);
            return;
        default:
            break;
        }
        descriptor* d = op->desc;
        const bool is_read = reads(op->kind);
        op_fifo& q = is_read ? d->read_q : d->write_q;
        // §9.2: FIFO per direction, so only an op at the head may try at once; §9.6
        if (q.empty() && (!is_read || d->maybe_readable || d->has_unread())) {
            std::int64_t res = 0;
            while ((res = perform(op)) != -EAGAIN) {
                if (reactor::settle(op, res)) {
                    reactor_->finish_or_defer(op);
                    return;
                }
                if (is_read && !d->maybe_readable) {
                    break; // an exact read came back short: wait for the edge (§9.6)
                }
            }
        }
        if (!d->registered) {
            if (const int err = register_fd(d); err != 0) {
                op->result = -err;
                reactor_->finish_or_defer(op);
                return;
            }
        }
        op->phase = op_phase::waiting;
        q.push(op);
    }

    void cancel(io_op* op) noexcept override {
        if (op->phase == op_phase::waiting) {
            descriptor* d = op->desc;
            if (d->read_q.remove(op) || d->write_q.remove(op)) {
                op->result = -ECANCELED;
                d->add_ref();         // finish() drops the op's reference; a continuation may close d
                reactor_->finish(op); // a read_exact's bytes are given back (§5)
                if (!d->closed && d->has_unread() && !d->read_q.empty()) {
                    run_queue(d, d->read_q); // the next read takes them now: no edge will say so
                }
                d->release_ref();
            }
        } else if (op->phase == op_phase::blocking && reactor_->blocking().try_remove(op)) {
            --op->desc->blocking_ops;
            op->result = -ECANCELED;
            reactor_->finish(op);
        }
        // a pool thread is running it: it ends with its own result
    }

    void close(descriptor* d) noexcept override {
        flush(d->read_q);
        flush(d->write_q);
        if (d->registered) {
            sys().epoll_ctl(epfd_, EPOLL_CTL_DEL, d->fd, nullptr);
            d->registered = false;
            zombies_.push_back(d); // §9.4: keeps the backend's reference until after the batch
        }
        if (d->blocking_ops == 0) {
            sys().close(d->fd);
            d->fd = -1;
        } // else the last pool op to come back closes it (§9.5)
    }

    void poll(std::int64_t timeout_ns) override {
        release_zombies();
        const int n = timeout_ns > 0 ? wait_precisely(timeout_ns)
                                     : sys().epoll_wait(epfd_, events_, max_events, timeout_ns < 0 ? -1 : 0);
        if (n < 0) {
            return; // EINTR (or a spurious failure): the loop simply comes round again
        }
        for (int i = 0; i < n; ++i) {
            const std::uint32_t ev = events_[i].events;
            if (events_[i].data.ptr == &wakefd_ || events_[i].data.ptr == &timerfd_) {
                std::uint64_t value = 0; // (level-triggered: read, or it reports again)
                [[maybe_unused]] const ssize_t r =
                    ::read(*static_cast<int*>(events_[i].data.ptr), &value, sizeof value);
                continue;
            }
            auto* d = static_cast<descriptor*>(events_[i].data.ptr);
            if (d->closed) {
                continue; // §9.4
            }
            if ((ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
                d->read_side_done = true; // §9.6: no edge will follow the end of the stream
            }
            if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
                d->maybe_readable = true; // §9.6
                run_queue(d, d->read_q);
            }
            if (!d->closed && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
                run_queue(d, d->write_q);
            }
        }
    }

    void wake() noexcept override {
        const std::uint64_t one = 1;
        // EAGAIN: the counter is saturated, so a wake-up is pending anyway (coalesced)
        [[maybe_unused]] const ssize_t r = sys().eventfd_write(wakefd_, &one, sizeof one);
    }

    /// Runs on a blocking-pool thread.
    static void run_blocking(io_op* op) noexcept {
        std::int64_t res = 0;
        do {
            switch (op->kind) {
            case op_kind::read_at:
                res = sys().pread(op->fd, op->cursor(), op->remaining(), static_cast<off_t>(op->offset + op->done));
                break;
            case op_kind::write_at:
                res = sys().pwrite(op->fd, op->cursor(), op->remaining(), static_cast<off_t>(op->offset + op->done));
                break;
            default:
                res = sys().openat(AT_FDCWD, op->x().path.c_str(), op->open_flags | O_CLOEXEC, op->open_mode);
                break;
            }
            if (res < 0) {
                res = -errno;
            }
        } while (res == -EINTR);
        op->result = res;
        op->owner->push_completion(op); // back to the reactor, which finishes it (phase blocking)
    }

private:
    static constexpr int max_events = 128;

    static bool reads(op_kind k) noexcept {
        return k == op_kind::recv || k == op_kind::recv_from || k == op_kind::accept || k == op_kind::poll_in;
    }

    void to_pool(io_op* op) {
        op->phase = op_phase::blocking;
        if (op->desc != nullptr) {
            ++op->desc->blocking_ops;
            op->fd = op->desc->fd;
        }
        try {
            reactor_->blocking().submit(op, &run_blocking);
        } catch (const std::system_error& e) { // no thread could be started, no memory
            fail_to_pool(op, e.code().value());
        } catch (...) {
            fail_to_pool(op, ENOMEM);
        }
    }
    void fail_to_pool(io_op* op, int err) noexcept {
        if (op->desc != nullptr) {
            --op->desc->blocking_ops;
        }
        op->phase = op_phase::created;
        op->result = -(err != 0 ? err : EAGAIN);
        reactor_->finish_or_defer(op);
    }

    /// §9.8: waits up to `timeout_ns` (> 0) with the timer's precision, not epoll_wait's
    /// milliseconds: epoll_pwait2 (Linux 5.11), else a timerfd in the set, else milliseconds
    /// rounded up (never early).
    int wait_precisely(std::int64_t timeout_ns) noexcept {
        if (precise_ == precision::pwait2) {
            const timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                              static_cast<long>(timeout_ns % 1'000'000'000)};
            const int n = sys().epoll_pwait2(epfd_, events_, max_events, &ts);
            if (n >= 0 || errno != ENOSYS) {
                return n;
            }
            precise_ = make_timerfd() ? precision::timerfd : precision::milliseconds;
        }
        if (precise_ == precision::timerfd) {
            itimerspec when{};
            when.it_value = {static_cast<time_t>(timeout_ns / 1'000'000'000),
                             static_cast<long>(timeout_ns % 1'000'000'000)};
            if (sys().timerfd_settime(timerfd_, 0, &when, nullptr) == 0) {
                return sys().epoll_wait(epfd_, events_, max_events, -1); // the timerfd's event ends it
            }
        }
        const std::int64_t ms = (timeout_ns + 999'999) / 1'000'000; // never wake early
        return sys().epoll_wait(epfd_, events_, max_events, ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms));
    }
    /// The timerfd of §9.8's fallback, level-triggered in the set. False: none could be made.
    bool make_timerfd() noexcept {
        timerfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (timerfd_ < 0) {
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &timerfd_;
        if (sys().epoll_ctl(epfd_, EPOLL_CTL_ADD, timerfd_, &ev) != 0) {
            ::close(timerfd_);
            timerfd_ = -1;
            return false;
        }
        return true;
    }

    /// 0, or the errno of EPOLL_CTL_ADD.
    int register_fd(descriptor* d) noexcept {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; // §9.1
        ev.data.ptr = d;
        if (sys().epoll_ctl(epfd_, EPOLL_CTL_ADD, d->fd, &ev) != 0) {
            return errno;
        }
        d->registered = true;
        d->add_ref(); // the backend's reference (§9.4)
        return 0;
    }

    // always_inline: poll()'s hot path. g++ -O2 stopped inlining it when perform() grew the
    // given-back and read-side-done checks (callgrind, an echo round trip: 3,938 instructions
    // out of line, 3,890 inlined, 3,809 before those checks).
    [[gnu::always_inline]] void run_queue(descriptor* d, op_fifo& q) noexcept {
        while (io_op* op = q.head) {
            const std::int64_t res = perform(op);
            if (res == -EAGAIN) {
                return;
            }
            if (!reactor::settle(op, res)) {
                if (&q == &d->read_q && !d->maybe_readable) {
                    return; // §9.6: short, so drained: the rest comes with the next edge
                }
                continue; // an exact op with more to do: try again at once
            }
            q.pop();
            reactor_->finish(op);
            if (d->closed) {
                return; // a continuation closed it: the queues were flushed
            }
        }
    }

    void flush(op_fifo& q) noexcept {
        while (io_op* op = q.pop()) {
            op->closed = true;
            op->result = -ECANCELED;
            reactor_->finish(op);
        }
    }

    void release_zombies() noexcept {
        for (descriptor* d : zombies_) {
            d->release_ref();
        }
        zombies_.clear();
    }

    /// One attempt of op's syscall: bytes (or 0/new fd) or -errno; -EAGAIN: wait for readiness.
    static std::int64_t perform(io_op* op) noexcept {
        if (op->kind == op_kind::recv && op->desc->has_unread()) [[unlikely]] {
            return static_cast<std::int64_t>(reactor::take_unread(op)); // §5: given-back bytes first
        }
        const std::int64_t res = attempt(op);
        // (a short datagram says nothing: more may be queued; a short stream read drained it)
        if (reads(op->kind) && !op->desc->read_side_done &&
            (res == -EAGAIN ||
             (op->kind == op_kind::recv && res > 0 && static_cast<std::size_t>(res) < op->remaining()))) {
            op->desc->maybe_readable = false; // §9.6
        }
        return res;
    }

    static std::int64_t attempt(io_op* op) noexcept {
        const int fd = op->desc->fd;
        for (;;) {
            std::int64_t res = 0;
            switch (op->kind) {
            case op_kind::recv:
                res = sys().recv(fd, op->cursor(), op->remaining(), 0);
                break;
            case op_kind::send:
                res = sys().send(fd, op->cursor(), op->remaining(), MSG_NOSIGNAL);
                break;
            case op_kind::recv_from:
                op->x().iov = {op->buf, op->remaining()};
                op->x().msg = {};
                op->x().msg.msg_name = op->x().peer.data();
                op->x().msg.msg_namelen = sizeof(sockaddr_storage);
                op->x().msg.msg_iov = &op->x().iov;
                op->x().msg.msg_iovlen = 1;
                res = sys().recvmsg(fd, &op->x().msg, 0);
                op->x().peer_len = op->x().msg.msg_namelen;
                break;
            case op_kind::send_to:
                op->x().iov = {op->buf, op->remaining()};
                op->x().msg = {};
                op->x().msg.msg_name = op->x().peer.data();
                op->x().msg.msg_namelen = op->x().peer_len;
                op->x().msg.msg_iov = &op->x().iov;
                op->x().msg.msg_iovlen = 1;
                res = sys().sendmsg(fd, &op->x().msg, MSG_NOSIGNAL);
                break;
            case op_kind::accept:
                op->x().peer_len = sizeof(sockaddr_storage);
                res = sys().accept4(fd, op->x().peer.data(), &op->x().peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                break;
            case op_kind::connect:
                if (op->offset == 0) { // first attempt: start the handshake
                    op->offset = 1;
                    res = sys().connect(fd, op->x().peer.data(), op->x().peer_len);
                    if (res < 0 && errno == EINPROGRESS) {
                        return -EAGAIN;
                    }
                } else {
                    int err = 0;
                    socklen_t len = sizeof err;
                    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                        err = errno;
                    }
                    return err == 0 ? 0 : -err;
                }
                break;
            case op_kind::poll_in: { // readiness only (a pidfd): 0 once readable
                pollfd p{fd, POLLIN, 0};
                res = ::poll(&p, 1, 0);
                if (res == 0) {
                    return -EAGAIN;
                }
                if (res > 0) {
                    return 0;
                }
                break;
            }
            default:
                return -EINVAL;
            }
            if (res >= 0) {
                return res;
            }
            const int err = errno;
            if (err == EINTR) {
                continue; // invisible
            }
            return err == EWOULDBLOCK ? -EAGAIN : -err;
        }
    }

    reactor* reactor_ = nullptr;
    int epfd_ = -1;
    int wakefd_ = -1;
    int timerfd_ = -1; // §9.8's fallback, made when epoll_pwait2 is missing
    enum class precision : std::uint8_t {
        pwait2,
        timerfd,
        milliseconds
    };
    precision precise_ = precision::pwait2;
    epoll_event events_[max_events];
    std::vector<descriptor*> zombies_;
};

} // namespace weft::detail::io
