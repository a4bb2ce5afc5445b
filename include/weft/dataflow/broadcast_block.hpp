// weft/dataflow/broadcast_block.hpp — broadcast_block<T> (.NET BroadcastBlock<T>) and
// write_once_block<T> (.NET WriteOnceBlock<T>): a copy of the current value to every target.
// Design note: weft/detail/dataflow/value_source.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/value_source.hpp>

#include <functional>

namespace weft {

/// Offers a copy (`clone`, or T's copy constructor) of each message to every link.
/// Unbounded (the default): latest-value, as .NET's BroadcastBlock: a newer message replaces
/// one not yet taken, so a slow target sees the newest, not every one; post() always succeeds
/// until the block declines. With a bounded_capacity: every message reaches every link; a
/// message is held until all links took it (a link made while others exist starts with the
/// next message), so the slowest target holds back the producer. receive() returns a copy of
/// the newest message.
template<typename T>
class broadcast_block : public detail::dataflow::block_handle<detail::dataflow::value_core<T>> {
    using core = detail::dataflow::value_core<T>;

public:
    explicit broadcast_block(any_scheduler s, const dataflow_options& o = {}, std::function<T(const T&)> clone = {})
        : detail::dataflow::block_handle<core>(new core(s, std::move(clone), false, o)) {}
};

/// Accepts its first message only (later offers are declined permanently, post() returns
/// false), offers a copy to every link (links made later too), and completes. receive() and
/// try_receive() return copies of the value for ever.
template<typename T>
class write_once_block : public detail::dataflow::block_handle<detail::dataflow::value_core<T>> {
    using core = detail::dataflow::value_core<T>;

public:
    explicit write_once_block(any_scheduler s, const dataflow_options& o = {}, std::function<T(const T&)> clone = {})
        : detail::dataflow::block_handle<core>(new core(s, std::move(clone), true, o)) {}
};

} // namespace weft
