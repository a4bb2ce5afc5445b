// weft/io/io_context.hpp — the I/O-completion reactor: io_context owns its I/O threads (as an I/O
// completion port owns its threads) and a backend: io_uring when it can be set up, else epoll.
// Design note: weft/detail/io/reactor.hpp (the reactor note); choices in
// docs/decisions/0006-io-reactor.md; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/core.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/errors.hpp>
#include <weft/io/options.hpp>
#include <weft/post.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>

#include <string>
#include <thread>

namespace weft {

/// The I/O reactor (an I/O completion port with its thread pool, .NET's I/O threads).
/// Also a scheduler: spawn(io, f) / io.post(f) runs f on an I/O thread.
///
/// Thread safety: every member may be called from any thread.
/// Lifetime:      the destructor ends every operation still in flight (their tasks complete
///                canceled; posted work not yet run is discarded as canceled) and joins the I/O
///                threads; called on one of them, it detaches that thread instead. Sockets and
///                files may outlive it: their operations then fail with shutdown_error.
/// Blocking:      only the destructor (it waits for in-flight operations to end).
/// Exceptions:    the constructor throws std::invalid_argument (0 threads, a bad
///                WEFT_IO_BACKEND) or std::system_error (no epoll, no eventfd, no thread).
class io_context {
public:
    io_context() : io_context(io_options{}) {}
    explicit io_context(io_options opts) : core_(detail::io::core_ref::adopt(new detail::io::io_core(opts, this))) {
        try {
            for (std::size_t i = 0; i < core_->size(); ++i) {
                core_->threads().emplace_back([core = detail::io::core_ref(core_.get()), i, this] {
                    detail::set_thread_name(core->name(), i);
                    core->at(i).run(any_scheduler(*this));
                });
            }
        } catch (...) {
            stop_and_join();
            throw;
        }
    }
    ~io_context() { stop_and_join(); }
    io_context(const io_context&) = delete;
    io_context& operator=(const io_context&) = delete;

    /// "io_uring" or "epoll".
    const std::string& backend_name() const noexcept { return core_->backend_name(); }
    /// Why io_uring was not used, when it was asked for (or automatic) and could not be set up.
    const std::string& fallback_reason() const noexcept { return core_->fallback_reason(); }
    unsigned thread_count() const noexcept { return static_cast<unsigned>(core_->size()); }
    const io_policy& policy() const noexcept { return core_->policy(); }

    io_stats stats() const {
        io_stats s;
        s.backend = core_->backend_name();
        for (std::size_t i = 0; i < core_->size(); ++i) {
            io_thread_stats t;
            core_->at(i).counters().add_to(t, detail::io::io_thread_stats_fields);
            s.threads.push_back(t);
        }
        return s;
    }

    /// Scheduler interface: runs `w` on an I/O thread (this one, if called on one).
    /// Throws shutdown_error once the context is shutting down.
    void schedule(work_item* w) {
        if (!core_->here_or_next().push(w)) {
            throw shutdown_error("weft: io_context is shut down");
        }
    }
    bool runs_on_this_thread() const noexcept {
        const detail::io::reactor* r = detail::io::current_reactor_slot();
        return r != nullptr && core_->owns(r);
    }

    /// Runs `f` on an I/O thread, fire-and-forget: weft::post(*this, f) (.NET
    /// PostQueuedCompletionStatus). For its result or completion, spawn(io, f) gives a task.
    template<typename F>
    void post(F&& f) {
        weft::post(*this, std::forward<F>(f));
    }

    /// For the socket, file and timer headers.
    detail::io::io_core& core() const noexcept { return *core_.get(); }

private:
    void stop_and_join() noexcept {
        for (std::size_t i = 0; i < core_->size(); ++i) {
            core_->at(i).shutdown();
        }
        for (auto& t : core_->threads()) {
            if (t.get_id() == std::this_thread::get_id()) {
                t.detach(); // destroyed from one of its own continuations: it finishes by itself
            } else if (t.joinable()) {
                t.join();
            }
        }
    }

    detail::io::core_ref core_;
};

} // namespace weft
