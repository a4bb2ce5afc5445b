// weft/detail/dataflow/processing.hpp — the engine of the blocks that run a body per message
// (transform, transform_many, action): bounded parallelism, ordered output, messages per task.
// Design note: weft/detail/dataflow/block_core.hpp (§4, §6, §7); ordering below.
//   Each accepted message gets a sequence number. With parallelism 1, or ensure_ordered off,
//   outputs leave as bodies finish; otherwise a body that finishes early parks its outputs in a
//   reorder buffer until every earlier message's outputs have left (they count as held).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/queue_target.hpp>
#include <weft/detail/dataflow/single_input_core.hpp>
#include <weft/resume_on.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft::detail::dataflow {

/// What a body makes of one message: one output, a sequence of outputs, or none.
enum class body_shape : std::uint8_t {
    one,
    many,
    none
};

template<typename Out, body_shape Shape>
using body_result_t = std::
    conditional_t<Shape == body_shape::one, Out, std::conditional_t<Shape == body_shape::many, std::vector<Out>, void>>;

/// A body, synchronous or returning a task (the block awaits it).
template<typename In, typename R>
struct body_fn {
    std::function<R(In)> sync;
    std::function<task<R>(In)> async;
};

template<typename In, typename Out, body_shape Shape>
class processing_core final
    : public single_input_core<In, queue_source<std::conditional_t<Shape == body_shape::none, std::monostate, Out>>> {
public:
    using result_t = body_result_t<Out, Shape>;
    using output_t = std::conditional_t<Shape == body_shape::none, std::monostate, Out>;
    using output_type = std::conditional_t<Shape == body_shape::none, none, Out>;
    using base = single_input_core<In, queue_source<output_t>>;
    // the shared core's members, named here (a dependent base's names are not found otherwise)
    using base::check_finished;
    using base::declining;
    using base::dropping;
    using base::fault_noexcept;
    using base::input;
    using base::mutex;
    using base::options;
    using base::output;
    using base::post_job;
    using base::sched;

    processing_core(any_scheduler s, body_fn<In, result_t> b, const dataflow_options& o)
        : base(s, o, true)
        , body_(std::move(b))
        , ordered_(o.ensure_ordered && o.max_degree_of_parallelism > 1) {}

    // --- guarded by mutex -----------------------------------------------------------------
    std::deque<std::pair<std::uint64_t, In>> pending; ///< accepted, no body started
    std::uint64_t next_in = 0;                        ///< the next accepted message's number
    std::uint64_t next_out = 0;                       ///< the number whose outputs leave next
    std::size_t running = 0;                          ///< bodies in progress
    std::size_t workers = 0;                          ///< activations scheduled or running
    std::map<std::uint64_t, std::vector<output_t>> reorder;
    std::size_t reorder_items = 0;

    std::size_t held_locked() const noexcept override {
        return pending.size() + running + reorder_items + output.queue.size();
    }
    bool quiescent_locked() const noexcept override {
        return pending.empty() && running == 0 && workers == 0 && reorder.empty() && output.queue.empty() &&
               input.incoming == 0;
    }
    std::size_t accept_locked(In&& v, finish_batch&) override {
        if (dropping) {
            return 0; // faulted meanwhile: dropped with the rest (§7)
        }
        pending.emplace_back(next_in++, std::move(v));
        if (workers < options.max_degree_of_parallelism) {
            ++workers;
            return 1;
        }
        return 0;
    }
    void start_jobs(std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i) {
            post_job(job_kind::process);
        }
    }
    void drop_held_locked() noexcept override {
        pending.clear();
        reorder.clear();
        reorder_items = 0;
    }
    void run_job(job_kind kind) noexcept override {
        switch (kind) {
        case job_kind::process:
            if (body_.async) {
                launch_async();
            } else {
                work_sync();
            }
            break;
        case job_kind::propagate:
            run_guarded([this] { output.run_propagation(); });
            break;
        case job_kind::pull:
            run_guarded([this] { input.pull(); });
            break;
        case job_kind::group:
            break;
        }
    }

