// dataflow_pump: the "async pump" as a dataflow network with bounded memory. A reader
// coroutine reads a file in 64 KiB blocks through the reactor and send()s them into the
// network; a transform block parses and hashes each block on the pool (4 at a time, output in
// file order); a batch block groups 4 summaries; an action block on the io_context writes each
// group's report lines back through the reactor. Every block is bounded, so at most the sum of
// the capacities is in memory however fast the reader is (checked). `dataflow_pump SRC DST`,
// or with no argument a generated 8 MiB file, checked against a serial pass.
#include <weft/dataflow.hpp>
#include <weft/weft.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

constexpr std::size_t block_size = 64 * 1024;

struct block {
    std::uint64_t offset = 0;
    std::vector<char> bytes;
};
struct summary {
    std::uint64_t offset = 0;
    std::uint64_t lines = 0;
    std::uint64_t hash = 0; // FNV-1a of the block
};

summary parse(const block& b) {
    summary s{b.offset, 0, 1469598103934665603ULL};
    for (char c : b.bytes) {
        s.lines += c == '\n' ? 1U : 0U;
        s.hash = (s.hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    return s;
}
std::string report_line(const summary& s) {
    char line[96];
    const int n = std::snprintf(line,
                                sizeof line,
                                "%012llu %8llu %016llx\n",
                                static_cast<unsigned long long>(s.offset),
                                static_cast<unsigned long long>(s.lines),
                                static_cast<unsigned long long>(s.hash));
    return std::string(line, static_cast<std::size_t>(n));
}

int main(int argc, char** argv) {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io;
    const bool generated = argc < 3;
    const std::string from = generated ? "/tmp/weft-dataflow-pump-" + std::to_string(::getpid()) : argv[1];
    const std::string to = generated ? from + "-report" : argv[2];
    if (generated) {
        std::string text;
        for (int i = 0; text.size() < 8 * 1024 * 1024; ++i) {
            text += "record " + std::to_string(i) + " " + std::string(static_cast<std::size_t>(i % 50), 'x') + "\n";
        }
        weft::file f = weft::file::open(io, from, O_WRONLY | O_CREAT | O_TRUNC, 0600).get();
        f.write_all_at(0, text).get();
    }
    weft::file src = weft::file::open(io, from, O_RDONLY).get();
    weft::file dst = weft::file::open(io, to, O_WRONLY | O_CREAT | O_TRUNC, 0644).get();

    std::atomic<int> in_memory{0}; // blocks read and not yet written out
    std::atomic<int> peak{0};
    weft::transform_block<block, summary> hash(
        pool, [](const block& b) { return parse(b); }, {.bounded_capacity = 8, .max_degree_of_parallelism = 4});
    weft::batch_block<summary> group(pool, 4, {.bounded_capacity = 8});
    std::uint64_t out_offset = 0; // only the writer (one body at a time) touches it
    weft::action_block<std::vector<summary>> write(io,
                                                   [&](std::vector<summary> batch) -> weft::task<void> {
                                                       std::string lines;
                                                       for (const summary& s : batch) {
                                                           lines += report_line(s);
                                                       }
                                                       co_await dst.write_all_at(out_offset, lines);
                                                       out_offset += lines.size();
                                                       in_memory.fetch_sub(static_cast<int>(batch.size()));
                                                   },
                                                   {.bounded_capacity = 2});
    hash.link_to(group, {.propagate_completion = true});
    group.link_to(write, {.propagate_completion = true});

    auto read_all = [&]() -> weft::task<std::uint64_t> {
        std::uint64_t offset = 0;
        for (;;) {
            block b{offset, std::vector<char>(block_size)};
            const std::size_t n = co_await src.read_at(offset, b.bytes);
            if (n == 0) {
                break;
            }
            b.bytes.resize(n);
            offset += n;
            const int now = in_memory.fetch_add(1) + 1;
            for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
            }
            const bool accepted = co_await hash.send(std::move(b)); // waits while the network is full
            if (!accepted) {
                break;
            }
        }
        hash.complete();
        co_return offset;
    };
    auto reader = read_all();
    const std::uint64_t bytes = reader.get();
    write.completion().get();

    // check: the report equals a serial pass over the file, and memory stayed bounded
    std::string want;
    std::vector<char> buf(block_size);
    for (std::uint64_t off = 0; off < bytes; off += block_size) {
        const std::size_t n = src.read_at(off, buf).get();
        want += report_line(parse(block{off, std::vector<char>(buf.begin(), buf.begin() + static_cast<long>(n))}));
    }
    std::string got(want.size(), '\0');
    weft::file check = weft::file::open(io, to).get();
    const std::size_t read_back = check.read_at(0, got).get();
    // reader's block + hash (8) + the batch's items (8) + the writer's 2 batches of 4 + 1 writing
    const int bound = 1 + 8 + 8 + 2 * 4 + 4;
    const bool same = read_back == want.size() && got == want;
    std::printf("pumped %llu bytes in %zu blocks with %s: report %s, at most %d blocks in memory (bound %d)\n",
                static_cast<unsigned long long>(bytes),
                want.size() / 39,
                io.backend_name().c_str(),
                same ? "identical" : "DIFFERENT",
                peak.load(),
                bound);
    if (generated) {
        ::unlink(from.c_str());
        ::unlink(to.c_str());
    }
    return same && peak.load() <= bound ? 0 : 1;
}
