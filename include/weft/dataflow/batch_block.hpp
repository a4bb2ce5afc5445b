// weft/dataflow/batch_block.hpp — batch_block<T>: messages grouped into std::vector<T> batches
// (.NET BatchBlock<T>).
// Design note: weft/detail/dataflow/batch_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/batch_core.hpp>

namespace weft {

/// Offers a batch each time `batch_size` messages have arrived; trigger_batch() and complete()
/// send the partial batch. Greedy only (`greedy = false` is std::invalid_argument); a
/// bounded_capacity below batch_size is std::invalid_argument.
template<typename T>
class batch_block : public detail::dataflow::block_handle<detail::dataflow::batch_core<T>> {
    using core = detail::dataflow::batch_core<T>;

public:
    batch_block(any_scheduler s, std::size_t batch_size, const dataflow_options& o = {})
        : detail::dataflow::block_handle<core>(new core(s, batch_size, o)) {}

    /// Sends the messages gathered so far as a (short) batch now (.NET TriggerBatch).
    void trigger_batch() { this->core_->trigger(); }
    std::size_t batch_size() const noexcept { return this->core_->batch_size; }
};

} // namespace weft
