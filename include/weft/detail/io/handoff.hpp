// weft/detail/io/handoff.hpp — what other threads hand a reactor besides op starts: stream
// writes, which may be sent at once on the calling thread (§6 of the reactor note), and close
// requests, which still reach a reactor that is shutting down (§4, late admission).
// Design note: weft/detail/io/reactor.hpp §4 and §6.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/io/op.hpp>
#include <weft/detail/io/reactor.hpp>
#include <weft/detail/io/sys.hpp>
#include <weft/detail/spin.hpp>
#include <weft/errors.hpp>

#include <cerrno>
#include <cstdint>
#include <new>
#include <thread>

#include <sys/socket.h>

namespace weft::detail::io {

/// Starts a stream write (any thread). Writes on one socket keep the order they were
/// started in, and one started off the I/O thread may be sent at once on the calling
/// thread — the path a pool worker answering a request takes: no hand-over to the I/O
/// thread and no continuation hop when the bytes fit in the socket buffer.
/// The descriptor's sends_pending counts the writes not finished; its flag bit says "a
/// caller is sending now". A write sent on the caller needs the word at 0 (nothing it could
/// overtake) and the token not canceled; what it cannot send (a full buffer, EAGAIN) is
/// queued before the flag drops, and every other write waits for the flag to drop first
/// (a send with MSG_DONTWAIT and a queue push: short), so it is queued behind that rest.
/// An I/O-thread write with others pending goes through the incoming queue too, behind
/// any of them still there. Safe against close(): the caller holds the handle, and a handle
/// is not closed while one of its methods runs.
inline void reactor::start_send(io_op* op) {
    descriptor* d = op->desc;
    op->owner = this;
    op->counted_send = true;
    const bool here = on_this_thread();
    std::uint32_t idle = 0;
    if (cfg_.writes_on_caller && !here && !op->token.is_cancellation_requested() &&
        // order: acquire — pairs with the release of the write before ours (uncount_send,
        //        or the flag's drop): its bytes went to the kernel or its op was queued
        d->sends_pending.compare_exchange_strong(idle, caller_sending | 1u, acquire, relaxed)) {
        if (send_on_caller(op)) {
            return;
        }
        struct drop_flag {
            descriptor* d;
            // order: release — our queued rest happens before the writes that waited
            ~drop_flag() { d->sends_pending.fetch_sub(caller_sending, release); }
        } drop{d};
        start(op);
        return;
    }
    // order: acquire — as above, for the flag: a caller's rest is queued before ours
    std::uint32_t before = d->sends_pending.fetch_add(1, acquire);
    for (unsigned spins = 0; (before & caller_sending) != 0; ++spins) {
        if (spins < 64) {
            cpu_relax();
        } else {
            std::this_thread::yield(); // the sender may have been preempted mid-send
        }
        before = d->sends_pending.load(acquire); // order: acquire — as above
    }
    if (here && before != 0 && !stopping_) {
        // others pending (or a caller's rest just queued, if we waited): maybe still in the
        // incoming queue, so ours goes behind them
        if (push(op)) {
            return;
        }
        abandon_unstarted(op);
        throw shutdown_error("weft: io_context is shut down");
    }
    start(op);
}

/// start_send's attempt on the calling thread, holding the flag. True: `op` is complete
/// (its task ready, or failed with the send's error) and the word is released. False: the
/// rest (maybe all) is for the reactor; `done` counts what was sent.
inline bool reactor::send_on_caller(io_op* op) noexcept {
    descriptor* d = op->desc;
    ssize_t r = -1;
    int err = 0;
    if (const int injected = sys().inject(op_kind::send); injected != 0) {
        err = -injected; // tests: the fault the kernel path would have seen
    } else {
        r = sys().send(d->fd, op->cursor(), op->remaining(), MSG_NOSIGNAL | MSG_DONTWAIT);
        err = r < 0 ? errno : 0;
    }
    if (r > 0) {
        if (!settle(op, r)) {
            return false; // write_all with bytes left: the rest waits for room
        }
    } else if (r == 0 || err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
        return false;
    } else {
        op->result = -err;
    }
    op->phase = op_phase::done;
    op->counted_send = false;
    counters_[io_counter::writes_on_caller].add(); // many writers
    // order: release — pairs with start_send's acquire: our bytes are in the kernel
    d->sends_pending.fetch_sub(caller_sending | 1u, release);
    op->complete_task(); // no continuation is attached yet: the task is simply ready
    d->release_ref();    // the op's reference (the caller's handle keeps the descriptor)
    return true;
}

/// Closes `d` on the reactor thread; consumes the handle's reference.
inline void reactor::request_close(descriptor* d) noexcept {
    if (on_this_thread()) {
        close_now(d);
        return;
    }
    auto* req = new (std::nothrow) close_request(d);
    if (req == nullptr) {
        return; // no memory: the fd stays open until the process ends (never closed twice)
    }
    if (push(req)) {
        return;
    }
    // Shutting down: the reactor still takes close requests until its very last drain
    // (§4, late admission); after that it is gone and we close here.
    // order: acquire/release — as push()
    if ((late_admission_.fetch_add(2, acquire) & 1u) == 0) {
        push_completion(req);
        late_admission_.fetch_sub(2, release);
        return;
    }
    late_admission_.fetch_sub(2, release);
    delete req;
    close_after_shutdown(d);
}

inline void reactor::close_after_shutdown(descriptor* d) noexcept {
    // The reactor is gone or going: no op can be in flight on d (shutdown ended them all).
    if (!d->closed) {
        d->closed = true;
        sys().close(d->fd);  // leaves the epoll set with it
        if (d->registered) { // nobody polls any more: drop epoll's reference too
            d->registered = false;
            d->release_ref();
        }
    }
    d->release_ref();
}

} // namespace weft::detail::io
