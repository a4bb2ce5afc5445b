// benchmarks/placement/placement_bench.cpp — where should an I/O continuation run? The
// placement benchmark (docs/benchmarks.md, "Continuation placement"): for each policy —
// inline on the I/O thread, hop to the worker pool, adaptive — it measures
//   rr:   request/response over loopback: N closed-loop connections, each request's
//         continuation does C µs of CPU work (or the mixed load: 90% 1 µs, 10% 500 µs),
//         1 and 2 I/O threads; the server is its own process (placement_server), the client
//         is this process (one thread, its own clock);
//   pump: the "async pump": a file read in blocks through the reactor, compute per block
//         (placement_pump, its own process).
// Per cell: requests/s, p50/p99/p99.9 latency (HDR-style histogram), the server's CPU µs per
// request, and weft's own counters (inline runs, hops, adaptive hops per request). Every cell
// is repeated (configurations interleaved) and its spread reported, flagged above 10%.
//
// weft_placement_bench [--quick | --full] [--reps R] [--seconds S] [--conns 1,32,256]
//     [--work 0,1,10,100,1000,mixed] [--io 1,2] [--policies inline,pool,adaptive[,adaptive-a3,adaptive@US]]
//     [--backend uring|epoll] [--pump-work 0,200] [--no-pump] [--no-rr] [--hog N]
//     [--json FILE] [--tsv FILE]
// --hog N runs a noisy neighbour beside the whole suite: a process of N threads that only
// burn CPU (placement_server hog N), so every policy is measured while preempted.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "placement/client.hpp"
#include "placement/report.hpp"
#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>

namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (;;) {
        const std::size_t comma = s.find(',', at);
        out.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) {
            return out;
        }
        at = comma + 1;
    }
}

struct options {
    std::string mode = "full";
    int reps = 5;
    double seconds = 1.0;
    double warmup = 0.25;
    std::uint64_t max_requests = 2'000'000;
    std::vector<int> conns{1, 32, 256};
    std::vector<std::string> work{"0", "1", "10", "100", "1000", "mixed"};
    std::vector<unsigned> io{1, 2};
    std::vector<std::string> policies{"inline", "pool", "adaptive"};
    std::string backend; // empty: weft's automatic choice
    std::vector<std::string> pump_work{"0", "200"};
    unsigned pump_depth = 8;
    unsigned pump_block_kib = 64;
    unsigned pump_file_mib = 64;
    unsigned hog = 0; ///< --hog N: a process of N CPU-burning threads runs beside the suite
    bool rr = true, pump = true;
    std::string json, tsv;
};

void quick(options& o) {
    o.mode = "quick";
    o.reps = 3;
    o.seconds = 0.4;
    o.warmup = 0.15;
    o.conns = {32};
    o.work = {"0", "10", "100", "1000", "mixed"};
    o.io = {1};
    o.pump_file_mib = 16;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--quick") {
            quick(o);
            continue;
        }
        if (flag == "--full") {
            o = options{};
            continue;
        }
        if (flag == "--no-pump") {
            o.pump = false;
            continue;
        }
        if (flag == "--no-rr") {
            o.rr = false;
            continue;
        }
        if (i + 1 >= argc) {
            throw std::invalid_argument("missing value after " + flag);
        }
        const std::string v = argv[++i];
        if (flag == "--reps") {
            o.reps = std::max(1, std::atoi(v.c_str()));
        } else if (flag == "--seconds") {
            o.seconds = std::atof(v.c_str());
            o.warmup = std::min(o.warmup, o.seconds / 2);
        } else if (flag == "--conns") {
            o.conns.clear();
            for (const auto& c : split(v)) {
                o.conns.push_back(std::atoi(c.c_str()));
            }
        } else if (flag == "--work") {
            o.work = split(v);
        } else if (flag == "--io") {
            o.io.clear();
            for (const auto& c : split(v)) {
                o.io.push_back(static_cast<unsigned>(std::atoi(c.c_str())));
            }
        } else if (flag == "--hog") {
            o.hog = static_cast<unsigned>(std::max(0, std::atoi(v.c_str())));
        } else if (flag == "--policies") {
            o.policies = split(v);
        } else if (flag == "--backend") {
            o.backend = v;
        } else if (flag == "--pump-work") {
            o.pump_work = split(v);
        } else if (flag == "--json") {
            o.json = v;
        } else if (flag == "--tsv") {
            o.tsv = v;
        } else {
            throw std::invalid_argument("unknown flag " + flag);
        }
    }
    for (const auto& p : o.policies) {
        if (p != "inline" && p != "pool" && p != "adaptive" && p != "adaptive-a3" && !p.starts_with("adaptive@")) {
            throw std::invalid_argument("unknown policy " + p);
        }
    }
    return o;
}

