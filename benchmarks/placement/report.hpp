// benchmarks/placement/report.hpp — the placement benchmark's results: one cell per
// configuration, one sample per repetition; medians, spreads, the terminal table (fmt), the
// JSON file (Google Benchmark's layout, so scripts/bench_table.sh and compare.py read it) and
// the TSV that scripts/plot_placement.gp draws.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace placement {

struct sample {
    double per_s = 0; ///< requests (or blocks) per second
    double p50_us = 0, p99_us = 0, p999_us = 0;
    double cpu_us = 0; ///< server CPU per request (or block)
    double inline_per = 0, hops_per = 0, adaptive_hops_per = 0;
    double wakeups_per = 0;  ///< rr: eventfd wake-ups of a sleeping I/O thread per request
    std::uint64_t count = 0; ///< requests (or blocks) measured
};

struct cell {
    std::string workload; ///< "rr" (request/response) or "pump"
    std::string policy;   ///< inline | pool | adaptive
    unsigned io_threads = 1;
    int conns = 0;    ///< rr: connections; pump: blocks in flight
    std::string work; ///< rr: "0".."1000" or "mixed" (µs); pump: µs per block
    std::vector<sample> reps;

    std::string name() const {
        return fmt::format("{}/io:{}/{}/{}:{}/work:{}",
                           workload,
                           io_threads,
                           policy,
                           workload == "rr" ? "conns" : "depth",
                           conns,
                           work);
    }
};

inline double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (v.empty()) {
        return 0;
    }
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}
/// (max - min) / median: the spread over repetitions that the table flags above 10%.
inline double spread_of(const std::vector<double>& v) {
    if (v.size() < 2) {
        return 0;
    }
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double m = median_of(v);
    return m > 0 ? (*hi - *lo) / m : 0;
}
template<typename F>
std::vector<double> column(const cell& c, F field) {
    std::vector<double> v;
    for (const auto& s : c.reps) {
        v.push_back(field(s));
    }
    return v;
}

struct summary {
    double per_s, per_s_spread, p50_us, p99_us, p99_spread, p999_us, cpu_us, inline_per, hops_per, adaptive_hops_per,
        wakeups_per;
};
inline summary summarize(const cell& c) {
    auto per_s = column(c, [](const sample& s) { return s.per_s; });
    auto p99 = column(c, [](const sample& s) { return s.p99_us; });
    return {median_of(per_s),
            spread_of(per_s),
            median_of(column(c, [](const sample& s) { return s.p50_us; })),
            median_of(p99),
            spread_of(p99),
            median_of(column(c, [](const sample& s) { return s.p999_us; })),
            median_of(column(c, [](const sample& s) { return s.cpu_us; })),
            median_of(column(c, [](const sample& s) { return s.inline_per; })),
            median_of(column(c, [](const sample& s) { return s.hops_per; })),
            median_of(column(c, [](const sample& s) { return s.adaptive_hops_per; })),
            median_of(column(c, [](const sample& s) { return s.wakeups_per; }))};
}

inline void print_header(const std::string& what) {
    fmt::print("\n{}\n", what);
    fmt::print("{:>3} {:<9} {:>5} {:>6} {:>11} {:>7} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7}\n",
               "io",
               "policy",
               "conns",
               "work",
               "per s",
               "spread",
               "p50 us",
               "p99 us",
               "p99.9 us",
               "p99 spr",
               "cpu us",
               "inline",
               "hops");
}
inline void print_row(const cell& c) {
    const summary s = summarize(c);
    const auto flag = [](double sp) {
        return sp > 0.10 ? "!" : " ";
    };
    fmt::print("{:>3} {:<9} {:>5} {:>6} {:>11.0f} {:>6.1f}%{} {:>8.1f} {:>9.1f} {:>9.1f} {:>6.1f}%{} {:>7.1f} {:>7.2f} "
               "{:>7.2f}\n",
               c.io_threads,
               c.policy,
               c.conns,
               c.work,
               s.per_s,
               100 * s.per_s_spread,
               flag(s.per_s_spread),
               s.p50_us,
               s.p99_us,
               s.p999_us,
               100 * s.p99_spread,
               flag(s.p99_spread),
               s.cpu_us,
               s.inline_per,
               s.hops_per);
    std::fflush(stdout);
}

