// Tests for weft/unobserved.hpp: nothing is swallowed.
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/thread_pool.hpp>
#include <weft/unobserved.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "catch.hpp"
#include <unistd.h>

namespace {
struct capture_handler {
    std::vector<std::string> seen;
    weft::unobserved_exception_handler previous;
    capture_handler() {
        previous = weft::set_unobserved_exception_handler([this](std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                seen.emplace_back(ex.what());
            }
        });
    }
    ~capture_handler() { weft::set_unobserved_exception_handler(previous); }
};
} // namespace

TEST_CASE("a faulted task dropped unobserved reaches the handler exactly once", "[unobserved]") {
    capture_handler h;
    {
        weft::promise<int> p;
        auto t = p.get_task();
        auto copy = t;
        p.set_exception(std::make_exception_ptr(std::runtime_error("lost")));
    }
    REQUIRE(h.seen.size() == 1);
    CHECK(h.seen[0] == "lost");
}

TEST_CASE("an observed error is not reported", "[unobserved]") {
    capture_handler h;
    {
        weft::promise<int> p;
        auto t = p.get_task();
        p.set_exception(std::make_exception_ptr(std::runtime_error("seen")));
        CHECK_THROWS(t.get());
    }
    {
        weft::promise<int> p;
        auto t = p.get_task();
        p.set_exception(std::make_exception_ptr(std::runtime_error("seen")));
        CHECK(t.exception() != nullptr);
    }
    CHECK(h.seen.empty());
}

TEST_CASE("an error propagated through a chain is reported once, by the last task", "[unobserved]") {
    capture_handler h;
    {
        weft::promise<int> p;
        auto t = p.get_task().then([](int x) { return x; }).then([](int x) { return x; });
        p.set_exception(std::make_exception_ptr(std::runtime_error("chained")));
    }
    CHECK(h.seen.size() == 1);
}

TEST_CASE("a task failed on a worker and dropped is reported, and the worker survives", "[unobserved]") {
    capture_handler h;
    {
        weft::thread_pool pool{weft::pool_options{.threads = 1}};
        (void)weft::spawn(pool, []() -> int { throw std::runtime_error("dropped on a worker"); });
    }
    REQUIRE(h.seen.size() == 1);
    CHECK(h.seen[0] == "dropped on a worker");
}

TEST_CASE("a throwing handler does not escape", "[unobserved]") {
    auto previous =
        weft::set_unobserved_exception_handler([](std::exception_ptr) { throw std::logic_error("bad handler"); });
    {
        weft::promise<int> p;
        auto t = p.get_task();
        p.set_exception(std::make_exception_ptr(std::runtime_error("x")));
    }
    weft::set_unobserved_exception_handler(previous);
    SUCCEED("no exception escaped the task's destruction");
}

TEST_CASE("the default handler prints the error once to stderr", "[unobserved]") {
    weft::set_unobserved_exception_handler(nullptr); // restores the default
    char path[] = "/tmp/weft_unobserved_XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    std::fflush(stderr);
    const int saved = ::dup(2);
    ::dup2(fd, 2);
    {
        weft::promise<int> p;
        auto t = p.get_task();
        p.set_exception(std::make_exception_ptr(std::runtime_error("printed once")));
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    ::unlink(path);
    const std::string out = text.str();
    CHECK(out.find("printed once") != std::string::npos);
    CHECK(out.find("printed once") == out.rfind("printed once"));
}
