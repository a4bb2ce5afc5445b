// weft/detail/io/core.hpp — what an io_context shares with the handles made on it (io_core:
// its reactors, threads, blocking pool and policies), the reference handles hold (core_ref),
// and make_op, which creates an op carrying its placement policy.
// Design note: weft/detail/io/reactor.hpp (the reactor note); the adaptive policy: §7 there.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/adaptive.hpp>
#include <weft/detail/io/epoll.hpp>
#include <weft/detail/io/handoff.hpp>
#include <weft/detail/io/reactor.hpp>
#include <weft/detail/io/reactor_loop.hpp>
#include <weft/detail/io/uring.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/detail/spin.hpp>
#include <weft/io/options.hpp>
#include <weft/scheduler.hpp>
#include <weft/task.hpp>

#include <algorithm>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft::detail::io {

/// The adaptive policy as a scheduler: "runs here" (inline) while the reactor says its
/// continuations are short, else hands the work to the fallback. The decision is the
/// reactor's (reactor::finish, §7); this only asks for it and counts the hops.
class adaptive_scheduler {
public:
    adaptive_scheduler(const void* context, any_scheduler fallback) noexcept : context_(context), fallback_(fallback) {}
    void schedule(work_item* w) {
        if (reactor* r = current_reactor_slot(); r != nullptr && r->config().context == context_) {
            r->count_adaptive_hop();
        }
        fallback_.schedule(w);
    }
    bool runs_on_this_thread() const noexcept {
        if (reactor* r = current_reactor_slot(); r != nullptr && r->config().context == context_) {
            return r->adaptive_runs_inline(); // a read of the reactor's verdict (§7)
        }
        return fallback_.runs_on_this_thread();
    }
    const any_scheduler& fallback() const noexcept { return fallback_; }

private:
    const void* context_;
    any_scheduler fallback_;
};

/// What an io_context shares with the sockets and files made on it: they may outlive it
/// (their close then runs on the closing thread). Reference-counted.
class io_core : public ref_counted<io_core> {
public:
    io_core(const io_options& opts, const void* context)
        : name_(opts.name)
        , policy_(opts.policy)
        , blocking_(opts.blocking_threads, opts.name + "-file") {
        if (opts.threads == 0) {
            throw std::invalid_argument("weft: io_context needs at least one I/O thread");
        }
        if (opts.policy.policy_kind() != io_policy::kind::inline_on_io && !opts.policy.target()) {
            throw std::invalid_argument("weft: io_options::policy names an empty scheduler");
        }
        reactor_config cfg;
        cfg.context = context;
        cfg.core = this;
        cfg.adaptive_budget_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(opts.adaptive_budget).count();
        cfg.writes_on_caller = opts.writes_on_caller;
        cfg.spin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(opts.spin_before_sleep).count();
        const unsigned cores = opts.adaptive_cores != 0 ? opts.adaptive_cores : std::max(1u, this_thread_cpu_count());
        cfg.hop_adds_a_core = opts.threads < cores; // A4
        const io_backend wanted = chosen_backend(opts.backend);
        if (wanted != io_backend::epoll) {
            try {
                for (unsigned i = 0; i < opts.threads; ++i) {
#if WEFT_HAS_URING
                    auto b = std::make_unique<uring_backend>(opts.ring_entries);
                    uring_backend* raw = b.get();
                    reactors_.push_back(std::make_unique<reactor>(std::move(b), blocking_, cfg));
                    raw->attach(reactors_.back().get());
#else
                    throw std::system_error(ENOSYS, std::system_category(), "weft: built without liburing");
#endif
                }
                backend_ = "io_uring";
            } catch (const std::system_error& e) {
                reactors_.clear();
                fallback_reason_ = e.what();
            }
        }
        if (reactors_.empty()) {
            for (unsigned i = 0; i < opts.threads; ++i) {
                auto b = std::make_unique<epoll_backend>();
                epoll_backend* raw = b.get();
                reactors_.push_back(std::make_unique<reactor>(std::move(b), blocking_, cfg));
                raw->attach(reactors_.back().get());
            }
            backend_ = "epoll";
        }
        nonblocking_ = reactors_.front()->io_backend().wants_nonblocking_sockets();
        default_source_ = resolve(policy_, default_adaptive_);
    }

    const std::string& backend_name() const noexcept {
        return backend_;
    }
    const std::string& fallback_reason() const noexcept {
        return fallback_reason_;
    }
    const std::string& name() const noexcept {
        return name_;
    }
    const io_policy& policy() const noexcept {
        return policy_;
    }
    bool nonblocking_sockets() const noexcept {
        return nonblocking_;
    }
    std::size_t size() const noexcept {
        return reactors_.size();
    }
    reactor& at(std::size_t i) noexcept {
        return *reactors_[i];
    }

