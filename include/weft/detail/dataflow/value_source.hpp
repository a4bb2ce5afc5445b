// weft/detail/dataflow/value_source.hpp — an output that holds one current value and offers a
// copy of it to every link (broadcast_block, write_once_block).
// Design note: weft/detail/dataflow/block_core.hpp (§1–§3). A newer value replaces the current
// one; a target that postponed an older value and consumes it later gets nothing (the newer
// one is offered to it instead): broadcast is latest-value, as .NET's BroadcastBlock.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace weft::detail::dataflow {

template<typename T>
class value_source final : public source_port<T> {
public:
    value_source(block_core& owner, std::function<T(const T&)> clone)
        : source_port<T>(owner)
        , clone_(std::move(clone)) {}

    // --- guarded by owner().mutex ---------------------------------------------------------
    std::optional<T> current;
    std::uint64_t current_id = 0;
    bool offering = false;
    bool reoffer = false;
    bool unmatched = false;
    link_list<T> links;
    waiter_list receivers;

    std::size_t count_locked() const noexcept { return current ? 1 : 0; }

    /// Replaces the current value; waiting receivers get copies. True: run the propagator.
    bool set_locked(T v, finish_batch& batch) {
        current.emplace(std::move(v));
        ++current_id;
        while (waiter_base* w = receivers.pop_front()) {
            static_cast<waiter<std::optional<T>>*>(w)->grant(std::in_place, copy_locked());
            batch.add(w);
        }
        return begin_offer_locked();
    }
    bool begin_offer_locked() noexcept {
        if (offering) {
            reoffer = true;
            return false;
        }
        if (!current || links.links.empty()) {
            return false;
        }
        offering = true;
        return true;
    }
    /// Offers the current value once to every link; again if it changed meanwhile.
    void run_propagation() {
        block_core& c = this->owner();
        for (;;) {
            std::uint64_t id = 0;
            {
                std::lock_guard lock(c.mutex);
                reoffer = false;
                if (!current || links.links.empty() || c.dropping) {
                    offering = false;
                    return;
                }
                id = current_id;
                scratch_.clear();
                for (const auto& l : links.links) {
                    if (!l.predicate || l.predicate(*current)) {
                        scratch_.push_back({l.key, l.target, l.keep});
                    }
                }
                unmatched = scratch_.empty();
            }
            for (auto& cand : scratch_) {
                const offer_result r = cand.target->offer(*this, id);
                std::optional<link_record<T>> gone;
                if (r == offer_result::accepted || r == offer_result::declined_permanently) {
                    std::lock_guard lock(c.mutex);
                    if (r == offer_result::declined_permanently || !links.count_locked(cand.key)) {
                        gone = links.remove_locked(cand.key);
                    }
                }
                detach_link(c, gone);
            }
            scratch_.clear();
            std::lock_guard lock(c.mutex);
            if (!reoffer) {
                offering = false;
                return;
            }
        }
    }

    std::optional<T> consume(std::uint64_t id, target_port<T>&) override {
        std::lock_guard lock(this->owner().mutex);
        if (!current || id != current_id || this->owner().dropping) {
            return std::nullopt;
        }
        return copy_locked();
    }
    bool reserve(std::uint64_t id, target_port<T>&) override {
        std::lock_guard lock(this->owner().mutex);
        return current && id == current_id && !this->owner().dropping;
    }
    void release(std::uint64_t, target_port<T>&) override {}

    void drop_locked() noexcept { current.reset(); }
    void end_receivers_locked(finish_batch& batch) noexcept {
        const std::exception_ptr error = this->owner().completion_error_locked();
        while (waiter_base* w = receivers.pop_front()) {
            auto* r = static_cast<waiter<std::optional<T>>*>(w);
            if (error) {
                r->fail(error, this->owner().completion_status_locked());
            } else {
                r->grant(std::nullopt);
            }
            batch.add(w);
        }
    }

