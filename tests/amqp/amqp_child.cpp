// tests/amqp/amqp_child.cpp — a consumer process for the broker tests.
//   weft_amqp_child PORT QUEUE RESULTS PREFETCH work   each delivery's body is published to
//                                                      RESULTS (confirmed), then the delivery is acked
//   weft_amqp_child PORT QUEUE - PREFETCH hold          each delivery prints "holding BODY" and is
//                                                      never settled (the parent kills the process)
// Prints "ready" once it consumes. Runs until it is killed.
#include <weft/amqp.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s PORT QUEUE RESULTS PREFETCH work|hold\n", argv[0]);
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const std::string queue = argv[2];
    const std::string results = argv[3];
    const auto prefetch = static_cast<std::uint16_t>(std::atoi(argv[4]));
    const std::string mode = argv[5];
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::amqp::connection conn{pool, {.port = port, .name = "weft_amqp_child"}};
    weft::promise<void> never;
    auto never_task = never.get_task();
    weft::amqp::consumer c;
    if (mode == "work") {
        c = conn.consume(queue,
                         [&](weft::amqp::delivery d) {
                             weft::amqp::message m{.body = d.msg.body, .persistent = false};
                             return conn.publish("", results, std::move(m));
                         },
                         {.prefetch = prefetch})
                .get();
    } else {
        c = conn.consume(queue,
                         [&](weft::amqp::delivery d) {
                             std::printf("holding %s\n", d.msg.body.c_str());
                             std::fflush(stdout);
                             return never_task;
                         },
                         {.prefetch = prefetch})
                .get();
    }
    std::printf("ready\n");
    std::fflush(stdout);
    c.completion().wait(); // until killed (or the broker ends the consumer)
    return 1;
}
