// tests/io/io_fault_test.cpp — the reactor fault matrix (docs/decisions/0006-io-reactor.md §10) through the
// syscall seam (weft/detail/io/sys.hpp). Each fault is planted at the epoll backend's syscall
// and at the io_uring backend's completion, so the suite means the same on both backends.
#include <weft/detail/io/sys.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "io/io_support.hpp"
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

using namespace std::chrono_literals;
using weft::detail::io::op_kind;
using weft_test::await_get;
using weft_test::connect_pair;
using weft_test::error_of;

namespace {

namespace io = weft::detail::io;

/// One planted fault: the next `count` operations of `kind` fail with `err` (count < 0: all).
struct plan {
    std::atomic<op_kind> kind{op_kind::cancel};
    std::atomic<int> err{0};
    std::atomic<int> count{0};
    std::atomic<int> hits{0};
    bool take(op_kind k) {
        if (kind.load() != k) {
            return false;
        }
        int c = count.load();
        while (c != 0) {
            if (count.compare_exchange_weak(c, c < 0 ? c : c - 1)) {
                ++hits;
                return true;
            }
        }
        return false;
    }
};
plan fault;
std::atomic<int> wait_eintr{0};
std::atomic<std::size_t> clamp{0};

ssize_t faulty_recv(int fd, void* b, std::size_t n, int f) {
    if (fault.take(op_kind::recv)) {
        errno = fault.err.load();
        return -1;
    }
    return ::recv(fd, b, n, f);
}
ssize_t faulty_send(int fd, const void* b, std::size_t n, int f) {
    if (fault.take(op_kind::send)) {
        errno = fault.err.load();
        return -1;
    }
    return ::send(fd, b, n, f);
}
int faulty_accept4(int fd, sockaddr* a, socklen_t* l, int f) {
    if (fault.take(op_kind::accept)) {
        errno = fault.err.load();
        return -1;
    }
    return ::accept4(fd, a, l, f);
}
int faulty_epoll_wait(int e, epoll_event* ev, int n, int t) {
    if (wait_eintr.load() > 0) {
        --wait_eintr;
        errno = EINTR;
        return -1;
    }
    return ::epoll_wait(e, ev, n, t);
}
std::atomic<bool> pwait2_missing{false};         // a kernel older than 5.11
std::atomic<std::int64_t> shortest_pwait2_ns{0}; // the shortest finite timeout asked of each
std::atomic<std::int64_t> shortest_timerfd_ns{0};
void note_shortest(std::atomic<std::int64_t>& shortest, const timespec& t) {
    const std::int64_t ns = std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
    std::int64_t seen = shortest.load();
    while ((seen == 0 || ns < seen) && !shortest.compare_exchange_weak(seen, ns)) {
    }
}
int faulty_epoll_pwait2(int e, epoll_event* ev, int n, const timespec* t) {
    if (pwait2_missing.load()) {
        errno = ENOSYS;
        return -1;
    }
    if (wait_eintr.load() > 0) {
        --wait_eintr;
        errno = EINTR;
        return -1;
    }
    if (t != nullptr) {
        note_shortest(shortest_pwait2_ns, *t);
    }
    return io::real::epoll_pwait2(e, ev, n, t);
}
int recording_timerfd_settime(int fd, int flags, const itimerspec* v, itimerspec* old) {
    note_shortest(shortest_timerfd_ns, v->it_value);
    return ::timerfd_settime(fd, flags, v, old);
}
std::atomic<bool> hold_second_transfer{false}; // epoll files: the 2nd pread/pwrite waits for the test
std::atomic<bool> in_held_transfer{false};
std::atomic<int> file_transfers{0};
void hold_if_second() {
    if (++file_transfers == 2 && hold_second_transfer.load()) {
        in_held_transfer = true;
        weft_test::eventually([] { return !hold_second_transfer.load(); }, 20s);
    }
}
ssize_t held_pwrite(int fd, const void* b, std::size_t n, off_t o) {
    hold_if_second();
    return ::pwrite(fd, b, n, o);
}
ssize_t held_pread(int fd, void* b, std::size_t n, off_t o) {
    hold_if_second();
    return ::pread(fd, b, n, o);
}
#if WEFT_HAS_URING
int faulty_uring_wait(io_uring* r, io_uring_cqe** c, unsigned n, __kernel_timespec* t, sigset_t* s) {
    if (wait_eintr.load() > 0) {
        --wait_eintr;
        (void)::io_uring_submit(r); // what the kernel does before it is interrupted
        return -EINTR;
    }
    return ::io_uring_submit_and_wait_timeout(r, c, n, t, s);
}
#endif
int faulty_inject(op_kind k) {
    return fault.take(k) ? -fault.err.load() : 0;
}
std::size_t clamped(op_kind, std::size_t n) {
    const std::size_t c = clamp.load();
    return c != 0 && n > c ? c : n;
}

/// Installs the faulty table for the test's lifetime (create io_contexts inside it only).
struct faulty_sys {
    faulty_sys() {
        auto& s = io::sys();
        s.recv = &faulty_recv;
        s.send = &faulty_send;
        s.accept4 = &faulty_accept4;
        s.epoll_wait = &faulty_epoll_wait;
        s.epoll_pwait2 = &faulty_epoll_pwait2;
        s.timerfd_settime = &recording_timerfd_settime;
        s.pwrite = &held_pwrite;
        s.pread = &held_pread;
#if WEFT_HAS_URING
        s.uring_submit_and_wait_timeout = &faulty_uring_wait;
#endif
        s.inject = &faulty_inject;
        s.clamp_len = &clamped;
    }
    ~faulty_sys() {
        io::sys() = io::real_sys;
        fault.count = 0;
        fault.hits = 0;
        wait_eintr = 0;
        clamp = 0;
        pwait2_missing = false;
        shortest_pwait2_ns = 0;
        shortest_timerfd_ns = 0;
        hold_second_transfer = false;
        in_held_transfer = false;
        file_transfers = 0;
    }
    faulty_sys(const faulty_sys&) = delete;
    faulty_sys& operator=(const faulty_sys&) = delete;
};

void plant(op_kind k, int err, int count) {
    fault.hits = 0;
    fault.err = err;
    fault.kind = k;
    fault.count = count;
}

weft::task<int> ping(weft::tcp_socket& c, weft::tcp_socket& s, int rounds, std::size_t size) {
    int good = 0;
    std::string msg(size, '\0');
    for (int i = 0; i < rounds; ++i) {
        for (std::size_t j = 0; j < size; ++j) {
            msg[j] = static_cast<char>('a' + (i + static_cast<int>(j)) % 26);
        }
        auto w = c.write_all(msg);
        std::string got(size, '\0');
        co_await s.read_exact(got);
        co_await w;
        good += got == msg ? 1 : 0;
    }
    co_return good;
}

} // namespace

