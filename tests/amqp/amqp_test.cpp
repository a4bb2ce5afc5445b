// tests/amqp/amqp_test.cpp — weft::amqp against a private RabbitMQ node (the amqp_broker CTest
// fixture): confirms, consumers (at-least-once, prefetch, placement), RPC, publish/subscribe,
// bad input, heartbeats, a dropped connection, a broker restart, consumer processes (a work
// queue; one killed mid-stream), TLS, close. Skips where no RabbitMQ server is installed.
#include <weft/amqp.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/env.hpp"
#include "support/eventually.hpp"
#include <signal.h>
#include <unistd.h>

#ifndef WEFT_AMQP_DIR
#error "WEFT_AMQP_DIR must name the broker fixture's folder"
#endif

using namespace std::chrono_literals;
namespace amqp = weft::amqp;

namespace {

struct broker_info {
    bool available = false;
    int port = 0;
    int tls_port = 0;
};

const broker_info& broker() {
    static const broker_info info = [] {
        broker_info b;
        std::ifstream in(std::string(WEFT_AMQP_DIR) + "/env");
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (eq == std::string::npos) {
                continue;
            }
            const auto key = line.substr(0, eq);
            const auto value = line.substr(eq + 1);
            if (key == "port") {
                b.port = std::atoi(value.c_str());
            } else if (key == "tls_port" && !value.empty()) {
                b.tls_port = std::atoi(value.c_str());
            }
        }
        b.available = b.port != 0;
        return b;
    }();
    return info;
}

#define NEED_BROKER()                                                                                                  \
    do {                                                                                                               \
        if (!broker().available) {                                                                                     \
            WARN("no RabbitMQ node (rabbitmq-server not installed, or the fixture did not run): skipped");             \
            return;                                                                                                    \
        }                                                                                                              \
    } while (false)

amqp::connection_options opts() {
    return {.port = broker().port, .name = "weft_amqp_test"};
}

/// A name no other test (or earlier run) uses.
std::string unique(const std::string& what) {
    static std::atomic<int> n{0};
    return "weft-test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1));
}

template<typename T>
decltype(auto) get(weft::task<T>& t, std::chrono::seconds limit = 30s) {
    REQUIRE(t.wait_for(limit));
    return t.get();
}
template<typename T>
decltype(auto) get(weft::task<T>&& t, std::chrono::seconds limit = 30s) {
    REQUIRE(t.wait_for(limit));
    return std::move(t).get();
}

/// The error an amqp task failed with (the test fails if it did not fail that way).
template<typename T>
amqp::amqp_error error_of(weft::task<T> t) {
    REQUIRE(t.wait_for(30s));
    try {
        t.get();
    } catch (const amqp::amqp_error& e) {
        return e;
    }
    FAIL("the task did not fail with amqp_error");
    return amqp::amqp_error(amqp::errc::closed, "unreachable");
}

int node_ctl(const std::string& args) {
    const std::string cmd = std::string(WEFT_AMQP_NODE_SCRIPT) + " " + args + " > /dev/null 2>&1";
    return std::system(cmd.c_str());
}

amqp::message text(std::string body, bool persistent = true) {
    return amqp::message{.body = std::move(body), .persistent = persistent};
}

} // namespace

TEST_CASE("a URL gives the connection options, and a bad URL names the part, never the URL", "[amqp]") {
    auto o = amqp::connection_options::from_url("amqp://alice:s%40cret@broker.example:5673/prod");
    CHECK(o.user == "alice");
    CHECK(o.password == "s@cret");
    CHECK(o.host == "broker.example");
    CHECK(o.port == 5673);
    CHECK(o.vhost == "prod");
    CHECK_FALSE(o.tls.enabled);
    auto t = amqp::connection_options::from_url("amqps://h");
    CHECK(t.tls.enabled);
    CHECK(t.port == 5671);
    CHECK(t.vhost == "/");
    CHECK(amqp::connection_options::from_url("amqp://h/%2f").vhost == "/");
    CHECK(amqp::connection_options::from_url("amqp://[::1]:5672").host == "::1");
    for (const char* bad : {"http://u:topsecret@h",
                            "amqp://u:topsecret@h:99999",
                            "amqp://u:topsecret@h:x",
                            "amqp://u:top%zzsecret@h",
                            "amqp://u:topsecret@h/a/b"}) {
        try {
            (void)amqp::connection_options::from_url(bad);
            FAIL("accepted " << bad);
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find("topsecret") == std::string::npos);
        }
    }
    ::setenv("WEFT_AMQP_TEST_URL", "amqp://bob:pw@h:1/v", 1);
    CHECK(amqp::connection_options::from_environment("WEFT_AMQP_TEST_URL").user == "bob");
    ::unsetenv("WEFT_AMQP_TEST_URL");
    CHECK_THROWS_AS(amqp::connection_options::from_environment("WEFT_AMQP_TEST_URL"), std::invalid_argument);
}

