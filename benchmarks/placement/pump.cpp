// benchmarks/placement/pump.cpp — the "async pump" workload: a pipeline that reads a file in
// blocks through the reactor (DEPTH reads in flight) and computes on each block where the
// continuation placement puts it. One run per process, so its CPU time is its own.
//
// placement_pump make FILE MIB      writes the input: block b's first word is b, the rest a
//                                   pseudo-random function of the offset
// placement_pump run POLICY IO_THREADS BACKEND FILE BLOCK_KIB DEPTH WORK_US SECONDS
//   per block: check its first word, hash every byte, then spin WORK_US (calibrated); stops
//   after SECONDS. Prints one line: blocks, seconds, cpu_ns, p50/p99/p99.9 ns (read issued to
//   compute done), weft's inline/hop/adaptive-hop counts; exit 1 if a block was wrong.
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "placement/histogram.hpp"
#include "placement/setup.hpp"
#include "placement/spin_work.hpp"
#include <fcntl.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t word_at(std::uint64_t index) { // splitmix64 of the word's index
    std::uint64_t z = index + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int make_file(const char* path, std::uint64_t mib) {
    const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        std::perror("placement_pump: open");
        return 1;
    }
    constexpr std::uint64_t block_words = 64 * 1024 / 8; // block index written every 64 KiB
    std::vector<std::uint64_t> chunk(block_words);
    for (std::uint64_t b = 0; b < mib * 16; ++b) {
        for (std::uint64_t k = 0; k < block_words; ++k) {
            chunk[k] = k == 0 ? b : word_at(b * block_words + k);
        }
        const auto bytes = static_cast<ssize_t>(chunk.size() * 8);
        if (::write(fd, chunk.data(), static_cast<std::size_t>(bytes)) != bytes) {
            std::perror("placement_pump: write");
            ::close(fd);
            return 1;
        }
    }
    ::close(fd);
    return 0;
}

struct lane_result {
    placement::histogram latency;
    std::uint64_t blocks = 0;
    std::uint64_t bad = 0;
    std::uint64_t sink = 0;
};

struct pump_config {
    std::uint64_t block_bytes;
    std::uint64_t blocks_in_file;
    unsigned depth;
    std::uint64_t spin_steps;
    clock_type::time_point deadline;
};

weft::task<void> lane(weft::file& f, const pump_config& cfg, unsigned id, lane_result& out) {
    std::vector<unsigned char> buf(cfg.block_bytes);
    const std::uint64_t words_per_64k = 64 * 1024 / 8;
    for (std::uint64_t i = id;; i += cfg.depth) {
        const auto t0 = clock_type::now();
        if (t0 >= cfg.deadline) {
            break;
        }
        const std::uint64_t b = i % cfg.blocks_in_file;
        co_await f.read_exact_at(b * cfg.block_bytes, std::span(buf));
        // every 64 KiB starts with its index: a block read from the wrong offset is caught
        std::uint64_t h = 0;
        for (std::uint64_t w = 0; w < cfg.block_bytes / 8; ++w) {
            std::uint64_t v;
            std::memcpy(&v, buf.data() + w * 8, 8);
            if (w % words_per_64k == 0 && v != b * (cfg.block_bytes / (64 * 1024)) + w / words_per_64k) {
                ++out.bad;
            }
            h = (h ^ v) * 0x100000001b3ULL;
        }
        out.sink += placement::spin_steps(cfg.spin_steps, h);
        out.latency.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count()));
        ++out.blocks;
    }
}

int run(int argc, char** argv) {
    if (argc < 10) {
        std::fprintf(stderr,
                     "usage: placement_pump run POLICY IO_THREADS BACKEND FILE BLOCK_KIB DEPTH WORK_US SECONDS\n");
        return 2;
    }
    const std::string_view policy = argv[2];
    const auto io_threads = static_cast<unsigned>(std::atoi(argv[3]));
    const std::string_view backend = argv[4];
    const std::string path = argv[5];
    const std::uint64_t block_bytes = std::strtoull(argv[6], nullptr, 10) * 1024;
    const auto depth = static_cast<unsigned>(std::atoi(argv[7]));
    const double work_us = std::atof(argv[8]);
    const double seconds = std::atof(argv[9]);
    if (block_bytes == 0 || block_bytes % (64 * 1024) != 0 || depth == 0) {
        std::fprintf(stderr, "placement_pump: BLOCK_KIB must be a multiple of 64, DEPTH > 0\n");
        return 2;
    }
    const double steps_per_ns = placement::calibrate_steps_per_ns();

    std::optional<weft::thread_pool> pool;
    weft::io_options opts;
    try {
        opts = placement::io_options_for(policy, io_threads, backend, pool);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "placement_pump: %s\n", e.what());
        return 2;
    }
    weft::io_context io{opts};
    weft::file f = weft::file::open(io, path).get();
    const std::uint64_t size = static_cast<std::uint64_t>(::lseek(f.native_handle(), 0, SEEK_END));
    if (size < block_bytes) {
        std::fprintf(stderr, "placement_pump: %s is smaller than one block\n", path.c_str());
        return 2;
    }
    pump_config cfg{
        block_bytes, size / block_bytes, depth, static_cast<std::uint64_t>(steps_per_ns * work_us * 1000.0), {}};
    std::vector<lane_result> lanes(depth);
    const auto before = io.stats().total();
    const std::uint64_t cpu0 = placement::process_cpu_ns();
    const auto t0 = clock_type::now();
    cfg.deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    std::vector<weft::task<void>> running;
    for (unsigned i = 0; i < depth; ++i) {
        // a lane starts on the I/O thread, as a request handler would
        running.push_back(weft::spawn(io, [&, i] { return lane(f, cfg, i, lanes[i]); }));
    }
    for (auto& t : running) {
        t.get();
    }
    const double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
    const std::uint64_t cpu = placement::process_cpu_ns() - cpu0;
    const auto after = io.stats().total();
    placement::histogram all;
    std::uint64_t blocks = 0, bad = 0, sink = 0;
    for (const auto& l : lanes) {
        blocks += l.blocks;
        bad += l.bad;
        sink += l.sink;
    }
    for (const auto& l : lanes) {
        all.merge(l.latency);
    }
    auto pct = [&](double q) {
        return static_cast<unsigned long long>(all.percentile(q));
    };
    std::printf("blocks %llu seconds %.4f cpu_ns %llu p50_ns %llu p99_ns %llu p999_ns %llu inline %llu hopped %llu "
                "adaptive_hops %llu bad %llu sink %llu\n",
                static_cast<unsigned long long>(blocks),
                elapsed,
                static_cast<unsigned long long>(cpu),
                pct(0.50),
                pct(0.99),
                pct(0.999),
                static_cast<unsigned long long>(after.continuations_inline - before.continuations_inline),
                static_cast<unsigned long long>(after.continuations_hopped - before.continuations_hopped),
                static_cast<unsigned long long>(after.adaptive_hops - before.adaptive_hops),
                static_cast<unsigned long long>(bad),
                static_cast<unsigned long long>(sink & 0xff));
    return bad == 0 && blocks > 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 4 && std::string_view(argv[1]) == "make") {
        return make_file(argv[2], std::strtoull(argv[3], nullptr, 10));
    }
    if (argc >= 2 && std::string_view(argv[1]) == "run") {
        return run(argc, argv);
    }
    std::fprintf(stderr, "usage: placement_pump make FILE MIB | run ...\n");
    return 2;
}