    /// A copy of the current value, or a wait for the next one (the end: empty).
    task<std::optional<T>> receive(const cancellation_token& token) {
        block_core& c = this->owner();
        if (token.is_cancellation_requested()) {
            return canceled_task<std::optional<T>>();
        }
        {
            std::lock_guard lock(c.mutex);
            if (current) {
                return ready_task<std::optional<T>>(copy_locked());
            }
            if (c.finished) {
                if (std::exception_ptr e = c.completion_error_locked()) {
                    return failed_task<std::optional<T>>(e, c.completion_status_locked());
                }
                return ready_task<std::optional<T>>(std::nullopt);
            }
        }
        return wait_slow<std::optional<T>>(
            c, receivers, {token, {}}, [this, &c](waiter<std::optional<T>>& w, finish_batch&) {
                if (current) {
                    w.grant(std::in_place, copy_locked());
                    return true;
                }
                if (!c.finished) {
                    return false;
                }
                if (std::exception_ptr e = c.completion_error_locked()) {
                    w.fail(e, c.completion_status_locked());
                } else {
                    w.grant(std::nullopt);
                }
                return true;
            });
    }
    std::optional<T> try_receive() {
        std::lock_guard lock(this->owner().mutex);
        if (!current) {
            return std::nullopt;
        }
        return copy_locked();
    }

    std::uint64_t link(target_port<T>& target, const link_options& o, std::function<bool(const T&)> predicate) {
        if (o.max_messages == 0) {
            throw std::invalid_argument("weft: link_to with max_messages of 0");
        }
        block_core& c = this->owner();
        link_record<T> r;
        r.target = &target;
        r.keep = ref_ptr<block_core>(&target.owner());
        r.predicate = std::move(predicate);
        r.remaining = o.max_messages;
        r.propagates = o.propagate_completion;
        if (o.propagate_completion) {
            c.add_sink(r.keep);
        }
        std::uint64_t key = 0;
        bool start = false;
        {
            std::lock_guard lock(c.mutex);
            key = links.add_locked(std::move(r), o.prepend);
            start = begin_offer_locked();
        }
        if (start) {
            c.post_job(job_kind::propagate);
        }
        return key;
    }
    bool unlink(std::uint64_t key) {
        std::optional<link_record<T>> gone;
        {
            std::lock_guard lock(this->owner().mutex);
            gone = links.remove_locked(key);
        }
        detach_link(this->owner(), gone);
        return gone.has_value();
    }
    void unlink_all() {
        std::vector<link_record<T>> all;
        {
            std::lock_guard lock(this->owner().mutex);
            all.swap(links.links);
        }
        for (auto& l : all) {
            std::optional<link_record<T>> gone(std::move(l));
            detach_link(this->owner(), gone);
        }
    }

private:
    T copy_locked() const { return clone_ ? clone_(*current) : T(*current); }

    std::function<T(const T&)> clone_;
    std::vector<offer_candidate<T>> scratch_; ///< the propagator's only
};

/// The core of broadcast_block (every value accepted) and write_once_block (the first only).
template<typename T>
class value_core final
    : public block_core
    , public input_host<T> {
public:
    using input_type = T;
    using output_type = T;

    value_core(any_scheduler s, std::function<T(const T&)> clone, bool once, const dataflow_options& o)
        : block_core(s, o)
        , input(*this, *this)
        , output(*this, std::move(clone))
        , once_(once) {}

    queue_target<T> input;
    value_source<T> output;

    std::size_t held_locked() const noexcept override { return 0; } // a newer value replaces the old
    bool quiescent_locked() const noexcept override { return !output.offering && input.incoming == 0; }
    std::size_t accept_locked(T&& v, finish_batch& batch) override {
        if (dropping || (once_ && output.current)) {
            return 0;
        }
        std::size_t what = output.set_locked(std::move(v), batch) ? 1 : 0;
        if (once_) {
            declining = true; // the block completes once the value is offered
            input.decline_all_locked(batch);
            what |= 2;
        }
        return what;
    }
    void start_jobs(std::size_t what) override {
        if ((what & 1) != 0) {
            post_job(job_kind::propagate);
        }
        if ((what & 2) != 0) {
            check_finished();
        }
    }
    void drop_locked(finish_batch& batch) noexcept override {
        output.drop_locked();
        input.decline_all_locked(batch);
    }
    void on_declining_locked(finish_batch& batch) noexcept override { input.decline_all_locked(batch); }
    void on_finished_locked(finish_batch& batch) noexcept override { output.end_receivers_locked(batch); }
    void unlink_outputs() override { output.unlink_all(); }
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                output.run_propagation();
                check_finished();
            } else if (kind == job_kind::pull) {
                input.pull();
            }
        } catch (...) {
            fault_noexcept(std::current_exception());
        }
    }

private:
    const bool once_;
};

} // namespace weft::detail::dataflow
