// weft/detail/io/uring.hpp — the io_uring backend (true completions, through liburing).
// Design note: §8/§9 of the reactor note (weft/detail/io/reactor.hpp, which has §1–§12);
// this backend's own section is here, next to its code:
//
// §8 io_uring backend.
//    §8.1 Ring ordering. liburing's io_uring_get_sqe/io_uring_submit publish the SQ tail with
//         a release store and read the CQ tail with an acquire load; with one thread per ring
//         and no SQPOLL that is all we need: we add no barriers of our own. Completions are
//         copied out of the CQ in batches of up to 128 and the CQ head is advanced before any
//         of them is processed, so a continuation that starts new I/O never races the CQ walk.
//         The eventfd always has a read in flight, so a wake-up is just another CQE.
//    §8.2 Ops in the kernel. One SQE per attempt, user_data = the op's address; the kernel may
//         hold its buffer until the CQE, so the op is finished only at its terminal CQE —
//         never at a cancel. A cancel is its own SQE (IORING_OP_ASYNC_CANCEL by user_data)
//         with user_data 0; its CQE (0, -EALREADY, -ENOENT), in whichever order it arrives
//         relative to the target's, is ignored: the target's CQE alone says how it ended
//         (-ECANCELED, or the result it reached first). -EINTR/-EAGAIN is re-issued. So that
//         two writes on one socket never interleave (a short write_all re-issued after a later
//         write's SQE), a socket has one stream write in the kernel at a time: the others wait
//         in its write_q (phase `waiting`, FIFO) and the next is issued when one ends — before
//         that one's continuation runs. Stream reads likewise, one in the kernel, the others in
//         its read_q: a canceled read_exact gives its bytes back (§5) before the next read
//         starts, so none is read out of order. Cancel and close end a queued op at once. Fd reuse:
//         the kernel pins the file at submission, and close() first submits every pending SQE,
//         cancels the fd's ops and only then calls close(2): a new socket that gets the same
//         fd number can never receive an old op's completion, which names the old op.
//    §8.3 Back-pressure. SQ full: submit what is queued and retry; if still full, the op waits
//         in a backlog FIFO issued at the next loop turn (a cancel likewise waits in a retry
//         list). CQ overflow: the ring is created with the kernel's NODROP behaviour
//         (FEAT_NODROP, 5.5+): overflowed CQEs wait in the kernel; when
//         io_uring_cq_has_overflow() says so we flush them (io_uring_get_events) and reap
//         again. -EBUSY/-EAGAIN from submit: reap first, the SQEs stay queued and go with the
//         next submit. -EINTR/-ETIME from the wait: the loop comes round.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/backend.hpp>
#include <weft/detail/io/reactor.hpp>

#if WEFT_HAS_URING

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>
#include <vector>

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>

namespace weft::detail::io {

class uring_backend final : public backend {
public:
    /// Throws std::system_error when no ring can be set up (the caller falls back to epoll).
    explicit uring_backend(unsigned entries) {
        io_uring_params params{};
        params.flags = IORING_SETUP_COOP_TASKRUN;
        int rc = sys().uring_queue_init_params(entries, &ring_, &params);
        if (rc == -EINVAL) { // an older kernel without COOP_TASKRUN
            params = {};
            rc = sys().uring_queue_init_params(entries, &ring_, &params);
        }
        if (rc < 0) {
            throw std::system_error(-rc, std::system_category(), "weft: io_uring_queue_init");
        }
        wakefd_ = ::eventfd(0, EFD_CLOEXEC);
        if (wakefd_ < 0) {
            const int err = errno;
            ::io_uring_queue_exit(&ring_);
            throw std::system_error(err, std::system_category(), "weft: eventfd");
        }
        arm_wake();
    }
    ~uring_backend() override {
        ::io_uring_queue_exit(&ring_); // the wake read is canceled by the teardown
        for (const int fd : deferred_closes_) {
            sys().close(fd);
        }
        ::close(wakefd_);
    }

    void attach(reactor* r) noexcept { reactor_ = r; }
    const char* name() const noexcept override { return "io_uring"; }
    bool wants_nonblocking_sockets() const noexcept override { return false; }

