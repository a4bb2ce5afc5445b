// tests/io/io_context_test.cpp — io_context itself: backend choice and options, the ring under
// pressure, post, idle CPU, fairness between connections, several I/O threads, shutdown.
// Runs twice under ctest: WEFT_IO_BACKEND=uring and WEFT_IO_BACKEND=epoll.
#include <weft/detail/io/sys.hpp>
#include <weft/weft.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "io/io_support.hpp"
#include "support/cpu.hpp"
#include <dirent.h>
#include <unistd.h>

TEST_CASE("io: the backend asked for is the one that runs / or the fallback says why") {
    weft::io_context io;
    const std::string wanted = weft_test::wanted_backend();
    INFO("backend " << io.backend_name() << ", fallback: " << io.fallback_reason());
    if (wanted == "epoll") {
        CHECK(io.backend_name() == "epoll");
    } else if (io.backend_name() == "epoll") {
        CHECK_FALSE(io.fallback_reason().empty()); // io_uring was wanted but could not be set up
        WARN("io_uring unavailable here: " << io.fallback_reason());
    } else {
        CHECK(io.backend_name() == "io_uring");
    }
    weft::io_context forced{weft::io_options{.backend = weft::io_backend::epoll}};
    CHECK(forced.backend_name() == "epoll");
}

TEST_CASE("io: bad options and a bad WEFT_IO_BACKEND are rejected") {
    CHECK_THROWS_AS(weft::io_context(weft::io_options{.threads = 0}), std::invalid_argument);
    CHECK_THROWS_AS(weft::io_context(weft::io_options{.policy = weft::io_policy::on(weft::any_scheduler{})}),
                    std::invalid_argument);
    const std::string saved = weft_test::wanted_backend();
    ::setenv("WEFT_IO_BACKEND", "kqueue", 1);
    CHECK_THROWS_AS(weft::io_context(), std::invalid_argument);
    if (saved.empty()) {
        ::unsetenv("WEFT_IO_BACKEND");
    } else {
        ::setenv("WEFT_IO_BACKEND", saved.c_str(), 1);
    }
}

