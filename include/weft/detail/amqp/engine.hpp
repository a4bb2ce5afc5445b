// weft/detail/amqp/engine.hpp — the thread behind one weft::amqp::connection.
//
// Design note (the full argument: docs/decisions/0015-amqp.md).
// rabbitmq-c cannot be driven by another event loop: it writes with blocking sends, services
// heartbeats only inside its own calls, and its synchronous methods (declare, consume) read
// frames until their reply comes. So each connection owns one thread, the engine, which drives
// rabbitmq-c (not thread-safe, not even across channels) under one connection lock, conn_mutex_.
// Other threads post commands (a vector under commands_mutex_, an eventfd to wake the engine).
// The engine completes weft promises whose source policy is the connection's scheduler, so no
// user code runs on it unless the user names inline_scheduler.
//
// The loop, all under the connection lock but the poll: take and run the posted commands; read
// every frame rabbitmq-c has, with a zero timeout (so the heartbeats it sends and checks inside
// its frame reader stay serviced); expire deadlines; then, the lock released, complete the
// confirms and replies it found and poll the socket and the eventfd until the next deadline,
// half a heartbeat, or a second.
//
// The fast path (try_run_here): a publish or call made while the engine polls takes the lock
// and writes on the caller's thread, if no command is queued before it (the engine holds the
// lock from taking a batch to running it, so an empty queue under the lock means all earlier
// commands ran: one thread's operations keep their order). It wakes the engine only when the
// engine must look at once (frames a synchronous call queued, an earlier deadline, a drop).
//
// Channels: 1 administers (declare, bind, delete: a refusal closes only it, and it is reopened),
// 2 publishes in confirm mode, 3 carries RPC calls (direct reply-to needs the reply consumer and
// the requests on one channel), 4 and up: one per consumer (its own prefetch).
//
// Confirms are keyed by a sequence that never repeats on this connection object (the channel's
// delivery tag plus the tags used on earlier publishing channels), so no ack, timeout or cancel
// can ever resolve another publish than its own. A drop fails every pending confirm and call with
// connection_lost; the engine reconnects with back-off, declares again what was declared through
// it, reopens the channels and resubscribes the consumers. An ack for a delivery of an earlier
// connection is never sent (counted as stale): the broker redelivers that message.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/amqp/error.hpp>
#include <weft/amqp/message.hpp>
#include <weft/amqp/options.hpp>
#include <weft/detail/amqp/wire.hpp>
#include <weft/detail/thread_name.hpp>
#include <weft/errors.hpp>
#include <weft/io/error.hpp>
#include <weft/promise.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace weft::amqp::detail {

using clock = std::chrono::steady_clock;

inline constexpr amqp_channel_t admin_channel = 1;
inline constexpr amqp_channel_t publish_channel = 2;
inline constexpr amqp_channel_t rpc_channel = 3;
inline constexpr amqp_channel_t first_consumer_channel = 4;
inline constexpr const char* publish_seq_header = "weft-publish-seq";
inline constexpr const char* direct_reply_to = "amq.rabbitmq.reply-to";

/// Counters a connection shows; written by the engine, read anywhere.
struct connection_counters {
    std::atomic<std::uint64_t> reconnects{0};   // order: relaxed (statistics)
    std::atomic<std::uint64_t> late_replies{0}; // order: relaxed (statistics)
    std::atomic<std::uint64_t> stale_acks{0};   // order: relaxed (statistics)
    std::atomic<std::uint64_t> returned{0};     // order: relaxed (statistics)
    std::atomic<bool> connected{false};         // order: relaxed (a snapshot)
    std::atomic<bool> blocked{false};           // order: relaxed (a snapshot)
};

/// What a consumer handle shares with the engine.
struct consumer_shared {
    std::atomic<std::uint64_t> delivered{0};      // order: relaxed (statistics)
    std::atomic<std::uint64_t> acked{0};          // order: relaxed (statistics)
    std::atomic<std::uint64_t> rejected{0};       // order: relaxed (statistics)
    std::atomic<std::uint64_t> redelivered{0};    // order: relaxed (statistics)
    std::atomic<std::uint32_t> in_flight{0};      // order: relaxed (statistics; counted on the engine)
    std::atomic<std::uint32_t> peak_in_flight{0}; // order: relaxed (statistics)
    std::uint64_t id = 0;
    task<void> ended{}; ///< completes when the consumer ends (set before the handle is returned)
};

using handler_fn = std::function<task<void>(delivery)>;