TEST_CASE("an unreachable broker is connection_failed, a wrong password login_refused, no password in what()",
          "[amqp]") {
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    try {
        amqp::connection c{pool, {.port = 1, .connect_timeout = 2000ms}};
        FAIL("connected to port 1");
    } catch (const amqp::amqp_error& e) {
        CHECK(e.code() == amqp::errc::connection_failed);
    }
    NEED_BROKER();
    try {
        auto o = opts();
        o.password = "wrong-secret-42";
        amqp::connection c{pool, o};
        FAIL("logged in with a wrong password");
    } catch (const amqp::amqp_error& e) {
        CHECK(e.code() == amqp::errc::login_refused);
        CHECK(e.reply_code() == 403);
        CHECK(std::string(e.what()).find("wrong-secret-42") == std::string::npos);
    }
    try {
        auto o = opts();
        o.vhost = "no-such-vhost";
        amqp::connection c{pool, o};
        FAIL("opened a vhost that does not exist");
    } catch (const amqp::amqp_error& e) {
        CHECK(e.code() == amqp::errc::login_refused);
    }
}

TEST_CASE("invalid arguments are rejected at the call", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    auto noop = [](amqp::delivery) {
    };
    CHECK_THROWS_AS(conn.consume("q", noop, {.prefetch = 0}), std::invalid_argument);
    CHECK_THROWS_AS(conn.publish("", "q", text("x"), {.timeout = -1ms}), std::invalid_argument);
    CHECK_THROWS_AS(conn.call("", "q", text("x"), {.timeout = -1ms}), std::invalid_argument);
    CHECK_THROWS_AS(conn.declare_exchange("", amqp::exchange_type::direct), std::invalid_argument);
    CHECK_THROWS_AS(conn.declare_queue("q", {.max_length = -1}), std::invalid_argument);
    CHECK_THROWS_AS(amqp::connection(pool, amqp::connection_options{.reconnect_min = 0ms}), std::invalid_argument);
    CHECK_THROWS_AS(amqp::connection(weft::any_scheduler{}, opts()), std::invalid_argument);
}

TEST_CASE("publish is confirmed and every message is consumed once and acked", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("confirm");
    auto info = get(conn.declare_queue(q, {.durable = false, .auto_delete = false}));
    CHECK(info.name == q);
    constexpr int n = 1000;
    std::vector<weft::task<void>> confirms;
    for (int i = 0; i < n; ++i) {
        confirms.push_back(conn.publish("", q, text(std::to_string(i))));
    }
    for (auto& c : confirms) {
        get(c); // acked by the broker
    }
    std::vector<std::atomic<int>> seen(n);
    std::atomic<int> total{0};
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) {
        seen[static_cast<std::size_t>(std::stoi(d.msg.body))].fetch_add(1);
        CHECK(d.msg.persistent);
        CHECK(d.routing_key == q);
        total.fetch_add(1);
    }));
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked == n; }, 30s));
    get(consumer.cancel());
    get(consumer.completion()); // a canceled consumer ends successfully
    for (auto& s : seen) {
        CHECK(s.load() == 1);
    }
    CHECK(total.load() == n);
    CHECK(get(conn.delete_queue(q)) == 0);
}

TEST_CASE("a failing handler requeues its message and it comes back flagged redelivered", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("requeue");
    get(conn.declare_queue(q, {.durable = false}));
    get(conn.publish("", q, text("once")));
    std::atomic<int> calls{0};
    std::atomic<bool> second_was_redelivered{false};
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) -> weft::task<void> {
        if (calls.fetch_add(1) == 0) {
            throw std::runtime_error("first attempt fails");
        }
        second_was_redelivered = d.redelivered;
        co_return;
    }));
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked == 1; }, 30s));
    CHECK(calls.load() == 2);
    CHECK(second_was_redelivered.load());
    const auto st = consumer.stats();
    CHECK(st.rejected == 1);
    CHECK(st.redelivered == 1);
    get(consumer.cancel());
    // requeue_on_failure = false: the message is dropped, not redelivered.
    get(conn.publish("", q, text("drop")));
    std::atomic<int> drop_calls{0};
    auto dropper = get(conn.consume(q,
                                    [&](amqp::delivery) { drop_calls.fetch_add(1), throw std::runtime_error("no"); },
                                    {.requeue_on_failure = false}));
    REQUIRE(weft_test::eventually([&] { return dropper.stats().rejected == 1; }, 30s));
    get(dropper.cancel());
    CHECK(drop_calls.load() == 1);
    CHECK(get(conn.declare_queue(q, {.passive = true})).message_count == 0);
    get(conn.delete_queue(q));
}