TEST_CASE("io: a tiny ring (4 entries) with 1000 operations in flight loses nothing") {
    // io_uring: the SQ fills (ops wait in the backlog), the CQ (8) overflows (the kernel keeps
    // the rest: NODROP) and is flushed. epoll runs the same test as a plain many-ops case.
    weft::io_context io{weft::io_options{.ring_entries = 4}};
    auto rx = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
    auto tx = weft::udp_socket::bind(io, weft::endpoint::loopback_v4(0));
    constexpr int n = 1000;
    std::vector<std::array<std::uint32_t, 1>> in(n);
    std::atomic<int> received{0};
    std::vector<weft::task<std::size_t>> receiving;
    for (int i = 0; i < n; ++i) {
        receiving.push_back(rx.receive_from(in[static_cast<std::size_t>(i)]).then([&](weft::datagram& d) {
            ++received;
            return d.size;
        }));
    }
    // At most 64 datagrams unreceived at a time (UDP drops what overflows the socket buffer);
    // their completions still arrive in bursts far larger than the CQ. Which receive gets
    // which datagram is the kernel's choice.
    constexpr int window = 64;
    std::vector<std::array<std::uint32_t, 1>> out(n);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (int i = 0; i < n; ++i) {
        while (received.load() < i - window && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        REQUIRE(received.load() >= i - window);
        const auto k = static_cast<std::size_t>(i);
        out[k][0] = static_cast<std::uint32_t>(i);
        CHECK(await_get(tx.send_to(out[k], rx.local_endpoint())) == 4);
    }
    for (auto& r : receiving) {
        CHECK(await_get(r) == 4);
    }
    std::vector<bool> seen(n, false);
    for (const auto& v : in) {
        REQUIRE(v[0] < static_cast<std::uint32_t>(n));
        CHECK_FALSE(seen[v[0]]);
        seen[v[0]] = true;
    }
}

TEST_CASE("io: a tiny ring still cancels 100 reads in flight when the io_context ends") {
    // io_uring: 100 async-cancels through a 4-entry SQ: most find it full and are retried.
    std::optional<weft::io_context> io;
    io.emplace(weft::io_options{.ring_entries = 4});
    auto rx = weft::udp_socket::bind(*io, weft::endpoint::loopback_v4(0));
    std::vector<std::array<char, 8>> bufs(100);
    std::vector<weft::task<weft::datagram>> reads;
    for (auto& b : bufs) {
        reads.push_back(rx.receive_from(b));
    }
    await_get(weft::spawn(*io, [] {})); // they are all in flight by now
    io.reset();
    for (auto& r : reads) {
        REQUIRE(r.wait_for(20s));
        CHECK(r.is_canceled());
    }
}

TEST_CASE("io: post from a foreign thread to an idle I/O thread runs promptly / on the I/O thread") {
    weft::io_context io{weft::io_options{.threads = 2}};
    std::this_thread::sleep_for(20ms); // both I/O threads asleep in their wait
    for (int i = 0; i < 200; ++i) {
        auto t = weft::spawn(io, [&io] { return io.runs_on_this_thread(); });
        REQUIRE(t.wait_for(5s)); // a lost wake-up would hang here
        CHECK(t.get());
    }
    CHECK(io.stats().total().wakeups > 0);
    CHECK_FALSE(io.runs_on_this_thread());
}

TEST_CASE("io: post runs fire-and-forget work on an I/O thread, each item once") {
    std::atomic<int> on_io{0};
    std::atomic<int> ran{0};
    {
        weft::io_context io{weft::io_options{.threads = 2}};
        std::thread foreign([&] {
            for (int i = 0; i < 500; ++i) {
                io.post([&] {
                    on_io.fetch_add(io.runs_on_this_thread() ? 1 : 0);
                    ran.fetch_add(1);
                });
                weft::post(io, [&] { // the free function is the same
                    on_io.fetch_add(io.runs_on_this_thread() ? 1 : 0);
                    ran.fetch_add(1);
                });
            }
        });
        foreign.join();
        REQUIRE(weft_test::eventually([&] { return ran.load() == 1000; }, 20s));
    }
    CHECK(ran.load() == 1000);
    CHECK(on_io.load() == 1000);
}

TEST_CASE("io: after a busy turn the I/O thread spins before sleeping: hand-overs need no wake-up (io_uring)") {
    // a long spin, so that on any machine the next hand-over lands inside it
    weft::io_context io{weft::io_options{.spin_before_sleep = std::chrono::seconds(2)}};
    await_get(weft::spawn(io, [] {}));
    const auto before = io.stats().total().wakeups;
    for (int i = 0; i < 100; ++i) {
        await_get(weft::spawn(io, [] {})); // each turn that runs one spins again
    }
    const auto sent = io.stats().total().wakeups - before;
    if (io.backend_name() == "io_uring") {
        CHECK(sent == 0);
    } else {
        CHECK(sent > 0); // epoll never spins: it cannot see its sockets without a system call
    }
}

TEST_CASE("io: the spin before sleeping never delays a timer due sooner") {
    weft::io_context io{weft::io_options{.spin_before_sleep = std::chrono::seconds(5)}};
    await_get(weft::spawn(io, [] {})); // a busy turn: the reactor may now be spinning
    const auto start = std::chrono::steady_clock::now();
    await_get(weft::delay(io, 5ms));                      // the turn that starts it sees the timer and does not spin
    CHECK(std::chrono::steady_clock::now() - start < 2s); // a spin through it would take 5 s
}

TEST_CASE("io: an idle io_context uses under 2% of one core") {
    weft::io_context io{weft::io_options{.threads = 2}};
    await_get(weft::spawn(io, [] {}));
    std::this_thread::sleep_for(50ms);
    CHECK(weft_test::cpu_us_while_sleeping(1000ms) < 20'000); // 2% of one core over 1 s
}

TEST_CASE("io: a flooded connection does not starve a quiet one (loud neighbour)") {
    weft::io_context io; // one I/O thread, inline_on_io: the worst case for fairness
    auto loud = connect_pair(io);
    auto quiet = connect_pair(io);
    std::atomic<bool> stop{false};
    // The loud peer floods as fast as a blocking thread can write; the server echoes it all.
    auto loud_echo = echo_until_eof(std::move(loud.server));
    std::thread flood([&, fd = loud.client.native_handle()] {
        std::vector<char> chunk(16 * 1024, 'L');
        while (!stop.load()) {
            if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                std::this_thread::yield();
            }
        }
    });
    std::thread reader([&, fd = loud.client.native_handle()] {
        std::vector<char> sink(64 * 1024);
        while (!stop.load()) {
            if (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) <= 0) {
                std::this_thread::yield();
            }
        }
    });
    auto quiet_echo = echo_until_eof(std::move(quiet.server));
    CHECK(await_get(ping(quiet.client, 100)) == 100); // 20 s bound: starvation fails here
    stop = true;
    flood.join();
    reader.join();
    quiet.client.close();
    loud.client.close();
    REQUIRE(quiet_echo.wait_for(20s));
    REQUIRE(loud_echo.wait_for(20s));
}

