// file_copy: copies a file with asynchronous positional reads and writes, two blocks in flight
// (read block k+1 while block k is written). `file_copy SRC DST`; with no argument it copies
// a generated 4 MiB file and checks the copy.
#include <weft/weft.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

constexpr std::size_t block = 256 * 1024;

weft::task<std::uint64_t> copy(weft::io_context& io, std::string from, std::string to) {
    weft::file src = co_await weft::file::open(io, from, O_RDONLY);
    weft::file dst = co_await weft::file::open(io, to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::array<std::vector<std::byte>, 2> buf{std::vector<std::byte>(block), std::vector<std::byte>(block)};
    std::uint64_t offset = 0;
    std::size_t n = co_await src.read_at(0, buf[0]);
    weft::task<std::size_t> writing;
    for (std::size_t cur = 0; n > 0; cur ^= 1u) {
        if (writing.valid()) {
            co_await writing; // the other buffer is free again
        }
        writing = dst.write_all_at(offset, std::span(buf[cur].data(), n));
        offset += n;
        n = co_await src.read_at(offset, buf[cur ^ 1u]); // overlaps the write above
    }
    if (writing.valid()) {
        co_await writing;
    }
    co_return offset;
}

int main(int argc, char** argv) {
    weft::io_context io;
    if (argc > 2) {
        const std::uint64_t bytes = copy(io, argv[1], argv[2]).get();
        std::printf("copied %llu bytes (%s)\n", static_cast<unsigned long long>(bytes), io.backend_name().c_str());
        return 0;
    }
    const std::string from = "/tmp/weft-file-copy-src-" + std::to_string(::getpid());
    const std::string to = from + "-copy";
    std::vector<char> data(4 * 1024 * 1024 + 123);
    unsigned x = 12345;
    for (char& c : data) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    {
        weft::file f = weft::file::open(io, from, O_WRONLY | O_CREAT | O_TRUNC, 0600).get();
        f.write_all_at(0, data).get();
    }
    const std::uint64_t bytes = copy(io, from, to).get();
    std::vector<char> back(data.size());
    std::array<char, 1> past{};
    weft::file g = weft::file::open(io, to).get();
    g.read_exact_at(0, back).get();
    const bool same = bytes == data.size() && g.read_at(data.size(), past).get() == 0 && back == data;
    ::unlink(from.c_str());
    ::unlink(to.c_str());
    std::printf("copied %llu bytes with %s: %s\n",
                static_cast<unsigned long long>(bytes),
                io.backend_name().c_str(),
                same ? "identical" : "DIFFERENT");
    return same ? 0 : 1;
}
