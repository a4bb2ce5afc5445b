// Tests for weft/sync/channel.hpp and weft/sync/select.hpp: order, capacity never exceeded,
// every full mode's drops counted, complete() then drain then the end (or the error),
// canceled reads and writes take and write nothing, rendezvous, the blocking facade, a
// strand reader that comes back to its strand, select taking exactly one item.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"

using namespace std::chrono_literals;

TEST_CASE("channel: unbounded FIFO, try_ forms, complete() drains then ends") {
    weft::channel<int> ch;
    for (int i = 0; i < 100; ++i) {
        REQUIRE(ch.write(i).is_succeeded());
    }
    CHECK(ch.size() == 100);
    for (int i = 0; i < 50; ++i) {
        CHECK(ch.try_read() == i);
    }
    auto drained = ch.completion();
    CHECK(ch.complete());
    CHECK_FALSE(ch.complete()); // the first call wins
    CHECK_THROWS_AS(ch.write(1).get(), weft::channel_closed);
    CHECK_FALSE(ch.try_write(1));
    CHECK_FALSE(drained.is_ready());
    for (int i = 50; i < 100; ++i) {
        CHECK(ch.read().get() == i); // what was written before complete() still drains
    }
    CHECK(drained.is_succeeded());
    CHECK(ch.read().get() == std::nullopt); // then the end, every time
    CHECK(ch.read().get() == std::nullopt);
}

TEST_CASE("channel: complete(error) ends readers with the error after the drain, and fails waiting readers") {
    weft::channel<int> ch;
    auto waiting = ch.read();
    REQUIRE(ch.write(7).is_succeeded()); // goes to the waiting reader
    CHECK(waiting.get() == 7);
    auto waiting2 = ch.read();
    (void)ch.try_write(8);
    CHECK(waiting2.get() == 8);
    auto pending = ch.read();
    REQUIRE(ch.write(9).is_ready());
    CHECK(pending.get() == 9);
    (void)ch.try_write(10);
    ch.complete(std::make_exception_ptr(std::runtime_error("upstream")));
    CHECK(ch.read().get() == 10);
    CHECK_THROWS_AS(ch.read().get(), std::runtime_error);
    CHECK_THROWS_AS(ch.completion().get(), std::runtime_error);
    weft::channel<int> other;
    auto r = other.read();
    other.complete(std::make_exception_ptr(std::runtime_error("x")));
    CHECK_THROWS_AS(r.get(), std::runtime_error);
}

TEST_CASE("channel: bounded wait mode, writers wait in order and never exceed the capacity") {
    weft::channel<int> ch{weft::channel_options{.capacity = 2}};
    CHECK(ch.write(1).is_ready());
    CHECK(ch.write(2).is_ready());
    auto w3 = ch.write(3);
    auto w4 = ch.write(4);
    CHECK_FALSE(w3.is_ready());
    CHECK(ch.waiting_writers() == 2);
    CHECK_FALSE(ch.try_write(5));
    CHECK(ch.size() == 2);
    CHECK(ch.try_read() == 1);
    CHECK(w3.is_succeeded()); // its item moved into the buffer
    CHECK(ch.size() == 2);
    CHECK(ch.try_read() == 2);
    CHECK(ch.try_read() == 3);
    CHECK(ch.try_read() == 4);
    CHECK(w4.is_succeeded());
    CHECK(ch.dropped() == 0);
}

TEST_CASE("channel: every full mode drops what it says, and counts it") {
    using weft::full_mode;
    const auto fill = [](full_mode m) {
        weft::channel<int> ch{weft::channel_options{.capacity = 3, .when_full = m}};
        for (int i = 1; i <= 5; ++i) {
            REQUIRE(ch.try_write(i)); // a drop mode always takes the write
            REQUIRE(ch.size() <= 3);
        }
        std::vector<int> out;
        while (auto v = ch.try_read()) {
            out.push_back(*v);
        }
        CHECK(ch.dropped() == 2);
        return out;
    };
    CHECK(fill(full_mode::drop_oldest) == std::vector<int>{3, 4, 5});
    CHECK(fill(full_mode::drop_newest) == std::vector<int>{1, 2, 5});
    CHECK(fill(full_mode::drop_write) == std::vector<int>{1, 2, 3});
    CHECK_THROWS_AS(weft::channel<int>(weft::channel_options{.capacity = 0, .when_full = full_mode::drop_oldest}),
                    std::invalid_argument);
}

