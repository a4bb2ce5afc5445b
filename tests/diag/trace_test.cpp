// Tests for weft/diag/trace.hpp: a trace of a known program parsed back (its spans, flows and
// threads), strict nesting per thread with coroutines suspending across a pool, flows inside
// slices with ids never reused, nanoseconds kept, full buffers dropping and counting, and the
// HTML timeline rendered by headless Chromium where it is installed.
#include <weft/diag/trace.hpp>
#include <weft/promise.hpp>
#include <weft/resume_on.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/when_all.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "diag/trace_reader.hpp"
#include "support/eventually.hpp"
#include <sys/syscall.h>
#include <unistd.h>

namespace {

/// One event of our JSON, read back (the exporter writes one event per line).
struct parsed_event {
    std::string ph, name, cat, ts;
    long tid = -1;
    unsigned long long id = 0;
};

std::vector<parsed_event> parse(const std::string& json) {
    std::vector<parsed_event> out;
    std::istringstream in(json);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("{\"ph\"", 0) != 0) {
            continue;
        }
        parsed_event e;
        e.ph = weft_test::trace_field(line, "ph");
        e.name = weft_test::trace_field(line, "name");
        e.cat = weft_test::trace_field(line, "cat");
        e.ts = weft_test::trace_field(line, "ts");
        e.tid = std::stol(weft_test::trace_field(line, "tid"));
        const std::string id = weft_test::trace_field(line, "id");
        e.id = id.empty() ? 0 : std::stoull(id);
        out.push_back(e);
    }
    return out;
}

/// Checks the rules a viewer relies on; returns the slices' names, per thread.
std::map<long, std::vector<std::string>> check_well_formed(const std::vector<parsed_event>& events) {
    std::map<long, std::vector<std::string>> stacks, names;
    std::map<long, double> last_ts;
    std::map<unsigned long long, int> starts, finishes;
    for (const auto& e : events) {
        REQUIRE(e.tid > 0);
        if (e.ph == "M") {
            continue;
        }
        const auto dot = e.ts.find('.');
        REQUIRE(dot != std::string::npos);
        CHECK(e.ts.size() - dot - 1 == 3); // nanoseconds kept: three decimals of a microsecond
        const double ts = std::stod(e.ts);
        CHECK(ts >= last_ts[e.tid]); // in order per thread
        last_ts[e.tid] = ts;
        auto& stack = stacks[e.tid];
        if (e.ph == "B") {
            stack.push_back(e.name);
            names[e.tid].push_back(e.name);
        } else if (e.ph == "E") {
            REQUIRE_FALSE(stack.empty()); // strictly nested: no end without its begin
            stack.pop_back();
        } else if (e.ph == "s" || e.ph == "f") {
            CHECK_FALSE(stack.empty()); // every flow end point has an enclosing slice
            (e.ph == "s" ? starts : finishes)[e.id]++;
        }
    }
    for (const auto& [tid, stack] : stacks) {
        CHECK(stack.empty()); // every slice closed
    }
    for (const auto& [id, n] : starts) {
        CHECK(n == 1); // a flow id is never reused
        CHECK(finishes[id] == 1);
    }
    for (const auto& [id, n] : finishes) {
        CHECK(n == 1);
        CHECK(starts.count(id) == 1);
    }
    return names;
}

long count_of(const std::vector<parsed_event>& events, const std::string& ph, const std::string& name) {
    long n = 0;
    for (const auto& e : events) {
        n += e.ph == ph && e.name == name ? 1 : 0;
    }
    return n;
}

/// A file's bytes (empty if it cannot be read).
std::string whole_file(const std::string& path) {
    std::string out;
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[65536];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) {
            out.append(buf, n);
        }
        std::fclose(f);
    }
    return out;
}

weft::task<int> traced_leaf(weft::task<int> gate) {
    co_return co_await gate + 1;
}
weft::task<int> traced_root(weft::task<int> gate) {
    co_return co_await traced_leaf(std::move(gate)) + 1;
}
weft::task<void> hop_twice(weft::thread_pool& pool) {
    co_await weft::resume_on(pool);
    co_await weft::resume_on(pool);
}
weft::task<int> hop_and_wait(weft::thread_pool& pool) {
    co_await weft::resume_on(pool);
    co_return co_await weft::spawn(pool, [] { return 1; });
}

} // namespace

