// weft/amqp/connection.hpp — weft::amqp::connection: one connection to a RabbitMQ broker, driven
// by its own thread, whose operations are tasks: declare, publish with confirms, consume into
// tasks (at-least-once), RPC calls. Reconnects by itself. Guide: docs/guide/amqp.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/amqp/error.hpp>
#include <weft/amqp/message.hpp>
#include <weft/amqp/options.hpp>
#include <weft/detail/amqp/engine.hpp>
#include <weft/promise.hpp>
#include <weft/task.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace weft::amqp {

struct connection_stats {
    std::uint64_t reconnects = 0;   ///< connections made again after a drop
    std::uint64_t late_replies = 0; ///< RPC replies that came after their call ended (dropped)
    std::uint64_t stale_acks = 0;   ///< acks not sent: the delivery came on an earlier connection
    std::uint64_t returned = 0;     ///< messages the broker returned as unroutable
    bool connected = false;
    bool blocked = false; ///< the broker has blocked publishers (connection.blocked: low memory/disk)
};

struct consumer_stats {
    std::uint64_t delivered = 0;
    std::uint64_t acked = 0;
    std::uint64_t rejected = 0;
    std::uint64_t redelivered = 0; ///< deliveries flagged as delivered before
    std::uint32_t in_flight = 0;   ///< handlers started and not yet settled
    std::uint32_t peak_in_flight = 0;
};

/// A subscription made by connection::consume.
class consumer {
public:
    consumer() = default;

    /// Stops deliveries; completes once every handler already started has finished and its
    /// delivery is settled. Prefetched deliveries no handler took go back to the queue.
    task<void> cancel() const {
        auto p = std::make_shared<promise<void>>(engine_->scheduler());
        auto t = p->get_task();
        const auto id = shared_->id;
        if (!engine_->post([p, id](detail::engine& e) { e.do_cancel_consumer(*p, id); })) {
            p->set_value(); // the connection is closed: the consumer has ended
        }
        return t;
    }
    /// Completes when the consumer ends: succeeds after cancel() or the connection's close(),
    /// fails with amqp_error when the broker ends it (consumer_canceled, channel_closed).
    /// A connection that drops and comes back resubscribes the consumer: that does not end it.
    task<void> completion() const { return shared_->ended; }
    consumer_stats stats() const {
        const auto& s = *shared_;
        constexpr auto r = std::memory_order_relaxed;
        return {s.delivered.load(r),
                s.acked.load(r),
                s.rejected.load(r),
                s.redelivered.load(r),
                s.in_flight.load(r),
                s.peak_in_flight.load(r)};
    }
    bool valid() const noexcept { return shared_ != nullptr; }

private:
    friend class connection;
    consumer(std::shared_ptr<detail::engine> e, std::shared_ptr<detail::consumer_shared> s)
        : engine_(std::move(e))
        , shared_(std::move(s)) {}
    std::shared_ptr<detail::engine> engine_;
    std::shared_ptr<detail::consumer_shared> shared_;
};

