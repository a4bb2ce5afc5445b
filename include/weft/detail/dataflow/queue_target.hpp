// weft/detail/dataflow/queue_target.hpp — a block's input: offers taken or postponed, post()
// and send(), and the pull that takes postponed offers up when room appears.
// Design note: weft/detail/dataflow/block_core.hpp (§1, §2, §4).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/dataflow/block_core.hpp>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace weft::detail::dataflow {

/// What a block does with accepted input; implemented by the block's core.
template<typename T>
class input_host {
public:
    /// Messages the block holds now (counted against bounded_capacity). Under the lock.
    virtual std::size_t held_locked() const noexcept = 0;
    /// Takes one accepted message; returns the jobs to start once the lock is released.
    virtual std::size_t accept_locked(T&& v, finish_batch& batch) = 0;
    /// Starts `n` jobs (bodies or the propagator). Lock not held.
    virtual void start_jobs(std::size_t n) = 0;
    /// A non-greedy input postponed an offer (a group may be possible now). Lock not held.
    virtual void offer_postponed() {}

protected:
    ~input_host() = default;
};

/// An offer this input postponed: the source's head when it was offered (§4).
template<typename T>
struct postponed_offer {
    source_port<T>* source;
    ref_ptr<block_core> keep;
    std::uint64_t id;
};

/// The input of a single-input block (§4).
template<typename T>
class queue_target final : public target_port<T> {
public:
    /// `greedy` false: every offer is postponed; the host takes them in groups (§5).
    queue_target(block_core& owner, input_host<T>& host, bool greedy = true)
        : target_port<T>(owner)
        , host_(&host)
        , greedy_(greedy) {}

    using sender = waiter<bool, std::optional<T>>;

    // --- guarded by owner().mutex ---------------------------------------------------------
    std::deque<postponed_offer<T>> postponed; ///< one per source, oldest first
    waiter_list senders;                      ///< send() calls waiting for room
    std::size_t incoming = 0;                 ///< slots reserved for consumes in flight
    bool pulling = false;                     ///< a pull job is scheduled or running
    bool senders_first = true;                ///< the pull alternates senders and offers

    bool has_room_locked() const noexcept {
        const std::size_t cap = this->owner().options.bounded_capacity;
        return cap == dataflow_options::unbounded || host_->held_locked() + incoming < cap;
    }

    offer_result offer(source_port<T>& from, std::uint64_t id) override {
        block_core& c = this->owner();
        {
            std::lock_guard lock(c.mutex);
            if (c.declining) {
                return offer_result::declined_permanently;
            }
            if (!greedy_ || !has_room_locked()) {
                postpone_locked(from, id);
                if (greedy_) {
                    return offer_result::postponed;
                }
            } else {
                ++incoming;
            }
        }
        if (!greedy_) {
            host_->offer_postponed();
            return offer_result::postponed;
        }
        return take_from(from, id) ? offer_result::accepted : offer_result::declined;
    }

    /// post(): accepted now or refused (full, or declining).
    bool post(T v) {
        block_core& c = this->owner();
        finish_batch batch;
        std::size_t jobs = 0;
        {
            std::lock_guard lock(c.mutex);
            if (c.declining || !has_room_locked()) {
                return false;
            }
            jobs = host_->accept_locked(std::move(v), batch);
        }
        batch.finish_all();
        host_->start_jobs(jobs);
        return true;
    }

    /// send(): true once accepted (waiting for room), false if the block declines it.
    task<bool> send(T v, const cancellation_token& token) {
        block_core& c = this->owner();
        if (token.is_cancellation_requested()) {
            return canceled_task<bool>();
        }
        finish_batch batch;
        std::size_t jobs = 0;
        {
            std::lock_guard lock(c.mutex);
            if (c.declining) {
                return ready_task<bool>(false);
            }
            if (has_room_locked() && senders.empty()) {
                jobs = host_->accept_locked(std::move(v), batch);
            } else {
                jobs = dataflow_options::unbounded;
            }
        }
        if (jobs != dataflow_options::unbounded) {
            batch.finish_all();
            host_->start_jobs(jobs);
            return ready_task<bool>(true);
        }
        task<bool> t = wait_slow<bool, std::optional<T>>(
            c,
            senders,
            {token, {}},
            [&c](sender& w, finish_batch&) {
                if (c.declining) {
                    w.grant(false);
                    return true;
                }
                return false; // room is handed out by the pull, in order
            },
            [&v](sender& w) { w.payload.emplace(std::move(v)); });
        {
            std::lock_guard lock(c.mutex);
            note_waiting_locked(); // the sender is queued (or finished) now
        }
        room_appeared(); // room may have appeared before the sender was queued
        return t;
    }