TEST_CASE("trace: a known program has exactly its spans, flows and threads", "[diag][trace]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1, .name = "trace-pool"}};
    weft::promise<int> gate;
    const long main_tid = static_cast<long>(::syscall(SYS_gettid));
    weft::diag::trace_start();
    weft::task<int> t =
        weft::spawn(pool, weft::task_name{"root request"}, [&] { return traced_root(gate.get_task()); });
    long setter_tid = 0;
    // the spawn has run once its coroutines wait on the gate: then a thread of ours opens it
    REQUIRE(weft_test::eventually([] { return weft::diag::live_tasks() == 2; }));
    std::thread setter([&] {
        setter_tid = static_cast<long>(::syscall(SYS_gettid));
        gate.set_value(40);
    });
    setter.join();
    CHECK(t.get() == 42);
    const weft::diag::trace tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    CHECK(tr.dropped() == 0);
    const std::string json = tr.to_json();
    const auto events = parse(json);
    const auto names = check_well_formed(events);

    // one spawn slice, on the pool's thread; the flow from the spawn call to it
    CHECK(count_of(events, "B", "root request") == 1);
    CHECK(count_of(events, "s", "spawn") == 1);
    CHECK(count_of(events, "f", "spawn") == 1);
    // each coroutine: its start (inside the spawn) and one resume after the gate
    CHECK(count_of(events, "B", "traced_root") == 2);
    CHECK(count_of(events, "B", "traced_leaf") == 2);
    // the gate resumed traced_leaf (a flow), traced_leaf's end resumed traced_root (a flow)
    CHECK(count_of(events, "s", "resume") == 2);
    CHECK(count_of(events, "f", "resume") == 2);
    std::set<long> tids;
    for (const auto& e : events) {
        if (e.ph == "M") {
            tids.insert(e.tid);
        }
    }
    CHECK(tids.count(main_tid) == 1);                                   // the spawn's flow began here
    CHECK(tids.count(setter_tid) == 1);                                 // the gate's completion began a flow there
    CHECK(json.find("\"name\":\"trace-pool-0\"") != std::string::npos); // the worker's lane is named
    bool pool_ran_root = false;
    for (const auto& [tid, slices] : names) {
        if (tid != main_tid && tid != setter_tid) {
            for (const auto& s : slices) {
                pool_ran_root = pool_ran_root || s == "root request";
            }
        }
    }
    CHECK(pool_ran_root);
}

TEST_CASE("trace: 1,000 coroutines hopping across two workers nest strictly per thread, flows matched",
          "[diag][trace]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::diag::trace_start({.events_per_thread = std::size_t{1} << 20});
    std::vector<weft::task<void>> all;
    for (int i = 0; i < 1000; ++i) {
        all.push_back(hop_twice(pool));
    }
    weft::when_all(all).wait();
    const weft::diag::trace tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    CHECK(tr.dropped() == 0);
    const auto events = parse(tr.to_json());
    check_well_formed(events);
    CHECK(count_of(events, "B", "hop_twice") == 3000); // a start and two resumes each
    long hops = 0;
    for (const auto& e : events) {
        hops += e.ph == "i" && e.cat == "placement" ? 1 : 0;
    }
    CHECK(hops >= 2000); // every resume_on is a placement decision
}

