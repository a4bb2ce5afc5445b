// weft/amqp/error.hpp — how an AMQP operation fails: weft::amqp::amqp_error with an errc, and the
// broker's reply code where the broker said why (404 NOT_FOUND, 406 PRECONDITION_FAILED, ...).
// The table of outcomes: docs/guide/amqp.md ("What ends an operation").
// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

namespace weft::amqp {

/// Why an AMQP operation failed. Timeouts are weft::timeout_error and cancellation is
/// weft::operation_canceled, as everywhere else in weft; bad arguments are std::invalid_argument.
enum class errc : int {
    connection_failed = 1, ///< no TCP/TLS connection, or the AMQP handshake failed
    login_refused,         ///< the broker refused the credentials or the virtual host
    connection_lost,       ///< the connection dropped before the operation completed
    closed,                ///< the connection was closed by its owner (close() or destruction)
    channel_closed,        ///< the broker closed the channel: reply_code() and what() say why
    nacked,                ///< the broker refused a published message (basic.nack)
    unroutable,            ///< a mandatory message or an RPC request reached no queue
    consumer_canceled,     ///< the broker ended a consumer (its queue was deleted)
};

inline const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::connection_failed:
        return "connection_failed";
    case errc::login_refused:
        return "login_refused";
    case errc::connection_lost:
        return "connection_lost";
    case errc::closed:
        return "closed";
    case errc::channel_closed:
        return "channel_closed";
    case errc::nacked:
        return "nacked";
    case errc::unroutable:
        return "unroutable";
    case errc::consumer_canceled:
        return "consumer_canceled";
    }
    return "unknown";
}

/// The one exception type of weft::amqp. what() never contains credentials.
class amqp_error : public std::runtime_error {
public:
    amqp_error(errc code, const std::string& what, int reply_code = 0)
        : std::runtime_error("weft::amqp: " + std::string(to_string(code)) + ": " + what)
        , code_(code)
        , reply_code_(reply_code) {}
    errc code() const noexcept { return code_; }
    /// The AMQP reply code the broker sent with a channel or connection close (0 if none).
    int reply_code() const noexcept { return reply_code_; }

private:
    errc code_;
    int reply_code_;
};

} // namespace weft::amqp
