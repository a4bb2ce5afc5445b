// tests/io/unix_test.cpp — UNIX-domain sockets: paths and abstract names, their limits, stale and
// live socket files, connect errors and a full backlog, datagrams, pairs, and a UNIX read
// under a timeout. (The stream contract cases shared with TCP are in tcp_test.cpp and
// io_contract_test.cpp.) Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/weft.hpp>

#include <array>
#include <cerrno>
#include <string>
#include <vector>

#include "io/io_support.hpp"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

/// A fresh directory for socket files, removed (with what is left in it) at the end.
struct temp_dir {
    temp_dir() {
        char tmpl[] = "/tmp/weft-unix-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        const std::string cmd = "rm -rf '" + path + "'";
        [[maybe_unused]] const int rc = std::system(cmd.c_str());
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
    std::string path;
};

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

int code_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& x) {
        return x.code().value();
    } catch (...) {
    }
    return 0;
}

template<typename F>
int thrown_code(F&& f) {
    try {
        f();
    } catch (...) {
        return code_of(std::current_exception());
    }
    return 0;
}

} // namespace

TEST_CASE("unix: a stream echo over a filesystem path and over an abstract name") {
    weft::io_context io;
    temp_dir dir;
    for (const auto& at : {weft::unix_endpoint::path(dir.file("echo.sock")),
                           weft::unix_endpoint::abstract("weft-echo-" + std::to_string(::getpid()))}) {
        auto listener = weft::unix_listener::bind(io, at);
        CHECK(listener.local_endpoint() == at);
        auto accepted = listener.accept();
        auto client = await_get(weft::unix_socket::connect(io, at));
        auto server = await_get(std::move(accepted));
        auto echoed = echo_until_eof(std::move(server));
        CHECK(await_get(ping(client, 100)) == 100);
        client.shutdown_send();
        std::array<char, 8> buf;
        CHECK(await_get(client.read_some(buf)) == 0); // end of stream, not an error
        CHECK(await_get(echoed) > 0);
        CHECK(client.remote_endpoint() == at);
        CHECK(client.local_endpoint().is_unnamed());
        CHECK(client.peer_credentials().pid == ::getpid());
    }
    CHECK(exists(dir.file("echo.sock"))); // the file stays after the listener closed
}

TEST_CASE("unix: addresses: 107 bytes bind, 108 fail with ENAMETOOLONG, never truncated") {
    weft::io_context io;
    temp_dir dir;
    std::string longest = dir.file("");
    longest += std::string(weft::unix_endpoint::max_length - longest.size(), 's');
    REQUIRE(longest.size() == 107);
    auto l = weft::unix_listener::bind(io, weft::unix_endpoint::path(longest));
    CHECK(exists(longest));
    CHECK(l.local_endpoint().name() == longest);
    CHECK(thrown_code([&] { (void)weft::unix_endpoint::path(longest + "x"); }) == ENAMETOOLONG);
    CHECK(thrown_code([&] { (void)weft::unix_endpoint::abstract(std::string(108, 'a')); }) == ENAMETOOLONG);
    CHECK(weft::unix_endpoint::abstract(std::string(107, 'a')).name().size() == 107);
    CHECK_THROWS_AS(weft::unix_endpoint::path(""), std::invalid_argument);
    CHECK_THROWS_AS(weft::unix_endpoint::path(std::string("a\0b", 3)), std::invalid_argument);
    CHECK(weft::unix_endpoint::abstract("x").to_string() == "@x");
    CHECK(weft::unix_endpoint().to_string() == "(unnamed)");
    CHECK_THROWS_AS(weft::unix_listener::bind(io, weft::unix_endpoint()), std::invalid_argument);
}