placement::work_spec work_of(const std::string& w) {
    if (w == "mixed") {
        return {w, 1'000, 500'000};
    }
    char* end = nullptr;
    const double us = std::strtod(w.c_str(), &end);
    if (end == w.c_str() || *end != '\0' || us < 0 || us > 1e6) {
        throw std::invalid_argument("--work: " + w + " is neither a number of µs nor 'mixed'");
    }
    return {w, static_cast<std::uint32_t>(us * 1000), 0};
}

double per(std::uint64_t part, std::uint64_t whole) {
    return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0;
}

placement::sample to_sample(const placement::window_result& r) {
    placement::sample s;
    s.per_s = r.requests_per_s;
    s.count = r.requests;
    s.p50_us = static_cast<double>(r.latency.percentile(0.50)) / 1000;
    s.p99_us = static_cast<double>(r.latency.percentile(0.99)) / 1000;
    s.p999_us = static_cast<double>(r.latency.percentile(0.999)) / 1000;
    const std::uint64_t n = r.requests_between_stats;
    s.cpu_us = per(r.after.cpu_ns - r.before.cpu_ns, n) / 1000;
    s.inline_per = per(r.after.continuations_inline - r.before.continuations_inline, n);
    s.hops_per = per(r.after.continuations_hopped - r.before.continuations_hopped, n);
    s.adaptive_hops_per = per(r.after.adaptive_hops - r.before.adaptive_hops, n);
    s.wakeups_per = per(r.after.wakeups - r.before.wakeups, n);
    return s;
}

/// One server process (policy, I/O threads) serves every (conns, work) cell of a repetition.
void run_rr(const options& o,
            std::map<std::string, placement::cell>& cells,
            std::vector<std::string>& order,
            placement::run_context& ctx) {
    const std::string exe = bench_support::self_dir() + "/placement_server";
    for (const unsigned io : o.io) {
        for (const auto& policy : o.policies) {
            std::vector<std::string> args{policy, std::to_string(io)};
            if (!o.backend.empty()) {
                args.push_back(o.backend);
            }
            bench_support::child_process server(exe, args);
            const std::string line = server.read_line();
            unsigned port = 0;
            double steps = 0;
            char backend[32] = {};
            if (std::sscanf(line.c_str(), "port %u steps_per_ns %lf backend %31s", &port, &steps, backend) != 3) {
                throw std::runtime_error("placement_server did not start (" + line + ")");
            }
            ctx.backend = backend;
            ctx.steps_per_ns = steps;
            for (const int conns : o.conns) {
                placement::client client(port, conns);
                for (const auto& w : o.work) {
                    placement::cell proto{"rr", policy, io, conns, w, {}};
                    auto [it, fresh] = cells.try_emplace(proto.name(), proto);
                    if (fresh) {
                        order.push_back(proto.name());
                    }
                    const auto r = client.run(work_of(w), o.warmup, o.seconds, o.max_requests);
                    it->second.reps.push_back(to_sample(r));
                }
            }
        }
    }
}

std::uint64_t field(const std::string& line, const std::string& key) {
    const auto at = line.find(key + " ");
    if (at == std::string::npos) {
        throw std::runtime_error("placement_pump: no " + key + " in '" + line + "'");
    }
    return std::strtoull(line.c_str() + at + key.size() + 1, nullptr, 10);
}