TEST_CASE("fault: EINTR from every wait is invisible") {
    faulty_sys f;
    weft::io_context io;
    auto [c, s] = connect_pair(io);
    wait_eintr = 50;
    CHECK(await_get(ping(c, s, 50, 100)) == 50);
    await_get(weft::delay(io, 5ms)); // timer deadlines still met
}

TEST_CASE("fault: EINTR and EAGAIN from reads and writes are retried / never seen") {
    faulty_sys f;
    weft::io_context io;
    for (int err : {EINTR, EAGAIN}) {
        // A fresh pair: the accepted socket is not registered yet, so on epoll a (spurious)
        // EAGAIN is followed by the registration, which reports the readiness that is there.
        // (On an edge-triggered registration epoll trusts EAGAIN: readiness comes as an edge.)
        auto [c, s] = connect_pair(io);
        await_get(c.write_all(std::string_view("ping")));
        plant(op_kind::recv, err, err == EINTR ? 3 : 1);
        std::array<char, 4> in{};
        CHECK(await_get(s.read_exact(in)) == 4);
        CHECK(fault.hits.load() > 0);
        auto [c2, s2] = connect_pair(io);
        plant(op_kind::send, err, err == EINTR ? 3 : 1);
        CHECK(await_get(s2.write_all(std::string_view("pong"))) == 4);
        CHECK(await_get(c2.read_exact(in)) == 4);
        CHECK(std::string(in.data(), 4) == "pong");
        CHECK(fault.hits.load() > 0);
        CHECK(await_get(ping(c, s, 10, 64)) == 10);
    }
}

