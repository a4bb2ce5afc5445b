// weft/detail/dataflow/value_source.hpp — an output that holds one current value and offers a
// copy of it to every link (broadcast_block, write_once_block).
// Design note: weft/detail/dataflow/block_core.hpp (§1–§3). A newer value replaces the current
// one; a target that postponed an older value and consumes it later gets nothing (the newer
// one is offered to it instead): broadcast is latest-value, as .NET's BroadcastBlock.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/dataflow/single_input_core.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace weft::detail::dataflow {

template<typename T>
class value_source final : public source_port<T> {
public:
    /// `every`: each message to every link, kept until all links took it (back-pressure);
    /// otherwise latest-value.
    value_source(block_core& owner, std::function<T(const T&)> clone, bool every)
        : source_port<T>(owner)
        , every_(every)
        , clone_(std::move(clone)) {}

    // --- guarded by owner().mutex ---------------------------------------------------------
    std::deque<T> msgs;        ///< latest-value: at most one (the current value)
    std::uint64_t base_id = 0; ///< the id of msgs.front()
    bool offering = false;
    bool reoffer = false;
    /// Always false: a message a link's predicate rejects is skipped for that link, it never
    /// holds the others back (kept so block_handle::output_unmatched() works for every source).
    bool unmatched = false;
    link_list<T> links;
    waiter_list receivers;

    std::size_t count_locked() const noexcept { return msgs.size(); }
    bool every() const noexcept { return every_; }
    std::uint64_t end_id() const noexcept { return base_id + msgs.size(); }

    /// A new message; waiting receivers get copies. True: run the propagator.
    bool set_locked(T v, finish_batch& batch) {
        if (!every_ && !msgs.empty()) {
            msgs.clear(); // latest-value: the newer message replaces the current one
            ++base_id;
        }
        msgs.push_back(std::move(v));
        while (waiter_base* w = receivers.pop_front()) {
            static_cast<waiter<std::optional<T>>*>(w)->grant(std::in_place, copy(msgs.back()));
            batch.add(w);
        }
        return begin_offer_locked();
    }
    bool begin_offer_locked() noexcept {
        if (offering) {
            reoffer = true;
            return false;
        }
        if (msgs.empty() || links.links.empty()) {
            return false;
        }
        offering = true;
        return true;
    }
    /// The id this link is offered next (messages it missed in latest-value mode are skipped).
    std::uint64_t next_for(const link_record<T>& l) const noexcept { return l.cursor < base_id ? base_id : l.cursor; }

    /// Offers each link its next message until no link takes one (§3). Returns true when
    /// messages left the queue (room appeared).
    bool run_propagation() {
        block_core& c = this->owner();
        bool freed = false;
        for (;;) {
            {
                std::lock_guard lock(c.mutex);
                reoffer = false;
                scratch_.clear();
                if (!c.dropping) {
                    for (auto& l : links.links) {
                        std::uint64_t id = next_for(l);
                        while (id < end_id() && l.predicate && !l.predicate(msgs[id - base_id])) {
                            l.cursor = ++id; // filtered out for this link
                        }
                        if (id < end_id()) {
                            scratch_.push_back({l.key, l.target, l.keep, id});
                        }
                    }
                }
                freed = trim_locked() || freed;
                if (scratch_.empty()) {
                    offering = false;
                    return freed;
                }
            }
            bool progress = false;
            for (auto& cand : scratch_) {
                const offer_result r = cand.target->offer(*this, cand.id);
                std::optional<link_record<T>> gone;
                {
                    std::lock_guard lock(c.mutex);
                    if (r == offer_result::declined_permanently) {
                        gone = links.remove_locked(cand.key);
                        progress = true;
                    } else if (r == offer_result::accepted || r == offer_result::declined) {
                        // accepted: consume() moved the cursor; declined: skip it for this link
                        for (auto& l : links.links) {
                            if (l.key == cand.key && next_for(l) <= cand.id) {
                                l.cursor = cand.id + 1;
                            }
                        }
                        progress = true;
                        if (r == offer_result::accepted && !links.count_locked(cand.key)) {
                            gone = links.remove_locked(cand.key);
                        }
                    }
                }
                detach_link(c, gone);
            }
            std::lock_guard lock(c.mutex);
            if (!progress && !reoffer) {
                freed = trim_locked() || freed;
                offering = false;
                return freed;
            }
        }
    }

