// benchmarks/amqp_bench.cpp — weft::amqp against the library it wraps, in one run, on one broker:
// confirmed publishes/s and RPC round trips/s, weft with 1 and many in flight, beside a plain
// synchronous rabbitmq-c loop (publish, then read frames until the broker's ack; publish a
// request, then read frames until its reply). The broker is WEFT_AMQP_URL (scripts/amqp_bench.sh
// starts a private node and sets it); without it every benchmark is skipped with that message.
//
// Messages are 64-byte transient ones into a non-durable queue capped at 1,000 (the broker drops
// the oldest), so that the broker's disk is not what is measured. The RPC server is the same for
// both clients: weft::amqp::serve on a connection of its own, echoing the request.
#include <weft/amqp.hpp>
#include <weft/thread_pool.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include <amqp.h>
#include <amqp_tcp_socket.h>

namespace amqp = weft::amqp;

namespace {

constexpr int per_iteration = 1000;
const std::string body(64, 'x');

const char* broker_url() {
    return std::getenv("WEFT_AMQP_URL");
}

/// One broker setup for the whole run: a pool, a publishing connection, the queues, the server.
struct rig {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection_options opts = amqp::connection_options::from_url(broker_url());
    amqp::connection client{pool, opts};
    amqp::connection server_conn{pool, opts};
    std::string sink = "weft-bench-sink";
    std::string rpc = "weft-bench-rpc";
    amqp::consumer server;

    rig() {
        client.declare_queue(sink, {.durable = false, .auto_delete = true, .max_length = 1000}).get();
        server_conn.declare_queue(rpc, {.durable = false, .auto_delete = true}).get();
        server =
            amqp::serve(
                server_conn, rpc, [](amqp::delivery d) { return amqp::message{.body = d.msg.body}; }, {.prefetch = 256})
                .get();
    }
    static rig& get() {
        static rig r;
        return r;
    }
};

bool skip_without_broker(benchmark::State& st) {
    if (broker_url() == nullptr) {
        st.SkipWithError("set WEFT_AMQP_URL (scripts/amqp_bench.sh starts a private broker)");
        return true;
    }
    return false;
}

amqp::message transient() {
    return amqp::message{.body = body, .persistent = false};
}

void publish_weft(benchmark::State& st) {
    if (skip_without_broker(st)) {
        return;
    }
    auto& r = rig::get();
    const auto window = static_cast<std::size_t>(st.range(0));
    for (auto _ : st) {
        std::vector<weft::task<void>> in_flight;
        in_flight.reserve(window);
        for (int i = 0; i < per_iteration; ++i) {
            in_flight.push_back(r.client.publish("", r.sink, transient()));
            if (in_flight.size() == window) {
                for (auto& t : in_flight) {
                    t.get();
                }
                in_flight.clear();
            }
        }
        for (auto& t : in_flight) {
            t.get();
        }
    }
    st.SetItemsProcessed(st.iterations() * per_iteration);
}

void rpc_weft(benchmark::State& st) {
    if (skip_without_broker(st)) {
        return;
    }
    auto& r = rig::get();
    const auto window = static_cast<std::size_t>(st.range(0));
    for (auto _ : st) {
        std::vector<weft::task<amqp::message>> calls;
        calls.reserve(window);
        for (int i = 0; i < per_iteration; ++i) {
            calls.push_back(r.client.call("", r.rpc, transient()));
            if (calls.size() == window) {
                for (auto& c : calls) {
                    weft_bench::check(c.get().body == body, "an RPC reply differs from its request");
                }
                calls.clear();
            }
        }
        for (auto& c : calls) {
            weft_bench::check(c.get().body == body, "an RPC reply differs from its request");
        }
    }
    st.SetItemsProcessed(st.iterations() * per_iteration);
}

/// A plain rabbitmq-c connection, used the synchronous way its examples use it.
struct raw_connection {
    amqp_connection_state_t conn = amqp_new_connection();
    raw_connection() {
        const auto o = amqp::connection_options::from_url(broker_url());
        amqp_socket_t* s = amqp_tcp_socket_new(conn);
        weft_bench::check(amqp_socket_open(s, o.host.c_str(), o.port) == AMQP_STATUS_OK, "rabbitmq-c: connect");
        weft_bench::check(
            amqp_login(conn, o.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, o.user.c_str(), o.password.c_str())
                    .reply_type == AMQP_RESPONSE_NORMAL,
            "rabbitmq-c: login");
        amqp_channel_open(conn, 1);
        weft_bench::check(amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL, "rabbitmq-c: channel");
    }
    ~raw_connection() {
        amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
    }
    /// Reads frames until a method `id` arrives on channel 1 (content frames are skipped).
    amqp_frame_t wait_method(amqp_method_number_t id) {
        amqp_frame_t f;
        for (;;) {
            weft_bench::check(amqp_simple_wait_frame(conn, &f) == AMQP_STATUS_OK, "rabbitmq-c: read");
            if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == id) {
                return f;
            }
        }
    }
};