TEST_CASE("io: many connections over two I/O threads / every byte right") {
    weft::io_context io{weft::io_options{.threads = 2}};
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    constexpr int conns = 32;
    std::vector<weft::task<std::size_t>> servers;
    std::vector<weft::tcp_socket> clients;
    for (int i = 0; i < conns; ++i) {
        auto acc = listener.accept();
        clients.push_back(await_get(weft::tcp_socket::connect(io, listener.local_endpoint())));
        servers.push_back(echo_until_eof(await_get(std::move(acc))));
    }
    std::vector<weft::task<int>> pings;
    for (auto& c : clients) {
        pings.push_back(ping(c, 100));
    }
    for (auto& p : pings) {
        CHECK(await_get(p) == 100);
    }
    for (auto& c : clients) {
        c.close();
    }
    for (auto& s : servers) {
        REQUIRE(s.wait_for(20s));
    }
    const auto st = io.stats();
    REQUIRE(st.threads.size() == 2);
    CHECK(st.total().ops_begun == st.total().ops_finished); // every op ended exactly once (R3)
    CHECK(st.threads[0].ops_finished > 0);
    CHECK(st.threads[1].ops_finished > 0);
}

TEST_CASE("io: destroying the io_context cancels what is in flight and its sockets outlive it") {
    std::optional<weft::io_context> io;
    io.emplace();
    auto [client, server] = connect_pair(*io);
    std::array<char, 8> buf;
    auto reading = server.read_some(buf);
    auto sleeping = weft::delay(*io, 1h);
    auto posted = weft::spawn(*io, [] { return 1; });
    await_get(posted);
    io.reset();
    REQUIRE(reading.wait_for(1s));
    CHECK(reading.is_canceled());
    REQUIRE(sleeping.wait_for(1s));
    CHECK(sleeping.is_canceled());
    CHECK_THROWS_AS((void)server.read_some(buf), weft::shutdown_error);
    server.close(); // closes on this thread now
    client.close();
}

namespace {
/// How many threads of this process are named `name` (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/task")) {
        while (dirent* e = ::readdir(d)) {
            std::FILE* f = std::fopen(("/proc/self/task/" + std::string(e->d_name) + "/comm").c_str(), "r");
            if (f != nullptr) {
                char comm[32] = {};
                if (std::fgets(comm, sizeof comm, f) != nullptr && std::string(comm) == name + "\n") {
                    ++n;
                }
                std::fclose(f);
            }
        }
        ::closedir(d);
    }
    return n;
}
} // namespace

TEST_CASE("io: an io_context destroyed from one of its own continuations does not self-join") {
    auto* io = new weft::io_context{weft::io_options{.name = "selfdel"}};
    await_get(weft::spawn(*io, [] {})); // the I/O thread has named itself by now
    REQUIRE(threads_named("selfdel-0") == 1);
    weft::promise<void> done;
    auto t = done.get_task();
    (void)weft::spawn(*io, [io, done = std::move(done)]() mutable {
        delete io; // would deadlock (join itself) if it did not detach
        done.set_value();
    });
    REQUIRE(t.wait_for(20s));
    // The detached thread finishes its shutdown and exits by itself.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (threads_named("selfdel-0") != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK(threads_named("selfdel-0") == 0);
}
