// Tests for weft/sync/: async_mutex, async_semaphore, the events, async_latch, async_barrier,
// async_rw_lock. Each contract sentence of docs/guide/sync.md has a test here: FIFO hand-off,
// no barging, a canceled or timed-out waiter that takes nothing and unblocks the ones behind
// it, waiters that hop (unlock() returns before the next holder runs; a strand waiter comes
// back to its strand), destruction with waiters, misuse errors. The races: stress/sync_stress.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {
template<typename T>
bool done_soon(const weft::task<T>& t) {
    return t.wait_for(20s);
}
} // namespace

TEST_CASE("async_mutex: lock, try_lock and unlock, FIFO hand-off with no barging") {
    weft::async_mutex m;
    auto first = m.lock();
    REQUIRE(first.is_ready());
    auto second = m.lock();
    auto third = m.lock();
    CHECK_FALSE(second.is_ready());
    CHECK(m.waiters() == 2);
    CHECK_FALSE(m.try_lock()); // a waiter is queued: no barging
    {
        auto g = std::move(first).get();
        CHECK(g.owns_lock());
    } // unlocks: the oldest waiter gets it
    REQUIRE(second.is_ready());
    CHECK_FALSE(third.is_ready());
    CHECK(m.is_locked());
    { auto g = std::move(second).get(); }
    REQUIRE(third.is_ready());
    { auto g = std::move(third).get(); }
    CHECK_FALSE(m.is_locked());
    auto t = m.try_lock();
    CHECK(t.owns_lock());
    t.unlock();
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
}

TEST_CASE("async_mutex: a canceled waiter holds nothing and the next waiter gets the mutex") {
    weft::async_mutex m;
    auto held = m.try_lock();
    weft::cancellation_source src;
    auto canceled = m.lock(src.token());
    auto next = m.lock();
    src.cancel();
    REQUIRE(canceled.is_canceled());
    CHECK(m.waiters() == 1);
    held.unlock();
    REQUIRE(next.is_ready());
    CHECK(next.is_succeeded());
    auto already = m.lock(src.token()); // a canceled token: canceled at once, holds nothing
    CHECK(already.is_canceled());
}

TEST_CASE("async_mutex: 2000 coroutine waiters on a pool, each holds it alone, each exactly once") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::async_mutex m;
    auto held = m.try_lock();
    std::atomic<int> in_critical{0};
    std::atomic<int> max_in{0};
    std::atomic<int> ran{0};
    constexpr int n = 2000;
    std::vector<weft::task<void>> ts;
    for (int i = 0; i < n; ++i) {
        ts.push_back(weft::spawn(pool, [&]() -> weft::task<void> {
            auto g = co_await m.lock();
            const int now = in_critical.fetch_add(1) + 1;
            int seen = max_in.load();
            while (now > seen && !max_in.compare_exchange_weak(seen, now)) {
            }
            ran.fetch_add(1);
            in_critical.fetch_sub(1);
        }));
    }
    while (m.waiters() < static_cast<std::size_t>(n)) {
        std::this_thread::yield();
    }
    held.unlock(); // the next holder runs on the pool (a hop), not inside this call
    for (auto& t : ts) {
        REQUIRE(done_soon(t));
        t.get();
    }
    CHECK(ran.load() == n);
    CHECK(max_in.load() == 1);
}

TEST_CASE("async_mutex: a coroutine on a strand comes back to the strand after waiting for the lock") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::strand s{pool};
    weft::async_mutex m;
    auto held = m.try_lock();
    std::atomic<bool> on_strand{false};
    auto t = weft::spawn(s, [&]() -> weft::task<void> {
        auto g = co_await m.lock();
        on_strand = s.runs_on_this_thread();
    });
    while (m.waiters() == 0) {
        std::this_thread::yield();
    }
    std::thread other([&] { held.unlock(); }); // released from a plain thread
    other.join();
    REQUIRE(done_soon(t));
    t.get();
    CHECK(on_strand.load());
}