TEST_CASE("channel: capacity 0 is a rendezvous, each write completes when its item is read") {
    weft::channel<int> ch{weft::channel_options{.capacity = 0}};
    auto w = ch.write(1);
    CHECK_FALSE(w.is_ready());
    CHECK(ch.size() == 0);
    CHECK(ch.try_read() == 1);
    CHECK(w.is_succeeded());
    auto r = ch.read();
    CHECK_FALSE(r.is_ready());
    CHECK(ch.write(2).is_succeeded()); // a reader was waiting: handed over directly
    CHECK(r.get() == 2);
}

TEST_CASE("channel: a canceled read takes nothing, a canceled write writes nothing") {
    weft::channel<int> ch{weft::channel_options{.capacity = 1}};
    weft::cancellation_source src;
    auto r = ch.read(src.token());
    src.cancel();
    CHECK(r.is_canceled());
    CHECK(ch.waiting_readers() == 0);
    REQUIRE(ch.write(1).is_ready());
    CHECK(ch.size() == 1); // not taken by the canceled read
    weft::cancellation_source src2;
    auto w = ch.write(2, src2.token());
    src2.cancel();
    CHECK(w.is_canceled());
    CHECK(ch.try_read() == 1);
    CHECK(ch.try_read() == std::nullopt); // 2 was never written
    CHECK(ch.read(src.token()).is_canceled());
}

TEST_CASE(
    "channel: complete() fails waiting writers with channel_closed, destruction fails waiters with disposed_error") {
    weft::task<std::optional<int>> orphan_read;
    weft::task<void> orphan_write;
    {
        weft::channel<int> ch{weft::channel_options{.capacity = 1}};
        REQUIRE(ch.write(1).is_ready());
        auto blocked = ch.write(2);
        ch.complete();
        CHECK_THROWS_AS(blocked.get(), weft::channel_closed);
        CHECK(ch.try_read() == 1); // buffered before complete(): still drains
        CHECK(ch.try_read() == std::nullopt);
    }
    {
        weft::channel<int> ch;
        orphan_read = ch.read();
    }
    {
        weft::channel<int> ch{weft::channel_options{.capacity = 0}};
        orphan_write = ch.write(3);
    }
    CHECK_THROWS_AS(orphan_read.get(), weft::disposed_error);
    CHECK_THROWS_AS(orphan_write.get(), weft::disposed_error);
}

TEST_CASE("channel: move-only items, the blocking facade between plain threads") {
    weft::channel<std::unique_ptr<int>> ch{weft::channel_options{.capacity = 4}};
    constexpr int n = 10000;
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) {
            ch.write_blocking(std::make_unique<int>(i));
        }
        ch.complete();
    });
    long long sum = 0;
    int count = 0;
    int last = -1;
    bool in_order = true;
    while (auto v = ch.read_blocking()) {
        in_order = in_order && **v == last + 1;
        last = **v;
        sum += **v;
        ++count;
    }
    producer.join();
    CHECK(in_order);
    CHECK(count == n);
    CHECK(sum == static_cast<long long>(n) * (n - 1) / 2);
}

TEST_CASE("channel: a reader coroutine on a strand comes back to the strand for every item") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    weft::channel<int> ch{weft::channel_options{.capacity = 1}};
    std::atomic<int> off_strand{0};
    auto reader = weft::spawn(s, [&]() -> weft::task<int> {
        int got = 0;
        while (auto v = co_await ch.read()) {
            off_strand += s.runs_on_this_thread() ? 0 : 1;
            got += *v;
        }
        co_return got;
    });
    std::thread writer([&] {
        for (int i = 1; i <= 200; ++i) {
            ch.write_blocking(i);
        }
        ch.complete();
    });
    writer.join();
    REQUIRE(reader.wait_for(20s));
    CHECK(reader.get() == 200 * 201 / 2);
    CHECK(off_strand.load() == 0);
}

TEST_CASE("select: takes exactly one item, from a ready channel, and rotates among ready ones") {
    weft::channel<int> a;
    weft::channel<std::string> b;
    weft::channel<int> c;
    (void)a.try_write(1);
    (void)b.try_write("two");
    (void)c.try_write(3);
    int wins[3] = {0, 0, 0};
    for (int round = 0; round < 3; ++round) {
        auto r = weft::select(a, b, c).get();
        ++wins[r.index()];
        CHECK(a.size() + b.size() + c.size() == static_cast<std::size_t>(2 - round)); // exactly one taken
    }
    CHECK(wins[0] == 1);
    CHECK(wins[1] == 1);
    CHECK(wins[2] == 1);
}