inline timeval timeval_of(std::chrono::milliseconds d) {
    timeval tv;
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

inline std::exception_ptr error_ptr(errc code, const std::string& what, int reply_code = 0) {
    return std::make_exception_ptr(amqp_error(code, what, reply_code));
}

class engine : public std::enable_shared_from_this<engine> {
public:
    /// Connects on the calling thread (throws amqp_error); start() then hands the connection to
    /// the engine thread.
    engine(any_scheduler sched, connection_options opts) : sched_(sched), opts_(std::move(opts)) {
        weft::detail::require_scheduler(sched_, "weft::amqp: a connection needs a scheduler");
        if (opts_.reconnect_min.count() <= 0 || opts_.reconnect_max < opts_.reconnect_min) {
            throw std::invalid_argument("weft::amqp: reconnect_min must be > 0 and <= reconnect_max");
        }
        if (opts_.heartbeat.count() < 0 || opts_.heartbeat.count() > 65535) {
            throw std::invalid_argument("weft::amqp: heartbeat must be 0..65535 seconds");
        }
        wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "weft::amqp: eventfd");
        }
        backoff_ = opts_.reconnect_min;
        try {
            connect_now();
        } catch (...) {
            ::close(wake_fd_);
            throw;
        }
    }
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    ~engine() {
        stop(true);
        if (conn_ != nullptr) {
            amqp_destroy_connection(conn_);
        }
        ::close(wake_fd_);
    }

    void start() {
        thread_ = std::thread([self = shared_from_this()] {
            weft::detail::set_thread_name("weft-amqp", 0);
            self->run();
        });
        engine_id_ = thread_.get_id();
    }

    /// The fast path (decision 0015 §1): runs `op` on the calling thread, under the connection
    /// lock, when the engine is not using the connection (it is in poll) and no command is
    /// queued before it; false otherwise (the caller then posts). Saves the hand-off to the
    /// engine: a publish is written by its caller, the engine only reads the broker's answer.
    template<typename Op>
    bool try_run_here(Op&& op) {
        if (std::this_thread::get_id() == engine_id_) {
            return false; // on the engine, a command's continuation: keep the queue's order
        }
        std::unique_lock conn_lock(conn_mutex_, std::try_to_lock);
        if (!conn_lock.owns_lock() || closed_) {
            return false;
        }
        {
            std::lock_guard lock(commands_mutex_);
            if (!commands_.empty() || stopping_) {
                return false; // earlier commands first
            }
        }
        op(*this);
        // What the sleeping engine must see at once: frames a synchronous call read and queued,
        // a deadline before its planned wake-up, a connection that just dropped, completions.
        if (conn_ == nullptr || amqp_frames_enqueued(conn_) != 0 || amqp_data_in_buffer(conn_) != 0 ||
            (!deadlines_.empty() && deadlines_.top().at < planned_wake_) || !completions_.empty()) {
            wake();
        }
        return true;
    }

    /// Ends the engine: pending operations fail with errc::closed, consumers end. From any
    /// thread but the engine's own (deadlock_error there: it would wait for itself).
    /// `detach_if_own_thread` (a destructor): on the engine's own thread, ask it to stop and let
    /// it finish by itself (it holds a reference to the engine) instead of throwing.
    void stop(bool detach_if_own_thread = false) {
        std::lock_guard stop_lock(stop_mutex_); // two closes at once: the second waits for the first
        if (!thread_.joinable()) {
            return;
        }
        const bool own_thread = std::this_thread::get_id() == thread_.get_id();
        if (own_thread && !detach_if_own_thread) {
            throw deadlock_error("weft::amqp: close() on the connection's own thread would wait for itself");
        }
        {
            std::lock_guard lock(commands_mutex_);
            stopping_ = true;
        }
        wake();
        if (own_thread) {
            thread_.detach();
        } else {
            thread_.join();
        }
    }

    /// Runs `cmd` on the engine thread; false (and `cmd` dropped) once the engine stops.
    bool post(std::function<void(engine&)> cmd) {
        {
            std::lock_guard lock(commands_mutex_);
            if (stopping_) {
                return false;
            }
            commands_.push_back(std::move(cmd));
        }
        wake();
        return true;
    }

    any_scheduler scheduler() const noexcept { return sched_; }
    const connection_counters& counters() const noexcept { return counters_; }

    // ---- commands, run on the engine thread ----------------------------------------------

    void do_declare_queue(promise<queue_info>& p, const std::string& name, const queue_options& o) {
        if (!usable(p)) {
            return;
        }
        auto* ok = declare_queue_now(name, o);
        if (ok == nullptr) {
            p.set_exception(admin_failure());
            return;
        }
        queue_info info{string_of(ok->queue), ok->message_count, ok->consumer_count};
        if (!o.passive && !name.empty()) {
            remember({topology_step::queue, name, {}, {}, o, exchange_type::direct, {}});
        }
        p.set_value(std::move(info));
    }

    void do_declare_exchange(promise<void>& p, const std::string& name, exchange_type t, const exchange_options& o) {
        if (!usable(p)) {
            return;
        }
        if (declare_exchange_now(name, t, o) == nullptr) {
            p.set_exception(admin_failure());
            return;
        }
        if (!o.passive) {
            remember({topology_step::exchange, name, {}, {}, {}, t, o});
        }
        p.set_value();
    }

    void do_bind(promise<void>& p, const std::string& queue, const std::string& exchange, const std::string& key) {
        if (!usable(p)) {
            return;
        }
        auto* ok =
            amqp_queue_bind(conn_, admin_channel, bytes_of(queue), bytes_of(exchange), bytes_of(key), amqp_empty_table);
        if (ok == nullptr) {
            p.set_exception(admin_failure());
            return;
        }
        remember({topology_step::bind, queue, exchange, key, {}, exchange_type::direct, {}});
        p.set_value();
    }

    void do_delete_queue(promise<std::uint32_t>& p, const std::string& name) {
        if (!usable(p)) {
            return;
        }
        auto* ok = amqp_queue_delete(conn_, admin_channel, bytes_of(name), 0, 0);
        if (ok == nullptr) {
            p.set_exception(admin_failure());
            return;
        }
        std::erase_if(topology_, [&](const topology_step& s) {
            return (s.kind == topology_step::queue || s.kind == topology_step::bind) && s.a == name;
        });
        p.set_value(ok->message_count);
    }

    void do_delete_exchange(promise<void>& p, const std::string& name) {
        if (!usable(p)) {
            return;
        }
        auto* ok = amqp_exchange_delete(conn_, admin_channel, bytes_of(name), 0);
        if (ok == nullptr) {
            p.set_exception(admin_failure());
            return;
        }
        std::erase_if(topology_, [&](const topology_step& s) {
            return (s.kind == topology_step::exchange && s.a == name) || (s.kind == topology_step::bind && s.b == name);
        });
        p.set_value();
    }

    void do_publish(promise<void>& p,
                    const std::string& exchange,
                    const std::string& key,
                    const message& m,
                    const publish_options& o) {
        if (!usable(p)) {
            return;
        }
        const std::uint64_t seq = seq_base_ + (++channel_published_);
        outgoing_properties props(m, o.mandatory ? publish_seq_header : "", std::to_string(seq));
        auto& pc = confirms_[seq];
        pc.done = std::move(p);
        if (o.timeout.count() > 0) {
            deadlines_.push({clock::now() + o.timeout, deadline_kind::confirm, seq});
        }
        if (o.token.can_be_canceled()) {
            pc.reg = o.token.register_callback([w = weak_from_this(), seq] {
                if (auto e = w.lock()) {
                    e->post([seq](engine& en) { en.end_confirm(seq, nullptr); });
                }
            });
        }
        const int rc = amqp_basic_publish(conn_,
                                          publish_channel,
                                          bytes_of(exchange),
                                          bytes_of(key),
                                          o.mandatory ? 1 : 0,
                                          0,
                                          props.get(),
                                          bytes_of(m.body));
        if (rc != AMQP_STATUS_OK) {
            lose(std::string("publish failed: ") + amqp_error_string2(rc));
        }
    }

    void do_call(promise<message>& p,
                 const std::string& exchange,
                 const std::string& key,
                 const message& m,
                 const call_options& o) {
        if (!usable(p)) {
            return;
        }
        if (!reply_consumer_) {
            amqp_basic_consume(
                conn_, rpc_channel, amqp_cstring_bytes(direct_reply_to), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
            auto f = failure_of(amqp_get_rpc_reply(conn_));
            if (f.what != call_failure::kind::none) {
                p.set_exception(channel_failure(rpc_channel, f));
                return;
            }
            reply_consumer_ = true;
        }
        const std::uint64_t id = ++calls_made_;
        outgoing_properties props(m);
        const std::string correlation = std::to_string(id);
        props.set_reply(direct_reply_to, correlation);
        auto& pc = calls_[id];
        pc.reply = std::move(p);
        if (o.timeout.count() > 0) {
            deadlines_.push({clock::now() + o.timeout, deadline_kind::call, id});
        }
        if (o.token.can_be_canceled()) {
            pc.reg = o.token.register_callback([w = weak_from_this(), id] {
                if (auto e = w.lock()) {
                    e->post([id](engine& en) { en.end_call(id, nullptr); });
                }
            });
        }
        const int rc = amqp_basic_publish(
            conn_, rpc_channel, bytes_of(exchange), bytes_of(key), 1, 0, props.get(), bytes_of(m.body));
        if (rc != AMQP_STATUS_OK) {
            lose(std::string("publish failed: ") + amqp_error_string2(rc));
        }
    }

    /// `make(shared)` turns the subscription into the caller's handle (its promise is completed
    /// with that handle directly: no continuation shares the promise's outcome).
    template<typename Handle, typename Make>
    void
    do_consume(promise<Handle>& p, const std::string& queue, handler_fn handler, const consume_options& o, Make make) {
        if (!usable(p)) {
            return;
        }
        consumer_entry c;
        c.shared = std::make_shared<consumer_shared>();
        c.shared->id = ++consumers_made_;
        c.queue = queue;
        c.handler = std::make_shared<handler_fn>(std::move(handler));
        c.opts = o;
        c.sched = o.scheduler ? o.scheduler : sched_;
        c.channel = take_channel();
        if (auto err = subscribe(c)) {
            consumer_by_channel_.erase(c.channel);
            give_channel(c.channel);
            p.set_exception(err);
            return;
        }
        c.ended = promise<void>{sched_}; // only a consumer that exists can end
        c.shared->ended = c.ended.get_task();
        auto shared = c.shared;
        consumers_.emplace(shared->id, std::move(c));
        p.set_value(make(std::move(shared)));
    }

    void do_cancel_consumer(promise<void>& p, std::uint64_t id) {
        auto it = consumers_.find(id);
        if (it == consumers_.end()) {
            p.set_value(); // it has ended already
            return;
        }
        auto& c = it->second;
        c.cancel_waiters.push_back(std::move(p));
        if (!c.canceling) {
            c.canceling = true;
            if (conn_ != nullptr && c.subscribed) {
                if (amqp_basic_cancel(conn_, c.channel, bytes_of(c.tag)) == nullptr) {
                    auto f = failure_of(amqp_get_rpc_reply(conn_));
                    (void)channel_failure(c.channel, f); // the consumer ends either way
                    return;
                }
            }
        }
        finish_cancel_if_idle(id);
    }

    /// A handler's task ended: ack or reject its delivery if it belongs to this connection.
    void settle(std::uint64_t consumer, std::uint64_t epoch, std::uint64_t tag, bool ok) {
        auto it = consumers_.find(consumer);
        if (it == consumers_.end()) {
            counters_.stale_acks.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        auto& c = it->second;
        c.shared->in_flight.fetch_sub(1, std::memory_order_relaxed);
        if (epoch != epoch_ || conn_ == nullptr || !c.subscribed) {
            counters_.stale_acks.fetch_add(1, std::memory_order_relaxed);
        } else {
            const amqp_channel_t ch = c.channel;
            const int rc = ok ? amqp_basic_ack(conn_, ch, tag, 0)
                              : amqp_basic_reject(conn_, ch, tag, c.opts.requeue_on_failure ? 1 : 0);
            (ok ? c.shared->acked : c.shared->rejected).fetch_add(1, std::memory_order_relaxed);
            if (rc != AMQP_STATUS_OK) {
                lose(std::string("ack failed: ") + amqp_error_string2(rc));
                return;
            }
        }
        finish_cancel_if_idle(consumer);
    }

    /// Ends a publish's wait: failed with `e`, or canceled when `e` is null.
    void end_confirm(std::uint64_t seq, std::exception_ptr e) {
        auto it = confirms_.find(seq);
        if (it == confirms_.end()) {
            return;
        }
        auto done = std::move(it->second.done);
        confirms_.erase(it); // unregisters the token's callback first
        if (e) {
            done.set_exception(std::move(e));
        } else {
            done.set_canceled();
        }
    }

    /// Ends a call: failed with `e`, or canceled when `e` is null.
    void end_call(std::uint64_t id, std::exception_ptr e) {
        auto it = calls_.find(id);
        if (it == calls_.end()) {
            return;
        }
        auto reply = std::move(it->second.reply);
        calls_.erase(it);
        if (e) {
            reply.set_exception(std::move(e));
        } else {
            reply.set_canceled();
        }
    }

private:
    struct pending_confirm {
        promise<void> done;
        std::string returned{}; ///< basic.return's text: the message reached no queue
        bool was_returned = false;
        cancellation_registration reg{}; // last: unregistered before `done` is destroyed
    };
    struct pending_call {
        promise<message> reply;
        cancellation_registration reg{};
    };
    enum class deadline_kind {
        confirm,
        call
    };
    struct deadline {
        clock::time_point at;
        deadline_kind kind;
        std::uint64_t key;
        bool operator>(const deadline& o) const noexcept { return at > o.at; }
    };
    struct topology_step {
        enum kind_t {
            queue,
            exchange,
            bind
        } kind;
        std::string a, b, c; // queue/exchange name; bind: queue, exchange, key
        queue_options q;
        exchange_type t;
        exchange_options x;
    };
    struct consumer_entry {
        std::shared_ptr<consumer_shared> shared;
        promise<void> ended{};
        std::string queue{};
        std::shared_ptr<handler_fn> handler{}; // shared with running handlers: a coroutine handler's
                                               // closure must outlive its frame
        consume_options opts{};
        any_scheduler sched{};
        amqp_channel_t channel = 0;
        std::string tag{};
        bool subscribed = false;
        bool canceling = false;
        std::vector<promise<void>> cancel_waiters{};
    };
    struct inbound {
        bool is_return = false;
        delivery d{};
        std::uint64_t body_size = 0;
        bool have_header = false;
        int reply_code = 0;
        std::string reply_text{};
    };

    /// Completes a promise after the connection lock is released (the hot completions).
    void later(std::function<void()> completion) { completions_.push_back(std::move(completion)); }

    void wake() noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof(one));
    }

    template<typename T>
    bool usable(promise<T>& p) {
        if (conn_ == nullptr) {
            p.set_exception(error_ptr(errc::connection_lost, "the connection is down (reconnecting): " + last_loss_));
            return false;
        }
        return true;
    }

    static amqp_table_entry_t long_entry(const char* key, std::int64_t v) {
        amqp_table_entry_t e;
        std::memset(&e, 0, sizeof(e));
        e.key = amqp_cstring_bytes(key);
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = v;
        return e;
    }

    void connect_now() {
        amqp_connection_state_t c = amqp_new_connection();
        if (c == nullptr) {
            throw std::bad_alloc();
        }
        auto fail = [&](errc code, const std::string& what, int reply_code = 0) {
            amqp_destroy_connection(c);
            throw amqp_error(code, what, reply_code);
        };
        const std::string where = opts_.host + ":" + std::to_string(opts_.port);
        amqp_socket_t* s = opts_.tls.enabled ? amqp_ssl_socket_new(c) : amqp_tcp_socket_new(c);
        if (s == nullptr) {
            fail(errc::connection_failed, "cannot create a socket");
        }
        if (opts_.tls.enabled) {
            if (!opts_.tls.ca_file.empty() &&
                amqp_ssl_socket_set_cacert(s, opts_.tls.ca_file.c_str()) != AMQP_STATUS_OK) {
                fail(errc::connection_failed, "cannot read the TLS CA file " + opts_.tls.ca_file);
            }
            if (!opts_.tls.cert_file.empty() &&
                amqp_ssl_socket_set_key(s, opts_.tls.cert_file.c_str(), opts_.tls.key_file.c_str()) != AMQP_STATUS_OK) {
                fail(errc::connection_failed, "cannot read the TLS client certificate or key");
            }
            amqp_ssl_socket_set_verify_peer(s, opts_.tls.verify_peer ? 1 : 0);
            amqp_ssl_socket_set_verify_hostname(s, opts_.tls.verify_hostname ? 1 : 0);
        }
        timeval connect_tv = timeval_of(opts_.connect_timeout);
        const int rc = amqp_socket_open_noblock(s, opts_.host.c_str(), opts_.port, &connect_tv);
        if (rc != AMQP_STATUS_OK) {
            fail(errc::connection_failed, "cannot connect to " + where + ": " + amqp_error_string2(rc));
        }
        amqp_set_handshake_timeout(c, &connect_tv);
        timeval rpc_tv = timeval_of(opts_.operation_timeout);
        amqp_set_rpc_timeout(c, &rpc_tv);

        amqp_table_entry_t caps[4];
        const char* cap_names[] = {"publisher_confirms", "consumer_cancel_notify", "connection.blocked", "basic.nack"};
        for (int i = 0; i < 4; ++i) {
            std::memset(&caps[i], 0, sizeof(caps[i]));
            caps[i].key = amqp_cstring_bytes(cap_names[i]);
            caps[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
            caps[i].value.value.boolean = 1;
        }
        amqp_table_entry_t props[2];
        std::memset(props, 0, sizeof(props));
        props[0].key = amqp_cstring_bytes("capabilities");
        props[0].value.kind = AMQP_FIELD_KIND_TABLE;
        props[0].value.value.table = amqp_table_t{4, caps};
        props[1].key = amqp_cstring_bytes("connection_name");
        props[1].value.kind = AMQP_FIELD_KIND_UTF8;
        props[1].value.value.bytes = bytes_of(opts_.name.empty() ? std::string_view("weft") : opts_.name);
        amqp_table_t props_table{2, props};
        const auto reply = amqp_login_with_properties(c,
                                                      opts_.vhost.c_str(),
                                                      0,
                                                      131072,
                                                      static_cast<int>(opts_.heartbeat.count()),
                                                      &props_table,
                                                      AMQP_SASL_METHOD_PLAIN,
                                                      opts_.user.c_str(),
                                                      opts_.password.c_str());
        const auto f = failure_of(reply);
        if (f.what == call_failure::kind::connection_closed) {
            fail(f.reply_code == 403 || f.reply_code == 530 ? errc::login_refused : errc::connection_failed,
                 "the broker at " + where + " refused the login: " + f.text,
                 f.reply_code);
        } else if (f.what != call_failure::kind::none) {
            fail(errc::connection_failed, "AMQP handshake with " + where + " failed: " + f.text);
        }
        for (amqp_channel_t ch : {admin_channel, publish_channel, rpc_channel}) {
            amqp_channel_open(c, ch);
            const auto g = failure_of(amqp_get_rpc_reply(c));
            if (g.what != call_failure::kind::none) {
                fail(errc::connection_failed, "cannot open a channel: " + g.text, g.reply_code);
            }
        }
        amqp_confirm_select(c, publish_channel);
        if (const auto g = failure_of(amqp_get_rpc_reply(c)); g.what != call_failure::kind::none) {
            fail(errc::connection_failed, "cannot enable publisher confirms: " + g.text, g.reply_code);
        }
        conn_ = c;
        ++epoch_;
        counters_.connected.store(true, std::memory_order_relaxed);
        counters_.blocked.store(false, std::memory_order_relaxed);
    }

    /// The connection dropped (or is unusable): fail what waits on it, reconnect later.
    void lose(const std::string& reason) {
        if (conn_ == nullptr) {
            return;
        }
        amqp_destroy_connection(conn_);
        conn_ = nullptr;
        ++epoch_;
        last_loss_ = reason;
        counters_.connected.store(false, std::memory_order_relaxed);
        next_attempt_ = clock::now() + backoff_;
        fail_pending(errc::connection_lost, "the connection dropped before the broker answered: " + reason);
        reply_consumer_ = false;
        inbound_.clear();
        consumer_by_channel_.clear();
        std::vector<std::uint64_t> finished;
        for (auto& [id, c] : consumers_) {
            c.subscribed = false;
            if (c.canceling) {
                finished.push_back(id);
            }
        }
        for (auto id : finished) { // their channel is gone: nothing is left to settle
            end_consumer(id, nullptr);
        }
    }

    void fail_pending(errc code, const std::string& why) {
        auto confirms = std::move(confirms_);
        confirms_.clear();
        seq_base_ += channel_published_;
        channel_published_ = 0;
        auto calls = std::move(calls_);
        calls_.clear();
        for (auto& [seq, pc] : confirms) {
            pc.reg.unregister();
            pc.done.set_exception(error_ptr(code, why));
        }
        for (auto& [id, pc] : calls) {
            pc.reg.unregister();
            pc.reply.set_exception(error_ptr(code, why));
        }
    }

    void try_reconnect() {
        try {
            connect_now();
        } catch (const amqp_error& e) {
            last_loss_ = e.what();
            next_attempt_ = clock::now() + backoff_;
            backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
            return;
        }
        backoff_ = opts_.reconnect_min;
        counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
        restore();
    }

    /// queue.declare on the admin channel, with the arguments `o` asks for.
    amqp_queue_declare_ok_t* declare_queue_now(const std::string& name, const queue_options& o) {
        amqp_table_entry_t args[3];
        int n = 0;
        if (o.max_length) {
            args[n++] = long_entry("x-max-length", *o.max_length);
        }
        if (o.message_ttl) {
            args[n++] = long_entry("x-message-ttl", o.message_ttl->count());
        }
        if (o.reject_when_full) {
            std::memset(&args[n], 0, sizeof(args[n]));
            args[n].key = amqp_cstring_bytes("x-overflow");
            args[n].value.kind = AMQP_FIELD_KIND_UTF8;
            args[n].value.value.bytes = amqp_cstring_bytes("reject-publish");
            ++n;
        }
        amqp_table_t table{n, args};
        return amqp_queue_declare(conn_,
                                  admin_channel,
                                  bytes_of(name),
                                  o.passive ? 1 : 0,
                                  o.durable ? 1 : 0,
                                  o.exclusive ? 1 : 0,
                                  o.auto_delete ? 1 : 0,
                                  table);
    }

    /// exchange.declare on the admin channel.
    amqp_exchange_declare_ok_t*
    declare_exchange_now(const std::string& name, exchange_type t, const exchange_options& o) {
        static constexpr const char* names[] = {"direct", "fanout", "topic", "headers"};
        return amqp_exchange_declare(conn_,
                                     admin_channel,
                                     bytes_of(name),
                                     amqp_cstring_bytes(names[static_cast<int>(t)]),
                                     o.passive ? 1 : 0,
                                     o.durable ? 1 : 0,
                                     o.auto_delete ? 1 : 0,
                                     0,
                                     amqp_empty_table);
    }

    /// After a reconnect: declare again what was declared here, resubscribe the consumers.
    void restore() {
        for (const auto& s : std::vector<topology_step>(topology_)) {
            if (conn_ == nullptr) {
                return;
            }
            bool ok = true;
            if (s.kind == topology_step::queue) {
                ok = declare_queue_now(s.a, s.q) != nullptr; // with its arguments, as first declared
            } else if (s.kind == topology_step::exchange) {
                ok = declare_exchange_now(s.a, s.t, s.x) != nullptr; // recorded ones are never passive
            } else {
                ok =
                    amqp_queue_bind(
                        conn_, admin_channel, bytes_of(s.a), bytes_of(s.b), bytes_of(s.c), amqp_empty_table) != nullptr;
            }
            if (!ok) {
                (void)admin_failure(); // refused now (changed by someone else): go on with the rest
            }
        }
        std::vector<std::uint64_t> failed;
        std::vector<std::exception_ptr> errors;
        for (auto& [id, c] : consumers_) {
            if (conn_ == nullptr) {
                return;
            }
            if (auto err = subscribe(c)) {
                failed.push_back(id);
                errors.push_back(err);
            }
        }
        for (std::size_t i = 0; i < failed.size(); ++i) {
            end_consumer(failed[i], errors[i]);
        }
    }

    void remember(topology_step s) {
        for (auto& old : topology_) {
            if (old.kind == s.kind && old.a == s.a && old.b == s.b && old.c == s.c) {
                old = std::move(s);
                return;
            }
        }
        topology_.push_back(std::move(s));
    }

    /// A synchronous call on the admin channel failed: recover and say why.
    std::exception_ptr admin_failure() { return channel_failure(admin_channel, failure_of(amqp_get_rpc_reply(conn_))); }

    /// A synchronous call on `ch` failed with `f`: answer a broker close and reopen the channel
    /// (or drop the connection), and return the error for the caller.
    std::exception_ptr channel_failure(amqp_channel_t ch, const call_failure& f) {
        using kind = call_failure::kind;
        if (f.what == kind::channel_closed) {
            amqp_channel_close_ok_t ok{0};
            if (amqp_send_method(conn_, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
                lose("cannot answer a channel close");
            } else {
                on_channel_closed(ch, f.reply_code, f.text);
            }
            return error_ptr(errc::channel_closed, "the broker closed the channel: " + f.text, f.reply_code);
        }
        if (f.what == kind::connection_closed) {
            amqp_connection_close_ok_t ok{0};
            (void)amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            lose("the broker closed the connection: " + f.text);
            return error_ptr(errc::connection_lost, "the broker closed the connection: " + f.text, f.reply_code);
        }
        lose(f.text);
        return error_ptr(errc::connection_lost, f.text);
    }

    /// The broker closed channel `ch` (answered already): fail what depended on it and reopen.
    void on_channel_closed(amqp_channel_t ch, int code, const std::string& text) {
        if (ch == publish_channel) {
            auto confirms = std::move(confirms_);
            confirms_.clear();
            seq_base_ += channel_published_;
            channel_published_ = 0;
            for (auto& [seq, pc] : confirms) {
                pc.reg.unregister();
                pc.done.set_exception(
                    error_ptr(errc::channel_closed, "the broker closed the publishing channel: " + text, code));
            }
        } else if (ch == rpc_channel) {
            reply_consumer_ = false;
            auto calls = std::move(calls_);
            calls_.clear();
            for (auto& [id, pc] : calls) {
                pc.reg.unregister();
                pc.reply.set_exception(
                    error_ptr(errc::channel_closed, "the broker closed the RPC channel: " + text, code));
            }
        } else if (ch >= first_consumer_channel) {
            inbound_.erase(ch);
            if (auto it = consumer_by_channel_.find(ch); it != consumer_by_channel_.end()) {
                const auto id = it->second;
                consumer_by_channel_.erase(it);
                if (auto c = consumers_.find(id); c != consumers_.end()) {
                    c->second.subscribed = false;
                }
                end_consumer(
                    id, error_ptr(errc::channel_closed, "the broker closed the consumer's channel: " + text, code));
            }
            return; // consumer channels are opened again by the next subscribe
        }
        if (conn_ == nullptr) {
            return;
        }
        amqp_channel_open(conn_, ch);
        auto f = failure_of(amqp_get_rpc_reply(conn_));
        if (f.what == call_failure::kind::none && ch == publish_channel) {
            amqp_confirm_select(conn_, publish_channel);
            f = failure_of(amqp_get_rpc_reply(conn_));
        }
        if (f.what != call_failure::kind::none) {
            lose("cannot reopen a channel: " + f.text);
        }
    }

    amqp_channel_t take_channel() {
        if (!free_channels_.empty()) {
            const auto ch = free_channels_.back();
            free_channels_.pop_back();
            return ch;
        }
        return next_channel_++;
    }
    void give_channel(amqp_channel_t ch) { free_channels_.push_back(ch); }

    /// Opens the consumer's channel, sets its prefetch and starts consuming.
    std::exception_ptr subscribe(consumer_entry& c) {
        amqp_channel_open(conn_, c.channel);
        auto f = failure_of(amqp_get_rpc_reply(conn_));
        if (f.what == call_failure::kind::none) {
            amqp_basic_qos(conn_, c.channel, 0, c.opts.prefetch, 0);
            f = failure_of(amqp_get_rpc_reply(conn_));
        }
        amqp_basic_consume_ok_t* ok = nullptr;
        if (f.what == call_failure::kind::none) {
            ok = amqp_basic_consume(conn_,
                                    c.channel,
                                    bytes_of(c.queue),
                                    amqp_empty_bytes,
                                    0,
                                    0,
                                    c.opts.exclusive ? 1 : 0,
                                    amqp_empty_table);
            f = failure_of(amqp_get_rpc_reply(conn_));
        }
        if (f.what != call_failure::kind::none || ok == nullptr) {
            return channel_failure(c.channel, f);
        }
        c.tag = string_of(ok->consumer_tag);
        c.subscribed = true;
        consumer_by_channel_[c.channel] = c.shared->id;
        return nullptr;
    }

    void finish_cancel_if_idle(std::uint64_t id) {
        auto it = consumers_.find(id);
        if (it == consumers_.end() || !it->second.canceling ||
            it->second.shared->in_flight.load(std::memory_order_relaxed) != 0) {
            return;
        }
        auto& c = it->second;
        if (conn_ != nullptr && c.subscribed) { // the broker requeues whatever is still unacked
            amqp_channel_close(conn_, c.channel, AMQP_REPLY_SUCCESS);
            if (const auto f = failure_of(amqp_get_rpc_reply(conn_)); f.what != call_failure::kind::none) {
                lose("cannot close a consumer's channel: " + f.text);
                return; // lose() ended it
            }
        }
        end_consumer(id, nullptr);
    }

    /// Removes a consumer: its completion succeeds (`err` null) or fails with `err`.
    void end_consumer(std::uint64_t id, std::exception_ptr err) {
        auto it = consumers_.find(id);
        if (it == consumers_.end()) {
            return;
        }
        consumer_entry c = std::move(it->second);
        consumers_.erase(it);
        consumer_by_channel_.erase(c.channel);
        inbound_.erase(c.channel);
        give_channel(c.channel);
        if (err) {
            c.ended.set_exception(err);
        } else {
            c.ended.set_value();
        }
        for (auto& w : c.cancel_waiters) {
            w.set_value();
        }
    }

    // ---- frames ----------------------------------------------------------------------------

    void pump_frames() {
        for (int i = 0; i < 1024 && conn_ != nullptr; ++i) {
            timeval zero{0, 0};
            amqp_frame_t f;
            const int rc = amqp_simple_wait_frame_noblock(conn_, &f, &zero);
            if (rc == AMQP_STATUS_TIMEOUT) {
                return;
            }
            if (rc != AMQP_STATUS_OK) {
                lose(rc == AMQP_STATUS_HEARTBEAT_TIMEOUT
                         ? "heartbeat timeout: nothing from the broker for two heartbeats"
                         : std::string(amqp_error_string2(rc)));
                return;
            }
            const amqp_channel_t ch = f.channel;
            on_frame(f);
            if (conn_ != nullptr) {
                amqp_maybe_release_buffers_on_channel(conn_, ch);
            }
        }
    }

    void on_frame(const amqp_frame_t& f) {
        const amqp_channel_t ch = f.channel;
        if (f.frame_type == AMQP_FRAME_METHOD) {
            on_method(ch, f.payload.method);
            return;
        }
        auto it = inbound_.find(ch);
        if (it == inbound_.end()) {
            return; // content of a delivery whose channel was closed here
        }
        auto& in = it->second;
        if (f.frame_type == AMQP_FRAME_HEADER) {
            in.body_size = f.payload.properties.body_size;
            in.have_header = true;
            read_properties(*static_cast<const amqp_basic_properties_t*>(f.payload.properties.decoded), in.d.msg);
            in.d.msg.body.reserve(static_cast<std::size_t>(in.body_size));
        } else if (f.frame_type == AMQP_FRAME_BODY) {
            const auto& b = f.payload.body_fragment;
            in.d.msg.body.append(static_cast<const char*>(b.bytes), b.len);
        }
        if (in.have_header && in.d.msg.body.size() >= in.body_size) {
            inbound done = std::move(in);
            inbound_.erase(it);
            on_content(ch, std::move(done));
        }
    }

    void on_method(amqp_channel_t ch, const amqp_method_t& m) {
        switch (m.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            const auto* d = static_cast<const amqp_basic_deliver_t*>(m.decoded);
            inbound in;
            in.d.exchange = string_of(d->exchange);
            in.d.routing_key = string_of(d->routing_key);
            in.d.redelivered = d->redelivered != 0;
            in.d.delivery_tag = d->delivery_tag;
            inbound_[ch] = std::move(in);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            const auto* r = static_cast<const amqp_basic_return_t*>(m.decoded);
            inbound in;
            in.is_return = true;
            in.reply_code = r->reply_code;
            in.reply_text = string_of(r->reply_text);
            in.d.exchange = string_of(r->exchange);
            in.d.routing_key = string_of(r->routing_key);
            inbound_[ch] = std::move(in);
            break;
        }
        case AMQP_BASIC_ACK_METHOD: {
            const auto* a = static_cast<const amqp_basic_ack_t*>(m.decoded);
            if (ch == publish_channel) {
                confirm(a->delivery_tag, a->multiple != 0, true);
            }
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto* n = static_cast<const amqp_basic_nack_t*>(m.decoded);
            if (ch == publish_channel) {
                confirm(n->delivery_tag, n->multiple != 0, false);
            }
            break;
        }
        case AMQP_BASIC_CANCEL_METHOD: { // the broker ended a consumer (its queue was deleted)
            if (auto it = consumer_by_channel_.find(ch); it != consumer_by_channel_.end()) {
                const auto id = it->second;
                if (auto c = consumers_.find(id); c != consumers_.end() && conn_ != nullptr) {
                    c->second.subscribed = false;
                    amqp_channel_close(conn_, ch, AMQP_REPLY_SUCCESS);
                    if (failure_of(amqp_get_rpc_reply(conn_)).what != call_failure::kind::none) {
                        lose("cannot close a canceled consumer's channel");
                    }
                }
                end_consumer(id,
                             error_ptr(errc::consumer_canceled, "the broker canceled the consumer (queue deleted?)"));
            }
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const auto* c = static_cast<const amqp_channel_close_t*>(m.decoded);
            const int code = c->reply_code;
            const std::string text = string_of(c->reply_text);
            amqp_channel_close_ok_t ok{0};
            if (amqp_send_method(conn_, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
                lose("cannot answer a channel close");
                return;
            }
            on_channel_closed(ch, code, text);
            break;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto* c = static_cast<const amqp_connection_close_t*>(m.decoded);
            const std::string text = string_of(c->reply_text);
            amqp_connection_close_ok_t ok{0};
            (void)amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            lose("the broker closed the connection: " + text);
            break;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD:
            counters_.blocked.store(true, std::memory_order_relaxed);
            break;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            counters_.blocked.store(false, std::memory_order_relaxed);
            break;
        default:
            break;
        }
    }

    void confirm(std::uint64_t tag, bool multiple, bool ack) {
        const std::uint64_t seq = seq_base_ + tag;
        auto first = multiple ? confirms_.begin() : confirms_.lower_bound(seq);
        auto last = confirms_.upper_bound(seq);
        std::vector<pending_confirm> done;
        for (auto it = first; it != last; ++it) {
            done.push_back(std::move(it->second));
        }
        confirms_.erase(first, last);
        for (auto& pc : done) {
            pc.reg.unregister();
            if (!ack) {
                pc.done.set_exception(error_ptr(errc::nacked, "the broker refused the message (basic.nack)"));
            } else if (pc.was_returned) {
                pc.done.set_exception(error_ptr(errc::unroutable, "no queue took the message: " + pc.returned, 312));
            } else {
                later([done = std::make_shared<promise<void>>(std::move(pc.done))] { done->set_value(); });
            }
        }
    }

    static std::uint64_t number_of(const std::string& s) {
        std::uint64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        return r.ec == std::errc{} && r.ptr == s.data() + s.size() ? v : 0;
    }

    void on_content(amqp_channel_t ch, inbound in) {
        if (in.is_return) {
            counters_.returned.fetch_add(1, std::memory_order_relaxed);
            if (ch == publish_channel) {
                const auto seq = number_of(in.d.msg.header(publish_seq_header).value_or(""));
                if (auto it = confirms_.find(seq); it != confirms_.end()) {
                    it->second.was_returned = true;
                    it->second.returned = in.reply_text;
                }
            } else if (ch == rpc_channel) {
                end_call(number_of(in.d.msg.correlation_id),
                         error_ptr(errc::unroutable, "no queue took the request: " + in.reply_text, in.reply_code));
            }
            return;
        }
        if (ch == rpc_channel) {
            auto it = calls_.find(number_of(in.d.msg.correlation_id));
            if (it == calls_.end()) {
                counters_.late_replies.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            auto reply = std::move(it->second.reply);
            calls_.erase(it);
            later([r = std::make_shared<promise<message>>(std::move(reply)), m = std::move(in.d.msg)]() mutable {
                r->set_value(std::move(m));
            });
            return;
        }
        auto cit = consumer_by_channel_.find(ch);
        if (cit == consumer_by_channel_.end()) {
            return; // its consumer ended: the broker requeues it when the channel closes
        }
        dispatch(consumers_.at(cit->second), std::move(in.d));
    }

    void dispatch(consumer_entry& c, delivery d) {
        auto& s = *c.shared;
        s.delivered.fetch_add(1, std::memory_order_relaxed);
        if (d.redelivered) {
            s.redelivered.fetch_add(1, std::memory_order_relaxed);
        }
        const auto now = s.in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
        if (now > s.peak_in_flight.load(std::memory_order_relaxed)) {
            s.peak_in_flight.store(now, std::memory_order_relaxed);
        }
        const std::uint64_t id = s.id;
        const std::uint64_t epoch = epoch_;
        const std::uint64_t tag = d.delivery_tag;
        task<void> run;
        try {
            run = weft::spawn(c.sched, [h = c.handler, dd = std::move(d)]() mutable { return (*h)(std::move(dd)); });
        } catch (...) { // the scheduler refused it (shut down): the broker gets it back
            settle(id, epoch, tag, false);
            return;
        }
        auto after = run.then(inline_scheduler{}, [h = c.handler, w = weak_from_this(), id, epoch, tag](task<void> t) {
            bool ok = true;
            try {
                t.get();
            } catch (...) {
                ok = false;
            }
            if (auto e = w.lock()) {
                e->post([=](engine& en) { en.settle(id, epoch, tag, ok); });
            }
        });
        (void)after;
    }

    // ---- the loop ----------------------------------------------------------------------------

    void run() {
        std::vector<std::function<void()>> completions;
        for (;;) {
            pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
            nfds_t n = 1;
            int timeout_ms = 0;
            {
                // Held from taking the batch to running it: a caller that gets the lock with no
                // command queued knows that everything posted before has run (order kept).
                std::lock_guard conn_lock(conn_mutex_);
                std::vector<std::function<void(engine&)>> batch;
                bool stopping = false;
                {
                    std::lock_guard lock(commands_mutex_);
                    batch.swap(commands_);
                    stopping = stopping_;
                }
                for (auto& cmd : batch) {
                    cmd(*this);
                }
                if (stopping) {
                    shut_down();
                } else {
                    if (conn_ == nullptr && clock::now() >= next_attempt_) {
                        try_reconnect();
                    }
                    pump_frames();
                    expire_deadlines();
                    timeout_ms = prepare_wait(fds, n);
                }
                completions.swap(completions_);
            }
            // Completed after the lock is free, so that a caller woken by its confirm finds the
            // connection free for its next publish (the fast path) instead of queueing it.
            for (auto& c : completions) {
                c();
            }
            completions.clear();
            if (closed_) { // set by shut_down() on this thread
                return;
            }
            ::poll(fds, n, timeout_ms); // the connection lock is free: callers may write meanwhile
            if ((fds[0].revents & POLLIN) != 0) {
                std::uint64_t v = 0;
                [[maybe_unused]] const auto r = ::read(wake_fd_, &v, sizeof(v));
            }
        }
    }

    void expire_deadlines() {
        const auto now = clock::now();
        while (!deadlines_.empty() && deadlines_.top().at <= now) {
            const auto d = deadlines_.top();
            deadlines_.pop();
            if (d.kind == deadline_kind::confirm) {
                end_confirm(d.key, std::make_exception_ptr(timeout_error{}));
            } else {
                end_call(d.key, std::make_exception_ptr(timeout_error{}));
            }
        }
    }

    /// What to poll and for how long (ms); records when the engine will look again.
    int prepare_wait(pollfd (&fds)[2], nfds_t& n) {
        auto until = clock::now() + std::chrono::seconds(1);
        if (!deadlines_.empty()) {
            until = std::min(until, deadlines_.top().at);
        }
        if (conn_ != nullptr) {
            if (amqp_frames_enqueued(conn_) != 0 || amqp_data_in_buffer(conn_) != 0) {
                until = clock::now();
            }
            if (opts_.heartbeat.count() > 0) {
                until = std::min(until, clock::now() + opts_.heartbeat / 2);
            }
            fds[1].fd = amqp_get_sockfd(conn_);
            n = 2;
        } else {
            until = std::min(until, next_attempt_);
        }
        planned_wake_ = until;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
        return static_cast<int>(std::max<long long>(0, left));
    }

    void shut_down() {
        closed_ = true;
        if (conn_ != nullptr) {
            amqp_connection_close(conn_, AMQP_REPLY_SUCCESS); // bounded by operation_timeout
            amqp_destroy_connection(conn_);
            conn_ = nullptr;
        }
        counters_.connected.store(false, std::memory_order_relaxed);
        fail_pending(errc::closed, "the connection was closed");
        std::vector<std::uint64_t> ids;
        for (auto& [id, c] : consumers_) {
            ids.push_back(id);
        }
        for (auto id : ids) {
            end_consumer(id, nullptr); // its owner closed the connection: an end, not an error
        }
    }

    // Guarded by conn_mutex_ (held by the engine thread except while it polls, and by a caller
    // on the fast path); the constructor's thread before start().
    std::recursive_mutex conn_mutex_; // recursive: an inline continuation may publish again
    bool closed_ = false;
    clock::time_point planned_wake_{};
    std::vector<std::function<void()>> completions_; // run by the engine once the lock is free
    any_scheduler sched_;
    connection_options opts_;
    amqp_connection_state_t conn_ = nullptr;
    std::uint64_t epoch_ = 0; ///< one per connection made; settles from older ones are stale
    std::string last_loss_{};
    clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{};
    std::map<std::uint64_t, pending_confirm> confirms_;
    std::uint64_t seq_base_ = 0;
    std::uint64_t channel_published_ = 0;
    std::unordered_map<std::uint64_t, pending_call> calls_;
    std::uint64_t calls_made_ = 0;
    bool reply_consumer_ = false;
    std::priority_queue<deadline, std::vector<deadline>, std::greater<>> deadlines_;
    std::vector<topology_step> topology_;
    std::map<std::uint64_t, consumer_entry> consumers_;
    std::unordered_map<amqp_channel_t, std::uint64_t> consumer_by_channel_;
    std::uint64_t consumers_made_ = 0;
    std::unordered_map<amqp_channel_t, inbound> inbound_;
    std::vector<amqp_channel_t> free_channels_;
    amqp_channel_t next_channel_ = first_consumer_channel;
    connection_counters counters_;
    int wake_fd_ = -1;
    std::mutex stop_mutex_; // serialises stop(): the thread is joined once
    std::thread thread_;
    std::thread::id engine_id_{}; // set by start(), before any caller has the engine

    // Guarded by commands_mutex_.
    std::mutex commands_mutex_;
    std::vector<std::function<void(engine&)>> commands_;
    bool stopping_ = false;
};

} // namespace weft::amqp::detail
