// Tests for weft/detail/futex.hpp: the one-shot event protocol on a futex word.
#include <weft/detail/futex.hpp>

#include <atomic>
#include <cstdint>
#include <thread>

#include "catch.hpp"

namespace wd = weft::detail;

TEST_CASE("a waiter sleeps until the event is set, and sees what was written before", "[futex]") {
    for (int round = 0; round < 200; ++round) {
        wd::atomic<std::uint32_t> word{wd::event_unset};
        int payload = 0;
        std::thread setter([&] {
            payload = round + 1; // published by the set (release)
            wd::event_set_and_wake(word);
        });
        wd::event_wait(word); // either sleeps and is woken, or sees `set` at once
        CHECK(payload == round + 1);
        setter.join();
    }
}

TEST_CASE("set_and_wake returns the mark it replaced, and wait returns at once on another mark", "[futex]") {
    wd::atomic<std::uint32_t> word{wd::event_unset};
    CHECK(wd::event_set_and_wake(word) == wd::event_unset);
    CHECK(word.load() == wd::event_set);
    wd::event_wait(word);                // already set: no sleep
    wd::atomic<std::uint32_t> marked{7}; // an owner's own mark (local_task: a worker waits)
    wd::event_wait(marked);              // not `unset`: the waiter does not sleep
    CHECK(marked.load() == 7);
    CHECK(wd::event_set_and_wake(marked) == 7);
}
