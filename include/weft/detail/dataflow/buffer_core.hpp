// weft/detail/dataflow/buffer_core.hpp — the core of buffer_block: accepted input goes straight
// to the output queue.
// Design note: weft/detail/dataflow/block_core.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/queue_target.hpp>
#include <weft/detail/dataflow/single_input_core.hpp>

namespace weft::detail::dataflow {

template<typename T>
class buffer_core final : public single_input_core<T, queue_source<T>> {
public:
    using output_type = T;

    buffer_core(any_scheduler s, const dataflow_options& o) : single_input_core<T, queue_source<T>>(s, o, true) {}

    std::size_t held_locked() const noexcept override { return this->output.queue.size(); }
    bool quiescent_locked() const noexcept override { return this->output.queue.empty() && this->input.incoming == 0; }
    std::size_t accept_locked(T&& v, finish_batch& batch) override {
        if (this->dropping) {
            return 0;
        }
        const auto p = this->output.push_locked(std::move(v), batch);
        return (p.propagate ? start_propagation : 0U) | (p.served ? receiver_served : 0U);
    }
    void start_jobs(std::size_t what) override {
        if ((what & start_propagation) != 0) {
            this->post_job(job_kind::propagate); // never inline: the offering source's stack stays flat (§3)
        }
        if ((what & receiver_served) != 0) {
            this->after_output_taken();
        }
    }
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                this->output.run_propagation();
            } else if (kind == job_kind::pull) {
                this->input.pull();
            }
        } catch (...) {
            this->fault_noexcept(std::current_exception());
        }
    }

private:
    static constexpr std::size_t start_propagation = 1;
    static constexpr std::size_t receiver_served = 2;
};

} // namespace weft::detail::dataflow