    std::optional<T> consume(std::uint64_t id, target_port<T>& by) override {
        std::optional<T> v;
        bool freed = false;
        bool restart = false;
        {
            std::lock_guard lock(this->owner().mutex);
            link_record<T>* l = link_of_locked(by);
            if (l == nullptr || this->owner().dropping || id != next_for(*l) || id >= end_id()) {
                return std::nullopt;
            }
            v.emplace(copy(msgs[id - base_id]));
            l->cursor = id + 1;
            freed = trim_locked();
            restart = begin_offer_locked();
        }
        if (freed) {
            this->owner().after_output_taken();
        }
        if (restart) {
            this->owner().post_job(job_kind::propagate);
        }
        return v;
    }
    bool reserve(std::uint64_t id, target_port<T>& by) override {
        std::lock_guard lock(this->owner().mutex);
        const link_record<T>* l = link_of_locked(by);
        return l != nullptr && !this->owner().dropping && id == next_for(*l) && id < end_id();
    }
    void release(std::uint64_t, target_port<T>&) override {}

    void drop_locked() noexcept {
        base_id += msgs.size();
        msgs.clear();
    }
    void end_receivers_locked(finish_batch& batch) noexcept { end_receivers<T>(this->owner(), receivers, batch); }

    /// A copy of the newest message, or a wait for the next one (the end: empty).
    task<std::optional<T>> receive(const cancellation_token& token) {
        block_core& c = this->owner();
        if (token.is_cancellation_requested()) {
            return canceled_task<std::optional<T>>();
        }
        {
            std::lock_guard lock(c.mutex);
            if (!msgs.empty()) {
                return ready_task<std::optional<T>>(copy(msgs.back()));
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
                if (!msgs.empty()) {
                    w.grant(std::in_place, copy(msgs.back()));
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
        if (msgs.empty()) {
            return std::nullopt;
        }
        return copy(msgs.back());
    }

    std::uint64_t link(target_port<T>& target, const link_options& o, std::function<bool(const T&)> predicate) {
        // latest-value: the current message; every-message: what arrives from now on, or all
        // that is held if this is the first link (nobody has seen those yet)
        return add_link(*this, make_link(target, o, std::move(predicate)), o.prepend, [this](link_record<T>& r) {
            r.cursor = !every_ || links.links.empty() ? base_id : end_id();
        });
    }
    bool unlink(std::uint64_t key) {
        return remove_link(*this, key, [this] { return trim_locked(); });
    }
    void unlink_all() { remove_all_links(*this); }

private:
    struct candidate {
        std::uint64_t key;
        target_port<T>* target;
        ref_ptr<block_core> keep;
        std::uint64_t id;
    };

    link_record<T>* link_of_locked(const target_port<T>& by) noexcept {
        for (auto& l : links.links) {
            if (l.target == &by) {
                return &l;
            }
        }
        return nullptr;
    }
    /// Every-message mode: drops the messages every link has taken. True if any left.
    bool trim_locked() {
        if (!every_ || links.links.empty()) {
            return false;
        }
        std::uint64_t low = end_id();
        for (const auto& l : links.links) {
            low = std::min(low, next_for(l));
        }
        bool freed = false;
        while (base_id < low) {
            msgs.pop_front();
            ++base_id;
            freed = true;
        }
        return freed;
    }
    T copy(const T& v) const { return clone_ ? clone_(v) : T(v); }

    const bool every_;
    std::function<T(const T&)> clone_;
    std::vector<candidate> scratch_; ///< the propagator's only
};

/// The core of broadcast_block (every value accepted) and write_once_block (the first only).
template<typename T>
class value_core final : public single_input_core<T, value_source<T>> {
public:
    using output_type = T;
    using base = single_input_core<T, value_source<T>>;
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

    value_core(any_scheduler s, std::function<T(const T&)> clone, bool once, const dataflow_options& o)
        : base(s, o, true, std::move(clone), !once && o.bounded_capacity != dataflow_options::unbounded)
        , once_(once) {}

    /// Latest-value: 0 (a newer message replaces the current one); every-message: the queue.
    std::size_t held_locked() const noexcept override { return output.every() ? output.msgs.size() : 0; }
    bool quiescent_locked() const noexcept override {
        return !output.offering && input.incoming == 0 && (!output.every() || output.msgs.empty());
    }
    std::size_t accept_locked(T&& v, finish_batch& batch) override {
        if (dropping || (once_ && !output.msgs.empty())) {
            return 0;
        }
        std::size_t what = output.set_locked(std::move(v), batch) ? 1 : 0;
        if (once_) {
            this->start_declining_locked(batch); // the block completes once the value is offered
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
    void run_job(job_kind kind) noexcept override {
        try {
            if (kind == job_kind::propagate) {
                if (output.run_propagation()) {
                    input.room_appeared();
                }
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