TEST_CASE("unix: an abstract name leaves no file and is free again once its listener closes") {
    weft::io_context io;
    const auto at = weft::unix_endpoint::abstract("weft-abstract-" + std::to_string(::getpid()));
    {
        auto l = weft::unix_listener::bind(io, at);
        CHECK(l.local_endpoint().is_abstract());
        CHECK(thrown_code([&] { (void)weft::unix_listener::bind(io, at); }) == EADDRINUSE);
    }
    // the name is released once the I/O thread has closed the descriptor (promptly)
    CHECK(thrown_code([&] { (void)weft::unix_socket::connect(io, at); }) == ECONNREFUSED);
    weft::unix_listener again;
    CHECK(eventually([&] {
        try {
            again = weft::unix_listener::bind(io, at);
        } catch (const std::system_error&) {
        }
        return again.is_open();
    }));
}

TEST_CASE("unix: a stale socket file is replaced, a live listener's is not (even with a full backlog)") {
    weft::io_context io;
    temp_dir dir;
    const auto at = weft::unix_endpoint::path(dir.file("server.sock"));
    { auto first = weft::unix_listener::bind(io, at); } // closed: its file is stale now
    REQUIRE(exists(dir.file("server.sock")));
    auto second = weft::unix_listener::bind(io, at); // replaces it
    // fill the live listener's backlog with raw non-blocking connects nobody accepts
    std::vector<int> raw;
    for (int i = 0; i < 10000; ++i) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (::connect(fd, at.data(), at.size()) != 0) {
            CHECK(errno == EAGAIN);
            ::close(fd);
            break;
        }
        raw.push_back(fd);
    }
    CHECK(thrown_code([&] { (void)weft::unix_listener::bind(io, at); }) == EADDRINUSE);
    CHECK(exists(dir.file("server.sock")));
    auto accepted = second.accept(); // the live listener still has its file and its clients
    CHECK(await_get(accepted).is_open());
    for (const int fd : raw) {
        ::close(fd);
    }
    // a path that exists and is not a socket is left alone
    const std::string plain = dir.file("plain");
    ::close(::open(plain.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    CHECK(thrown_code([&] { (void)weft::unix_listener::bind(io, weft::unix_endpoint::path(plain)); }) == EADDRINUSE);
    CHECK(exists(plain));
}

TEST_CASE("unix: connect errors: ENOENT, ECONNREFUSED for a stale file or an unbound abstract name") {
    weft::io_context io;
    temp_dir dir;
    CHECK(thrown_code([&] { (void)weft::unix_socket::connect(io, weft::unix_endpoint::path(dir.file("none"))); }) ==
          ENOENT);
    const auto at = weft::unix_endpoint::path(dir.file("stale.sock"));
    { auto l = weft::unix_listener::bind(io, at); }
    CHECK(thrown_code([&] { (void)weft::unix_socket::connect(io, at); }) == ECONNREFUSED);
    CHECK(thrown_code([&] {
              (void)weft::unix_socket::connect(
                  io, weft::unix_endpoint::abstract("weft-nobody-" + std::to_string(::getpid())));
          }) == ECONNREFUSED);
}

TEST_CASE("unix: a connect to a full backlog waits for room, and a token cancels it") {
    weft::io_context io;
    const auto at = weft::unix_endpoint::abstract("weft-backlog-" + std::to_string(::getpid()));
    auto listener = weft::unix_listener::bind(io, at, 1);
    std::vector<weft::unix_socket> queued;
    weft::task<weft::unix_socket> waiting;
    for (int i = 0; i < 10000; ++i) {
        auto c = weft::unix_socket::connect(io, at);
        if (!c.is_ready()) {
            waiting = std::move(c);
            break;
        }
        queued.push_back(std::move(c).get());
    }
    REQUIRE(waiting.valid());
    CHECK_FALSE(waiting.wait_for(20ms));
    auto one = await_get(listener.accept()); // room for one more
    CHECK(await_get(std::move(waiting)).is_open());

    weft::cancellation_source cancel;
    weft::task<weft::unix_socket> blocked;
    for (int i = 0; i < 10000 && !blocked.valid(); ++i) {
        auto c = weft::unix_socket::connect(io, at, {.token = cancel.token()});
        if (c.is_ready()) {
            queued.push_back(std::move(c).get());
        } else {
            blocked = std::move(c);
        }
    }
    REQUIRE(blocked.valid());
    cancel.cancel();
    REQUIRE(blocked.wait_for(20s));
    CHECK(blocked.is_canceled());
}

TEST_CASE("unix: pairs: a stream pair and a datagram pair keep bytes and message boundaries") {
    weft::io_context io;
    auto [a, b] = weft::unix_socket::pair(io);
    CHECK(await_get(ping(a, 0)) == 0);
    auto echoed = echo_until_eof(std::move(b));
    CHECK(await_get(ping(a, 50)) == 50);
    a.shutdown_send();
    CHECK(await_get(echoed) > 0);

    auto [x, y] = weft::unix_datagram_socket::pair(io);
    const std::string first = "first", second = "second message";
    CHECK(await_get(x.send(first)) == first.size());
    CHECK(await_get(x.send(second)) == second.size());
    std::array<char, 64> buf{};
    const auto d1 = await_get(y.receive_from(buf));
    CHECK(std::string(buf.data(), d1.size) == first);
    CHECK(d1.from.is_unnamed());
    const auto d2 = await_get(y.receive_from(buf));
    CHECK(std::string(buf.data(), d2.size) == second);
}

TEST_CASE("unix: datagrams between bound sockets: sender's name, replies, truncation to the buffer") {
    weft::io_context io;
    temp_dir dir;
    const auto server_at = weft::unix_endpoint::path(dir.file("dgram.sock"));
    const auto client_at = weft::unix_endpoint::abstract("weft-dgram-client-" + std::to_string(::getpid()));
    auto server = weft::unix_datagram_socket::bind(io, server_at);
    auto client = weft::unix_datagram_socket::bind(io, client_at);
    std::array<char, 64> buf{};
    auto got = server.receive_from(buf);
    CHECK(await_get(client.send_to(std::string_view("question"), server_at)) == 8);
    const auto d = await_get(got);
    CHECK(std::string(buf.data(), d.size) == "question");
    CHECK(d.from == client_at);
    CHECK(await_get(server.send_to(std::string_view("answer"), d.from)) == 6);
    std::array<char, 3> small{};
    const auto reply = await_get(client.receive_from(small));
    CHECK(reply.size == 3); // truncated to the buffer
    CHECK(std::string(small.data(), 3) == "ans");
    auto unbound = weft::unix_datagram_socket::open(io);
    unbound.connect(server_at);
    CHECK(await_get(unbound.send(std::string_view("connected"))) == 9);
    CHECK(await_get(server.receive_from(buf)).size == 9);
    CHECK(thrown_code([&] { (void)weft::unix_datagram_socket::bind(io, server_at); }) == EADDRINUSE);
}

TEST_CASE("unix: a timeout around a read cancels it, and the bytes sent later reach the next read") {
    weft::io_context io;
    auto [client, server] = connect_unix_pair(io);
    std::array<char, 4> buf{};
    auto timed = weft::with_timeout(io, server.read_exact(buf), 20ms);
    REQUIRE(timed.wait_for(20s));
    CHECK_THROWS_AS(timed.get(), weft::timeout_error);
    await_get(client.write_all(std::string_view("late")));
    CHECK(await_get(server.read_exact(buf)) == 4);
    CHECK(std::string(buf.data(), 4) == "late");
}

TEST_CASE("unix: a strand's coroutine awaiting a UNIX read resumes on the strand") {
    weft::io_context io;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand st{pool};
    auto pair = connect_unix_pair(io);
    std::array<char, 5> buf{};
    auto reader = [&]() -> weft::task<bool> {
        co_await weft::resume_on(st);
        co_await pair.server.read_exact(buf);
        co_return st.runs_on_this_thread();
    };
    auto t = reader();
    await_get(pair.client.write_all(std::string_view("hello")));
    CHECK(await_get(t));
}
