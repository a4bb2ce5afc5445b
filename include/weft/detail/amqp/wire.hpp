// weft/detail/amqp/wire.hpp — between weft::amqp's types and rabbitmq-c's: bytes, basic
// properties both ways, and what a failed rabbitmq-c call or a broker close means.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/amqp/error.hpp>
#include <weft/amqp/message.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <amqp.h>
#include <amqp_framing.h>

namespace weft::amqp::detail {

inline amqp_bytes_t bytes_of(std::string_view s) noexcept {
    amqp_bytes_t b;
    b.len = s.size();
    b.bytes = const_cast<char*>(s.data()); // rabbitmq-c takes non-const; it only reads
    return b;
}

inline std::string string_of(amqp_bytes_t b) {
    return b.len == 0 ? std::string{} : std::string(static_cast<const char*>(b.bytes), b.len);
}

/// Basic properties of an outgoing message, with the storage their pointers refer to.
class outgoing_properties {
public:
    /// A header `extra_name` (if not empty) = `extra_value` is added to the message's own
    /// headers; both are copied here (the properties point into this object, and into `m`).
    outgoing_properties(const message& m, std::string_view extra_name = {}, std::string_view extra_value = {})
        : extra_name_(extra_name)
        , extra_value_(extra_value) {
        std::memset(&props_, 0, sizeof(props_));
        set(AMQP_BASIC_CONTENT_TYPE_FLAG, props_.content_type, m.content_type);
        set(AMQP_BASIC_CORRELATION_ID_FLAG, props_.correlation_id, m.correlation_id);
        set(AMQP_BASIC_REPLY_TO_FLAG, props_.reply_to, m.reply_to);
        set(AMQP_BASIC_MESSAGE_ID_FLAG, props_.message_id, m.message_id);
        set(AMQP_BASIC_TYPE_FLAG, props_.type, m.type);
        set(AMQP_BASIC_EXPIRATION_FLAG, props_.expiration, m.expiration);
        props_._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        props_.delivery_mode = m.persistent ? 2 : 1;
        if (m.priority != 0) {
            props_._flags |= AMQP_BASIC_PRIORITY_FLAG;
            props_.priority = m.priority;
        }
        entries_.reserve(m.headers.size() + 1);
        for (const auto& [k, v] : m.headers) {
            add(k, v);
        }
        if (!extra_name_.empty()) {
            add(extra_name_, extra_value_);
        }
        if (!entries_.empty()) {
            props_._flags |= AMQP_BASIC_HEADERS_FLAG;
            props_.headers.num_entries = static_cast<int>(entries_.size());
            props_.headers.entries = entries_.data();
        }
    }
    outgoing_properties(const outgoing_properties&) = delete;
    outgoing_properties& operator=(const outgoing_properties&) = delete;
    /// Overrides the reply-to and correlation id (an RPC request).
    void set_reply(std::string_view reply_to, std::string_view correlation_id) {
        set(AMQP_BASIC_REPLY_TO_FLAG, props_.reply_to, reply_to);
        set(AMQP_BASIC_CORRELATION_ID_FLAG, props_.correlation_id, correlation_id);
    }
    const amqp_basic_properties_t* get() const noexcept { return &props_; }

private:
    void set(amqp_flags_t flag, amqp_bytes_t& field, std::string_view v) {
        if (!v.empty()) {
            props_._flags |= flag;
            field = bytes_of(v);
        }
    }
    void add(std::string_view k, std::string_view v) {
        amqp_table_entry_t e;
        std::memset(&e, 0, sizeof(e));
        e.key = bytes_of(k);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes_of(v);
        entries_.push_back(e);
    }

    std::string extra_name_;
    std::string extra_value_;
    amqp_basic_properties_t props_;
    std::vector<amqp_table_entry_t> entries_;
};

inline std::string field_text(const amqp_field_value_t& v) {
    switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        return string_of(v.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN:
        return v.value.boolean != 0 ? "true" : "false";
    case AMQP_FIELD_KIND_I8:
        return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8:
        return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16:
        return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16:
        return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32:
        return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32:
        return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64:
        return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        return std::to_string(v.value.u64);
    default:
        return {}; // tables, arrays, floats, decimals: not carried as text
    }
}

/// Copies the properties of an incoming message into `m` (everything is copied: rabbitmq-c's
/// buffers are released after each frame).
inline void read_properties(const amqp_basic_properties_t& p, message& m) {
    auto get = [&](amqp_flags_t flag, const amqp_bytes_t& b, std::string& out) {
        if ((p._flags & flag) != 0) {
            out = string_of(b);
        }
    };
    get(AMQP_BASIC_CONTENT_TYPE_FLAG, p.content_type, m.content_type);
    get(AMQP_BASIC_CORRELATION_ID_FLAG, p.correlation_id, m.correlation_id);
    get(AMQP_BASIC_REPLY_TO_FLAG, p.reply_to, m.reply_to);
    get(AMQP_BASIC_MESSAGE_ID_FLAG, p.message_id, m.message_id);
    get(AMQP_BASIC_TYPE_FLAG, p.type, m.type);
    get(AMQP_BASIC_EXPIRATION_FLAG, p.expiration, m.expiration);
    m.persistent = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && p.delivery_mode == 2;
    m.priority = (p._flags & AMQP_BASIC_PRIORITY_FLAG) != 0 ? p.priority : 0;
    if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
        for (int i = 0; i < p.headers.num_entries; ++i) {
            const auto& e = p.headers.entries[i];
            m.headers.emplace_back(string_of(e.key), field_text(e.value));
        }
    }
}

/// What a failed synchronous rabbitmq-c call (amqp_*_declare, amqp_basic_consume...) means.
struct call_failure {
    enum class kind {
        none,
        channel_closed,
        connection_closed,
        library
    } what = kind::none;
    int reply_code = 0;
    std::string text{};
};

inline call_failure failure_of(const amqp_rpc_reply_t& r) {
    call_failure f;
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return f;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const auto* c = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
            f.what = call_failure::kind::channel_closed;
            f.reply_code = c->reply_code;
            f.text = string_of(c->reply_text);
        } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const auto* c = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
            f.what = call_failure::kind::connection_closed;
            f.reply_code = c->reply_code;
            f.text = string_of(c->reply_text);
        } else {
            f.what = call_failure::kind::library;
            f.text = "unexpected method from the broker";
        }
        return f;
    }
    f.what = call_failure::kind::library;
    f.text = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error) : "no reply";
    return f;
}

} // namespace weft::amqp::detail