void run_pump(const options& o,
              const std::string& file,
              std::map<std::string, placement::cell>& cells,
              std::vector<std::string>& order) {
    const std::string exe = bench_support::self_dir() + "/placement_pump";
    for (const auto& policy : o.policies) {
        for (const auto& w : o.pump_work) {
            placement::cell proto{"pump", policy, 1, static_cast<int>(o.pump_depth), w, {}};
            auto [it, fresh] = cells.try_emplace(proto.name(), proto);
            if (fresh) {
                order.push_back(proto.name());
            }
            bench_support::child_process pump(exe,
                                              {"run",
                                               policy,
                                               "1",
                                               o.backend.empty() ? "auto" : o.backend,
                                               file,
                                               std::to_string(o.pump_block_kib),
                                               std::to_string(o.pump_depth),
                                               w,
                                               std::to_string(o.seconds)});
            const std::string line = pump.read_line();
            if (pump.wait() != 0) {
                throw std::runtime_error("placement_pump failed (" + line + ")");
            }
            const std::uint64_t blocks = field(line, "blocks");
            const double secs = std::strtod(line.c_str() + line.find("seconds ") + 8, nullptr);
            placement::sample s;
            s.count = blocks;
            s.per_s = secs > 0 ? static_cast<double>(blocks) / secs : 0;
            s.p50_us = static_cast<double>(field(line, "p50_ns")) / 1000;
            s.p99_us = static_cast<double>(field(line, "p99_ns")) / 1000;
            s.p999_us = static_cast<double>(field(line, "p999_ns")) / 1000;
            s.cpu_us = per(field(line, "cpu_ns"), blocks) / 1000;
            s.inline_per = per(field(line, "inline"), blocks);
            s.hops_per = per(field(line, "hopped"), blocks);
            s.adaptive_hops_per = per(field(line, "adaptive_hops"), blocks);
            it->second.reps.push_back(s);
        }
    }
}