TEST_CASE("fault: short I/O (1 byte per attempt) still transfers byte-exactly") {
    faulty_sys f;
    weft::io_context io;
    auto [c, s] = connect_pair(io);
    clamp = 1;
    CHECK(await_get(ping(c, s, 5, 3000)) == 5);
    clamp = 7;
    CHECK(await_get(ping(c, s, 5, 3001)) == 5);
}

TEST_CASE("fault: ECONNRESET / EPIPE and ENOBUFS reach only the operation they hit") {
    faulty_sys f;
    weft::io_context io;
    auto [c, s] = connect_pair(io);
    auto [c2, s2] = connect_pair(io);
    std::array<char, 4> buf{};
    plant(op_kind::recv, ECONNRESET, 1);
    auto r = s.read_some(buf);
    await_get(c.write_all(std::string_view("data")));
    CHECK(error_of(r) == std::errc::connection_reset);
    CHECK(await_get(s.read_exact(buf)) == 4); // the reset read consumed nothing: the data is still there
    for (int err : {EPIPE, ENOBUFS}) {
        plant(op_kind::send, err, 1);
        auto w = c.write_all(std::string_view("data"));
        CHECK(error_of(w) == std::error_code(err, std::system_category()));
    }
    CHECK(await_get(ping(c2, s2, 10, 32)) == 10); // the other connection never noticed
    CHECK(await_get(ping(c, s, 3, 4)) == 3);      // nor does this one's next op
}

TEST_CASE("fault: EMFILE and ECONNABORTED fail one accept and the listener recovers") {
    faulty_sys f;
    weft::io_context io;
    auto listener = weft::tcp_listener::bind(io, weft::endpoint::loopback_v4(0));
    std::vector<weft::tcp_socket> clients;
    for (int err : {EMFILE, ENFILE, ECONNABORTED}) {
        plant(op_kind::accept, err, 1);
        auto failed = listener.accept();
        CHECK(error_of(failed) == std::error_code(err, std::system_category()));
        auto ok = listener.accept();
        clients.push_back(await_get(weft::tcp_socket::connect(io, listener.local_endpoint())));
        auto server = await_get(std::move(ok));
        CHECK(server.is_open());
    }
}

TEST_CASE("fault: cancel outcomes 0 / EALREADY and ENOENT / in both completion orders") {
    faulty_sys f;
    for (const bool reversed : {false, true}) {
        weft::detail::io::sys().reverse_cqe_batches = reversed; // before the io_context exists
        weft::io_context io;
        auto [c, s] = connect_pair(io);
        for (int cancel_res : {0, EALREADY, ENOENT}) {
            // io_uring: the async-cancel "fails" with cancel_res (0: it really cancels); the
            // read then ends by itself. epoll cancels at once. Either way: exactly one ending,
            // and no byte lost.
            plant(op_kind::cancel, cancel_res, -1);
            weft::cancellation_source cs;
            std::array<char, 4> buf{};
            auto r = s.read_exact(buf, {.token = cs.token()});
            cs.cancel();
            await_get(c.write_all(std::string_view("abcd")));
            REQUIRE(r.wait_for(20s));
            if (r.is_canceled()) {
                CHECK(await_get(s.read_exact(buf)) == 4); // the data is still there
            } else {
                CHECK(r.get() == 4);
            }
            CHECK(std::string(buf.data(), 4) == "abcd");
        }
    }
}