TEST_CASE("prefetch bounds the handlers running at once", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("prefetch");
    get(conn.declare_queue(q, {.durable = false}));
    for (int i = 0; i < 20; ++i) {
        get(conn.publish("", q, text(std::to_string(i))));
    }
    weft::promise<void> gate;
    auto open = gate.get_task();
    std::atomic<int> running{0};
    std::atomic<int> peak{0};
    auto consumer = get(conn.consume(q,
                                     [&](amqp::delivery) -> weft::task<void> {
                                         const int now = running.fetch_add(1) + 1;
                                         int p = peak.load();
                                         while (now > p && !peak.compare_exchange_weak(p, now)) {
                                         }
                                         co_await open;
                                         running.fetch_sub(1);
                                     },
                                     {.prefetch = 3}));
    REQUIRE(weft_test::eventually([&] { return running.load() == 3; }, 30s));
    CHECK(consumer.stats().in_flight == 3);
    gate.set_value();
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked == 20; }, 30s));
    CHECK(peak.load() <= 3);
    CHECK(consumer.stats().peak_in_flight <= 3);
    get(consumer.cancel());
    get(conn.delete_queue(q));
}

TEST_CASE("handlers run on the consume scheduler, tasks continue on the connection's", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool conn_pool{weft::pool_options{.threads = 1, .name = "conn"}};
    weft::thread_pool handler_pool{weft::pool_options{.threads = 1, .name = "handlers"}};
    amqp::connection conn{conn_pool, opts()};
    const auto q = unique("placement");
    get(conn.declare_queue(q, {.durable = false}));
    std::atomic<bool> on_handler_pool{false};
    std::atomic<int> handled{0};
    auto consumer = get(conn.consume(q,
                                     [&](amqp::delivery) {
                                         on_handler_pool = handler_pool.runs_on_this_thread();
                                         handled.fetch_add(1);
                                     },
                                     {.scheduler = handler_pool}));
    get(conn.publish("", q, text("x")));
    REQUIRE(weft_test::eventually([&] { return handled.load() == 1; }, 30s));
    CHECK(on_handler_pool.load());
    get(consumer.cancel());
    get(conn.delete_queue(q));
    // A continuation attached before its task completes (the reply waits for `gate`) runs on the
    // connection's scheduler, not on the connection's thread.
    const auto rpc = unique("placement-rpc");
    get(conn.declare_queue(rpc, {.durable = false, .auto_delete = true}));
    weft::promise<void> gate;
    auto open = gate.get_task();
    auto server = get(amqp::serve(conn, rpc, [&](amqp::delivery d) -> weft::task<amqp::message> {
        co_await open;
        co_return amqp::message{.body = d.msg.body};
    }));
    auto where =
        conn.call("", rpc, text("x")).then([&](const amqp::message&) { return conn_pool.runs_on_this_thread(); });
    gate.set_value();
    CHECK(get(where));
    get(server.cancel());
}

TEST_CASE("RPC: 1,000 concurrent calls each get their own reply", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection server_conn{pool, opts()};
    amqp::connection client{pool, opts()};
    const auto q = unique("rpc");
    get(server_conn.declare_queue(q, {.durable = false}));
    auto server = get(amqp::serve(server_conn, q, [](amqp::delivery d) {
        return amqp::message{.body = "re:" + d.msg.body, .content_type = "text/plain"};
    }));
    // The first call works (the reply consumer exists before the request is sent).
    CHECK(get(client.call("", q, text("first"))).body == "re:first");
    constexpr int n = 1000;
    std::vector<weft::task<amqp::message>> calls;
    for (int i = 0; i < n; ++i) {
        calls.push_back(client.call("", q, text(std::to_string(i), false)));
    }
    for (int i = 0; i < n; ++i) {
        auto reply = get(calls[static_cast<std::size_t>(i)]);
        CHECK(reply.body == "re:" + std::to_string(i));
        CHECK(reply.content_type == "text/plain");
    }
    CHECK(client.stats().late_replies == 0);
    get(server.cancel());
    get(server_conn.delete_queue(q));
}

TEST_CASE("RPC: unroutable, timed out, canceled, and the late reply is dropped and counted", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    // No queue by that name: the request comes back at once.
    auto e = error_of(conn.call("", unique("nobody"), text("?")));
    CHECK(e.code() == amqp::errc::unroutable);
    CHECK(e.reply_code() == 312);

    const auto q = unique("slow-rpc");
    get(conn.declare_queue(q, {.durable = false}));
    weft::promise<void> release;
    auto released = release.get_task();
    auto server = get(amqp::serve(conn, q, [&](amqp::delivery d) -> weft::task<amqp::message> {
        co_await released;
        co_return amqp::message{.body = d.msg.body};
    }));
    auto timed_out = conn.call("", q, text("late"), {.timeout = 200ms});
    REQUIRE(timed_out.wait_for(30s));
    CHECK_THROWS_AS(timed_out.get(), weft::timeout_error);
    weft::cancellation_source cs;
    auto canceled = conn.call("", q, text("canceled"), {.timeout = 0ms, .token = cs.token()});
    cs.cancel();
    REQUIRE(canceled.wait_for(30s));
    CHECK(canceled.is_canceled());
    release.set_value(); // both replies now come after their calls ended
    REQUIRE(weft_test::eventually([&] { return conn.stats().late_replies == 2; }, 30s));
    CHECK(get(conn.call("", q, text("after"))).body == "after");
    get(server.cancel());
    get(conn.delete_queue(q));
}