/// The issue's targets, read off the medians: adaptive within 5% of the better fixed policy
/// (throughput and p99) at every work level, better than both on the mixed load, and the
/// worker pool's loss at C = 0.
void print_verdicts(const options& o, const std::map<std::string, placement::cell>& cells) {
    auto find = [&](unsigned io, const std::string& policy, int conns, const std::string& w) -> const placement::cell* {
        const auto it = cells.find(placement::cell{"rr", policy, io, conns, w, {}}.name());
        return it == cells.end() ? nullptr : &it->second;
    };
    fmt::print("\nadaptive against the better fixed policy (throughput ratio, p99 ratio; 'ok' within 5%; mixed: better "
               "than both)\n");
    for (const unsigned io : o.io) {
        for (const int conns : o.conns) {
            for (const auto& w : o.work) {
                const auto* in = find(io, "inline", conns, w);
                const auto* pool = find(io, "pool", conns, w);
                const auto* ad = find(io, "adaptive", conns, w);
                if (in == nullptr || pool == nullptr || ad == nullptr) {
                    continue;
                }
                const auto si = placement::summarize(*in), sp = placement::summarize(*pool),
                           sa = placement::summarize(*ad);
                const double best_rate = std::max(si.per_s, sp.per_s);
                const double best_p99 = std::min(si.p99_us, sp.p99_us);
                const double rate_ratio = sa.per_s / best_rate, p99_ratio = sa.p99_us / best_p99;
                const bool ok = w == "mixed" ? (sa.per_s > best_rate && sa.p99_us < best_p99)
                                             : (rate_ratio >= 0.95 && p99_ratio <= 1.05);
                fmt::print("  io {} conns {:>3} work {:>5}: throughput {:6.3f}  p99 {:6.3f}  {}\n",
                           io,
                           conns,
                           w,
                           rate_ratio,
                           p99_ratio,
                           ok ? "ok" : "MISS");
            }
            const auto* in = find(io, "inline", conns, "0");
            const auto* pool = find(io, "pool", conns, "0");
            if (in != nullptr && pool != nullptr) {
                const double loss = 1 - placement::summarize(*pool).per_s / placement::summarize(*in).per_s;
                fmt::print("  io {} conns {:>3}: the worker pool at C = 0 loses {:.1f}% of inline's throughput (target "
                           "< 17%)\n",
                           io,
                           conns,
                           100 * loss);
            }
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    options o;
    try {
        o = parse(argc, argv);
        for (const auto& w : o.work) {
            (void)work_of(w);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft_placement_bench: %s\n", e.what());
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    placement::run_context ctx;
    ctx.mode = o.mode;
    ctx.seconds = o.seconds;
    ctx.reps = o.reps;
    ctx.cpus = std::thread::hardware_concurrency();
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    ctx.host = host;

    std::map<std::string, placement::cell> cells;
    std::vector<std::string> order;
    std::string pump_file;
    try {
        if (o.pump) {
            char path[] = "/tmp/weft-pump-XXXXXX";
            const int fd = ::mkstemp(path);
            if (fd < 0) {
                throw std::runtime_error("cannot create the pump's input file");
            }
            ::close(fd);
            pump_file = path;
            bench_support::child_process make(bench_support::self_dir() + "/placement_pump",
                                              {"make", pump_file, std::to_string(o.pump_file_mib)});
            if (make.wait() != 0) {
                throw std::runtime_error("cannot write the pump's input file");
            }
        }
        fmt::print(
            "weft placement benchmark ({} mode: {} repetitions of {:.2f} s windows, configurations interleaved)\n",
            o.mode,
            o.reps,
            o.seconds);
        std::optional<bench_support::child_process> hog;
        if (o.hog > 0) {
            hog.emplace(bench_support::self_dir() + "/placement_server",
                        std::vector<std::string>{"hog", std::to_string(o.hog)});
            fmt::print("  beside a CPU hog of {} thread(s): {}\n", o.hog, hog->read_line());
            ctx.hog = o.hog;
        }
        for (int rep = 0; rep < o.reps; ++rep) {
            fmt::print("  repetition {}/{}\n", rep + 1, o.reps);
            std::fflush(stdout);
            if (o.rr) {
                run_rr(o, cells, order, ctx);
            }
            if (o.pump) {
                run_pump(o, pump_file, cells, order);
            }
        }
    } catch (const std::exception& e) {
        if (!pump_file.empty()) {
            ::unlink(pump_file.c_str());
        }
        std::fprintf(stderr, "weft_placement_bench: %s\n", e.what());
        return 1;
    }
    if (!pump_file.empty()) {
        ::unlink(pump_file.c_str());
    }
    fmt::print("\nbackend {}, {} CPUs; per s = requests (pump: blocks) per second, median; spread = (max - min) / "
               "median, '!' above 10%;\n"
               "latency from the client's clock; cpu us = the server's CPU per request; inline / hops = weft's "
               "counters per request\n",
               ctx.backend.empty() ? (o.backend.empty() ? "auto" : o.backend) : ctx.backend,
               ctx.cpus);
    bool header_rr = false, header_pump = false;
    for (const auto& name : order) {
        const auto& c = cells.at(name);
        if (c.workload == "rr" && !header_rr) {
            placement::print_header("request/response (conns = connections, work = µs of CPU per request)");
            header_rr = true;
        }
        if (c.workload == "pump" && !header_pump) {
            placement::print_header(fmt::format(
                "async pump ({} KiB blocks, conns = blocks in flight, work = µs per block after hashing it)",
                o.pump_block_kib));
            header_pump = true;
        }
        placement::print_row(c);
    }
    print_verdicts(o, cells);
    std::vector<placement::cell> ordered;
    for (const auto& name : order) {
        ordered.push_back(cells.at(name));
    }
    if (!o.json.empty()) {
        placement::write_json(o.json, ctx, ordered);
        fmt::print("\nJSON: {}\n", o.json);
    }
    if (!o.tsv.empty()) {
        placement::write_tsv(o.tsv, ordered, o.work);
        fmt::print("TSV: {}\n", o.tsv);
    }
    return 0;
}