TEST_CASE("fault: a failing io_uring setup falls back to epoll and says why") {
    faulty_sys f;
    for (int err : {ENOSYS, EPERM, ENOMEM}) {
        static std::atomic<int> planted{0};
        planted = err;
        io::sys().uring_queue_init_params = [](unsigned, io_uring*, io_uring_params*) {
            return -planted.load();
        };
        weft::io_context io{weft::io_options{.backend = weft::io_backend::uring}};
        CHECK(io.backend_name() == "epoll");
        CHECK_FALSE(io.fallback_reason().empty());
        auto [c, s] = connect_pair(io);
        CHECK(await_get(ping(c, s, 3, 16)) == 3);
    }
}

TEST_CASE("fault: epoll_ctl failing (EPERM / ENOMEM) fails the operation / not the reactor") {
    faulty_sys f;
    static std::atomic<int> planted{0};
    io::sys().epoll_ctl = [](int e, int op, int fd, epoll_event* ev) {
        if (op == EPOLL_CTL_ADD && planted.load() != 0) {
            errno = planted.exchange(0);
            return -1;
        }
        return ::epoll_ctl(e, op, fd, ev);
    };
    weft::io_context io{weft::io_options{.backend = weft::io_backend::epoll}};
    for (int err : {EPERM, ENOMEM}) {
        auto [c, s] = connect_pair(io);
        planted = err;
        std::array<char, 4> buf{};
        auto r = s.read_some(buf); // nothing to read: it must register, which fails
        CHECK(error_of(r) == std::error_code(err, std::system_category()));
        CHECK(await_get(ping(c, s, 3, 16)) == 3);
    }
}

TEST_CASE("fault: a saturated wake-up eventfd (EAGAIN) still wakes the reactor") {
    faulty_sys f;
    static std::atomic<int> saturated{0};
    io::sys().eventfd_write = [](int fd, const void* b, std::size_t n) -> ssize_t {
        if (saturated.load() > 0) {
            --saturated;
            // the counter is already non-zero (a wake-up is pending): the kernel says EAGAIN
            [[maybe_unused]] ssize_t r = ::write(fd, b, n);
            errno = EAGAIN;
            return -1;
        }
        return ::write(fd, b, n);
    };
    weft::io_context io;
    for (int i = 0; i < 50; ++i) {
        saturated = 1;
        std::this_thread::sleep_for(1ms);
        CHECK(await_get(weft::spawn(io, [] { return 1; })) == 1);
    }
}

TEST_CASE("fault: io_uring submit refused with EBUSY delays cancels and closes and loses none") {
    faulty_sys f;
    static std::atomic<bool> busy{false};
    static std::atomic<int> refused{0};
#if WEFT_HAS_URING
    io::sys().uring_submit = [](io_uring* r) {
        if (busy.load()) {
            ++refused;
            return -EBUSY; // the SQEs stay queued; the next wait submits them
        }
        return ::io_uring_submit(r);
    };
#endif
    std::optional<weft::io_context> io;
    io.emplace(weft::io_options{.ring_entries = 4});
    auto rx = weft::udp_socket::bind(*io, weft::endpoint::loopback_v4(0));
    auto pair = connect_pair(*io);
    std::vector<std::array<char, 8>> bufs(100);
    std::vector<weft::task<weft::datagram>> reads;
    for (auto& b : bufs) {
        reads.push_back(rx.receive_from(b));
    }
    std::array<char, 8> buf{};
    auto stream_read = pair.server.read_some(buf);
    await_get(weft::spawn(*io, [] {}));
    busy = true;
    await_get(weft::spawn(*io, [&] { pair.server.close(); })); // its cancel and close(2) wait for a submit
    CHECK(error_of(stream_read) == weft::io_errc::closed);
    io.reset(); // 100 cancels through a 4-entry SQ whose submit says EBUSY
    busy = false;
    for (auto& r : reads) {
        REQUIRE(r.wait_for(20s));
        CHECK(r.is_canceled());
    }
    if (weft_test::wanted_backend() == "uring") {
        CHECK(refused.load() > 0);
    }
}