TEST_CASE("publish/subscribe: a fanout reaches every bound queue, a topic only the matching ones", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto fan = unique("fanout");
    const auto topic = unique("topic");
    get(conn.declare_exchange(fan, amqp::exchange_type::fanout, {.durable = false, .auto_delete = false}));
    get(conn.declare_exchange(topic, amqp::exchange_type::topic, {.durable = false}));
    std::vector<std::string> subs;
    for (int i = 0; i < 3; ++i) {
        subs.push_back(get(conn.declare_queue("", {.durable = false, .exclusive = true})).name);
        CHECK_FALSE(subs.back().empty());
        get(conn.bind_queue(subs.back(), fan));
    }
    get(conn.bind_queue(subs[0], topic, "orders.*"));
    get(conn.bind_queue(subs[1], topic, "*.eu"));
    get(conn.publish(fan, "", text("to-all")));
    get(conn.publish(topic, "orders.eu", text("both")));
    get(conn.publish(topic, "orders.us", text("first-only")));
    get(conn.publish(topic, "stock.eu", text("second-only")));
    std::mutex m;
    std::map<std::string, std::multiset<std::string>> got;
    std::vector<amqp::consumer> consumers;
    for (const auto& s : subs) {
        consumers.push_back(get(conn.consume(s, [&, s](amqp::delivery d) {
            std::lock_guard lock(m);
            got[s].insert(d.msg.body);
        })));
    }
    auto count = [&] {
        std::lock_guard lock(m);
        std::size_t n = 0;
        for (auto& [k, v] : got) {
            n += v.size();
        }
        return n;
    };
    REQUIRE(weft_test::eventually([&] { return count() == 7; }, 30s));
    std::lock_guard lock(m);
    CHECK(got[subs[0]] == std::multiset<std::string>{"to-all", "both", "first-only"});
    CHECK(got[subs[1]] == std::multiset<std::string>{"to-all", "both", "second-only"});
    CHECK(got[subs[2]] == std::multiset<std::string>{"to-all"});
}

TEST_CASE("bad input: unknown queue and exchange, a refused redeclare, oversized and unroutable messages", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    auto missing = error_of(conn.declare_queue(unique("missing"), {.passive = true}));
    CHECK(missing.code() == amqp::errc::channel_closed);
    CHECK(missing.reply_code() == 404);
    auto consume_missing = error_of(conn.consume(unique("missing"), [](amqp::delivery) {}));
    CHECK(consume_missing.reply_code() == 404);

    const auto q = unique("redeclare");
    get(conn.declare_queue(q, {.durable = false}));
    auto refused = error_of(conn.declare_queue(q, {.durable = true}));
    CHECK(refused.code() == amqp::errc::channel_closed);
    CHECK(refused.reply_code() == 406);

    auto no_exchange = error_of(conn.publish(unique("no-exchange"), "k", text("x")));
    CHECK(no_exchange.code() == amqp::errc::channel_closed);
    CHECK(no_exchange.reply_code() == 404);

    // The private node is configured with max_message_size = 1 MiB.
    auto too_big = error_of(conn.publish("", q, text(std::string(2u << 20u, 'x'))));
    CHECK(too_big.code() == amqp::errc::channel_closed);
    CHECK(too_big.reply_code() == 406);

    auto unroutable = error_of(conn.publish("", unique("nowhere"), text("x"), {.mandatory = true}));
    CHECK(unroutable.code() == amqp::errc::unroutable);
    CHECK(conn.stats().returned == 1);
    get(conn.publish("", unique("nowhere"), text("x"))); // not mandatory: confirmed, dropped by the broker

    // After every refusal the connection still works.
    get(conn.publish("", q, text("fine")));
    CHECK(get(conn.declare_queue(q, {.durable = false, .passive = true})).message_count == 1);
    CHECK(conn.stats().connected);
    CHECK(conn.stats().reconnects == 0);
    get(conn.delete_queue(q));
}

TEST_CASE("a message the broker refuses is nacked: the publish fails, the next one goes through", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("nack");
    get(conn.declare_queue(q, {.durable = false, .max_length = 1, .reject_when_full = true}));
    get(conn.publish("", q, text("fits")));
    auto refused = error_of(conn.publish("", q, text("over the limit")));
    CHECK(refused.code() == amqp::errc::nacked);
    CHECK(get(conn.delete_queue(q)) == 1);
    const auto r = unique("after-nack");
    get(conn.declare_queue(r, {.durable = false}));
    get(conn.publish("", r, text("fine"))); // the channel is still good
    get(conn.delete_queue(r));
}