private:
    template<typename F>
    void run_guarded(F f) noexcept {
        try {
            f();
        } catch (...) { // a link's predicate threw, or no memory: the block faults
            fault_noexcept(std::current_exception());
        }
    }

    /// Takes the next message for a body; empty when this activation should end (`yield`: it
    /// reached max_messages_per_task and must reschedule itself, keeping its worker slot).
    std::optional<std::pair<std::uint64_t, In>> next_locked(std::size_t done, bool& yield) {
        yield = false;
        if (dropping || pending.empty()) {
            --workers;
            return std::nullopt;
        }
        if (done == options.max_messages_per_task) {
            yield = true;
            return std::nullopt;
        }
        std::optional<std::pair<std::uint64_t, In>> item(std::move(pending.front()));
        pending.pop_front();
        ++running;
        return item;
    }
    std::optional<std::pair<std::uint64_t, In>> next(std::size_t done, bool& yield) {
        std::lock_guard lock(mutex);
        return next_locked(done, yield);
    }

    void work_sync() noexcept {
        std::size_t done = 0;
        for (;;) {
            bool yield = false;
            std::optional<std::pair<std::uint64_t, In>> item;
            try {
                item = next(done, yield);
            } catch (...) {
                fault_noexcept(std::current_exception());
                return;
            }
            if (!item) {
                if (yield) {
                    post_job(job_kind::process);
                } else {
                    check_finished_noexcept();
                }
                return;
            }
            ++done;
            try {
                if constexpr (Shape == body_shape::none) {
                    body_.sync(std::move(item->second));
                    deliver(item->first, {});
                } else if constexpr (Shape == body_shape::one) {
                    deliver_one(item->first, body_.sync(std::move(item->second)));
                } else {
                    deliver(item->first, body_.sync(std::move(item->second)));
                }
            } catch (...) {
                body_failed(std::current_exception());
            }
        }
    }

    void launch_async() noexcept {
        try {
            task<void> t = async_worker(ref_ptr<processing_core>(this));
            (void)t; // it runs on; it reports through the block, never through its task
        } catch (...) {
            {
                std::lock_guard lock(mutex);
                --workers;
            }
            fault_noexcept(std::current_exception());
        }
    }

    static task<void> async_worker(ref_ptr<processing_core> self) {
        std::size_t done = 0;
        for (;;) {
            bool yield = false;
            std::optional<std::pair<std::uint64_t, In>> item;
            try {
                item = self->next(done, yield);
                if (yield) {
                    done = 0;
                    co_await resume_on(self->sched); // fairness: let other work in
                    continue;
                }
            } catch (...) {
                self->worker_lost(std::current_exception(), yield);
                co_return;
            }
            if (!item) {
                self->check_finished_noexcept();
                co_return;
            }
            ++done;
            try {
                if constexpr (Shape == body_shape::none) {
                    co_await self->body_.async(std::move(item->second));
                    self->deliver(item->first, {});
                } else if constexpr (Shape == body_shape::one) {
                    self->deliver_one(item->first, co_await self->body_.async(std::move(item->second)));
                } else {
                    self->deliver(item->first, co_await self->body_.async(std::move(item->second)));
                }
            } catch (...) {
                self->body_failed(std::current_exception());
            }
            if (!self->sched.runs_on_this_thread()) {
                try {
                    co_await resume_on(self->sched); // the next body starts on the block's scheduler
                } catch (...) {
                    self->worker_lost(std::current_exception(), true);
                    co_return;
                }
            }
        }
    }

    /// An activation ended by its scheduler (refused or discarded): the block faults.
    void worker_lost(std::exception_ptr e, bool had_slot) noexcept {
        if (had_slot) {
            std::lock_guard lock(mutex);
            --workers;
        }
        fault_noexcept(std::move(e));
    }
    void check_finished_noexcept() noexcept {
        try {
            check_finished();
        } catch (...) {
            fault_noexcept(std::current_exception());
        }
    }

    void body_failed(std::exception_ptr e) noexcept {
        {
            std::lock_guard lock(mutex);
            --running;
        }
        fault_noexcept(std::move(e)); // the block faults (§7); its activation ends at next()
    }

    /// One output (transform): straight into the output unless it must wait for its turn.
    void deliver_one(std::uint64_t seq, output_t&& v) {
        if (ordered_) {
            std::vector<output_t> outs;
            outs.push_back(std::move(v));
            deliver(seq, std::move(outs));
            return;
        }
        finish_batch batch;
        typename queue_source<output_t>::pushed p;
        {
            std::lock_guard lock(mutex);
            --running;
            if (!dropping) {
                p = output.push_locked(std::move(v), batch);
            }
        }
        batch.finish_all();
        if (p.propagate) {
            output.run_propagation(); // on this worker: the block's scheduler
        }
        if (p.served) {
            this->after_output_taken();
        }
    }

    /// A body's outputs: into the output, in order when ordered_.
    void deliver(std::uint64_t seq, std::vector<output_t> outs) {
        finish_batch batch;
        bool propagate = false;
        bool served = false;
        {
            std::lock_guard lock(mutex);
            --running;
            if (!dropping) {
                auto push = [&](output_t&& v) {
                    const auto p = output.push_locked(std::move(v), batch);
                    propagate = propagate || p.propagate;
                    served = served || p.served;
                };
                if (ordered_) {
                    reorder_items += outs.size();
                    reorder.emplace(seq, std::move(outs));
                    for (auto it = reorder.begin(); it != reorder.end() && it->first == next_out;
                         it = reorder.erase(it), ++next_out) {
                        reorder_items -= it->second.size();
                        for (auto& v : it->second) {
                            push(std::move(v));
                        }
                    }
                } else {
                    for (auto& v : outs) {
                        push(std::move(v));
                    }
                }
            }
        }
        batch.finish_all();
        if (propagate) {
            output.run_propagation(); // on this worker: the block's scheduler
        }
        if (served || Shape != body_shape::one) {
            this->after_output_taken(); // the block holds less now
        }
    }

    body_fn<In, result_t> body_;
    const bool ordered_;
};

} // namespace weft::detail::dataflow

namespace weft::detail::dataflow {

template<typename R>
inline constexpr bool is_task_v = false;
template<typename R>
inline constexpr bool is_task_v<task<R>> = true;

/// Wraps a user's body: a result of task<R> is awaited, anything else is the result itself
/// (transform_many: any range of Out, copied into the block's output).
template<typename In, typename R, typename F>
body_fn<In, R> make_body(F f) {
    using result = std::invoke_result_t<F&, In&&>;
    body_fn<In, R> b;
    if constexpr (is_task_v<result>) {
        b.async = std::move(f);
    } else if constexpr (std::is_void_v<R> || std::is_convertible_v<result, R>) {
        b.sync = std::move(f);
    } else { // a range that is not R (a std::vector<Out>) itself
        b.sync = [g = std::move(f)](In x) mutable {
            auto&& r = g(std::move(x));
            return R(std::ranges::begin(r), std::ranges::end(r));
        };
    }
    return b;
}

} // namespace weft::detail::dataflow