    void begin(io_op* op) override {
        if (op->kind == op_kind::send && op->desc != nullptr) {
            if (op->desc->send_in_kernel) { // §8.2: one stream write per socket in the kernel
                op->phase = op_phase::waiting;
                op->desc->write_q.push(op);
                return;
            }
            op->desc->send_in_kernel = true;
        } else if (op->kind == op_kind::recv && op->desc != nullptr) {
            if (op->desc->recv_in_kernel) { // §8.2: one stream read per socket in the kernel
                op->phase = op_phase::waiting;
                op->desc->read_q.push(op);
                return;
            }
            if (const std::size_t n = reactor::take_unread(op);
                n != 0 && reactor::settle(op, static_cast<std::int64_t>(n))) {
                reactor_->finish_or_defer(op); // bytes given back by a canceled read_exact (§5)
                return;
            }
            op->desc->recv_in_kernel = true;
        }
        op->phase = op_phase::in_kernel;
        if (descriptor* d = op->desc; d != nullptr) { // for close(): the fd's ops in the kernel
            op->desc_prev = nullptr;
            op->desc_next = d->kernel_ops;
            if (d->kernel_ops != nullptr) {
                d->kernel_ops->desc_prev = op;
            }
            d->kernel_ops = op;
        }
        issue(op);
    }

    void cancel(io_op* op) noexcept override {
        if (op->phase == op_phase::waiting) { // queued behind its socket's read or write
            if (!op->desc->read_q.remove(op)) {
                op->desc->write_q.remove(op);
            }
            op->result = -ECANCELED;
            reactor_->finish(op);
            return;
        }
        if (op->phase != op_phase::in_kernel || op->cancel_sent) {
            return;
        }
        if (backlog_.remove(op)) { // never reached the kernel: end it now
            op->result = -ECANCELED;
            end(op);
            return;
        }
        io_uring_sqe* sqe = sqe_or_null();
        if (sqe == nullptr) { // SQ full even after a submit: retried at the next poll (§8.3)
            if (!op->cancel_wanted) {
                op->cancel_wanted = true;
                cancel_retry_.push_back(op);
            }
            return;
        }
        op->cancel_sent = true;
        if (const int fake = sys().inject(op_kind::cancel); fake != 0) {
            ::io_uring_prep_nop(sqe); // tests: the cancel "fails" (EALREADY, ENOENT); the op ends by itself
        } else {
            ::io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(op), 0);
        }
        ::io_uring_sqe_set_data64(sqe, 0);
    }

    void close(descriptor* d) noexcept override {
        for (op_fifo* q : {&d->read_q, &d->write_q}) { // queued reads and writes never reach the kernel
            while (io_op* op = q->pop()) {
                op->closed = true;
                op->result = -ECANCELED;
                reactor_->finish(op);
            }
        }
        for (io_op* op = d->kernel_ops; op != nullptr;) {
            io_op* next = op->desc_next; // cancel() may end a backlogged op (unlinking it)
            op->closed = true;
            cancel(op);
            op = next;
        }
        submit(); // §8.2: every SQE naming this fd number is in the kernel before close(2)
        if (::io_uring_sq_ready(&ring_) == 0) {
            sys().close(d->fd);
        } else {
            deferred_closes_.push_back(d->fd); // submit refused (-EBUSY): close after it succeeds
        }
        d->fd = -1;
    }

    void poll(std::int64_t timeout_ns) override {
        issue_backlog();
        retry_cancels();
        if (timeout_ns == 0) {
            submit();
        } else {
            __kernel_timespec ts{};
            __kernel_timespec* tsp = nullptr;
            if (timeout_ns > 0) {
                ts.tv_sec = timeout_ns / 1'000'000'000;
                ts.tv_nsec = timeout_ns % 1'000'000'000;
                tsp = &ts;
            }
            io_uring_cqe* cqe = nullptr;
            pending_ = 0;
            // -EINTR, -ETIME: come round again; -EBUSY/-EAGAIN: reap below, resubmit next turn
            (void)sys().uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
            close_deferred();
        }
        reap();
    }