amqp_basic_properties_t transient_props() {
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = 1;
    return p;
}

void publish_rabbitmq_c_sync(benchmark::State& st) {
    if (skip_without_broker(st)) {
        return;
    }
    auto& r = rig::get();
    raw_connection raw;
    amqp_confirm_select(raw.conn, 1);
    weft_bench::check(amqp_get_rpc_reply(raw.conn).reply_type == AMQP_RESPONSE_NORMAL, "rabbitmq-c: confirm.select");
    const auto props = transient_props();
    for (auto _ : st) {
        for (int i = 0; i < per_iteration; ++i) {
            amqp_basic_publish(raw.conn,
                               1,
                               amqp_empty_bytes,
                               amqp_cstring_bytes(r.sink.c_str()),
                               0,
                               0,
                               &props,
                               amqp_cstring_bytes(body.c_str()));
            raw.wait_method(AMQP_BASIC_ACK_METHOD);
            amqp_maybe_release_buffers(raw.conn);
        }
    }
    st.SetItemsProcessed(st.iterations() * per_iteration);
}

void rpc_rabbitmq_c_sync(benchmark::State& st) {
    if (skip_without_broker(st)) {
        return;
    }
    auto& r = rig::get();
    raw_connection raw;
    amqp_basic_consume(
        raw.conn, 1, amqp_cstring_bytes("amq.rabbitmq.reply-to"), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    weft_bench::check(amqp_get_rpc_reply(raw.conn).reply_type == AMQP_RESPONSE_NORMAL, "rabbitmq-c: reply consumer");
    auto props = transient_props();
    props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    props.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
    for (auto _ : st) {
        for (int i = 0; i < per_iteration; ++i) {
            amqp_basic_publish(raw.conn,
                               1,
                               amqp_empty_bytes,
                               amqp_cstring_bytes(r.rpc.c_str()),
                               0,
                               0,
                               &props,
                               amqp_cstring_bytes(body.c_str()));
            raw.wait_method(AMQP_BASIC_DELIVER_METHOD);
            amqp_frame_t f; // the reply's header and body
            std::size_t got = 0;
            std::size_t size = 1;
            while (got < size) {
                weft_bench::check(amqp_simple_wait_frame(raw.conn, &f) == AMQP_STATUS_OK, "rabbitmq-c: read");
                if (f.frame_type == AMQP_FRAME_HEADER) {
                    size = f.payload.properties.body_size;
                } else if (f.frame_type == AMQP_FRAME_BODY) {
                    got += f.payload.body_fragment.len;
                }
            }
            weft_bench::check(got == body.size(), "an RPC reply differs from its request");
            amqp_maybe_release_buffers(raw.conn);
        }
    }
    st.SetItemsProcessed(st.iterations() * per_iteration);
}

} // namespace

BENCHMARK(publish_weft)->Name("publish_confirmed/weft")->ArgName("in_flight")->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK(publish_rabbitmq_c_sync)->Name("publish_confirmed/rabbitmq_c_sync")->UseRealTime();
BENCHMARK(rpc_weft)->Name("rpc_round_trip/weft")->ArgName("in_flight")->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(rpc_rabbitmq_c_sync)->Name("rpc_round_trip/rabbitmq_c_sync")->UseRealTime();
BENCHMARK_MAIN();
