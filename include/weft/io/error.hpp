// weft/io/error.hpp — how I/O reports what went wrong: std::system_error with the errno of the
// failing operation, weft::io_errc::eof for a stream that ended early, io_errc::closed for a
// handle closed under (or before) its operation; weft::transfer_error and
// weft::transfer_canceled, which say how many bytes a transfer moved (weft::timeout_error is in
// errors.hpp).
// The table of outcomes: docs/guide/io.md ("What ends an operation"); decisions 0006 §5, 0009.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/errors.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

namespace weft {

/// Conditions of weft's own I/O category (not errno values).
enum class io_errc {
    eof = 1,    ///< read_exact: the peer closed the stream before the buffer was full
    closed = 2, ///< the handle was closed (close(), destroyed, assigned over) under or before the op
};

namespace detail {
class io_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft.io"; }
    std::string message(int ev) const override {
        switch (static_cast<io_errc>(ev)) {
        case io_errc::eof:
            return "end of stream";
        case io_errc::closed:
            return "the handle was closed";
        }
        return "unknown weft.io error";
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

/// A byte transfer (read_some, write_some, read_exact, write_all, read_at, write_at and their
/// exact forms) that failed: the error, and how many bytes it moved before it failed — for an
/// exact one, the bytes already in (or sent from) the front of the buffer; 0 for the others.
/// e.code() is the errno, io_errc::eof or io_errc::closed.
class transfer_error : public std::system_error {
public:
    transfer_error(std::error_code code, const char* what, std::size_t transferred)
        : std::system_error(code, what)
        , transferred_(transferred) {}
    std::size_t transferred() const noexcept { return transferred_; }

private:
    std::size_t transferred_;
};

/// A byte transfer canceled by its token (or by its io_context's shutdown): the task is
/// canceled, and this says how many bytes had moved. A stream read_exact gives the bytes it
/// had read back to its socket (the next read returns them first), so its count is 0; a
/// write_all's count is what the peer will receive of it; read_exact_at / write_all_at: what
/// is in the buffer / the file.
class transfer_canceled : public operation_canceled {
public:
    explicit transfer_canceled(std::size_t transferred)
        : operation_canceled("weft: transfer canceled after " + std::to_string(transferred) + " byte(s)")
        , transferred_(transferred) {}
    std::size_t transferred() const noexcept { return transferred_; }

private:
    std::size_t transferred_;
};

} // namespace weft

template<>
struct std::is_error_code_enum<weft::io_errc> : std::true_type {};
