// weft/detail/dataflow/single_input_core.hpp — the part every one-input block core shares: its
// queue_target input, its output, and what they do at a fault, at completion and when a message
// leaves (buffer, transform, transform_many, action, batch, broadcast, write_once).
// Design note: weft/detail/dataflow/block_core.hpp (§4, §7).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_target.hpp>

#include <utility>

namespace weft::detail::dataflow {

/// `Output`: the block's source (queue_source or value_source), built with `output_args`.
template<typename In, typename Output>
class single_input_core
    : public block_core
    , public input_host<In> {
public:
    using input_type = In;

    template<typename... A>
    single_input_core(any_scheduler s, const dataflow_options& o, bool greedy, A&&... output_args)
        : block_core(s, o)
        , input(*this, *this, greedy)
        , output(*this, std::forward<A>(output_args)...) {}

    queue_target<In> input;
    Output output;

    void drop_locked(finish_batch& batch) noexcept override {
        drop_held_locked();
        output.drop_locked();
        input.decline_all_locked(batch);
    }
    void on_declining_locked(finish_batch& batch) noexcept override { input.decline_all_locked(batch); }
    void on_finished_locked(finish_batch& batch) noexcept override { output.end_receivers_locked(batch); }
    void unlink_outputs() override { output.unlink_all(); }
    void after_output_taken() override {
        input.room_appeared();
        check_finished();
    }

protected:
    /// Fault or cancel: drops what the block holds besides its output (pending input, a batch).
    virtual void drop_held_locked() noexcept {}
};

} // namespace weft::detail::dataflow
