// benchmarks/placement/setup.hpp — what the placement benchmark's server and pump share: the
// io_context configured for a policy name (inline | pool | adaptive | adaptive-a3: adaptive
// without rule A4 | adaptive@US: adaptive with a budget of US µs; the last two for A/B runs;
// the pool has one worker
// per CPU) and a backend name (uring | epoll | anything else: weft's automatic choice), and the
// process's CPU time.
#pragma once

#include <weft/weft.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/resource.h>

namespace placement {

/// io_options for `policy`; the pool the policy names is made in `pool`.
inline weft::io_options io_options_for(std::string_view policy,
                                       unsigned io_threads,
                                       std::string_view backend,
                                       std::optional<weft::thread_pool>& pool) {
    weft::io_options opts{.threads = io_threads};
    // A/B switch for measurements: PLACEMENT_WRITES_ON_CALLER=0 sends every write through the I/O thread
    if (const char* v = std::getenv("PLACEMENT_WRITES_ON_CALLER"); v != nullptr && std::string_view(v) == "0") {
        opts.writes_on_caller = false;
    }
    // A/B switch: PLACEMENT_IO_SPIN=US sets io_options::spin_before_sleep (0: off)
    if (const char* v = std::getenv("PLACEMENT_IO_SPIN"); v != nullptr && *v != '\0') {
        opts.spin_before_sleep = std::chrono::microseconds(std::atoi(v));
    }
    opts.backend = backend == "uring"   ? weft::io_backend::uring
                   : backend == "epoll" ? weft::io_backend::epoll
                                        : weft::io_backend::automatic;
    const bool budget_given = policy.starts_with("adaptive@"); // adaptive@US: another budget (A/B)
    if (policy == "pool" || policy == "adaptive" || policy == "adaptive-a3" || budget_given) {
        pool.emplace(weft::pool_options{.name = "bench-pool"});
        opts.policy = policy == "pool" ? weft::io_policy::on(*pool) : weft::io_policy::adaptive(*pool);
        if (policy == "adaptive-a3") {
            opts.adaptive_cores = 1u << 20; // rules A1-A3 only: A4 never finds the cores full (A/B)
        }
        if (budget_given) {
            opts.adaptive_budget = std::chrono::microseconds(std::atoi(std::string(policy.substr(9)).c_str()));
        }
    } else if (policy != "inline") {
        throw std::invalid_argument("unknown policy " + std::string(policy));
    }
    return opts;
}

/// getrusage(RUSAGE_SELF): user + system time of every thread, in ns.
inline std::uint64_t process_cpu_ns() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto ns = [](const timeval& t) {
        return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ULL +
               static_cast<std::uint64_t>(t.tv_usec) * 1000ULL;
    };
    return ns(u.ru_utime) + ns(u.ru_stime);
}

} // namespace placement
