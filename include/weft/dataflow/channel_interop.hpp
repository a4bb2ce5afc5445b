// weft/dataflow/channel_interop.hpp — channels and blocks feeding each other: pump_channel_to()
// moves a channel's items into a block, pump_to_channel() a block's output into a channel.
// Design note: none beyond the functions' comments; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/dataflow/block.hpp>
#include <weft/sync/channel.hpp>
#include <weft/task.hpp>

#include <cstdint>
#include <exception>

namespace weft {

/// Reads `from` until it ends and send()s every item into `to` (waiting while `to` is full).
/// At the end it completes `to` (or faults it with the channel's completion error). Completes
/// with the number of items moved. If `to` declines an item (it completed or faulted
/// meanwhile), that item is not delivered and the loop stops there: the items after it stay in
/// the channel. Fails if `token` cancels it. `from` and `to` must outlive the task.
template<typename T, typename Target>
task<std::uint64_t> pump_channel_to(channel<T>& from, Target& to, cancellation_token token = {}) {
    std::uint64_t moved = 0;
    std::exception_ptr error;
    try {
        while (auto item = co_await from.read(token)) {
            if (!co_await to.send(std::move(*item), token)) {
                co_return moved; // the block declines: it completed or faulted meanwhile
            }
            ++moved;
        }
    } catch (const operation_canceled&) {
        throw;
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        to.fault(error);
    } else {
        to.complete();
    }
    co_return moved;
}

/// Receives `from`'s output until the block completes and writes every message into `to`. At
/// the end it completes `to` (with the block's error if it faulted or was canceled).
/// Completes with the number of messages moved. `from` and `to` must outlive the task.
template<typename Source, typename T>
task<std::uint64_t> pump_to_channel(Source& from, channel<T>& to, cancellation_token token = {}) {
    std::uint64_t moved = 0;
    std::exception_ptr error;
    try {
        while (auto item = co_await from.receive(token)) {
            co_await to.write(std::move(*item), token);
            ++moved;
        }
    } catch (...) {
        error = std::current_exception();
    }
    to.complete(error);
    if (error) {
        std::rethrow_exception(error);
    }
    co_return moved;
}

} // namespace weft
