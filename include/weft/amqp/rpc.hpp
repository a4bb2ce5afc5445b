// weft/amqp/rpc.hpp — the server side of an RPC over the broker: serve(connection, queue, handler)
// answers each request with the handler's reply, sent to the request's reply-to with its
// correlation id. The client side is connection::call.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/amqp/connection.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace weft::amqp {

/// Consumes `queue` and answers each request with `handler(delivery)` (returning task<message>
/// or message): the reply is published (confirmed) to the request's reply-to with its
/// correlation id, then the request is acked. A request without a reply-to is acked unanswered.
/// A handler that throws (or whose task fails) gets the request rejected, requeued unless
/// `o.requeue_on_failure` is false: its caller then sees its timeout, not an error reply.
/// The connection must outlive the consumer's handlers.
template<typename F>
task<consumer> serve(connection& conn, std::string queue, F handler, consume_options o = {}) {
    using R = std::invoke_result_t<F&, delivery>;
    static_assert(std::is_same_v<R, task<message>> || std::is_same_v<R, message>,
                  "weft::amqp: an RPC handler returns task<message> or message");
    auto answer = [&conn, h = std::move(handler)](delivery d) mutable -> task<void> {
        const std::string reply_to = d.msg.reply_to;
        const std::string correlation = d.msg.correlation_id;
        message reply;
        if constexpr (std::is_same_v<R, task<message>>) {
            reply = co_await h(std::move(d));
        } else {
            reply = h(std::move(d));
        }
        if (reply_to.empty()) {
            co_return;
        }
        reply.correlation_id = correlation;
        reply.persistent = false; // a reply is for a caller that is waiting now
        co_await conn.publish("", reply_to, std::move(reply));
    };
    return conn.consume(std::move(queue), std::move(answer), o);
}

} // namespace weft::amqp
