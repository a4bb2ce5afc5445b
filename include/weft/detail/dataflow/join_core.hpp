// weft/detail/dataflow/join_core.hpp — the core of join_block<Ts...>: one input per type, a
// tuple out when every input has a message; greedy, or non-greedy through two-phase consumption.
// Design note: weft/detail/dataflow/block_core.hpp (§5 for the non-greedy mode). Messages left
// unmatched when the join completes cannot form a tuple: they are dropped and counted.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/queue_target.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace weft::detail::dataflow {

template<typename Seq, typename... Ts>
class join_core;

/// One input of a join: its queue (greedy, or posted) and the offers it postponed.
template<typename Join, typename T>
class join_input final : public target_port<T> {
public:
    explicit join_input(Join& j) : target_port<T>(j), join_(&j) {}

    // --- guarded by the join's mutex ----------------------------------------------------------
    std::deque<T> queue;
    std::deque<postponed_offer<T>> postponed;
    std::size_t incoming = 0;

    bool has_room_locked() const noexcept {
        const std::size_t cap = join_->options.bounded_capacity;
        return cap == dataflow_options::unbounded || queue.size() + incoming + join_->output.queue.size() < cap;
    }

    offer_result offer(source_port<T>& from, std::uint64_t id) override {
        bool postponed_now = false;
        bool group = false;
        {
            std::lock_guard lock(join_->mutex);
            if (join_->declining) {
                return offer_result::declined_permanently;
            }
            if (!join_->options.greedy || !has_room_locked()) {
                postpone_locked(from, id);
                postponed_now = true;
                group = join_->want_group_locked();
            } else {
                ++incoming;
            }
        }
        if (postponed_now) {
            if (group) {
                join_->post_job(job_kind::group);
            }
            return offer_result::postponed;
        }
        std::lock_guard intake(intake_); // consume and enqueue as one step (queue_target's take_from)
        std::optional<T> v = from.consume(id, *this);
        const bool got = v.has_value();
        join_->arrived(*this, std::move(v));
        return got ? offer_result::accepted : offer_result::declined;
    }

    /// Greedy: takes postponed offers while there is room (§4). Lock not held.
    void pull() {
        for (;;) {
            std::optional<postponed_offer<T>> next;
            {
                std::lock_guard lock(join_->mutex);
                if (join_->declining || postponed.empty() || !has_room_locked()) {
                    return;
                }
                next.emplace(std::move(postponed.front()));
                postponed.pop_front();
                ++incoming;
            }
            std::lock_guard intake(intake_);
            join_->arrived(*this, next->source->consume(next->id, *this));
        }
    }

    bool post(T v) {
        {
            std::lock_guard lock(join_->mutex);
            if (join_->declining || !has_room_locked()) {
                return false;
            }
            ++incoming;
        }
        join_->arrived(*this, std::optional<T>(std::move(v)));
        return true;
    }

    void postpone_locked(source_port<T>& from, std::uint64_t id) {
        for (auto& p : postponed) {
            if (p.source == &from) {
                p.id = id;
                return;
            }
        }
        postponed.push_back({&from, ref_ptr<block_core>(&from.owner()), id});
    }
    /// Forgets the offer of `from` if it is still `id` (its reservation failed).
    void forget_locked(const source_port<T>* from, std::uint64_t id) {
        for (auto it = postponed.begin(); it != postponed.end(); ++it) {
            if (it->source == from && it->id == id) {
                postponed.erase(it);
                return;
            }
        }
    }
    /// A message is there now (queued) or may be (an offer).
    bool has_candidate_locked() const noexcept { return !queue.empty() || !postponed.empty(); }

private:
    Join* join_;
    std::mutex intake_; ///< consume + enqueue as one step; never held with the join's mutex
};

template<std::size_t... Is, typename... Ts>
class join_core<std::index_sequence<Is...>, Ts...> final : public block_core {
public:
    using output_type = std::tuple<Ts...>;
    using self = join_core<std::index_sequence<Is...>, Ts...>;

    join_core(any_scheduler s, const dataflow_options& o)
        : block_core(s, o)
        , output(*this)
        , inputs(((void)Is, *this)...) {}

    queue_source<output_type> output;
    std::tuple<join_input<self, Ts>...> inputs;

