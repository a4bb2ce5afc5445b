// weft/detail/dataflow/buffer_core.hpp — the core of buffer_block: accepted input goes straight
// to the output queue.
// Design note: weft/detail/dataflow/block_core.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/queue_target.hpp>

namespace weft::detail::dataflow {

template<typename T>
class buffer_core final
    : public block_core
    , public input_host<T> {
public:
    using input_type = T;
    using output_type = T;

    buffer_core(any_scheduler s, const dataflow_options& o) : block_core(s, o), input(*this, *this), output(*this) {}

    queue_target<T> input;
    queue_source<T> output;

    std::size_t held_locked() const noexcept override { return output.queue.size(); }
    bool quiescent_locked() const noexcept override { return output.queue.empty() && input.incoming == 0; }
    std::size_t accept_locked(T&& v, finish_batch& batch) override {
        if (dropping) {
            return 0;
        }
        const auto p = output.push_locked(std::move(v), batch);
        return (p.propagate ? start_propagation : 0U) | (p.served ? receiver_served : 0U);
    }
    void start_jobs(std::size_t what) override {
        if ((what & start_propagation) != 0) {
            post_job(job_kind::propagate); // never inline: the offering source's stack stays flat (§3)
        }
        if ((what & receiver_served) != 0) {
            after_output_taken();
        }
    }
    void drop_locked(finish_batch& batch) noexcept override {
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
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                output.run_propagation();
            } else if (kind == job_kind::pull) {
                input.pull();
            }
        } catch (...) {
            fault_noexcept(std::current_exception());
        }
    }

private:
    static constexpr std::size_t start_propagation = 1;
    static constexpr std::size_t receiver_served = 2;
};

} // namespace weft::detail::dataflow