struct run_context {
    std::string mode, backend, host;
    unsigned cpus = 0;
    unsigned hog = 0; ///< threads of the CPU hog beside the run (--hog)
    double seconds = 0;
    int reps = 0;
    double steps_per_ns = 0;
};

/// Google Benchmark's JSON layout: one "iteration" entry per repetition, then "median" and
/// "spread" aggregates; real_time = ns per request, cpu_time = the server's CPU ns per request.
inline void write_json(const std::string& path, const run_context& ctx, const std::vector<cell>& cells) {
    std::ofstream f(path);
    f << "{\n  \"context\": {\"benchmark\": \"placement\", \"mode\": \"" << ctx.mode << "\", \"backend\": \""
      << ctx.backend << "\", \"host_name\": \"" << ctx.host << "\", \"num_cpus\": " << ctx.cpus
      << ", \"seconds_per_window\": " << ctx.seconds << ", \"repetitions\": " << ctx.reps
      << ", \"spin_steps_per_ns\": " << ctx.steps_per_ns << ", \"hog_threads\": " << ctx.hog
      << ", \"library_build_type\": \"release\"},\n  \"benchmarks\": [\n";
    bool first = true;
    auto entry =
        [&](const cell& c, const std::string& run_type, const std::string& aggregate, int index, const sample& s) {
            f << (first ? "" : ",\n") << "    {\"name\": \"" << c.name() << (aggregate.empty() ? "" : "_" + aggregate)
              << "\", \"run_name\": \"" << c.name() << "\", \"run_type\": \"" << run_type
              << "\", \"repetitions\": " << c.reps.size();
            if (aggregate.empty()) {
                f << ", \"repetition_index\": " << index;
            } else {
                f << ", \"aggregate_name\": \"" << aggregate << "\"";
            }
            f << ", \"threads\": 1, \"iterations\": " << s.count
              << ", \"real_time\": " << (s.per_s > 0 ? 1e9 / s.per_s : 0) << ", \"cpu_time\": " << s.cpu_us * 1000
              << ", \"time_unit\": \"ns\", \"items_per_second\": " << s.per_s << ", \"p50_us\": " << s.p50_us
              << ", \"p99_us\": " << s.p99_us << ", \"p999_us\": " << s.p999_us << ", \"cpu_us_per_item\": " << s.cpu_us
              << ", \"inline_per_item\": " << s.inline_per << ", \"hops_per_item\": " << s.hops_per
              << ", \"adaptive_hops_per_item\": " << s.adaptive_hops_per
              << ", \"io_wakeups_per_item\": " << s.wakeups_per << "}";
            first = false;
        };
    for (const auto& c : cells) {
        for (std::size_t i = 0; i < c.reps.size(); ++i) {
            entry(c, "iteration", "", static_cast<int>(i), c.reps[i]);
        }
        const summary m = summarize(c);
        entry(c,
              "aggregate",
              "median",
              0,
              {m.per_s,
               m.p50_us,
               m.p99_us,
               m.p999_us,
               m.cpu_us,
               m.inline_per,
               m.hops_per,
               m.adaptive_hops_per,
               m.wakeups_per,
               0});
        entry(c, "aggregate", "spread", 0, {m.per_s_spread, 0, m.p99_spread, 0, 0, 0, 0, 0, 0, 0});
    }
    f << "\n  ]\n}\n";
}

/// One line per request/response cell: io policy conns work-index work per_s p99_us. The index
/// places the work levels on the plot's x axis (0, 1, 10, 100, 1000, mixed; others after them).
inline void write_tsv(const std::string& path, const std::vector<cell>& cells, std::vector<std::string> work_order) {
    for (const char* w : {"mixed", "1000", "100", "10", "1", "0"}) {
        if (const auto at = std::find(work_order.begin(), work_order.end(), w); at != work_order.end()) {
            work_order.erase(at);
        }
        work_order.insert(work_order.begin(), w);
    }
    std::ofstream f(path);
    f << "# io\tpolicy\tconns\twork_index\twork\tper_s\tp99_us\n";
    for (const auto& c : cells) {
        if (c.workload != "rr") {
            continue;
        }
        const auto at = std::find(work_order.begin(), work_order.end(), c.work);
        const summary s = summarize(c);
        f << c.io_threads << '\t' << c.policy << '\t' << c.conns << '\t' << (at - work_order.begin()) << '\t' << c.work
          << '\t' << s.per_s << '\t' << s.p99_us << '\n';
    }
}

} // namespace placement
