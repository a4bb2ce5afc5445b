// weft/dataflow/transform_block.hpp — transform_block<In, Out>: one output per input, made by
// a function that returns an Out or a task<Out> (.NET TransformBlock<TInput, TOutput>).
// Design note: weft/detail/dataflow/processing.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/processing.hpp>

#include <concepts>
#include <type_traits>

namespace weft {

/// Runs `f` on each message on the block's scheduler, at most max_degree_of_parallelism at a
/// time, and offers the results (in input order unless ensure_ordered is off). An exception
/// from `f` faults the block. `f` must be copyable (it is kept in a std::function).
template<typename In, typename Out>
class transform_block
    : public detail::dataflow::block_handle<
          detail::dataflow::processing_core<In, Out, detail::dataflow::body_shape::one>> {
    using core = detail::dataflow::processing_core<In, Out, detail::dataflow::body_shape::one>;

public:
    template<typename F>
        requires std::invocable<F&, In&&> &&(std::convertible_to<std::invoke_result_t<F&, In&&>, Out> ||
                                             std::same_as<std::invoke_result_t<F&, In&&>, task<Out>>)
            transform_block(any_scheduler s, F f, const dataflow_options& o = {})
            : detail::dataflow::block_handle<core>(new core(s, detail::dataflow::make_body<In, Out>(std::move(f)), o)) {
        }
};

/// Runs `f` on each message and offers every element of the range it returns, in order (.NET
/// TransformManyBlock). `f` returns a range of Out or a task<std::vector<Out>>; an empty range
/// is a message filtered out.
template<typename In, typename Out>
class transform_many_block
    : public detail::dataflow::block_handle<
          detail::dataflow::processing_core<In, Out, detail::dataflow::body_shape::many>> {
    using core = detail::dataflow::processing_core<In, Out, detail::dataflow::body_shape::many>;

public:
    template<typename F>
        requires std::invocable<F&, In&&> &&(std::ranges::input_range<std::invoke_result_t<F&, In&&>> ||
                                             std::same_as<std::invoke_result_t<F&, In&&>, task<std::vector<Out>>>)
            transform_many_block(any_scheduler s, F f, const dataflow_options& o = {})
            : detail::dataflow::block_handle<core>(
                  new core(s, detail::dataflow::make_body<In, std::vector<Out>>(std::move(f)), o)) {}
};

} // namespace weft
