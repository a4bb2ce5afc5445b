// tests/io/file_test.cpp — files: open, write_at, read_at, end of file, errors.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <string>

#include "io/io_support.hpp"
#include <unistd.h>

TEST_CASE("io: files: open / write_at / read_at / end of file / errors") {
    weft::io_context io;
    char path[] = "/tmp/weft-io-test-XXXXXX";
    const int tmp = ::mkstemp(path);
    REQUIRE(tmp >= 0);
    ::close(tmp);
    {
        auto f = await_get(weft::file::open(io, path, O_RDWR | O_TRUNC));
        std::string text(100'000, '\0');
        std::iota(text.begin(), text.end(), 'a');
        CHECK(await_get(f.write_all_at(0, text)) == text.size());
        CHECK(await_get(f.write_at(text.size(), std::string_view("tail"))) == 4);
        std::string back(text.size() + 4, '\0');
        CHECK(await_get(f.read_exact_at(0, back)) == back.size());
        CHECK(back == text + "tail");
        std::array<char, 8> past{};
        CHECK(await_get(f.read_at(back.size(), past)) == 0); // end of file
        auto short_file = f.read_exact_at(back.size() - 2, past);
        CHECK(error_of(short_file) == weft::io_errc::eof);
    }
    auto missing = weft::file::open(io, "/nonexistent-dir/weft");
    CHECK(error_of(missing) == std::errc::no_such_file_or_directory);
    ::unlink(path);
}