    // --- guarded by mutex ------------------------------------------------------------------
    std::uint64_t groups = 0;            ///< tuples made
    std::uint64_t unmatched_dropped = 0; ///< messages dropped at completion, no partner left
    bool grouping = false;               ///< the non-greedy group job is scheduled or running

    bool quiescent_locked() const noexcept override {
        return output.queue.empty() && ((std::get<Is>(inputs).incoming == 0) && ...) && !grouping &&
               !((!std::get<Is>(inputs).queue.empty()) && ...);
    }
    void drop_locked(finish_batch&) noexcept override {
        output.drop_locked();
        (std::get<Is>(inputs).queue.clear(), ...);
        (std::get<Is>(inputs).postponed.clear(), ...);
    }
    void on_declining_locked(finish_batch&) noexcept override { (std::get<Is>(inputs).postponed.clear(), ...); }
    void on_finished_locked(finish_batch& batch) noexcept override {
        // nothing is incoming and some input is empty: what is left can never form a tuple
        unmatched_dropped += (std::get<Is>(inputs).queue.size() + ...);
        (std::get<Is>(inputs).queue.clear(), ...);
        output.end_receivers_locked(batch);
    }
    void unlink_outputs() override { output.unlink_all(); }
    void after_output_taken() override {
        bool start = false;
        {
            std::lock_guard lock(mutex);
            start =
                options.greedy ? !pulling_ && ((!std::get<Is>(inputs).postponed.empty()) || ...) : want_group_locked();
            pulling_ = pulling_ || (start && options.greedy);
        }
        if (start) {
            post_job(options.greedy ? job_kind::pull : job_kind::group);
        }
        check_finished();
    }
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                output.run_propagation();
            } else if (kind == job_kind::group) {
                run_groups();
            } else if (kind == job_kind::pull) {
                for (;;) {
                    (std::get<Is>(inputs).pull(), ...);
                    std::lock_guard lock(mutex);
                    // an offer postponed while this ran saw pulling_ and left it to us
                    if (declining ||
                        !((!std::get<Is>(inputs).postponed.empty() && std::get<Is>(inputs).has_room_locked()) || ...)) {
                        pulling_ = false;
                        break;
                    }
                }
            }
        } catch (...) {
            {
                std::lock_guard lock(mutex);
                grouping = false;
            }
            fault_noexcept(std::current_exception());
        }
    }

    /// Non-greedy: every input has a candidate and the output has room. Marks the job started.
    bool want_group_locked() noexcept {
        if (options.greedy || grouping || declining || !(std::get<Is>(inputs).has_candidate_locked() && ...)) {
            return false;
        }
        if (options.bounded_capacity != dataflow_options::unbounded &&
            output.queue.size() >= options.bounded_capacity) {
            return false;
        }
        grouping = true;
        return true;
    }

    /// A message reached input `in`, whose incoming slot it held (greedy consume or post;
    /// empty: the consume lost the race).
    template<typename T>
    void arrived(join_input<self, T>& in, std::optional<T> v) {
        finish_batch batch;
        bool propagate = false;
        bool finish_check = false;
        bool last_group = false;
        {
            std::lock_guard lock(mutex);
            --in.incoming;
            if (v && !dropping) {
                in.queue.push_back(std::move(*v));
                propagate = make_tuples_locked(batch);
            }
            finish_check = declining;
            last_group = made_last_group_locked();
        }
        batch.finish_all();
        if (propagate) {
            post_job(job_kind::propagate);
        }
        if (finish_check) {
            check_finished();
        }
        if (last_group) {
            complete();
        }
    }