TEST_CASE("a publish timeout and a canceled publish end the wait, the connection goes on", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("publish-cancel");
    get(conn.declare_queue(q, {.durable = false}));
    weft::cancellation_source cs;
    cs.cancel();
    auto pre = conn.publish("", q, text("x"), {.token = cs.token()});
    CHECK(pre.is_canceled()); // canceled before it started: never sent
    get(conn.publish("", q, text("y"), {.timeout = 10s}));
    CHECK(get(conn.declare_queue(q, {.durable = false, .passive = true})).message_count == 1);
    get(conn.delete_queue(q));
}

TEST_CASE("heartbeats keep an idle connection usable", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto o = opts();
    o.heartbeat = 2s; // the broker closes a connection silent for two heartbeats (4 s)
    amqp::connection conn{pool, o};
    std::this_thread::sleep_for(6s); // idle for three heartbeats: only our heartbeats keep it open
    const auto q = unique("heartbeat");
    get(conn.declare_queue(q, {.durable = false}));
    get(conn.publish("", q, text("alive")));
    CHECK(conn.stats().reconnects == 0);
    get(conn.delete_queue(q));
}

TEST_CASE("a dropped connection fails what waits, comes back, and the consumer goes on", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto o = opts();
    o.reconnect_min = 50ms;
    amqp::connection conn{pool, o};
    const auto q = unique("drop");
    // auto-delete: the drop takes the consumer and so the queue with it; the reconnect declares
    // the queue again before it resubscribes the consumer.
    get(conn.declare_queue(q, {.durable = false, .auto_delete = true}));
    std::mutex m;
    std::set<std::string> seen;
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) {
        std::lock_guard lock(m);
        seen.insert(d.msg.body);
    }));
    get(conn.publish("", q, text("before")));
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked == 1; }, 30s));
    // A call that cannot be answered (no server) is waiting when the broker drops us.
    auto waiting = conn.call("", q, text("never answered"), {.timeout = 0ms});
    REQUIRE(node_ctl(std::string("ctl ") + WEFT_AMQP_DIR + " close_all_connections test-drop") == 0);
    auto lost = error_of(std::move(waiting));
    CHECK(lost.code() == amqp::errc::connection_lost);
    REQUIRE(weft_test::eventually([&] { return conn.stats().reconnects >= 1 && conn.stats().connected; }, 30s));
    get(conn.publish("", q, text("after")));
    REQUIRE(weft_test::eventually(
        [&] {
            std::lock_guard lock(m);
            return seen.count("after") == 1;
        },
        30s));
    get(consumer.cancel());
}

TEST_CASE("a delivery held across a reconnect is not acked on the new connection, and comes back", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto o = opts();
    o.reconnect_min = 50ms;
    amqp::connection conn{pool, o};
    const auto q = unique("stale");
    get(conn.declare_queue(q, {.durable = true}));
    weft::promise<void> gate;
    auto open = gate.get_task();
    std::atomic<int> first_calls{0};
    std::atomic<bool> came_back_redelivered{false};
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) -> weft::task<void> {
        if (!d.redelivered) {
            first_calls.fetch_add(1);
            co_await open; // held while the connection drops
        } else {
            came_back_redelivered = true;
        }
    }));
    get(conn.publish("", q, text("held")));
    REQUIRE(weft_test::eventually([&] { return first_calls.load() == 1; }, 30s));
    REQUIRE(node_ctl(std::string("ctl ") + WEFT_AMQP_DIR + " close_all_connections test-stale") == 0);
    REQUIRE(weft_test::eventually([&] { return conn.stats().reconnects >= 1 && conn.stats().connected; }, 30s));
    gate.set_value(); // its ack would name a tag of the old connection: not sent, counted
    REQUIRE(weft_test::eventually([&] { return conn.stats().stale_acks >= 1; }, 30s));
    REQUIRE(weft_test::eventually([&] { return came_back_redelivered.load(); }, 30s));
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked >= 1; }, 30s));
    CHECK(first_calls.load() == 1);
    get(consumer.cancel());
    CHECK(get(conn.declare_queue(q, {.passive = true})).message_count == 0);
    get(conn.delete_queue(q));
}

