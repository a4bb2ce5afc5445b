// weft/detail/io/blocking_pool.hpp — a few threads that run file syscalls for the epoll backend
// (regular files are always "ready" to epoll, so their reads would block an I/O thread).
// Design note: docs/decisions/0006-io-reactor.md §7. Bounded: at most `max_threads`,
// started on demand, kept until the io_context ends; a FIFO queue under one mutex.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/op.hpp>
#include <weft/detail/thread_name.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail::io {

class blocking_pool {
public:
    using runner = void (*)(io_op*) noexcept;

    blocking_pool(unsigned max_threads, std::string name)
        : max_(max_threads == 0 ? 1 : max_threads)
        , name_(std::move(name)) {}
    ~blocking_pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) {
            t.join();
        }
    }
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    /// Queues `op`; `run(op)` is called on a pool thread.
    void submit(io_op* op, runner run) {
        bool start = false;
        {
            std::lock_guard lock(mutex_);
            queue_.push(op);
            run_ = run;
            start = idle_ == 0 && threads_.size() < max_;
            if (start) {
                try {
                    threads_.emplace_back([this, index = threads_.size()] { loop(index); });
                } catch (...) {
                    if (threads_.empty()) { // nobody would ever run it: give it back
                        queue_.remove(op);
                        throw;
                    }
                    start = false; // the running threads will get to it
                }
            }
        }
        if (!start) {
            cv_.notify_one();
        }
    }
    /// Takes `op` back if no thread has started it. Reactor thread.
    bool try_remove(io_op* op) {
        std::lock_guard lock(mutex_);
        if (queue_.remove(op)) {
            return true;
        }
        return false;
    }

private:
    void loop(std::size_t index) {
        set_thread_name(name_, index);
        std::unique_lock lock(mutex_);
        for (;;) {
            ++idle_;
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            --idle_;
            if (queue_.empty()) {
                return; // stopping, nothing left (the reactor waits for its ops first)
            }
            io_op* op = queue_.pop();
            runner run = run_;
            lock.unlock();
            run(op);
            lock.lock();
        }
    }

    const unsigned max_;
    const std::string name_;
    std::mutex mutex_;
    std::condition_variable cv_;
    // --- guarded by mutex_ ---------------------------------------------------------------
    op_fifo queue_;
    runner run_ = nullptr;
    unsigned idle_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace weft::detail::io