private:
    /// Greedy (and queued messages): tuples while every input has one. Under the lock.
    bool make_tuples_locked(finish_batch& batch) {
        bool propagate = false;
        while (groups < options.max_groups && (!std::get<Is>(inputs).queue.empty() && ...)) {
            output_type t(pop_front(std::get<Is>(inputs).queue)...);
            ++groups;
            const auto p = output.push_locked(std::move(t), batch);
            propagate = propagate || p.propagate;
        }
        return propagate;
    }
    template<typename T>
    static T pop_front(std::deque<T>& q) {
        T v = std::move(q.front());
        q.pop_front();
        return v;
    }
    /// max_groups tuples are made and the join still accepts: it must complete. Under the lock.
    bool made_last_group_locked() const noexcept { return groups >= options.max_groups && !declining; }

    /// One input's part of a group attempt: its queued message, or a reserved offer.
    template<typename T>
    struct pick {
        bool queued = false;
        std::optional<postponed_offer<T>> offer;
        bool reserved = false;
        std::optional<T> value;
    };

    /// Non-greedy (§5): reserve one offer per input (inputs with a queued message use it), in
    /// source-address order; consume all if every reservation held, else release them.
    void run_groups() {
        for (;;) {
            std::tuple<pick<Ts>...> picks;
            {
                std::lock_guard lock(mutex);
                if (declining || !(std::get<Is>(inputs).has_candidate_locked() && ...) ||
                    (options.bounded_capacity != dataflow_options::unbounded &&
                     output.queue.size() >= options.bounded_capacity)) {
                    grouping = false;
                    break;
                }
                (choose_locked(std::get<Is>(inputs), std::get<Is>(picks)), ...);
            }
            // reserve in one global order: the sources' addresses
            std::vector<std::pair<const void*, std::function<bool()>>> order;
            (add_reservation(std::get<Is>(inputs), std::get<Is>(picks), order), ...);
            std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
                return std::less<const void*>{}(a.first, b.first);
            });
            bool all = true;
            for (auto& step : order) {
                if (!step.second()) {
                    all = false;
                    break;
                }
            }
            if (!all) {
                (undo(std::get<Is>(inputs), std::get<Is>(picks)), ...);
                continue;
            }
            (take(std::get<Is>(inputs), std::get<Is>(picks)), ...);
            finish_batch batch;
            bool propagate = false;
            bool last_group = false;
            {
                std::lock_guard lock(mutex);
                if ((has_value(std::get<Is>(picks)) && ...) && !dropping) {
                    output_type t(std::move(*std::get<Is>(picks).value)...);
                    ++groups;
                    propagate = output.push_locked(std::move(t), batch).propagate;
                } else if (!dropping) {
                    // a reserved source dropped its message (it faulted): keep what we took
                    (requeue_locked(std::get<Is>(inputs), std::get<Is>(picks)), ...);
                }
                last_group = made_last_group_locked();
            }
            batch.finish_all();
            if (propagate) {
                output.run_propagation();
            }
            if (last_group) {
                complete();
            }
        }
        check_finished(); // the loop ends only when no group can be made: the join may be done
    }
    template<typename T>
    void choose_locked(join_input<self, T>& in, pick<T>& p) {
        if (!in.queue.empty()) {
            p.queued = true;
        } else {
            p.offer.emplace(in.postponed.front());
        }
    }
    template<typename T>
    void add_reservation(join_input<self, T>& in,
                         pick<T>& p,
                         std::vector<std::pair<const void*, std::function<bool()>>>& order) {
        if (p.offer) {
            order.emplace_back(p.offer->source, [&in, &p] {
                p.reserved = p.offer->source->reserve(p.offer->id, in);
                return p.reserved;
            });
        }
    }
    template<typename T>
    void undo(join_input<self, T>& in, pick<T>& p) {
        if (!p.offer) {
            return;
        }
        if (p.reserved) {
            p.offer->source->release(p.offer->id, in);
        } else {
            std::lock_guard lock(mutex);
            in.forget_locked(p.offer->source, p.offer->id); // it moved on or is held elsewhere
        }
    }
    template<typename T>
    void take(join_input<self, T>& in, pick<T>& p) {
        if (p.offer) {
            p.value = p.offer->source->consume(p.offer->id, in);
            std::lock_guard lock(mutex);
            in.forget_locked(p.offer->source, p.offer->id);
        } else {
            std::lock_guard lock(mutex);
            if (!in.queue.empty()) {
                p.value.emplace(pop_front(in.queue));
            }
        }
    }
    template<typename T>
    static bool has_value(const pick<T>& p) {
        return p.value.has_value();
    }
    template<typename T>
    static void requeue_locked(join_input<self, T>& in, pick<T>& p) {
        if (p.value) {
            in.queue.push_front(std::move(*p.value));
        }
    }

    bool pulling_ = false; // guarded by mutex: a greedy pull job is scheduled or running
};

} // namespace weft::detail::dataflow
