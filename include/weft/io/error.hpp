// weft/io/error.hpp — how I/O reports what went wrong: std::system_error with the errno of the
// failing operation, weft::io_errc::eof for a stream that ended early, weft::timeout_error.
// Design note: docs/decisions/0006-io-reactor.md §5.
// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

namespace weft {

/// Conditions of weft's own I/O category (not errno values).
enum class io_errc {
    eof = 1, ///< read_exact: the peer closed the stream before the buffer was full
};

namespace detail {
class io_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft.io"; }
    std::string message(int ev) const override {
        return ev == static_cast<int>(io_errc::eof) ? "end of stream" : "unknown weft.io error";
    }
};
} // namespace detail

inline const std::error_category& io_category() noexcept {
    static const detail::io_category_impl category;
    return category;
}
inline std::error_code make_error_code(io_errc e) noexcept {
    return {static_cast<int>(e), io_category()};
}

/// A deadline passed before the task it guarded completed (with_timeout, with_deadline).
/// .NET: TimeoutException from Task.WaitAsync(TimeSpan).
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("weft: the operation timed out") {}
};

} // namespace weft

template<>
struct std::is_error_code_enum<weft::io_errc> : std::true_type {};