    bool can_spin() const noexcept override { return true; }
    void submit_pending() noexcept override {
        issue_backlog();
        retry_cancels();
        submit();
    }
    bool completions_ready() const noexcept override {
        return ::io_uring_cq_ready(&ring_) != 0 || ::io_uring_cq_has_overflow(&ring_);
    }

    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t r = sys().eventfd_write(wakefd_, &one, sizeof one);
    }

private:
    struct completion {
        std::uint64_t data;
        int res;
    };
    static constexpr unsigned batch = 128;

    io_uring_sqe* sqe_or_null() noexcept {
        io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
        if (sqe == nullptr) {
            submit();
            sqe = ::io_uring_get_sqe(&ring_);
        }
        if (sqe != nullptr) {
            ++pending_;
        }
        return sqe;
    }

    void submit() noexcept {
        if (pending_ != 0 || ::io_uring_sq_ready(&ring_) != 0) {
            const int rc = sys().uring_submit(&ring_);
            if (rc >= 0) {
                pending_ = 0;
            } // else (-EBUSY, -EAGAIN, -EINTR): the SQEs stay queued for the next submit (§8.3)
        }
        close_deferred();
    }
    /// fds whose close waited for their SQEs to reach the kernel (§8.2).
    void close_deferred() noexcept {
        if (!deferred_closes_.empty() && ::io_uring_sq_ready(&ring_) == 0) {
            for (const int fd : deferred_closes_) {
                sys().close(fd);
            }
            deferred_closes_.clear();
        }
    }

    void issue(io_op* op) noexcept {
        io_uring_sqe* sqe = sqe_or_null();
        if (sqe == nullptr) {
            backlog_.push(op);
            return;
        }
        const unsigned max_len = 1u << 30; // the SQE length is 32-bit: larger requests go short
        const auto len = static_cast<unsigned>(std::min<std::size_t>(op->remaining(), max_len));
        const int fd = op->desc != nullptr ? op->desc->fd : -1;
        op->injected = sys().inject(op->kind);
        if (op->injected != 0) { // fault injection (tests): a NOP completes with the error
            ::io_uring_prep_nop(sqe);
            ::io_uring_sqe_set_data(sqe, op);
            return;
        }
        switch (op->kind) {
        case op_kind::recv:
            ::io_uring_prep_recv(sqe, fd, op->cursor(), len, 0);
            break;
        case op_kind::send:
            ::io_uring_prep_send(sqe, fd, op->cursor(), len, MSG_NOSIGNAL);
            break;
        case op_kind::recv_from:
            op->x().iov = {op->buf, len};
            op->x().msg = {};
            op->x().msg.msg_name = op->x().peer.data();
            op->x().msg.msg_namelen = sizeof(sockaddr_storage);
            op->x().msg.msg_iov = &op->x().iov;
            op->x().msg.msg_iovlen = 1;
            ::io_uring_prep_recvmsg(sqe, fd, &op->x().msg, 0);
            break;
        case op_kind::send_to:
            op->x().iov = {op->buf, len};
            op->x().msg = {};
            op->x().msg.msg_name = op->x().peer.data();
            op->x().msg.msg_namelen = op->x().peer_len;
            op->x().msg.msg_iov = &op->x().iov;
            op->x().msg.msg_iovlen = 1;
            ::io_uring_prep_sendmsg(sqe, fd, &op->x().msg, MSG_NOSIGNAL);
            break;
        case op_kind::accept:
            op->x().peer_len = sizeof(sockaddr_storage);
            ::io_uring_prep_accept(sqe, fd, op->x().peer.data(), &op->x().peer_len, SOCK_CLOEXEC);
            break;
        case op_kind::connect:
            ::io_uring_prep_connect(sqe, fd, op->x().peer.data(), op->x().peer_len);
            break;
        case op_kind::read_at:
            ::io_uring_prep_read(sqe, fd, op->cursor(), len, op->offset + op->done);
            break;
        case op_kind::write_at:
            ::io_uring_prep_write(sqe, fd, op->cursor(), len, op->offset + op->done);
            break;
        case op_kind::open_at:
            ::io_uring_prep_openat(sqe, AT_FDCWD, op->x().path.c_str(), op->open_flags | O_CLOEXEC, op->open_mode);
            break;
        case op_kind::poll_in:
            ::io_uring_prep_poll_add(sqe, fd, POLLIN);
            break;
        default:
            ::io_uring_prep_nop(sqe);
            break;
        }
        ::io_uring_sqe_set_data(sqe, op);
    }

    void retry_cancels() noexcept {
        std::vector<io_op*> again;
        again.swap(cancel_retry_);
        for (io_op* op : again) {
            op->cancel_wanted = false;
            cancel(op); // may queue it again
        }
    }

    void issue_backlog() noexcept {
        op_fifo waiting = std::exchange(backlog_, op_fifo{});
        while (io_op* op = waiting.pop()) {
            issue(op);
        }
    }

    void arm_wake() noexcept {
        io_uring_sqe* sqe = sqe_or_null();
        if (sqe != nullptr) {
            ::io_uring_prep_read(sqe, wakefd_, &wake_value_, sizeof wake_value_, 0);
            ::io_uring_sqe_set_data(sqe, &wake_value_);
        }
    }

    void reap() noexcept {
        completion got[batch];
        for (;;) {
            io_uring_cqe* cqes[batch];
            const unsigned n = ::io_uring_peek_batch_cqe(&ring_, cqes, batch);
            for (unsigned i = 0; i < n; ++i) {
                got[i] = {cqes[i]->user_data, cqes[i]->res};
            }
            ::io_uring_cq_advance(&ring_, n); // §8.1: the CQ is free before any op runs
            if (sys().reverse_cqe_batches) {
                std::reverse(got, got + n);
            }
            for (unsigned i = 0; i < n; ++i) {
                handle(got[i]);
            }
            if (n == batch) {
                continue;
            }
            if (::io_uring_cq_has_overflow(&ring_)) { // §8.3: flush the kernel's backlog
                (void)::io_uring_get_events(&ring_);
                continue;
            }
            return;
        }
    }

    void handle(const completion& c) noexcept {
        if (c.data == 0) {
            return; // §8.2: a cancel's own CQE (0, -EALREADY, -ENOENT) says nothing
        }
        if (c.data == reinterpret_cast<std::uint64_t>(&wake_value_)) {
            arm_wake();
            return;
        }
        auto* op = reinterpret_cast<io_op*>(c.data);
        int res = op->injected != 0 ? std::exchange(op->injected, 0) : c.res;
        if (res == -EINTR || res == -EAGAIN) {
            if (!op->cancel_sent) {
                issue(op); // invisible: try again
                return;
            }
            res = -ECANCELED; // interrupted by our own cancel
        }
        if (!reactor::settle(op, res)) {
            if (op->closed || op->cancel_sent) {
                op->result = -ECANCELED; // asked to stop: report the cancel, not the partial count
            } else {
                issue(op); // short exact I/O: the rest (§8.2)
                return;
            }
        }
        end(op);
    }

    void end(io_op* op) noexcept {
        if (op->cancel_wanted) { // it ended before its cancel could be sent
            op->cancel_wanted = false;
            std::erase(cancel_retry_, op);
        }
        if (descriptor* d = op->desc; d != nullptr) {
            (op->desc_prev != nullptr ? op->desc_prev->desc_next : d->kernel_ops) = op->desc_next;
            if (op->desc_next != nullptr) {
                op->desc_next->desc_prev = op->desc_prev;
            }
            op->desc_prev = op->desc_next = nullptr;
            if (op->kind == op_kind::send) {
                d->send_in_kernel = false;
                if (io_op* next = d->write_q.pop()) {
                    begin(next); // the next write goes before any this one's continuation starts
                }
            } else if (op->kind == op_kind::recv) {
                d->recv_in_kernel = false;
                reactor::give_back(op); // a canceled read_exact's bytes, before the next read (§5)
                if (io_op* next = d->read_q.pop()) {
                    begin(next);
                }
            }
        }
        reactor_->finish(op);
    }

    reactor* reactor_ = nullptr;
    io_uring ring_{};
    int wakefd_ = -1;
    std::uint64_t wake_value_ = 0;
    unsigned pending_ = 0;
    op_fifo backlog_;
    std::vector<int> deferred_closes_;
    std::vector<io_op*> cancel_retry_; // ops whose cancel found the SQ full (cancel_wanted)
};

} // namespace weft::detail::io

#endif // WEFT_HAS_URING
