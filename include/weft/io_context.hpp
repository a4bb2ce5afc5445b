// weft/io_context.hpp — the I/O-completion reactor: io_context owns its I/O threads (as an I/O
// completion port owns its threads) and a backend: io_uring when it can be set up, else epoll.
// Design note: weft/detail/io/uring.hpp (the reactor note); choices in
// docs/decisions/0006-io-reactor.md; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/io/epoll.hpp>
#include <weft/detail/io/reactor.hpp>
#include <weft/detail/io/uring.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/errors.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace weft {

/// Which reactor backend an io_context should use. `automatic`: the WEFT_IO_BACKEND
/// environment variable (uring | epoll) if set, else io_uring when it can be set up.
/// A requested io_uring that cannot be set up (no kernel support, seccomp, a container, no
/// liburing at build time) falls back to epoll; io_context::backend_name() says which runs.
enum class io_backend { automatic, uring, epoll };

/// Where the continuation of a completed I/O operation runs (placement rule 2).
class io_policy {
public:
    enum class kind : std::uint8_t {
        inline_on_io,  ///< on the I/O thread that completed it (the IOCP model; no hop)
        scheduler,     ///< hop to a scheduler, e.g. the worker pool
        adaptive,      ///< inline while continuations are short, else hop to a fallback
    };
    static io_policy inline_on_io() noexcept { return io_policy(kind::inline_on_io, {}); }
    template<typename S>
        requires scheduler<std::remove_cvref_t<S>>
    static io_policy on(S&& s) noexcept {
        return io_policy(kind::scheduler, any_scheduler(std::forward<S>(s)));
    }
    template<typename S>
        requires scheduler<std::remove_cvref_t<S>>
    static io_policy adaptive(S&& fallback) noexcept {
        return io_policy(kind::adaptive, any_scheduler(std::forward<S>(fallback)));
    }
    kind policy_kind() const noexcept { return kind_; }
    const any_scheduler& target() const noexcept { return target_; }

private:
    io_policy(kind k, any_scheduler t) noexcept : kind_(k), target_(t) {}
    kind kind_;
    any_scheduler target_;
};

struct io_options {
    unsigned threads = 1;                          ///< I/O threads (each with its own ring / epoll set)
    io_backend backend = io_backend::automatic;
    io_policy policy = io_policy::inline_on_io();  ///< default continuation policy
    std::string name = "weft-io";                  ///< I/O threads are named name-0, name-1, ...
    unsigned ring_entries = 256;                   ///< io_uring SQ size per thread
    unsigned blocking_threads = 4;                 ///< epoll: threads for file operations
    std::chrono::microseconds adaptive_budget{50}; ///< adaptive: a continuation longer than this hops the rest
    /// A stream write started off the I/O thread (on a pool worker, say) is sent at once on
    /// the calling thread when no other write on that socket is pending; it completes there,
    /// with no hand-over to the I/O thread and no continuation hop, if the bytes fit. false:
    /// every write goes through the I/O thread.
    bool writes_on_caller = true;
};

/// Per-operation options: a token that cancels the operation in flight, and a policy that
/// overrides the io_context's for this operation's continuations.
struct op_options {
    cancellation_token token{};
    std::optional<io_policy> policy{};
};

/// One I/O thread's counters (exact once it is quiet).
struct io_thread_stats {
    std::uint64_t loops = 0;             ///< turns of the reactor loop
    std::uint64_t wakeups = 0;           ///< eventfd wake-ups sent to it by other threads
    std::uint64_t ops_begun = 0;
    std::uint64_t ops_finished = 0;
    std::uint64_t immediate = 0;         ///< ops complete at their start (epoll's first attempt)
    std::uint64_t deferred = 0;          ///< of those, finished at the next turn (fairness budget)
    std::uint64_t timers_fired = 0;
    std::uint64_t canceled = 0;          ///< ops that ended with ECANCELED (token, close, shutdown)
    std::uint64_t continuations_inline = 0;  ///< placement decisions on this thread: ran here
    std::uint64_t continuations_hopped = 0;  ///< placement decisions on this thread: hopped
    std::uint64_t adaptive_hops = 0;     ///< of the hops, those the adaptive policy chose
    std::uint64_t writes_on_caller = 0;  ///< writes completed on the thread that started them
};

struct io_stats {
    std::string backend;
    std::vector<io_thread_stats> threads;
    io_thread_stats total() const noexcept {
        io_thread_stats t;
        for (const auto& s : threads) {
            t.loops += s.loops;
            t.wakeups += s.wakeups;
            t.ops_begun += s.ops_begun;
            t.ops_finished += s.ops_finished;
            t.immediate += s.immediate;
            t.deferred += s.deferred;
            t.timers_fired += s.timers_fired;
            t.canceled += s.canceled;
            t.continuations_inline += s.continuations_inline;
            t.continuations_hopped += s.continuations_hopped;
            t.adaptive_hops += s.adaptive_hops;
            t.writes_on_caller += s.writes_on_caller;
        }
        return t;
    }
};

