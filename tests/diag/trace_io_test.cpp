// Tests for weft/diag/trace.hpp with the reactor (run once per backend, WEFT_IO_BACKEND): an
// I/O completion is a slice on its I/O thread; with inline_on_io the continuation's slice nests
// inside it, with io_policy::on(pool) it is on the pool's thread with a flow from the I/O
// thread; an idle worker's park is a slice on its lane.
#include <weft/diag/trace.hpp>
#include <weft/io/io_context.hpp>
#include <weft/io/timer.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "diag/trace_reader.hpp"

using namespace std::chrono_literals;

namespace {

struct line_event {
    std::string ph, name;
    long tid = 0;
};

/// The events, and each thread's name.
std::pair<std::vector<line_event>, std::map<long, std::string>> read_back(const std::string& json) {
    std::vector<line_event> events;
    std::map<long, std::string> names;
    std::istringstream in(json);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("{\"ph\"", 0) != 0) {
            continue;
        }
        line_event e{weft_test::trace_field(line, "ph"),
                     weft_test::trace_field(line, "name"),
                     std::stol(weft_test::trace_field(line, "tid"))};
        if (e.ph == "M") {
            const auto at = line.find("\"args\":{\"name\":\"");
            names[e.tid] = line.substr(at + 16, line.find('"', at + 16) - at - 16);
        }
        events.push_back(e);
    }
    return {events, names};
}

weft::task<void> ticks(weft::io_context& io, int n) {
    for (int i = 0; i < n; ++i) {
        co_await weft::delay(io, 100us);
    }
}

} // namespace

TEST_CASE("trace: an I/O completion is a slice on its I/O thread, an inline continuation nests in it") {
    weft::io_context io{weft::io_options{.policy = weft::io_policy::inline_on_io()}};
    weft::diag::trace_start();
    ticks(io, 20).get();
    const auto tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    const auto [events, names] = read_back(tr.to_json());
    long io_tid = 0;
    for (const auto& [tid, name] : names) {
        if (name == "weft-io-0") {
            io_tid = tid;
        }
    }
    REQUIRE(io_tid != 0);
    int timer_slices = 0;
    int nested_resumes = 0;
    std::vector<std::string> stack;
    for (const auto& e : events) {
        if (e.tid != io_tid) {
            continue;
        }
        if (e.ph == "B") {
            if (e.name == "ticks" && !stack.empty() && stack.back() == "io: timer") {
                ++nested_resumes;
            }
            timer_slices += e.name == "io: timer" ? 1 : 0;
            stack.push_back(e.name);
        } else if (e.ph == "E") {
            REQUIRE_FALSE(stack.empty());
            stack.pop_back();
        }
    }
    CHECK(timer_slices >= 20);
    CHECK(nested_resumes >= 19); // every resume after a timer ran inside that timer's completion
}

TEST_CASE("trace: with io_policy::on(pool) the continuation runs in the pool's lane, with a flow from the I/O thread") {
    weft::thread_pool pool{weft::pool_options{.threads = 1, .name = "trace-io-pool"}};
    weft::io_context io{weft::io_options{.policy = weft::io_policy::on(pool)}};
    weft::diag::trace_start();
    ticks(io, 20).get();
    const auto tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    const auto [events, names] = read_back(tr.to_json());
    long io_tid = 0, pool_tid = 0;
    for (const auto& [tid, name] : names) {
        io_tid = name == "weft-io-0" ? tid : io_tid;
        pool_tid = name == "trace-io-pool-0" ? tid : pool_tid;
    }
    REQUIRE(io_tid != 0);
    REQUIRE(pool_tid != 0);
    int resumes_on_pool = 0, flows_from_io = 0, hops_on_io = 0, parks = 0;
    for (const auto& e : events) {
        resumes_on_pool += e.tid == pool_tid && e.ph == "B" && e.name == "ticks" ? 1 : 0;
        flows_from_io += e.tid == io_tid && e.ph == "s" && e.name == "resume" ? 1 : 0;
        hops_on_io += e.tid == io_tid && e.ph == "i" && e.name == "placement: source, hop" ? 1 : 0;
        parks += e.tid == pool_tid && e.ph == "B" && e.name == "park" ? 1 : 0;
    }
    CHECK(resumes_on_pool >= 19);
    CHECK(flows_from_io >= 19);
    CHECK(hops_on_io >= 19);
    CHECK(parks >= 1); // the worker waits for each 100 us tick
}
