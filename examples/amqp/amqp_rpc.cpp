// amqp_rpc: an RPC server and its client over a RabbitMQ broker (WEFT_AMQP_URL, e.g.
// amqp://guest:guest@127.0.0.1:5672/). The server squares numbers; the client sends 100 calls at
// once, each a task, and checks every reply. Exit 77 when no broker can be reached.
#include <weft/amqp.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main() {
    namespace amqp = weft::amqp;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection_options where;
    try {
        where = amqp::connection_options::from_environment(); // WEFT_AMQP_URL
    } catch (const std::invalid_argument& e) {
        std::printf("amqp_rpc: %s: skipped\n", e.what());
        return 77;
    }
    try {
        amqp::connection server_conn{pool, where};
        amqp::connection client{pool, where};

        // The server: a queue, and a handler whose reply goes back to each caller.
        server_conn.declare_queue("rpc.square", {.durable = false, .auto_delete = true}).get();
        auto server = amqp::serve(server_conn, "rpc.square", [](amqp::delivery request) {
                          const long n = std::stol(request.msg.body);
                          return amqp::message{.body = std::to_string(n * n)};
                      }).get();

        // The client: 100 calls in flight, each a task<message> (direct reply-to, a timeout).
        std::vector<weft::task<amqp::message>> calls;
        for (int i = 0; i < 100; ++i) {
            calls.push_back(client.call(
                "", "rpc.square", amqp::message{.body = std::to_string(i)}, {.timeout = std::chrono::seconds(10)}));
        }
        long sum = 0;
        for (int i = 0; i < 100; ++i) {
            const long v = std::stol(calls[static_cast<std::size_t>(i)].get().body);
            if (v != static_cast<long>(i) * i) {
                std::printf("amqp_rpc: %d squared came back as %ld\n", i, v);
                return 1;
            }
            sum += v;
        }
        server.cancel().get();
        std::printf("amqp_rpc: 100 calls answered, sum of squares %ld\n", sum);
        return sum == 328350 ? 0 : 1;
    } catch (const amqp::amqp_error& e) {
        if (e.code() == amqp::errc::connection_failed) {
            std::printf("amqp_rpc: no broker: %s: skipped\n", e.what());
            return 77;
        }
        throw;
    }
}