/// One connection to a broker. Every operation may be called from any thread; each returns a
/// task completed by the connection's thread, whose continuations run on `sched` unless they
/// name a scheduler (the source policy of the placement rule).
///
/// Thread safety: all members, from any threads; close() not from a continuation placed inline
///                on the connection's thread (deadlock_error).
/// Lifetime:      the destructor closes; tasks and consumers outlive the connection (they fail
///                with errc::closed).
/// Blocking:      the constructor connects (bounded by connect_timeout); close() waits for the
///                connection's thread; nothing else blocks.
class connection {
public:
    /// Connects and logs in; amqp_error (connection_failed, login_refused) if it cannot.
    explicit connection(any_scheduler sched, connection_options opts = {})
        : engine_(std::make_shared<detail::engine>(sched, std::move(opts))) {
        engine_->start();
    }
    connection(connection&&) noexcept = default;
    connection& operator=(connection&& o) noexcept {
        if (this != &o) {
            close();
            engine_ = std::move(o.engine_);
        }
        return *this;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    /// Closes; on the connection's own thread (a continuation placed inline there) it does not
    /// wait: the connection's thread finishes closing by itself.
    ~connection() {
        if (engine_) {
            engine_->stop(true);
        }
    }

    /// Closes the connection: pending operations fail with errc::closed, consumers end, later
    /// calls fail with errc::closed. Idempotent.
    void close() {
        if (engine_) {
            engine_->stop();
        }
    }

    /// queue.declare; an empty name makes a server-named queue (its name is in queue_info).
    task<queue_info> declare_queue(std::string name, queue_options o = {}) {
        if (o.max_length && *o.max_length < 0) {
            throw std::invalid_argument("weft::amqp: max_length must not be negative");
        }
        if (o.message_ttl && o.message_ttl->count() < 0) {
            throw std::invalid_argument("weft::amqp: message_ttl must not be negative");
        }
        return submit<queue_info>(
            [name = std::move(name), o](detail::engine& e, promise<queue_info>& p) { e.do_declare_queue(p, name, o); });
    }
    task<void> declare_exchange(std::string name, exchange_type type, exchange_options o = {}) {
        if (name.empty()) {
            throw std::invalid_argument("weft::amqp: the default exchange cannot be declared");
        }
        return submit<void>([name = std::move(name), type, o](detail::engine& e, promise<void>& p) {
            e.do_declare_exchange(p, name, type, o);
        });
    }
    task<void> bind_queue(std::string queue, std::string exchange, std::string routing_key = {}) {
        return submit<void>([q = std::move(queue), x = std::move(exchange), k = std::move(routing_key)](
                                detail::engine& e, promise<void>& p) { e.do_bind(p, q, x, k); });
    }
    /// queue.delete; the task's value is the number of messages it held.
    task<std::uint32_t> delete_queue(std::string name) {
        return submit<std::uint32_t>(
            [name = std::move(name)](detail::engine& e, promise<std::uint32_t>& p) { e.do_delete_queue(p, name); });
    }
    task<void> delete_exchange(std::string name) {
        return submit<void>(
            [name = std::move(name)](detail::engine& e, promise<void>& p) { e.do_delete_exchange(p, name); });
    }

    /// Publishes with a publisher confirm: the task succeeds when the broker acks the message
    /// (for a persistent message in a durable queue: once it is on disk), fails with nacked,
    /// unroutable (mandatory), channel_closed (no such exchange, too large), connection_lost (a
    /// drop before the ack: the message may or may not have arrived), timeout_error or
    /// operation_canceled (waiting stopped; the message may still arrive).
    task<void> publish(std::string exchange, std::string routing_key, message m, publish_options o = {}) {
        if (o.timeout.count() < 0) {
            throw std::invalid_argument("weft::amqp: a negative publish timeout");
        }
        if (o.token.is_cancellation_requested()) {
            return canceled<void>();
        }
        return submit_here_or_post<void>(
            [x = std::move(exchange), k = std::move(routing_key), m = std::move(m), o = std::move(o)](
                detail::engine& e, promise<void>& p) { e.do_publish(p, x, k, m, o); });
    }

    /// Consumes `queue`: each delivery runs `handler(delivery)` (returning task<void> or void) on
    /// the consume options' scheduler (else the connection's); the delivery is acked when the
    /// handler succeeds and rejected (requeued unless requeue_on_failure is false) when it throws
    /// or its task fails: at-least-once. At most `prefetch` handlers run at once.
    template<typename F>
    task<consumer> consume(std::string queue, F handler, consume_options o = {}) {
        if (o.prefetch == 0) {
            throw std::invalid_argument("weft::amqp: prefetch 0 (unlimited) is not allowed; give a bound");
        }
        auto fn = wrap(std::move(handler));
        return submit<consumer>(
            [q = std::move(queue), fn = std::move(fn), o](detail::engine& en, promise<consumer>& p) {
                en.do_consume(p, q, fn, o, [&en](std::shared_ptr<detail::consumer_shared> s) {
                    return consumer(en.shared_from_this(), std::move(s));
                });
            });
    }

    /// An RPC call: publishes `request` (mandatory) with a reply-to of RabbitMQ's direct
    /// reply-to and a fresh correlation id, and completes with the reply. Fails with unroutable
    /// when no queue takes the request, timeout_error, operation_canceled, connection_lost. A
    /// reply that comes after its call ended is dropped and counted (stats().late_replies).
    task<message> call(std::string exchange, std::string routing_key, message request, call_options o = {}) {
        if (o.timeout.count() < 0) {
            throw std::invalid_argument("weft::amqp: a negative call timeout");
        }
        if (o.token.is_cancellation_requested()) {
            return canceled<message>();
        }
        return submit_here_or_post<message>(
            [x = std::move(exchange), k = std::move(routing_key), m = std::move(request), o = std::move(o)](
                detail::engine& e, promise<message>& p) { e.do_call(p, x, k, m, o); });
    }

    connection_stats stats() const {
        const auto& c = engine_->counters();
        constexpr auto r = std::memory_order_relaxed;
        return {c.reconnects.load(r),
                c.late_replies.load(r),
                c.stale_acks.load(r),
                c.returned.load(r),
                c.connected.load(r),
                c.blocked.load(r)};
    }
    any_scheduler scheduler() const noexcept { return engine_->scheduler(); }

private:
    /// Runs `body(engine, promise)` on the connection's thread; a body that throws fails the task.
    template<typename T, typename Body>
    task<T> submit(Body body) {
        return submit_as<T>(false, std::move(body));
    }
    /// publish and call: written on the calling thread when the connection's thread is idle
    /// (no hand-off), else posted to it like every other operation.
    template<typename T, typename Body>
    task<T> submit_here_or_post(Body body) {
        return submit_as<T>(true, std::move(body));
    }

    template<typename T, typename Body>
    task<T> submit_as(bool try_here, Body body) {
        if (!engine_) {
            throw no_state{};
        }
        auto run = [](Body& b, detail::engine& e, promise<T>& p) {
            try {
                b(e, p);
            } catch (...) {
                p.try_set_exception(std::current_exception());
            }
        };
        promise<T> p{engine_->scheduler()};
        task<T> t = p.get_task();
        if (try_here && engine_->try_run_here([&](detail::engine& e) { run(body, e, p); })) {
            return t;
        }
        auto shared = std::make_shared<promise<T>>(std::move(p));
        const bool posted =
            engine_->post([shared, run, body = std::move(body)](detail::engine& e) mutable { run(body, e, *shared); });
        if (!posted) {
            shared->set_exception(detail::error_ptr(errc::closed, "the connection was closed"));
        }
        return t;
    }

    template<typename T>
    task<T> canceled() {
        promise<T> p{engine_->scheduler()};
        p.set_canceled();
        return p.get_task();
    }

    template<typename F>
    static detail::handler_fn wrap(F handler) {
        using R = std::invoke_result_t<F&, delivery>;
        if constexpr (std::is_same_v<R, task<void>>) {
            detail::handler_fn fn(std::move(handler));
            if (!fn) {
                throw std::invalid_argument("weft::amqp: consume() with a null handler");
            }
            return fn;
        } else {
            static_assert(std::is_void_v<R>, "weft::amqp: a handler returns task<void> or void");
            return [h = std::move(handler)](delivery d) mutable -> task<void> {
                promise<void> done;
                try {
                    h(std::move(d));
                    done.set_value();
                } catch (...) {
                    done.set_exception(std::current_exception());
                }
                return done.get_task();
            };
        }
    }

    std::shared_ptr<detail::engine> engine_;
};

} // namespace weft::amqp