    /// Called after the block's holdings shrank. Lock not held.
    void room_appeared() {
        block_core& c = this->owner();
        // order: acquire — pairs with the release in note_waiting_locked(). A postponement made
        //        after our change saw the room and was accepted instead; one made before it is
        //        visible here.
        if (waiting_.load(acquire) == 0) {
            return;
        }
        {
            std::lock_guard lock(c.mutex);
            if (pulling || c.declining || (pullable_empty_locked() && senders.empty()) || !has_room_locked()) {
                return;
            }
            pulling = true;
        }
        c.post_job(job_kind::pull);
    }

    /// The pull job (§4): takes waiting sends and postponed offers while there is room.
    void pull() {
        block_core& c = this->owner();
        for (;;) {
            finish_batch batch;
            std::size_t jobs = 0;
            std::optional<postponed_offer<T>> next;
            {
                std::lock_guard lock(c.mutex);
                if (c.declining || !has_room_locked() || (pullable_empty_locked() && senders.empty())) {
                    pulling = false;
                    return;
                }
                const bool take_sender = !senders.empty() && (senders_first || pullable_empty_locked());
                senders_first = !senders_first;
                if (take_sender) {
                    auto* w = static_cast<sender*>(senders.pop_front());
                    jobs = host_->accept_locked(std::move(*w->payload), batch);
                    w->grant(true);
                    batch.add(w);
                } else {
                    next.emplace(std::move(postponed.front()));
                    postponed.pop_front();
                    ++incoming;
                }
                note_waiting_locked();
            }
            batch.finish_all();
            host_->start_jobs(jobs);
            if (next) {
                take_from(*next->source, next->id); // gone: its source offers its new head again
            }
        }
    }

    /// The block stops accepting: waiting sends return false; postponed offers are forgotten
    /// (their messages stay at their sources). Under the lock.
    void decline_all_locked(finish_batch& batch) noexcept {
        while (waiter_base* w = senders.pop_front()) {
            static_cast<sender*>(w)->grant(false);
            batch.add(w);
        }
        postponed.clear();
        note_waiting_locked();
    }

    /// No postponed offer the pull may take: a non-greedy input's offers are the host's (§5).
    bool pullable_empty_locked() const noexcept { return !greedy_ || postponed.empty(); }

    /// Forgets the offer of `from` if it is still `id`. Under the lock.
    void forget_locked(const source_port<T>* from, std::uint64_t id) noexcept {
        for (auto it = postponed.begin(); it != postponed.end(); ++it) {
            if (it->source == from && it->id == id) {
                postponed.erase(it);
                note_waiting_locked();
                return;
            }
        }
    }

    /// Publishes how many offers and sends wait (room_appeared() reads it without the lock).
    void note_waiting_locked() noexcept {
        waiting_.store(postponed.size() + senders.size(), release); // order: release — see room_appeared()
    }

private:
    void postpone_locked(source_port<T>& from, std::uint64_t id) {
        for (auto& p : postponed) {
            if (p.source == &from) {
                p.id = id; // the source moved on: its new head
                return;
            }
        }
        postponed.push_back({&from, ref_ptr<block_core>(&from.owner()), id});
        note_waiting_locked();
    }

    /// Consumes `id` from `from` into the block; a slot was reserved (incoming). Lock not held.
    /// Under intake_: a consume and its enqueue are one step, so two intakes (an offer and a
    /// pull) cannot take a source's messages in one order and queue them in the other.
    bool take_from(source_port<T>& from, std::uint64_t id) {
        block_core& c = this->owner();
        finish_batch batch;
        std::size_t jobs = 0;
        std::unique_lock intake(intake_);
        std::optional<T> v = from.consume(id, *this);
        {
            std::lock_guard lock(c.mutex);
            --incoming;
            if (v) {
                jobs = host_->accept_locked(std::move(*v), batch);
            }
        }
        intake.unlock();
        batch.finish_all();
        if (v) {
            host_->start_jobs(jobs);
        }
        // The reserved slot may have been the last thing a declining block waited for: a lost
        // consume, or a message a canceled or faulted block dropped on arrival. (Checking only
        // for the lost consume left a block canceled mid-intake unfinished for ever.)
        c.check_finished();
        return v.has_value();
    }

    input_host<T>* host_;
    const bool greedy_;
    /// Serializes consume + enqueue (take_from). Taken before a source's lock, never while this
    /// block's mutex is held, and nothing taken under it takes another intake: no cycle (§2).
    std::mutex intake_;
    atomic<std::size_t> waiting_{0}; ///< postponed.size() + senders.size()
};

} // namespace weft::detail::dataflow
