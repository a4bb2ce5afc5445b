// tests/support/manual_scheduler.hpp — a scheduler the test drives by hand: schedule() queues,
// run_all() runs on the calling thread, close() refuses new work, discard_all() discards.
#pragma once

#include <weft/errors.hpp>
#include <weft/scheduler.hpp>

#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

namespace weft_test {

class manual_scheduler {
public:
    void schedule(weft::work_item* w) {
        std::lock_guard lock(mutex_);
        if (closed_) {
            throw weft::shutdown_error{};
        }
        queue_.push_back(w);
        ++scheduled_;
    }
    bool runs_on_this_thread() const noexcept { return running_on_ == std::this_thread::get_id(); }

    /// Runs queued items (and items they queue) until the queue is empty; returns how many.
    std::size_t run_all() {
        weft::scheduler_scope scope(weft::any_scheduler(*this));
        std::size_t n = 0;
        running_on_ = std::this_thread::get_id();
        while (weft::work_item* w = pop()) {
            w->run();
            ++n;
        }
        running_on_ = {};
        return n;
    }
    /// Runs the oldest queued item, if any, on the calling thread; false if none was queued.
    bool run_one() {
        weft::work_item* w = pop();
        if (w == nullptr) {
            return false;
        }
        weft::scheduler_scope scope(weft::any_scheduler(*this));
        running_on_ = std::this_thread::get_id();
        w->run();
        running_on_ = {};
        return true;
    }
    std::size_t discard_all() {
        std::size_t n = 0;
        while (weft::work_item* w = pop()) {
            w->discard();
            ++n;
        }
        return n;
    }
    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    std::size_t scheduled() const {
        std::lock_guard lock(mutex_);
        return scheduled_;
    }

private:
    weft::work_item* pop() {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) {
            return nullptr;
        }
        weft::work_item* w = queue_.front();
        queue_.pop_front();
        return w;
    }

    mutable std::mutex mutex_;
    std::deque<weft::work_item*> queue_;
    std::size_t scheduled_ = 0;
    bool closed_ = false;
    std::thread::id running_on_{};
};

} // namespace weft_test