TEST_CASE("8 threads publish through one connection: every message confirmed once", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("threads");
    get(conn.declare_queue(q, {.durable = false}));
    constexpr int threads = 8;
    constexpr int each = 1000;
    std::atomic<int> confirmed{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::vector<weft::task<void>> mine;
            for (int i = 0; i < each; ++i) {
                mine.push_back(conn.publish("", q, text(std::to_string(t * each + i), false)));
            }
            for (auto& m : mine) {
                if (m.wait_for(60s) && m.is_succeeded()) {
                    confirmed.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    CHECK(confirmed.load() == threads * each);
    std::vector<std::atomic<int>> seen(threads * each);
    auto consumer =
        get(conn.consume(q, [&](amqp::delivery d) { seen[std::stoul(d.msg.body)].fetch_add(1); }, {.prefetch = 256}));
    REQUIRE(weft_test::eventually([&] { return consumer.stats().acked == threads * each; }, 60s));
    get(consumer.cancel());
    for (auto& n : seen) {
        CHECK(n.load() == 1);
    }
    get(conn.delete_queue(q));
}

namespace {
/// A process's state letter from /proc/PID/stat (R, S, T...; '?' if unreadable).
char process_state(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all;
    std::getline(stat, all);
    const auto paren = all.rfind(')'); // the command name may hold spaces and parentheses
    return paren != std::string::npos && paren + 2 < all.size() ? all[paren + 2] : '?';
}
} // namespace

TEST_CASE("a broker that goes silent is found by heartbeats, and the connection comes back", "[amqp]") {
    NEED_BROKER();
    std::ifstream pid_file(std::string(WEFT_AMQP_DIR) + "/node.pid");
    int node_pid = 0;
    pid_file >> node_pid;
    REQUIRE(node_pid > 0);
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto o = opts();
    o.heartbeat = 1s;
    o.reconnect_min = 100ms;
    amqp::connection conn{pool, o};
    struct resume_node { // whatever happens below, the node runs again afterwards
        int pid;
        ~resume_node() { ::kill(pid, SIGCONT); }
    };
    weft::task<amqp::message> lost;
    {
        REQUIRE(::kill(node_pid, SIGSTOP) == 0); // nothing comes from it any more, not even heartbeats
        resume_node guard{node_pid};
        // kill() returns before the stop takes hold: the call goes out once the node is stopped
        // (state T in /proc), or on a loaded machine the broker may still answer it
        REQUIRE(weft_test::eventually([&] { return process_state(node_pid) == 'T'; }, 20s));
        lost = conn.call("", unique("silent"), text("y"), {.timeout = 0ms});
        REQUIRE(lost.wait_for(20s)); // two heartbeats and rabbitmq-c's rounding: about 2-3 s
    }
    try {
        lost.get();
        FAIL("a call to a stopped broker succeeded");
    } catch (const amqp::amqp_error& e) {
        CHECK(e.code() == amqp::errc::connection_lost);
        CHECK(std::string(e.what()).find("heartbeat") != std::string::npos);
    }
    REQUIRE(weft_test::eventually([&] { return conn.stats().reconnects >= 1 && conn.stats().connected; }, 30s));
    const auto q = unique("after-silence");
    get(conn.declare_queue(q, {.durable = false}));
    get(conn.delete_queue(q));
}

TEST_CASE("a broker blocking publishers is seen, a publish timeout ends the wait, unblocked it flows", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("blocked");
    get(conn.declare_queue(q, {.durable = false}));
    const std::string ctl = std::string("ctl ") + WEFT_AMQP_DIR + " set_vm_memory_high_watermark ";
    struct unblock { // whatever happens below, the node takes messages again afterwards
        std::string cmd;
        ~unblock() { node_ctl(cmd); }
    };
    {
        REQUIRE(node_ctl(ctl + "0") == 0); // a memory alarm: the broker blocks publishing connections
        unblock guard{ctl + "0.4"};
        // The broker blocks a connection when it next publishes, and says so (connection.blocked).
        auto waiting = conn.publish("", q, text("while blocked"), {.timeout = 1s});
        REQUIRE(waiting.wait_for(30s));
        CHECK_THROWS_AS(waiting.get(), weft::timeout_error);
        REQUIRE(weft_test::eventually([&] { return conn.stats().blocked; }, 30s));
    }
    REQUIRE(weft_test::eventually([&] { return !conn.stats().blocked; }, 30s));
    get(conn.publish("", q, text("after")));
    CHECK(conn.stats().reconnects == 0);
    get(conn.delete_queue(q));
}

TEST_CASE("the broker restarted during a publish burst loses no confirmed message", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    auto o = opts();
    o.reconnect_min = 100ms;
    o.reconnect_max = 1000ms;
    amqp::connection conn{pool, o};
    const auto q = unique("restart");
    get(conn.declare_queue(q, {.durable = true}));
    std::atomic<bool> stop{false};
    std::set<int> confirmed;
    std::atomic<int> failed{0};
    std::thread restarter([&] {
        std::this_thread::sleep_for(300ms);
        CHECK(node_ctl(std::string("restart ") + WEFT_AMQP_DIR) == 0);
        stop = true;
    });
    int next = 0;
    while (!stop.load() || !conn.stats().connected) {
        std::vector<std::pair<int, weft::task<void>>> batch;
        for (int i = 0; i < 50; ++i, ++next) {
            batch.emplace_back(next, conn.publish("", q, text(std::to_string(next)), {.timeout = 20s}));
        }
        for (auto& [id, t] : batch) {
            REQUIRE(t.wait_for(60s));
            try {
                t.get();
                confirmed.insert(id);
            } catch (const amqp::amqp_error& e) { // the drop, or publishing while it is down
                CHECK(e.code() == amqp::errc::connection_lost);
                failed.fetch_add(1);
            } catch (const weft::timeout_error&) {
                failed.fetch_add(1);
            }
        }
        if (failed.load() > 0 && !conn.stats().connected) {
            std::this_thread::sleep_for(50ms);
        }
    }
    restarter.join();
    CHECK(failed.load() > 0); // the restart did fail some publishes...
    CHECK(conn.stats().reconnects >= 1);
    // ...and every confirmed one is in the (durable) queue after the restart.
    std::mutex m;
    std::set<int> got;
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) {
        std::lock_guard lock(m);
        got.insert(std::stoi(d.msg.body));
    }));
    REQUIRE(weft_test::eventually(
        [&] {
            std::lock_guard lock(m);
            return std::includes(got.begin(), got.end(), confirmed.begin(), confirmed.end());
        },
        60s));
    get(consumer.cancel());
    INFO("confirmed " << confirmed.size() << ", failed " << failed.load());
    get(conn.delete_queue(q));
}