TEST_CASE("sync primitives destroyed with waiters fail them with disposed_error") {
    weft::task<weft::async_mutex_lock> lock_wait;
    weft::task<void> sem_wait;
    weft::task<void> event_wait;
    weft::task<void> latch_wait;
    weft::task<std::uint64_t> barrier_wait;
    weft::task<weft::async_rw_hold> rw_wait;
    {
        weft::async_mutex m;
        auto held = m.try_lock();
        lock_wait = m.lock();
        held.release(); // never unlocked: the mutex goes away locked
    }
    {
        weft::async_semaphore s(0);
        sem_wait = s.acquire();
    }
    {
        weft::async_manual_reset_event e;
        event_wait = e.wait();
    }
    {
        weft::async_latch l(1);
        latch_wait = l.wait();
    }
    {
        weft::async_barrier b(2);
        barrier_wait = b.arrive_and_wait();
    }
    {
        weft::async_rw_lock rw;
        auto w = rw.try_lock();
        rw_wait = rw.lock_shared();
        (void)w.release(); // never released: the lock goes away with a waiter
    }
    CHECK_THROWS_AS(lock_wait.get(), weft::disposed_error);
    CHECK_THROWS_AS(sem_wait.get(), weft::disposed_error);
    CHECK_THROWS_AS(event_wait.get(), weft::disposed_error);
    CHECK_THROWS_AS(latch_wait.get(), weft::disposed_error);
    CHECK_THROWS_AS(barrier_wait.get(), weft::disposed_error);
    CHECK_THROWS_AS(rw_wait.get(), weft::disposed_error);
}

TEST_CASE("async_semaphore: permits, release(n), strict FIFO for acquire(n), the limits") {
    weft::async_semaphore s(2, 10);
    CHECK(s.available() == 2);
    auto big = s.acquire(8); // does not fit: queued
    CHECK_FALSE(big.is_ready());
    auto small = s.acquire(1); // would fit, but FIFO: behind `big`
    CHECK_FALSE(small.is_ready());
    CHECK_FALSE(s.try_acquire()); // no barging past waiters
    s.release(6);                 // 8 free: big fits, then small does not (0 left)
    REQUIRE(big.is_ready());
    CHECK_FALSE(small.is_ready());
    s.release(1);
    REQUIRE(small.is_ready());
    CHECK(s.available() == 0);
    s.release(9);
    CHECK_THROWS_AS(s.release(2), std::overflow_error); // past max: nothing released
    CHECK(s.available() == 9);
    CHECK_THROWS_AS(s.acquire(11), std::invalid_argument);
    CHECK_THROWS_AS(weft::async_semaphore(3, 2), std::invalid_argument);
    CHECK_THROWS_AS(weft::async_semaphore(0, 0), std::invalid_argument);
    CHECK(s.acquire(0).is_ready());
}

TEST_CASE("async_semaphore: a canceled acquire(n) at the head lets the ones behind it in") {
    weft::async_semaphore s(4);
    REQUIRE(s.try_acquire(2));
    weft::cancellation_source src;
    auto head = s.acquire(3, src.token()); // 2 free: waits
    auto behind = s.acquire(2);            // fits, but behind the head
    CHECK_FALSE(behind.is_ready());
    src.cancel();
    CHECK(head.is_canceled());
    REQUIRE(behind.is_ready()); // the head left: the 2 free permits go to `behind`
    CHECK(s.available() == 0);
    s.release(4);
    CHECK(s.available() == 4); // the canceled acquire took nothing
}

TEST_CASE("async_semaphore: try_acquire_for is true with the permit, false on timeout, and a timeout takes nothing") {
    weft::async_semaphore s(1);
    auto got = s.try_acquire_for(1s);
    REQUIRE(done_soon(got));
    CHECK(got.get());
    auto late = s.try_acquire_for(5ms);
    REQUIRE(done_soon(late));
    CHECK_FALSE(late.get());
    CHECK(s.waiters() == 0);
    auto waits = s.try_acquire_for(20s);
    s.release();
    REQUIRE(done_soon(waits));
    CHECK(waits.get());
    CHECK(s.available() == 0);
}

TEST_CASE("async_manual_reset_event: set completes every waiter, stays set until reset") {
    weft::async_manual_reset_event e;
    std::vector<weft::task<void>> ws;
    for (int i = 0; i < 100; ++i) {
        ws.push_back(e.wait());
    }
    CHECK(e.waiters() == 100);
    e.set();
    for (auto& w : ws) {
        CHECK(w.is_succeeded());
    }
    CHECK(e.wait().is_ready());
    e.reset();
    auto again = e.wait();
    CHECK_FALSE(again.is_ready());
    weft::cancellation_source src;
    auto canceled = e.wait(src.token());
    src.cancel();
    CHECK(canceled.is_canceled());
    e.set();
    CHECK(again.is_succeeded());
}