TEST_CASE("trace: a full buffer drops events and counts them, and the trace stays well formed", "[diag][trace]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    weft::diag::trace_start({.events_per_thread = 16});
    std::vector<weft::task<void>> all;
    for (int i = 0; i < 200; ++i) {
        all.push_back(hop_twice(pool));
    }
    weft::when_all(all).wait();
    const weft::diag::trace tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    CHECK(tr.dropped() > 0);
    for (const auto& t : tr.threads()) {
        CHECK(t.events.size() <= 16);
    }
    const std::string json = tr.to_json();
    CHECK(json.find("\"weft_dropped\":" + std::to_string(tr.dropped())) != std::string::npos);
    auto events = parse(json);
    // flows may lose an end to the drop; slices must still nest
    std::map<long, int> depth;
    for (const auto& e : events) {
        if (e.ph == "B") {
            ++depth[e.tid];
        } else if (e.ph == "E") {
            REQUIRE(depth[e.tid] > 0);
            --depth[e.tid];
        }
    }
    CHECK_THROWS_AS(weft::diag::trace_start({.events_per_thread = 0}), std::invalid_argument);
}

TEST_CASE("trace: off, nothing is recorded and a stop returns an empty trace", "[diag][trace]") {
    REQUIRE_FALSE(weft::diag::enabled(weft::diag::feature::trace));
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    hop_twice(pool).wait();
    const weft::diag::trace tr = weft::diag::trace_stop();
    CHECK(tr.event_count() == 0);
}

TEST_CASE("trace: the HTML timeline renders a lane per thread in headless Chromium", "[diag][trace][chromium]") {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::diag::trace_start();
    std::vector<weft::task<int>> all;
    for (int i = 0; i < 50; ++i) {
        all.push_back(hop_and_wait(pool));
    }
    weft::when_all(all).wait();
    const weft::diag::trace tr = weft::diag::trace_stop();
    weft::diag::disable(weft::diag::feature::registry);
    const std::string html = tr.to_html();
    CHECK(html.find("<script type=\"application/json\" id=\"trace\">") != std::string::npos);
    CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg")); // no other address: nothing is fetched
    std::size_t threads = tr.threads().size();

    const char* browser = std::getenv("WEFT_CHROMIUM");
    const std::string chromium = browser != nullptr ? browser : "chromium";
    if (std::system(("command -v " + chromium + " > /dev/null 2>&1").c_str()) != 0) {
        WARN("headless Chromium is not installed (scripts/ensure-deps.sh installs it): the timeline's rendering is not "
             "checked");
        return;
    }
    const std::string dir = "trace_test_timeline";
    (void)std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
    const std::string page = dir + "/timeline.html";
    tr.write_html(page);
    char cwd[4096];
    REQUIRE(::getcwd(cwd, sizeof cwd) != nullptr);
    const std::string url = std::string("file://") + cwd + "/" + page;
    const std::string flags =
        " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" + dir + "/profile ";
    const std::string dom_file = dir + "/dom.html";
    REQUIRE(std::system(("timeout 120 " + chromium + flags + "--dump-dom '" + url + "' > " + dom_file + " 2> " + dir +
                         "/chromium.log")
                            .c_str()) == 0);
    const std::string dom = whole_file(dom_file);
    const auto at = dom.find("data-rendered=\"");
    REQUIRE(at != std::string::npos); // the script ran to its end
    unsigned lanes = 0, slices = 0, flows = 0;
    REQUIRE(std::sscanf(dom.c_str() + at, "data-rendered=\"%u %u %u\"", &lanes, &slices, &flows) == 3);
    CHECK(lanes == threads);
    CHECK(slices >= 150); // 50 coroutines (a start and two resumes each) and 50 spawns
    CHECK(flows == 100);  // each spawn's call to its run, each spawn's end to the coroutine it resumed
    std::size_t lane_groups = 0;
    for (auto p = dom.find("class=\"lane "); p != std::string::npos; p = dom.find("class=\"lane ", p + 1)) {
        ++lane_groups;
    }
    CHECK(lane_groups == threads);

    const std::string png = dir + "/timeline.png";
    REQUIRE(std::system(("timeout 120 " + chromium + flags + "--screenshot=" + png + " --window-size=1400,600 '" + url +
                         "' >> " + dir + "/chromium.log 2>&1")
                            .c_str()) == 0);
    const std::string bytes = whole_file(png);
    REQUIRE(bytes.size() > 8);
    CHECK(bytes.substr(1, 3) == "PNG");
    CHECK(bytes.size() > 5000); // lanes drawn, not a blank page
}
