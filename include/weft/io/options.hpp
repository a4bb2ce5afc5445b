// weft/io/options.hpp — what an io_context is configured with and reports: the backend choice,
// the continuation policies, io_options, op_options, io_stats.
// Design note: weft/detail/io/reactor.hpp (the reactor note); guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/counters.hpp>
#include <weft/scheduler.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

/// Which reactor backend an io_context should use. `automatic`: the WEFT_IO_BACKEND
/// environment variable (uring | epoll) if set, else io_uring when it can be set up.
/// A requested io_uring that cannot be set up (no kernel support, seccomp, a container, no
/// liburing at build time) falls back to epoll; io_context::backend_name() says which runs.
enum class io_backend {
    automatic,
    uring,
    epoll
};

/// Where the continuation of a completed I/O operation runs (placement rule 2).
class io_policy {
public:
    enum class kind : std::uint8_t {
        inline_on_io, ///< on the I/O thread that completed it (the IOCP model; no hop)
        scheduler,    ///< hop to a scheduler, e.g. the worker pool
        adaptive,     ///< inline while continuations are short, else hop to a fallback
    };
    static io_policy inline_on_io() noexcept { return io_policy(kind::inline_on_io, {}); }
    template<typename S>
        requires scheduler<std::remove_cvref_t<S>>
    static io_policy on(S&& s) noexcept { return io_policy(kind::scheduler, any_scheduler(std::forward<S>(s))); }
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
    unsigned threads = 1; ///< I/O threads (each with its own ring / epoll set)
    io_backend backend = io_backend::automatic;
    io_policy policy = io_policy::inline_on_io(); ///< default continuation policy
    std::string name = "weft-io";                 ///< I/O threads are named name-0, name-1, ...
    unsigned ring_entries = 256;                  ///< io_uring SQ size per thread
    unsigned blocking_threads = 4;                ///< epoll: threads for file operations
    std::chrono::microseconds adaptive_budget{5}; ///< adaptive: a continuation longer than this hops the rest
    /// adaptive: the cores the program may use. With at least this many I/O threads, a hop to
    /// the fallback adds no core, and adaptive runs every continuation inline, whatever its
    /// length (rule A4). 0: the CPUs the constructing thread may run on (sched_getaffinity).
    unsigned adaptive_cores = 0;
    /// A stream write started off the I/O thread (on a pool worker, say) is sent at once on
    /// the calling thread when no other write on that socket is pending; it completes there,
    /// with no hand-over to the I/O thread and no continuation hop, if the bytes fit. false:
    /// every write goes through the I/O thread.
    bool writes_on_caller = true;
    /// After a loop turn that did work, an I/O thread watches for new work this long before it
    /// sleeps in the kernel: a hand-over from another thread (an op started on a pool worker,
    /// a post) then needs no eventfd write and no wake-up, and a completion is picked up
    /// without one. An idle I/O thread never spins. io_uring only (epoll cannot see its
    /// sockets without a system call); 0 turns it off.
    std::chrono::microseconds spin_before_sleep{20};
};

/// Per-operation options: a token that cancels the operation in flight, and a policy that
/// overrides the io_context's for this operation's continuations. Built for one call
/// (`sock.read_some(buf, {.token = t})`): the operation copies what it needs before it
/// returns. Trivially destructible on purpose: g++ 12 runs an extra destructor on a
/// brace-initialised aggregate temporary inside `co_await`, on storage it never constructed;
/// with nothing to destroy, that is harmless (decision 0009).
struct op_options {
    cancellation_token_ref token{};
    std::optional<io_policy> policy{};
};
static_assert(std::is_trivially_destructible_v<op_options>, "op_options must survive g++ 12's co_await temporaries");

/// One I/O thread's counters (exact once it is quiet).
struct io_thread_stats {
    std::uint64_t loops = 0;   ///< turns of the reactor loop
    std::uint64_t wakeups = 0; ///< eventfd wake-ups sent to it by other threads
    std::uint64_t ops_begun = 0;
    std::uint64_t ops_finished = 0;
    std::uint64_t immediate = 0; ///< ops complete at their start (epoll's first attempt)
    std::uint64_t deferred = 0;  ///< of those, finished at the next turn (fairness budget)
    std::uint64_t timers_fired = 0;
    std::uint64_t canceled = 0;             ///< ops ended by a token, a close or shutdown
    std::uint64_t continuations_inline = 0; ///< placement decisions on this thread: ran here
    std::uint64_t continuations_hopped = 0; ///< placement decisions on this thread: hopped
    std::uint64_t adaptive_hops = 0;        ///< of the hops, those the adaptive policy chose
    std::uint64_t writes_on_caller = 0;     ///< writes completed on the thread that started them
};

namespace detail::io {

/// A reactor's counters (detail/io/reactor.hpp), in the order of io_thread_stats_fields.
enum class io_counter : std::uint8_t {
    loops,
    wakeups,
    ops_begun,
    ops_finished,
    immediate,
    deferred,
    timers_fired,
    canceled,
    continuations_inline,
    continuations_hopped,
    adaptive_hops,
    writes_on_caller,
};
inline constexpr stat_fields<io_thread_stats, 12> io_thread_stats_fields = {
    &io_thread_stats::loops,
    &io_thread_stats::wakeups,
    &io_thread_stats::ops_begun,
    &io_thread_stats::ops_finished,
    &io_thread_stats::immediate,
    &io_thread_stats::deferred,
    &io_thread_stats::timers_fired,
    &io_thread_stats::canceled,
    &io_thread_stats::continuations_inline,
    &io_thread_stats::continuations_hopped,
    &io_thread_stats::adaptive_hops,
    &io_thread_stats::writes_on_caller,
};

} // namespace detail::io

struct io_stats {
    std::string backend;
    std::vector<io_thread_stats> threads;
    io_thread_stats total() const noexcept {
        io_thread_stats t;
        for (const auto& s : threads) {
            detail::add_stats(t, s, detail::io::io_thread_stats_fields);
        }
        return t;
    }
};

} // namespace weft