namespace detail::io {

/// The adaptive policy as a scheduler: "runs here" (inline) while the reactor says its
/// continuations are short, else hands the work to the fallback.
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
            return r->adaptive_inline_ok();
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
        : name_(opts.name), policy_(opts.policy), blocking_(opts.blocking_threads, opts.name + "-file") {
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

    const std::string& backend_name() const noexcept { return backend_; }
    const std::string& fallback_reason() const noexcept { return fallback_reason_; }
    const std::string& name() const noexcept { return name_; }
    const io_policy& policy() const noexcept { return policy_; }
    bool nonblocking_sockets() const noexcept { return nonblocking_; }
    std::size_t size() const noexcept { return reactors_.size(); }
    reactor& at(std::size_t i) noexcept { return *reactors_[i]; }

    /// The reactor for a new socket or file: round robin.
    reactor& next() noexcept {
        return *reactors_[next_.fetch_add(1, relaxed) % reactors_.size()];  // order: relaxed — a spread
    }
    /// The calling I/O thread's reactor if it is one of ours, else round robin.
    reactor& here_or_next() noexcept {
        if (reactor* r = current_reactor_slot(); r != nullptr && owns(r)) {
            return *r;
        }
        return next();
    }
    bool owns(const reactor* r) const noexcept { return r->config().core == this; }

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

    std::vector<std::thread>& threads() noexcept { return threads_; }

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
    std::list<adaptive_scheduler> adaptive_;  // stable addresses: tasks hold handles to them
};

/// A reference to an io_core (sockets, files, timers hold one).
class core_ref {
public:
    core_ref() noexcept = default;
    explicit core_ref(io_core* c) noexcept : core_(c) {
        if (core_ != nullptr) {
            core_->add_ref();
        }
    }
    /// Takes over a reference the caller owns (a new io_core starts with one).
    static core_ref adopt(io_core* c) noexcept {
        core_ref r;
        r.core_ = c;
        return r;
    }
    core_ref(const core_ref& o) noexcept : core_ref(o.core_) {}
    core_ref(core_ref&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
    core_ref& operator=(core_ref o) noexcept {
        std::swap(core_, o.core_);
        return *this;
    }
    ~core_ref() {
        if (core_ != nullptr) {
            core_->release_ref();
        }
    }
    io_core* get() const noexcept { return core_; }
    io_core* operator->() const noexcept { return core_; }
    explicit operator bool() const noexcept { return core_ != nullptr; }

private:
    io_core* core_ = nullptr;
};

/// Creates an op whose task carries the policy chosen by `opts` (or the context's default).
/// Returns the task and the op (not yet started: fill it in, then reactor::start()).
template<typename R, typename Convert>
std::pair<task<R>, op_state<R, Convert>*> make_op(io_core& core, op_kind kind, const op_options& opts) {
    bool adaptive = false;
    const any_scheduler policy = core.source_for(opts, adaptive);
    auto* op = new op_state<R, Convert>(kind, policy);
    task<R> t = task_access::adopt<R>(op);
    if (kind == op_kind::accept || kind == op_kind::connect || kind == op_kind::recv_from ||
        kind == op_kind::send_to || kind == op_kind::open_at) {
        try {
            op->extra = std::make_unique<io_op::extra_fields>();
        } catch (...) {
            op->release();  // the in-flight reference; `t` drops the other
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

}  // namespace detail::io

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
            const auto& c = core_->at(i).counters();
            io_thread_stats t;
            t.loops = c.loops.load(detail::relaxed);  // order: relaxed — statistics
            t.wakeups = c.wakeups.load(detail::relaxed);
            t.ops_begun = c.ops_begun.load(detail::relaxed);
            t.ops_finished = c.ops_finished.load(detail::relaxed);
            t.immediate = c.immediate.load(detail::relaxed);
            t.deferred = c.deferred.load(detail::relaxed);
            t.timers_fired = c.timers_fired.load(detail::relaxed);
            t.canceled = c.canceled.load(detail::relaxed);
            t.continuations_inline = c.cont_inline.load(detail::relaxed);
            t.continuations_hopped = c.cont_hop.load(detail::relaxed);
            t.adaptive_hops = c.adaptive_hops.load(detail::relaxed);
            t.writes_on_caller = c.writes_on_caller.load(detail::relaxed);
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

    /// Runs `f` on an I/O thread; its task completes with f's result
    /// (.NET PostQueuedCompletionStatus / ThreadPool.UnsafeQueueNativeOverlapped).
    template<typename F>
    auto post(F&& f) {
        return spawn(*this, std::forward<F>(f));
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
                t.detach();  // destroyed from one of its own continuations: it finishes by itself
            } else if (t.joinable()) {
                t.join();
            }
        }
    }

    detail::io::core_ref core_;
};

}  // namespace weft
