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
#include <weft/detail/dataflow/single_input_core.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <vector>

namespace weft::detail::dataflow {

template<typename T>
class batch_core final : public single_input_core<T, queue_source<std::vector<T>>> {
public:
    using output_type = std::vector<T>;
    using base = single_input_core<T, queue_source<std::vector<T>>>;
    // the shared core's members, named here (a dependent base's names are not found otherwise)
    using base::check_finished;
    using base::complete;
    using base::declining;
    using base::dropping;
    using base::fault_noexcept;
    using base::input;
    using base::mutex;
    using base::options;
    using base::output;
    using base::post_job;

    batch_core(any_scheduler s, std::size_t size, const dataflow_options& o) : base(s, o, o.greedy), batch_size(size) {
        if (size == 0) {
            throw std::invalid_argument("weft: batch_block with a batch size of 0");
        }
        if (o.bounded_capacity != dataflow_options::unbounded && o.bounded_capacity < size) {
            throw std::invalid_argument("weft: batch_block with bounded_capacity below the batch size");
        }
    }

    const std::size_t batch_size;

    // --- guarded by mutex ------------------------------------------------------------------
    std::vector<T> partial;
    std::uint64_t groups = 0;
    bool grouping = false;     ///< non-greedy: the group job is scheduled or running
    bool take_partial = false; ///< non-greedy: trigger_batch() asked for a short group

    std::size_t held_locked() const noexcept override { return partial.size() + output.queue.size() * batch_size; }
    bool quiescent_locked() const noexcept override {
        return partial.empty() && output.queue.empty() && input.incoming == 0 && !grouping;
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
            this->after_output_taken();
        }
        if ((what & 4U) != 0) {
            complete();
        }
    }
    void trigger() {
        if (!options.greedy) {
            bool start = false;
            {
                std::lock_guard lock(mutex);
                take_partial = true;
                start = want_group_locked();
            }
            if (start) {
                post_job(job_kind::group);
            }
            return;
        }
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
    void drop_held_locked() noexcept override { partial.clear(); }
    void after_output_taken() override {
        offer_postponed();
        base::after_output_taken();
    }
    void offer_postponed() override {
        if (options.greedy) {
            return;
        }
        bool start = false;
        {
            std::lock_guard lock(mutex);
            start = want_group_locked();
        }
        if (start) {
            post_job(job_kind::group);
        }
    }
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                output.run_propagation();
            } else if (kind == job_kind::pull) {
                input.pull();
            } else if (kind == job_kind::group) {
                run_groups();
            }
        } catch (...) {
            {
                std::lock_guard lock(mutex);
                grouping = false;
            }
            fault_noexcept(std::current_exception());
        }
    }

private:
    /// Non-greedy: a whole batch of offers (or any, after trigger_batch()) and room for it.
    /// Marks the group job started.
    bool want_group_locked() noexcept {
        if (grouping || declining || groups >= options.max_groups || input.postponed.empty()) {
            return false;
        }
        if (input.postponed.size() < batch_size && !take_partial) {
            return false;
        }
        const std::size_t cap = options.bounded_capacity;
        if (cap != dataflow_options::unbounded && held_locked() + batch_size > cap) {
            return false;
        }
        grouping = true;
        return true;
    }

    /// Non-greedy (§5): reserves up to batch_size offered heads in source-address order and
    /// consumes them all if every reservation held; otherwise releases them and forgets the
    /// offer that failed (its source offers its new head again).
    void run_groups() {
        for (;;) {
            std::vector<postponed_offer<T>> picks;
            {
                std::lock_guard lock(mutex);
                grouping = false;
                if (!want_group_locked()) {
                    break;
                }
                const std::size_t n = std::min(batch_size, input.postponed.size());
                picks.assign(input.postponed.begin(), input.postponed.begin() + static_cast<std::ptrdiff_t>(n));
            }
            std::sort(picks.begin(), picks.end(), [](const auto& a, const auto& b) {
                return std::less<const void*>{}(a.source, b.source);
            });
            std::size_t reserved = 0;
            while (reserved < picks.size() && picks[reserved].source->reserve(picks[reserved].id, input)) {
                ++reserved;
            }
            if (reserved < picks.size()) {
                for (std::size_t i = 0; i < reserved; ++i) {
                    picks[i].source->release(picks[i].id, input);
                }
                std::lock_guard lock(mutex);
                input.forget_locked(picks[reserved].source, picks[reserved].id);
                continue; // grouping stays set: the loop re-checks
            }
            std::vector<T> got;
            got.reserve(picks.size());
            for (auto& p : picks) {
                if (std::optional<T> v = p.source->consume(p.id, input)) {
                    got.push_back(std::move(*v));
                }
            }
            finish_batch batch;
            std::size_t what = 0;
            {
                std::lock_guard lock(mutex);
                for (auto& p : picks) {
                    input.forget_locked(p.source, p.id);
                }
                take_partial = false;
                if (!got.empty() && !dropping) {
                    partial = std::move(got);
                    what = flush_locked(batch);
                }
            }
            batch.finish_all();
            if ((what & 1U) != 0) {
                output.run_propagation();
            }
            if ((what & 2U) != 0) {
                input.room_appeared();
            }
            if ((what & 4U) != 0) {
                complete();
            }
        }
        check_finished();
    }
};

} // namespace weft::detail::dataflow
