// weft/io/file.hpp — files over the reactor: open, read_at, write_at. True async on io_uring;
// on epoll (regular files cannot be polled) run on a small bounded blocking pool.
// Design note: docs/decisions/0006-io-reactor.md §7; guide: docs/guide/io.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/io/handle.hpp>
#include <weft/io/io_context.hpp>

#include <cstdint>
#include <string>

#include <fcntl.h>

namespace weft {

/// A file opened for positional I/O. Same rules as tcp_socket (policy, token, errors, buffer
/// lifetime). read_at returns 0 at end of file. A token cancels an operation not yet started
/// by the blocking pool (epoll) or in the kernel (io_uring); one already running ends with
/// its own result.
class file : public detail::io::io_handle {
public:
    file() noexcept = default;

    /// open(2)'s flags and mode (O_CLOEXEC is added). Fails with std::system_error (ENOENT...).
    static task<file>
    open(io_context& io, std::string path, int flags = O_RDONLY, unsigned mode = 0644, const op_options& opts = {}) {
        detail::io::io_core& core = io.core();
        auto [t, op] = detail::io::make_op<file, adopt_opened>(core, detail::io::op_kind::open_at, opts);
        op->x().path = std::move(path);
        op->open_flags = flags;
        op->open_mode = mode;
        core.here_or_next().start(op);
        return std::move(t);
    }

    template<detail::io::lasting_byte_range B>
    task<std::size_t> read_at(std::uint64_t offset, B&& buffer, const op_options& opts = {}) {
        return start_transfer(detail::io::op_kind::read_at, detail::io::writable_bytes(buffer), false, opts, offset);
    }
    /// Reads until `buffer` is full; fails with io_errc::eof if the file ends first.
    template<detail::io::lasting_byte_range B>
    task<std::size_t> read_exact_at(std::uint64_t offset, B&& buffer, const op_options& opts = {}) {
        return start_transfer(detail::io::op_kind::read_at, detail::io::writable_bytes(buffer), true, opts, offset);
    }
    template<detail::io::lasting_byte_range B>
    task<std::size_t> write_at(std::uint64_t offset, B&& buffer, const op_options& opts = {}) {
        return start_transfer(detail::io::op_kind::write_at, detail::io::readable_bytes(buffer), false, opts, offset);
    }
    /// Writes all of `buffer` (short writes are resumed).
    template<detail::io::lasting_byte_range B>
    task<std::size_t> write_all_at(std::uint64_t offset, B&& buffer, const op_options& opts = {}) {
        return start_transfer(detail::io::op_kind::write_at, detail::io::readable_bytes(buffer), true, opts, offset);
    }

private:
    file(detail::io::io_core& core, int fd) : io_handle(core, fd) {}

    struct adopt_opened {
        file operator()(detail::io::io_op& op) const {
            return file(*static_cast<detail::io::io_core*>(op.owner->config().core), static_cast<int>(op.result));
        }
    };
};

} // namespace weft