TEST_CASE("async_auto_reset_event: each set releases exactly one waiter, or the next wait") {
    weft::async_auto_reset_event e;
    auto a = e.wait();
    auto b = e.wait();
    e.set();
    CHECK(a.is_succeeded());
    CHECK_FALSE(b.is_ready());
    e.set();
    CHECK(b.is_succeeded());
    e.set();
    e.set(); // a set event stays set once: it does not count
    CHECK(e.wait().is_ready());
    auto last = e.wait();
    CHECK_FALSE(last.is_ready());
    e.set();
    CHECK(last.is_succeeded());

    // a canceled wait consumes no signal: the set goes to the waiter behind it, or stays
    weft::cancellation_source src;
    auto gone = e.wait(src.token());
    auto next = e.wait();
    src.cancel();
    CHECK(gone.is_canceled());
    e.set();
    CHECK(next.is_succeeded());
    weft::cancellation_source src2;
    auto gone2 = e.wait(src2.token());
    src2.cancel();
    e.set();
    CHECK(e.is_set());
    CHECK(e.wait().is_succeeded());
}

TEST_CASE("async_auto_reset_event: N sets and N waits on a pool complete exactly N") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::async_auto_reset_event e;
    constexpr int n = 5000;
    std::atomic<int> completed{0};
    std::vector<weft::task<void>> ws;
    for (int i = 0; i < n; ++i) {
        ws.push_back(weft::spawn(pool, [&]() -> weft::task<void> {
            co_await e.wait();
            completed.fetch_add(1);
        }));
    }
    std::thread setter([&] {
        for (int i = 0; i < n; ++i) {
            e.set();
            while (completed.load() <= i && e.is_set()) {
                std::this_thread::yield(); // a set with nobody waiting yet stays pending: let it go
            }
        }
    });
    setter.join();
    for (auto& w : ws) {
        REQUIRE(done_soon(w));
    }
    CHECK(completed.load() == n);
    CHECK_FALSE(e.is_set());
}

TEST_CASE("async_latch: waiters complete at zero, count_down below zero is an error") {
    weft::async_latch l(3);
    auto w = l.wait();
    l.count_down();
    CHECK_THROWS_AS(l.count_down(3), std::logic_error);
    CHECK(l.count() == 2);
    CHECK_FALSE(w.is_ready());
    auto arrive = l.arrive_and_wait(2);
    CHECK(w.is_succeeded());
    CHECK(arrive.is_succeeded());
    CHECK(l.try_wait());
    CHECK(l.wait().is_ready());
}

TEST_CASE("async_barrier: 8 participants on 2 workers, 200 phases, one completion step per phase, before the release") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    constexpr int parties = 8;
    constexpr int phases = 200;
    std::atomic<int> arrivals_this_phase{0};
    std::vector<int> steps;
    std::atomic<bool> bad{false};
    weft::async_barrier b(parties, [&](std::uint64_t phase) {
        if (arrivals_this_phase.exchange(0) != parties || phase != steps.size()) {
            bad = true;
        }
        steps.push_back(static_cast<int>(phase));
    });
    std::vector<weft::task<void>> ts;
    for (int p = 0; p < parties; ++p) {
        ts.push_back(weft::spawn(pool, [&]() -> weft::task<void> {
            for (int ph = 0; ph < phases; ++ph) {
                arrivals_this_phase.fetch_add(1);
                const std::uint64_t done = co_await b.arrive_and_wait();
                if (done != static_cast<std::uint64_t>(ph) || steps.size() <= static_cast<std::size_t>(ph)) {
                    bad = true; // released before its step ran, or in the wrong phase
                }
            }
        }));
    }
    for (auto& t : ts) {
        REQUIRE(done_soon(t));
        t.get();
    }
    CHECK_FALSE(bad.load());
    CHECK(steps.size() == static_cast<std::size_t>(phases));
    CHECK(b.phase() == static_cast<std::uint64_t>(phases));
}

