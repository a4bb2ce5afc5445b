// weft/dataflow/action_block.hpp — action_block<T>: runs a function on each message, the end of
// a pipeline (.NET ActionBlock<T>).
// Design note: weft/detail/dataflow/processing.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/processing.hpp>

#include <concepts>
#include <type_traits>

namespace weft {

/// Runs `f(message)` (returning void or task<void>) on the block's scheduler, at most
/// max_degree_of_parallelism at a time. A message counts against bounded_capacity until its
/// body has finished. An exception faults the block. `f` must be copyable.
template<typename T>
class action_block
    : public detail::dataflow::block_handle<
          detail::dataflow::processing_core<T, T, detail::dataflow::body_shape::none>> {
    using core = detail::dataflow::processing_core<T, T, detail::dataflow::body_shape::none>;

public:
    template<typename F>
        requires std::invocable<F&, T&&> &&
            (std::is_void_v<std::invoke_result_t<F&, T&&>> || std::same_as<std::invoke_result_t<F&, T&&>, task<void>>)
                action_block(any_scheduler s, F f, const dataflow_options& o = {})
            : detail::dataflow::block_handle<core>(new core(s, detail::dataflow::make_body<T, void>(std::move(f)), o)) {
        }

        /// Messages accepted and not yet finished (.NET InputCount plus the running bodies).
        std::size_t input_count() const {
            std::lock_guard lock(this->core_->mutex);
            return this->core_->pending.size() + this->core_->running;
        }
};

} // namespace weft