TEST_CASE("TLS: a round trip over amqps with the test CA, and a CA that did not sign the broker fails", "[amqp]") {
    NEED_BROKER();
    REQUIRE(broker().tls_port != 0);
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    auto o = opts();
    o.port = broker().tls_port;
    o.host = "localhost";
    o.tls = {.enabled = true, .ca_file = std::string(WEFT_AMQP_DIR) + "/tls/ca.pem"};
    {
        amqp::connection conn{pool, o};
        const auto q = unique("tls");
        get(conn.declare_queue(q, {.durable = false}));
        get(conn.publish("", q, text("secret body")));
        CHECK(get(conn.declare_queue(q, {.durable = false, .passive = true})).message_count == 1);
        get(conn.delete_queue(q));
    }
    o.tls.ca_file = "/etc/ssl/certs/ca-certificates.crt"; // real CAs: none signed the test broker
    try {
        amqp::connection conn{pool, o};
        FAIL("the broker's certificate was accepted by the wrong CA");
    } catch (const amqp::amqp_error& e) {
        CHECK(e.code() == amqp::errc::connection_failed);
    }
}

TEST_CASE("a consumer whose queue is deleted ends with consumer_canceled", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("deleted");
    get(conn.declare_queue(q, {.durable = false}));
    auto consumer = get(conn.consume(q, [](amqp::delivery) {}));
    get(conn.delete_queue(q));
    auto e = error_of(consumer.completion());
    CHECK(e.code() == amqp::errc::consumer_canceled);
    get(consumer.cancel()); // ended already: completes at once
}

TEST_CASE("close() from a continuation on the connection's own thread is a deadlock_error", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 1}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("self-close");
    get(conn.declare_queue(q, {.durable = false, .auto_delete = true}));
    // The reply waits for `gate`, so the continuation is attached before the call completes (a
    // task found complete would run it here); the connection's thread then completes it.
    weft::promise<void> gate;
    auto open = gate.get_task();
    auto server = get(amqp::serve(conn, q, [&](amqp::delivery d) -> weft::task<amqp::message> {
        co_await open;
        co_return amqp::message{.body = d.msg.body};
    }));
    std::atomic<bool> refused{false};
    std::atomic<bool> on_connection_thread{false};
    const auto test_thread = std::this_thread::get_id();
    auto inline_close = conn.call("", q, text("x")).then(weft::inline_scheduler{}, [&](const amqp::message&) {
        on_connection_thread = std::this_thread::get_id() != test_thread && !pool.runs_on_this_thread();
        try {
            conn.close(); // this runs on the connection's thread: it would wait for itself
        } catch (const weft::deadlock_error&) {
            refused = true;
        }
    });
    gate.set_value();
    get(inline_close);
    CHECK(on_connection_thread.load());
    CHECK(refused.load());
    get(conn.publish("", q, text("still open")));
    get(server.cancel());
}

TEST_CASE("close(): waiting operations fail closed, consumers end, later calls fail closed", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, opts()};
    const auto q = unique("close");
    get(conn.declare_queue(q, {.durable = false, .auto_delete = true}));
    auto consumer = get(conn.consume(q, [](amqp::delivery) {}));
    auto waiting = conn.call("", q, text("x"), {.timeout = 0ms}); // our own consumer never replies
    conn.close();
    CHECK(error_of(std::move(waiting)).code() == amqp::errc::closed);
    REQUIRE(consumer.completion().wait_for(30s));
    CHECK(consumer.completion().is_succeeded()); // closed by its owner: an end, not an error
    CHECK(error_of(conn.publish("", q, text("late"))).code() == amqp::errc::closed);
    get(consumer.cancel()); // ended already: completes at once
    conn.close();           // idempotent
}