TEST_CASE("async_barrier: a canceled arrival rolls back, a throwing step fails its phase, drop and misuse") {
    weft::async_barrier b(2, [](std::uint64_t phase) {
        if (phase == 1) {
            throw std::runtime_error("step");
        }
    });
    weft::cancellation_source src;
    auto gone = b.arrive_and_wait(src.token());
    CHECK(b.arrived() == 1);
    src.cancel();
    CHECK(gone.is_canceled());
    CHECK(b.arrived() == 0); // it did not arrive: the phase still needs two
    auto a = b.arrive_and_wait();
    CHECK_FALSE(a.is_ready());
    auto c = b.arrive_and_wait();
    CHECK(a.get() == 0);
    CHECK(c.get() == 0);
    auto d = b.arrive_and_wait();
    auto e = b.arrive_and_wait();
    CHECK_THROWS_AS(d.get(), std::runtime_error); // phase 1's step threw
    CHECK_THROWS_AS(e.get(), std::runtime_error);
    auto f = b.arrive_and_wait();
    b.arrive_and_drop(); // one participant left: phase 2 ends with f alone
    CHECK(f.get() == 2);
    CHECK(b.participants() == 1);
    b.arrive_and_drop();
    CHECK_THROWS_AS(b.arrive_and_drop(), std::logic_error);
    CHECK_THROWS_AS(b.arrive_and_wait().get(), std::logic_error);
    CHECK_THROWS_AS(weft::async_barrier(0), std::logic_error);
}

TEST_CASE("async_rw_lock: readers share, a writer excludes, a waiting writer is not starved by new readers") {
    weft::async_rw_lock rw;
    auto r1 = rw.lock_shared();
    auto r2 = rw.lock_shared();
    REQUIRE(r1.is_ready());
    REQUIRE(r2.is_ready());
    CHECK(rw.readers() == 2);
    auto w = rw.lock();
    CHECK_FALSE(w.is_ready());
    auto r3 = rw.lock_shared(); // behind the writer
    CHECK_FALSE(r3.is_ready());
    CHECK_FALSE(rw.try_lock_shared());
    { auto h = std::move(r1).get(); }
    CHECK_FALSE(w.is_ready());
    { auto h = std::move(r2).get(); }
    REQUIRE(w.is_ready());
    CHECK(rw.has_writer());
    CHECK_FALSE(r3.is_ready());
    {
        auto h = std::move(w).get();
        CHECK(h.is_writer());
    }
    REQUIRE(r3.is_ready());
    { auto h = std::move(r3).get(); }
    CHECK(rw.readers() == 0);
    CHECK_THROWS_AS(rw.unlock(true), std::logic_error);
}

TEST_CASE("async_rw_lock: 1000 readers hold at once, a canceled writer at the head lets the readers behind it in") {
    weft::async_rw_lock rw;
    std::vector<weft::async_rw_hold> holds;
    for (int i = 0; i < 1000; ++i) {
        holds.push_back(rw.try_lock_shared());
        REQUIRE(holds.back().owns_lock());
    }
    CHECK(rw.readers() == 1000);
    weft::cancellation_source src;
    auto w = rw.lock(src.token());
    auto r = rw.lock_shared();
    CHECK_FALSE(r.is_ready());
    src.cancel();
    CHECK(w.is_canceled());
    CHECK(r.is_succeeded());
    holds.clear();
}

TEST_CASE("sync waiters hop: unlock(), release(), set() and count_down() return before the waiter they woke runs") {
    // The waiters are coroutines on a run loop that only this thread drives: whatever a
    // release ran inline would show as a count before the loop is polled again.
    weft::run_loop loop;
    weft::async_mutex m;
    weft::async_semaphore sem(0);
    weft::async_auto_reset_event ev;
    weft::async_latch latch(1);
    int ran = 0;
    auto held = m.try_lock();
    std::vector<weft::task<void>> waiting;
    waiting.push_back(weft::spawn(loop, [&]() -> weft::task<void> {
        auto g = co_await m.lock();
        ++ran;
    }));
    waiting.push_back(weft::spawn(loop, [&]() -> weft::task<void> {
        co_await sem.acquire();
        ++ran;
    }));
    waiting.push_back(weft::spawn(loop, [&]() -> weft::task<void> {
        co_await ev.wait();
        ++ran;
    }));
    waiting.push_back(weft::spawn(loop, [&]() -> weft::task<void> {
        co_await latch.wait();
        ++ran;
    }));
    loop.poll(); // each coroutine runs to its wait and queues
    REQUIRE(m.waiters() == 1);
    REQUIRE(sem.waiters() == 1);
    REQUIRE(ev.waiters() == 1);
    held.unlock();
    CHECK(ran == 0);
    sem.release();
    CHECK(ran == 0);
    ev.set();
    CHECK(ran == 0);
    latch.count_down();
    CHECK(ran == 0);
    CHECK(loop.poll() >= 4); // now the loop runs them, here
    CHECK(ran == 4);
    for (auto& t : waiting) {
        REQUIRE(t.is_ready());
        t.get();
    }
}