    /// The reactor for a new socket or file: round robin.
    reactor& next() noexcept {
        return *reactors_[next_.fetch_add(1, relaxed) % reactors_.size()]; // order: relaxed — a spread
    }
    /// The calling I/O thread's reactor if it is one of ours, else round robin.
    reactor& here_or_next() noexcept {
        if (reactor* r = current_reactor_slot(); r != nullptr && owns(r)) {
            return *r;
        }
        return next();
    }
    bool owns(const reactor* r) const noexcept {
        return r->config().core == this;
    }

    /// The scheduler an op's task carries as its source policy.
    any_scheduler resolve(const io_policy& p, bool& adaptive) {
        adaptive = false;
        switch (p.policy_kind()) {
        case io_policy::kind::inline_on_io:
            return any_scheduler(inline_scheduler{});
        case io_policy::kind::scheduler:
            if (!p.target()) {
                throw std::invalid_argument("weft: io_policy::on() with an empty scheduler");
            }
            return p.target();
        case io_policy::kind::adaptive:
            break;
        }
        if (!p.target()) {
            throw std::invalid_argument("weft: io_policy::adaptive() needs a fallback scheduler");
        }
        adaptive = true;
        std::lock_guard lock(adaptive_mutex_);
        for (auto& a : adaptive_) {
            if (a.fallback() == p.target()) {
                return any_scheduler(a);
            }
        }
        return any_scheduler(adaptive_.emplace_back(reactors_.front()->config().context, p.target()));
    }

    std::vector<std::thread>& threads() noexcept {
        return threads_;
    }

    /// The source policy of an op started with `opts` (the context's, resolved once, by default).
    any_scheduler source_for(const op_options& opts, bool& adaptive) {
        if (!opts.policy) {
            adaptive = default_adaptive_;
            return default_source_;
        }
        return resolve(*opts.policy, adaptive);
    }

private:
    friend class ref_counted<io_core>;
    ~io_core() = default;

    static io_backend chosen_backend(io_backend asked) {
        if (asked != io_backend::automatic) {
            return asked;
        }
        const char* env = std::getenv("WEFT_IO_BACKEND");
        if (env == nullptr || *env == '\0') {
            return io_backend::automatic;
        }
        const std::string_view v(env);
        if (v == "uring" || v == "io_uring") {
            return io_backend::uring;
        }
        if (v == "epoll") {
            return io_backend::epoll;
        }
        throw std::invalid_argument("weft: WEFT_IO_BACKEND must be 'uring' or 'epoll', not '" + std::string(v) + "'");
    }

    atomic<std::size_t> next_{0};
    std::string name_;
    io_policy policy_;
    any_scheduler default_source_;
    bool default_adaptive_ = false;
    std::string backend_;
    std::string fallback_reason_;
    bool nonblocking_ = true;
    std::vector<std::unique_ptr<reactor>> reactors_;
    // Destroyed before the reactors: its threads join first, so none is still inside a
    // reactor's push_completion() (the wake-up after the push) when the reactor goes.
    blocking_pool blocking_;
    std::vector<std::thread> threads_;
    std::mutex adaptive_mutex_;
    // --- guarded by adaptive_mutex_ ---------------------------------------------------------
    std::list<adaptive_scheduler> adaptive_; // stable addresses: tasks hold handles to them
};

/// A reference to an io_core (sockets, files, timers hold one).
using core_ref = ref_ptr<io_core>;

/// Creates an op whose task carries the policy chosen by `opts` (or the context's default).
/// Returns the task and the op (not yet started: fill it in, then reactor::start()).
template<typename R, typename Convert>
std::pair<task<R>, op_state<R, Convert>*> make_op(io_core& core, op_kind kind, const op_options& opts) {
    bool adaptive = false;
    const any_scheduler policy = core.source_for(opts, adaptive);
    auto* op = new op_state<R, Convert>(kind, policy);
    task<R> t = task_access::adopt<R>(op);
    if (kind == op_kind::accept || kind == op_kind::connect || kind == op_kind::recv_from || kind == op_kind::send_to ||
        kind == op_kind::open_at) {
        try {
            op->extra = std::make_unique<io_op::extra_fields>();
        } catch (...) {
            op->release(); // the in-flight reference; `t` drops the other
            throw;
        }
    }
    op->adaptive = adaptive;
    op->token = opts.token;
    return {std::move(t), op};
}

struct no_value {
    void operator()(io_op&) const noexcept {}
};
struct byte_count {
    std::size_t operator()(io_op& op) const noexcept { return static_cast<std::size_t>(op.result); }
};

} // namespace weft::detail::io