TEST_CASE("fault: epoll timers wait with nanosecond precision: epoll_pwait2, else a timerfd") {
    faulty_sys f;
    for (const bool missing : {false, true}) {
        pwait2_missing = missing;
        shortest_pwait2_ns = 0;
        shortest_timerfd_ns = 0;
        weft::io_context io{weft::io_options{.backend = weft::io_backend::epoll}};
        for (int i = 0; i < 20; ++i) {
            await_get(weft::delay(io, 300us)); // epoll_wait's milliseconds would ask for 1 ms
        }
        auto& shortest = missing ? shortest_timerfd_ns : shortest_pwait2_ns;
        CHECK(shortest.load() > 0);
        CHECK(shortest.load() <= 300'000); // a sub-millisecond wait was asked for, not 1 ms
        CHECK((missing ? shortest_pwait2_ns : shortest_timerfd_ns).load() == 0);
    }
}

TEST_CASE("fault: an exact file transfer canceled between its short parts stops and says how far it got") {
    faulty_sys f;
    clamp = 1; // one byte per attempt: 64 Ki attempts, the cancel lands between two of them
    hold_second_transfer = true;
    weft::io_context io;
    char path[] = "/tmp/weft-fault-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    const std::string before(std::size_t{1} << 16, 'r'); // the file's content
    const std::string data(before.size(), 'w');          // what the write puts over it
    REQUIRE(::write(fd, before.data(), before.size()) == static_cast<ssize_t>(before.size()));
    const auto file_content = [&] {
        std::string now(before.size(), '\0');
        REQUIRE(::pread(fd, now.data(), now.size(), 0) == static_cast<ssize_t>(now.size()));
        return now;
    };
    const bool uring = io.backend_name() == "io_uring";
    std::string got(data.size(), '\0');
    const auto read_so_far = [&] { // io_uring: the kernel writes the buffer from the front
        return std::atomic_ref<char>(got[0]).load() != '\0';
    };
    weft::file file = await_get(weft::file::open(io, path, O_RDWR));
    weft::cancellation_source cs;
    const bool writing = GENERATE(true, false);
    auto transfer =
        writing ? file.write_all_at(0, data, {.token = cs.token()}) : file.read_exact_at(0, got, {.token = cs.token()});
    // epoll: the cancel lands while a pool thread is inside a pread/pwrite (it cannot be taken
    // back from the pool); io_uring: between two of the kernel's one-byte transfers
    CHECK(weft_test::eventually([&] {
        if (!uring) {
            return in_held_transfer.load();
        }
        char first = 0;
        return writing ? ::pread(fd, &first, 1, 0) == 1 && first == 'w' : read_so_far();
    }));
    cs.cancel();
    await_get(weft::spawn(io, [] {})); // the reactor has seen the cancel request
    hold_second_transfer = false;
    REQUIRE(transfer.wait_for(20s));
    REQUIRE(transfer.is_canceled());
    std::size_t transferred = 0;
    try {
        transfer.get();
    } catch (const weft::transfer_canceled& e) {
        transferred = e.transferred();
    }
    CHECK(transferred > 0);
    CHECK(transferred < data.size()); // it stopped: the rest was never transferred
    if (writing) {
        CHECK(file_content() == data.substr(0, transferred) + before.substr(transferred));
    } else {
        CHECK(got.substr(0, transferred) == before.substr(0, transferred));
        CHECK(got[transferred] == '\0');
    }
    file.close();
    ::close(fd);
    ::unlink(path);
}