TEST_CASE("a canceled token cancels every wait at once, even one that could be granted, and takes nothing") {
    weft::cancellation_source src;
    src.cancel();
    const auto tok = src.token();
    weft::async_mutex m;
    CHECK(m.lock(tok).is_canceled());
    CHECK_FALSE(m.is_locked());
    weft::async_semaphore sem(3);
    CHECK(sem.acquire(2, tok).is_canceled());
    CHECK(sem.try_acquire_for(1s, 1, tok).is_canceled());
    CHECK(sem.available() == 3);
    weft::async_auto_reset_event ev;
    ev.set();
    CHECK(ev.wait(tok).is_canceled());
    CHECK(ev.is_set()); // the signal was not consumed
    weft::async_manual_reset_event mev;
    mev.set();
    CHECK(mev.wait(tok).is_canceled());
    weft::async_latch latch(0);
    CHECK(latch.wait(tok).is_canceled());
    weft::async_rw_lock rw;
    CHECK(rw.lock(tok).is_canceled());
    CHECK(rw.lock_shared(tok).is_canceled());
    CHECK(rw.readers() == 0);
    CHECK_FALSE(rw.has_writer());
    weft::channel<int> ch;
    REQUIRE(ch.try_write(1));
    CHECK(ch.read(tok).is_canceled());
    CHECK(ch.write(2, tok).is_canceled());
    CHECK(ch.size() == 1); // the item stayed, the write wrote nothing
    weft::async_barrier barrier(1);
    CHECK(barrier.arrive_and_wait(tok).is_canceled());
    CHECK(barrier.phase() == 0);
}

namespace {
weft::task<int> scoped_lock_twice(weft::async_mutex& m, int& shared) {
    {
        auto g = co_await m.scoped_lock(); // free: no task, no suspension
        ++shared;
    }
    auto g = co_await m.scoped_lock();
    ++shared;
    co_return shared;
}
} // namespace

TEST_CASE("async_mutex::scoped_lock: takes a free mutex without a task, waits in FIFO order behind lock() otherwise") {
    weft::async_mutex m;
    int shared = 0;
    CHECK(scoped_lock_twice(m, shared).get() == 2);
    CHECK_FALSE(m.is_locked());

    weft::run_loop loop;
    auto held = m.try_lock();
    auto first = m.lock(); // queued before the scoped_lock below
    std::vector<int> order;
    auto waiting = weft::spawn(loop, [&]() -> weft::task<void> {
        auto g = co_await m.scoped_lock();
        order.push_back(2);
    });
    loop.poll();
    REQUIRE(m.waiters() == 2);
    held.unlock(); // to `first`
    REQUIRE(first.is_ready());
    order.push_back(1);
    { auto g = std::move(first).get(); } // unlock: to the scoped_lock waiter, which hops
    CHECK(order == std::vector<int>{1});
    loop.poll();
    CHECK(order == std::vector<int>{1, 2});
    REQUIRE(waiting.is_ready());
    waiting.get();
    CHECK_FALSE(m.is_locked());

    weft::cancellation_source src;
    src.cancel();
    auto canceled = weft::spawn(loop, [&]() -> weft::task<void> { auto g = co_await m.scoped_lock(src.token()); });
    loop.poll();
    REQUIRE(canceled.is_ready());
    CHECK(canceled.is_canceled());
    CHECK_FALSE(m.is_locked());
}

TEST_CASE("async_semaphore: a timed-out acquire(n) at the head lets the ones behind it in") {
    weft::async_semaphore sem(1);
    const auto start = std::chrono::steady_clock::now();
    auto head = sem.try_acquire_for(1ms, 3); // cannot fit: waits at the head, then times out
    auto behind = sem.acquire(1);            // fits, but queued behind the head (strict FIFO)
    REQUIRE(done_soon(behind));
    // never before the head has left, which is not before its 1 ms (the time-out lets `behind`
    // in first and completes `head` right after, so their order of completion is not the check)
    CHECK(std::chrono::steady_clock::now() - start >= 1ms);
    REQUIRE(done_soon(head));
    CHECK_FALSE(head.get());
    REQUIRE(done_soon(behind));
    CHECK(behind.is_succeeded());
    CHECK(sem.available() == 0);
    CHECK(sem.waiters() == 0);
}