namespace {

/// Reads lines from a child's stdout until `pred(lines)` holds (bounded by the task's wait).
weft::task<std::vector<std::string>> read_lines_until(weft::process& p,
                                                      std::function<bool(const std::vector<std::string>&)> pred) {
    std::vector<std::string> lines;
    std::string partial;
    char buf[4096];
    while (!pred(lines)) {
        const std::size_t n = co_await p.stdout_pipe().read_some(std::as_writable_bytes(std::span(buf)));
        if (n == 0) {
            break;
        }
        partial.append(buf, n);
        for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
            lines.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
        }
    }
    co_return lines;
}

weft::process spawn_child(
    weft::io_context& io, const std::string& queue, const std::string& results, int prefetch, const char* mode) {
    return weft::process::spawn(
        io,
        {.program = WEFT_AMQP_CHILD,
         .args = {std::to_string(broker().port), queue, results, std::to_string(prefetch), mode},
         .std_out = weft::stdio::pipe(),
         .kill_on_drop = true});
}

} // namespace

TEST_CASE("a work queue to 3 consumer processes: every id done, duplicates only as redeliveries", "[amqp]") {
    NEED_BROKER();
    const int n = static_cast<int>(weft_test::env_or("WEFT_AMQP_WORK_ITEMS", 100000));
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io;
    amqp::connection conn{pool, opts()};
    const auto work = unique("work");
    const auto results = unique("results");
    get(conn.declare_queue(work, {.durable = false}));
    get(conn.declare_queue(results, {.durable = false}));
    std::vector<weft::process> children;
    for (int i = 0; i < 3; ++i) {
        children.push_back(spawn_child(io, work, results, 50, "work"));
    }
    for (auto& c : children) {
        auto lines = get(read_lines_until(c, [](const auto& l) { return !l.empty(); }));
        REQUIRE(lines.at(0) == "ready");
    }
    std::vector<std::atomic<int>> done(static_cast<std::size_t>(n));
    std::atomic<int> distinct{0};
    auto collector = get(conn.consume(results,
                                      [&](amqp::delivery d) {
                                          if (done[static_cast<std::size_t>(std::stoi(d.msg.body))].fetch_add(1) == 0) {
                                              distinct.fetch_add(1);
                                          }
                                      },
                                      {.prefetch = 500}));
    constexpr int window = 2000;
    std::vector<weft::task<void>> in_flight;
    for (int i = 0; i < n; ++i) {
        in_flight.push_back(conn.publish("", work, text(std::to_string(i), false)));
        if (in_flight.size() == window) {
            for (auto& t : in_flight) {
                get(t);
            }
            in_flight.clear();
        }
    }
    for (auto& t : in_flight) {
        get(t);
    }
    REQUIRE(weft_test::eventually([&] { return distinct.load() == n; }, 240s));
    int duplicates = 0;
    for (auto& d : done) {
        CHECK(d.load() >= 1);
        duplicates += d.load() - 1;
    }
    CHECK(duplicates == 0); // nobody died here: at-least-once delivered exactly once
    for (auto& c : children) {
        c.kill(SIGKILL);
        get(c.wait());
    }
    get(collector.cancel());
    get(conn.delete_queue(work));
    get(conn.delete_queue(results));
}

TEST_CASE("a consumer process killed mid-stream has its unacked messages redelivered", "[amqp]") {
    NEED_BROKER();
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::io_context io;
    amqp::connection conn{pool, opts()};
    const auto q = unique("killed");
    get(conn.declare_queue(q, {.durable = true}));
    constexpr int n = 40;
    for (int i = 0; i < n; ++i) {
        get(conn.publish("", q, text(std::to_string(i))));
    }
    auto child = spawn_child(io, q, "-", 10, "hold");
    auto lines = get(read_lines_until(child, [](const auto& l) {
        return std::count_if(l.begin(), l.end(), [](const std::string& s) { return s.starts_with("holding"); }) == 10;
    }));
    std::set<std::string> held;
    for (const auto& l : lines) {
        if (l.starts_with("holding ")) {
            held.insert(l.substr(8));
        }
    }
    REQUIRE(held.size() == 10);
    child.kill(SIGKILL); // mid-stream: ten deliveries unacked
    get(child.wait());
    std::mutex m;
    std::map<std::string, bool> got; // id -> redelivered flag
    auto consumer = get(conn.consume(q, [&](amqp::delivery d) {
        std::lock_guard lock(m);
        got[d.msg.body] = d.redelivered;
    }));
    REQUIRE(weft_test::eventually(
        [&] {
            std::lock_guard lock(m);
            return got.size() == n;
        },
        60s));
    get(consumer.cancel());
    std::lock_guard lock(m);
    for (const auto& [id, redelivered] : got) {
        CHECK(redelivered == (held.count(id) == 1)); // only what the dead consumer held
    }
    get(conn.delete_queue(q));
}
