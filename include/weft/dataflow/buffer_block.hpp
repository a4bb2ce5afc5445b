// weft/dataflow/buffer_block.hpp — buffer_block<T>: a FIFO of messages between blocks (.NET
// BufferBlock<T>).
// Design note: weft/detail/dataflow/block_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/buffer_core.hpp>

namespace weft {

/// Holds messages until a linked target or a receive() takes them, in order; each message is
/// taken exactly once. Bounded capacity postpones offers and makes post() return false.
/// Thread safety: every member from any thread.
template<typename T>
class buffer_block : public detail::dataflow::block_handle<detail::dataflow::buffer_core<T>> {
public:
    explicit buffer_block(any_scheduler s, const dataflow_options& o = {})
        : detail::dataflow::block_handle<detail::dataflow::buffer_core<T>>(new detail::dataflow::buffer_core<T>(s, o)) {
    }
};

} // namespace weft
