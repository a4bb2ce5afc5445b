// amqp_pubsub: publish/subscribe over a RabbitMQ broker (WEFT_AMQP_URL). A fanout exchange gives
// every subscriber every event; a topic exchange gives each subscriber the events whose routing
// key matches its pattern. Exit 77 when no broker can be reached.
#include <weft/amqp.hpp>
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main() {
    namespace amqp = weft::amqp;
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection_options where;
    try {
        where = amqp::connection_options::from_environment();
    } catch (const std::invalid_argument& e) {
        std::printf("amqp_pubsub: %s: skipped\n", e.what());
        return 77;
    }
    try {
        amqp::connection conn{pool, where};
        conn.declare_exchange("events.all", amqp::exchange_type::fanout, {.durable = false}).get();
        conn.declare_exchange("events.by_topic", amqp::exchange_type::topic, {.durable = false}).get();

        // Three subscribers, each with a queue of its own that the broker names and deletes.
        const char* patterns[] = {"orders.*", "*.eu", "#"};
        std::atomic<int> fanout_seen[3] = {};
        std::atomic<int> topic_seen[3] = {};
        std::vector<amqp::consumer> subscribers;
        for (int i = 0; i < 3; ++i) {
            const auto q = conn.declare_queue("", {.durable = false, .exclusive = true}).get().name;
            conn.bind_queue(q, "events.all").get();
            conn.bind_queue(q, "events.by_topic", patterns[i]).get();
            subscribers.push_back(conn.consume(q,
                                               [&, i](amqp::delivery d) {
                                                   (d.exchange == "events.all" ? fanout_seen : topic_seen)[i].fetch_add(
                                                       1);
                                               })
                                      .get());
        }
        conn.publish("events.all", "", amqp::message{.body = "to everyone", .persistent = false}).get();
        for (const char* key : {"orders.eu", "orders.us", "stock.eu", "stock.us"}) {
            conn.publish("events.by_topic", key, amqp::message{.body = key, .persistent = false}).get();
        }
        // orders.* takes 2, *.eu takes 2, # takes all 4; each subscriber gets the one fanout event.
        const int want_topic[3] = {2, 2, 4};
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        auto done = [&] {
            for (int i = 0; i < 3; ++i) {
                if (fanout_seen[i] != 1 || topic_seen[i] != want_topic[i]) {
                    return false;
                }
            }
            return true;
        };
        while (!done() && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        for (int i = 0; i < 3; ++i) {
            std::printf(
                "subscriber %-9s fanout %d, topic %d\n", patterns[i], fanout_seen[i].load(), topic_seen[i].load());
        }
        return done() ? 0 : 1;
    } catch (const amqp::amqp_error& e) {
        if (e.code() == amqp::errc::connection_failed) {
            std::printf("amqp_pubsub: no broker: %s: skipped\n", e.what());
            return 77;
        }
        throw;
    }
}