TEST_CASE("select: waits for the first write, the other arms take nothing later") {
    weft::channel<int> a;
    weft::channel<int> b;
    auto sel = weft::select(a, b);
    CHECK_FALSE(sel.is_ready());
    CHECK(a.waiting_readers() == 1);
    CHECK(b.waiting_readers() == 1);
    REQUIRE(b.write(5).is_ready());
    REQUIRE(sel.is_ready());
    auto r = sel.get();
    REQUIRE(r.index() == 1);
    CHECK(std::get<1>(r) == 5);
    CHECK(a.waiting_readers() == 0); // the losing arm was withdrawn
    REQUIRE(a.write(6).is_ready());
    CHECK(a.size() == 1); // ... and took nothing
}

TEST_CASE("select: a completed channel's arm reports the end, a token cancels, errors propagate") {
    weft::channel<int> a;
    weft::channel<int> b;
    b.complete();
    auto r = weft::select(a, b).get();
    CHECK(r.index() == 1);
    CHECK(std::get<1>(r) == std::nullopt);
    weft::cancellation_source src;
    auto sel = weft::select(src.token(), a);
    src.cancel();
    CHECK(sel.is_canceled());
    CHECK(a.waiting_readers() == 0);
    (void)a.try_write(1);
    CHECK(a.size() == 1); // the canceled select took nothing
    weft::channel<int> e;
    auto failing = weft::select(e);
    e.complete(std::make_exception_ptr(std::runtime_error("e")));
    CHECK_THROWS_AS(failing.get(), std::runtime_error);
}

TEST_CASE("channel: complete() ends 50 waiting writers and 50 waiting readers before it returns") {
    weft::channel<int> full({.capacity = 1});
    weft::channel<int> empty({.capacity = 1});
    REQUIRE(full.try_write(0));
    std::vector<weft::task<void>> writers;
    std::vector<weft::task<std::optional<int>>> readers;
    for (int i = 0; i < 50; ++i) {
        writers.push_back(full.write(i + 1));
        readers.push_back(empty.read());
    }
    REQUIRE(full.waiting_writers() == 50);
    REQUIRE(empty.waiting_readers() == 50);
    CHECK(full.complete());
    CHECK(empty.complete());
    // complete() ran on this plain thread: every waiter is finished when it returns
    for (auto& w : writers) {
        REQUIRE(w.is_ready());
        CHECK_THROWS_AS(w.get(), weft::channel_closed);
    }
    for (auto& r : readers) {
        REQUIRE(r.is_ready());
        CHECK_FALSE(r.get().has_value());
    }
    CHECK(full.try_read() == std::optional<int>(0)); // the buffered item is still read
    CHECK_FALSE(full.try_read().has_value());
    CHECK(full.completion().is_succeeded());
}

TEST_CASE("channel: write() returns before the reader it woke runs, and the reader runs on its own loop") {
    weft::run_loop loop;
    weft::channel<int> ch;
    int got = 0;
    auto reader = weft::spawn(loop, [&]() -> weft::task<void> {
        while (auto v = co_await ch.read()) {
            got += *v;
        }
    });
    loop.poll();
    REQUIRE(ch.waiting_readers() == 1);
    auto w = ch.write(5);
    CHECK(w.is_succeeded()); // handed to the waiting reader
    CHECK(got == 0);         // who has not run yet
    loop.poll();
    CHECK(got == 5);
    ch.complete();
    loop.poll();
    REQUIRE(reader.is_ready());
    reader.get();
}

TEST_CASE("select: 3 always-ready channels each win a third of 3 x 10^5 selects") {
    constexpr int rounds = 300'000;
    weft::channel<int> chs[3];
    int written = 0;
    for (auto& ch : chs) {
        for (int i = 0; i < rounds; ++i) {
            written += ch.try_write(i) ? 1 : 0;
        }
    }
    REQUIRE(written == 3 * rounds);
    int wins[3] = {0, 0, 0};
    for (int k = 0; k < rounds; ++k) {
        auto r = weft::select(chs[0], chs[1], chs[2]).get();
        ++wins[r.index()];
    }
    for (int c = 0; c < 3; ++c) {
        INFO("arm " << c << " won " << wins[c]);
        CHECK(wins[c] >= rounds * 30 / 100);
        CHECK(wins[c] <= rounds * 36 / 100);
        CHECK(chs[c].size() == static_cast<std::size_t>(rounds - wins[c]));
    }
}

