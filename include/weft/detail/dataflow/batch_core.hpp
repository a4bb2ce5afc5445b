// weft/detail/dataflow/batch_core.hpp — the core of batch_block<T>: accepted messages grouped
// into std::vector<T> batches of a fixed size; a partial batch leaves on trigger_batch() and at
// completion.
// Design note: weft/detail/dataflow/block_core.hpp. A batch counts as batch_size messages held
// until it is taken (bounded_capacity counts messages).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/queue_target.hpp>

#include <stdexcept>
#include <vector>

namespace weft::detail::dataflow {

template<typename T>
class batch_core final
    : public block_core
    , public input_host<T> {
public:
    using input_type = T;
    using output_type = std::vector<T>;

    batch_core(any_scheduler s, std::size_t size, const dataflow_options& o)
        : block_core(s, o)
        , input(*this, *this)
        , output(*this)
        , batch_size(size) {
        if (size == 0) {
            throw std::invalid_argument("weft: batch_block with a batch size of 0");
        }
        if (!o.greedy) {
            throw std::invalid_argument("weft: batch_block supports greedy mode only (see docs/guide/dataflow.md)");
        }
        if (o.bounded_capacity != dataflow_options::unbounded && o.bounded_capacity < size) {
            throw std::invalid_argument("weft: batch_block with bounded_capacity below the batch size");
        }
    }

    queue_target<T> input;
    queue_source<std::vector<T>> output;
    const std::size_t batch_size;

    // --- guarded by mutex ------------------------------------------------------------------
    std::vector<T> partial;
    std::uint64_t groups = 0;

    std::size_t held_locked() const noexcept override { return partial.size() + output.queue.size() * batch_size; }
    bool quiescent_locked() const noexcept override {
        return partial.empty() && output.queue.empty() && input.incoming == 0;
    }
    std::size_t accept_locked(T&& v, finish_batch& batch) override {
        if (dropping) {
            return 0;
        }
        partial.push_back(std::move(v));
        // a message consumed while complete() ran arrives after the completion flush: it is the
        // last one in once nothing else is incoming, so it leaves now
        if (partial.size() < batch_size && !(declining && input.incoming == 0)) {
            return 0;
        }
        return flush_locked(batch);
    }
    /// The partial batch leaves now. Returns what start_jobs must do.
    std::size_t flush_locked(finish_batch& batch) {
        if (partial.empty() || groups >= options.max_groups) {
            return 0;
        }
        std::vector<T> b;
        b.swap(partial);
        ++groups;
        const auto p = output.push_locked(std::move(b), batch);
        std::size_t what = (p.propagate ? 1U : 0U) | (p.served ? 2U : 0U);
        if (groups >= options.max_groups) {
            what |= 4U;
        }
        return what;
    }
    void start_jobs(std::size_t what) override {
        if ((what & 1U) != 0) {
            post_job(job_kind::propagate);
        }
        if ((what & 2U) != 0) {
            after_output_taken();
        }
        if ((what & 4U) != 0) {
            complete();
        }
    }
    void trigger() {
        finish_batch batch;
        std::size_t what = 0;
        {
            std::lock_guard lock(mutex);
            if (dropping) {
                return;
            }
            what = flush_locked(batch);
        }
        batch.finish_all();
        start_jobs(what);
    }
    void after_declining() override { trigger(); }
    void drop_locked(finish_batch& batch) noexcept override {
        partial.clear();
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
};

} // namespace weft::detail::dataflow