TEST_CASE("select over writes: the first channel with room takes the item, the losing arm keeps it") {
    weft::channel<std::unique_ptr<int>> a({.capacity = 1});
    weft::channel<std::unique_ptr<int>> b({.capacity = 1});
    REQUIRE(a.try_write(std::make_unique<int>(0))); // a is full
    auto x = std::make_unique<int>(1);
    auto r = weft::select(weft::on_write(a, x), weft::on_write(b, x)).get();
    CHECK(r.index() == 1);
    CHECK(x == nullptr); // moved into b, once
    CHECK(*b.try_read().value() == 1);
    CHECK(a.size() == 1);

    // both full: the select waits; a read from a makes room there, and only a takes the item
    REQUIRE(b.try_write(std::make_unique<int>(2)));
    auto y = std::make_unique<int>(3);
    auto pending = weft::select(weft::on_write(a, y), weft::on_write(b, y));
    CHECK_FALSE(pending.is_ready());
    CHECK(y != nullptr); // still the caller's while it waits
    CHECK(*a.try_read().value() == 0);
    REQUIRE(pending.is_ready());
    CHECK(pending.get().index() == 0);
    CHECK(y == nullptr);
    CHECK(*a.try_read().value() == 3);
    CHECK(*b.try_read().value() == 2); // b got nothing more
    CHECK_FALSE(b.try_read().has_value());
    CHECK(a.waiting_writers() + b.waiting_writers() == 0);
}

TEST_CASE("select mixing a read and a write: whichever side moves first is the only one done") {
    weft::channel<int> in({.capacity = 4});
    weft::channel<int> out({.capacity = 1});
    REQUIRE(out.try_write(0)); // full
    int v = 7;
    auto s = weft::select(weft::on_read(in), weft::on_write(out, v));
    CHECK_FALSE(s.is_ready());
    REQUIRE(in.try_write(5)); // the read arm wins
    REQUIRE(s.is_ready());
    auto r = s.get();
    REQUIRE(r.index() == 0);
    CHECK(std::get<0>(r) == std::optional<int>(5));
    CHECK(out.try_read() == std::optional<int>(0)); // room now: the withdrawn write arm takes none
    CHECK_FALSE(out.try_read().has_value());
    CHECK(out.waiting_writers() == 0);

    auto s2 = weft::select(weft::on_read(in), weft::on_write(out, v));
    REQUIRE(s2.is_ready()); // out has room: the write arm wins at once
    CHECK(s2.get().index() == 1);
    CHECK(out.try_read() == std::optional<int>(7));
    CHECK(in.waiting_readers() == 0);
}

TEST_CASE("select write arms: a completed channel fails the select and keeps the item, capacity 0 is refused") {
    weft::channel<std::unique_ptr<int>> done({.capacity = 2});
    done.complete();
    auto x = std::make_unique<int>(1);
    CHECK_THROWS_AS(weft::select(weft::on_write(done, x)).get(), weft::channel_closed);
    CHECK(x != nullptr);

    weft::channel<std::unique_ptr<int>> full({.capacity = 1});
    REQUIRE(full.try_write(std::make_unique<int>(0)));
    auto waiting = weft::select(weft::on_write(full, x));
    CHECK_FALSE(waiting.is_ready());
    full.complete(); // a waiting write arm fails like a waiting write
    REQUIRE(waiting.is_ready());
    CHECK_THROWS_AS(waiting.get(), weft::channel_closed);
    CHECK(x != nullptr);

    weft::cancellation_source src;
    weft::channel<std::unique_ptr<int>> full2({.capacity = 1});
    REQUIRE(full2.try_write(std::make_unique<int>(0)));
    auto canceled = weft::select(src.token(), weft::on_write(full2, x));
    src.cancel();
    CHECK(canceled.is_canceled());
    CHECK(full2.waiting_writers() == 0);
    CHECK(x != nullptr);

    weft::channel<std::unique_ptr<int>> rendezvous({.capacity = 0});
    CHECK_THROWS_AS(weft::on_write(rendezvous, x), std::invalid_argument);
}
