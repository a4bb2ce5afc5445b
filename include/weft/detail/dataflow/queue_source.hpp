// weft/detail/dataflow/queue_source.hpp — a block's output as a FIFO of messages: the links,
// the propagator and the receivers (buffer, transform, transform_many, batch, join).
// Design note: weft/detail/dataflow/block_core.hpp (§1–§3, §5).
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/dataflow/block_core.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft::detail::dataflow {

/// One link of a source: its target, its filter and what is left of its message budget.
template<typename T>
struct link_record {
    std::uint64_t key = 0;
    target_port<T>* target = nullptr;
    ref_ptr<block_core> keep; ///< the target's core stays alive while linked
    std::function<bool(const T&)> predicate;
    std::size_t remaining = 0;
    bool propagates = false;
    std::uint64_t cursor = 0; ///< a value_source's next message for this link
};

/// The links of a source and the bookkeeping shared by every kind of output. Guarded by the
/// owner's mutex.
template<typename T>
class link_list {
public:
    std::vector<link_record<T>> links;
    std::uint64_t next_key = 1;

    std::uint64_t add_locked(link_record<T> r, bool prepend) {
        r.key = next_key++;
        const std::uint64_t key = r.key;
        if (prepend) {
            links.insert(links.begin(), std::move(r));
        } else {
            links.push_back(std::move(r));
        }
        return key;
    }
    /// Takes the link out; the caller detaches its completion sink outside the lock.
    std::optional<link_record<T>> remove_locked(std::uint64_t key) {
        for (auto it = links.begin(); it != links.end(); ++it) {
            if (it->key == key) {
                link_record<T> r = std::move(*it);
                links.erase(it);
                return r;
            }
        }
        return std::nullopt;
    }
    /// One message went through `key`: false once its budget is spent (then remove it).
    bool count_locked(std::uint64_t key) {
        for (auto& l : links) {
            if (l.key == key) {
                return l.remaining == link_options::unbounded || --l.remaining > 0;
            }
        }
        return true;
    }
};

/// Detaches a removed link's completion sink (lock not held).
template<typename T>
void detach_link(block_core& source, std::optional<link_record<T>>& removed) {
    if (removed && removed->propagates && source.remove_sink(removed->keep.get())) {
        removed->keep->detach_completion_source();
    }
}

/// The link record link_to() makes (§1); max_messages 0 is std::invalid_argument.
template<typename T>
link_record<T> make_link(target_port<T>& target, const link_options& o, std::function<bool(const T&)> predicate) {
    if (o.max_messages == 0) {
        throw std::invalid_argument("weft: link_to with max_messages of 0");
    }
    link_record<T> r;
    r.target = &target;
    r.keep = ref_ptr<block_core>(&target.owner());
    r.predicate = std::move(predicate);
    r.remaining = o.max_messages;
    r.propagates = o.propagate_completion;
    return r;
}

/// Adds `r` to `source`'s links and starts its propagator if it can offer now. `Source` has
/// owner(), `links` and begin_offer_locked(); `prepare_locked(r)` runs under the lock first.
template<typename Source, typename T, typename Prepare>
std::uint64_t add_link(Source& source, link_record<T> r, bool prepend, Prepare prepare_locked) {
    block_core& c = source.owner();
    if (r.propagates) {
        c.add_sink(r.keep); // told at once if the source finished already
    }
    std::uint64_t key = 0;
    bool start = false;
    {
        std::lock_guard lock(c.mutex);
        prepare_locked(r);
        key = source.links.add_locked(std::move(r), prepend);
        start = source.begin_offer_locked();
    }
    if (start) {
        c.post_job(job_kind::propagate);
    }
    return key;
}

/// Removes the link `key` of `source`; false if it was gone. `after_locked()` runs under the
/// lock after the removal and says whether messages left (then the block has room).
template<typename Source, typename After>
bool remove_link(Source& source, std::uint64_t key, After after_locked) {
    block_core& c = source.owner();
    bool freed = false;
    auto gone = [&] {
        std::lock_guard lock(c.mutex);
        auto removed = source.links.remove_locked(key);
        freed = after_locked();
        return removed;
    }();
    detach_link(c, gone);
    if (freed) {
        c.after_output_taken();
    }
    return gone.has_value();
}

/// Removes every link of `source` (the block's handle is destroyed).
template<typename Source>
void remove_all_links(Source& source) {
    block_core& c = source.owner();
    decltype(source.links.links) all;
    {
        std::lock_guard lock(c.mutex);
        all.swap(source.links.links);
    }
    for (auto& l : all) {
        std::optional<std::remove_reference_t<decltype(l)>> gone(std::move(l));
        detach_link(c, gone);
    }
}

/// The block finished: every receive() waiting on `receivers` ends (empty, or the block's
/// error). Under the lock.
template<typename T>
void end_receivers(const block_core& c, waiter_list& receivers, finish_batch& batch) noexcept {
    const std::exception_ptr error = c.completion_error_locked();
    while (waiter_base* w = receivers.pop_front()) {
        auto* r = static_cast<waiter<std::optional<T>>*>(w);
        if (error) {
            r->fail(error, c.completion_status_locked());
        } else {
            r->grant(std::nullopt);
        }
        batch.add(w);
    }
}

/// A target the propagator offers the head to: taken under the lock, used without it.
template<typename T>
struct offer_candidate {
    std::uint64_t key;
    target_port<T>* target;
    ref_ptr<block_core> keep;
    bool limited; ///< the link has a max_messages budget to count
};

/// A FIFO output (§1–§3). Everything but the propagator runs under the owner's lock as noted.
template<typename T>
class queue_source final : public source_port<T> {
public:
    explicit queue_source(block_core& owner) : source_port<T>(owner) {}

    // --- guarded by owner().mutex ---------------------------------------------------------
    std::deque<T> queue;
    std::uint64_t head_id = 0;             ///< the id of queue.front()
    target_port<T>* reserved_by = nullptr; ///< §5: the head is held for this target
    bool offering = false;                 ///< the propagator runs (§3)
    bool reoffer = false;                  ///< something changed while it ran
    bool unmatched = false;                ///< the head matched no link's predicate
    link_list<T> links;
    waiter_list receivers; ///< receive() calls waiting for a message

    /// What the block does after push_locked(), with the lock released.
    struct pushed {
        bool propagate = false; ///< run the propagator (run_propagation(), inline or as a job)
        bool served = false;    ///< a waiting receiver took a message: call after_output_taken()
    };
    /// Appends a message, handing it to a waiting receiver first. Under the lock.
    pushed push_locked(T v, finish_batch& batch) {
        queue.push_back(std::move(v));
        pushed p;
        p.served = serve_receivers_locked(batch);
        p.propagate = begin_offer_locked();
        return p;
    }
    /// True if the caller is now the propagator and must run it. Under the lock.
    bool begin_offer_locked() noexcept {
        if (offering) {
            reoffer = true;
            return false;
        }
        if (queue.empty() || links.links.empty() || reserved_by != nullptr) {
            return false;
        }
        offering = true;
        return true;
    }

    /// The propagator (§3). Lock not held; only the thread that won begin_offer_locked().
    void run_propagation() {
        block_core& c = this->owner();
        std::unique_lock lock(c.mutex);
        for (;;) {
            reoffer = false;
            if (queue.empty() || links.links.empty() || reserved_by != nullptr || c.dropping) {
                offering = false;
                return;
            }
            const std::uint64_t id = head_id;
            scratch_.clear();
            for (const auto& l : links.links) {
                if (!l.predicate || l.predicate(queue.front())) {
                    scratch_.push_back({l.key, l.target, l.keep, l.remaining != link_options::unbounded});
                }
            }
            unmatched = scratch_.empty();
            lock.unlock();
            bool taken = false;
            for (auto& cand : scratch_) {
                const offer_result r = cand.target->offer(*this, id);
                if (r == offer_result::accepted) {
                    taken = true;
                    if (cand.limited) {
                        std::optional<link_record<T>> spent;
                        {
                            std::lock_guard relock(c.mutex);
                            if (!links.count_locked(cand.key)) {
                                spent = links.remove_locked(cand.key);
                            }
                        }
                        detach_link(c, spent);
                    }
                    break;
                }
                if (r == offer_result::declined_permanently) {
                    std::optional<link_record<T>> gone;
                    {
                        std::lock_guard relock(c.mutex);
                        gone = links.remove_locked(cand.key);
                    }
                    detach_link(c, gone);
                }
            }
            scratch_.clear();
            lock.lock();
            if (!taken && !reoffer && (queue.empty() || head_id == id)) {
                offering = false; // every target postponed or declined the head: it waits
                return;
            }
        }
    }

    std::optional<T> consume(std::uint64_t id, target_port<T>& by) override {
        block_core& c = this->owner();
        std::optional<T> v;
        bool restart = false;
        {
            std::lock_guard lock(c.mutex);
            if (c.dropping || queue.empty() || head_id != id || (reserved_by != nullptr && reserved_by != &by)) {
                return std::nullopt;
            }
            v.emplace(pop_locked());
            restart = begin_offer_locked();
        }
        c.after_output_taken();
        if (restart) {
            c.post_job(job_kind::propagate); // a consume from outside the propagator (§3)
        }
        return v;
    }
    bool reserve(std::uint64_t id, target_port<T>& by) override {
        std::lock_guard lock(this->owner().mutex);
        if (this->owner().dropping || queue.empty() || head_id != id || reserved_by != nullptr) {
            return false;
        }
        reserved_by = &by;
        return true;
    }
    void release(std::uint64_t id, target_port<T>& by) override {
        bool restart = false;
        {
            std::lock_guard lock(this->owner().mutex);
            if (reserved_by != &by || head_id != id) {
                return;
            }
            reserved_by = nullptr;
            restart = begin_offer_locked();
        }
        if (restart) {
            this->owner().post_job(job_kind::propagate);
        }
    }

    std::size_t count_locked() const noexcept { return queue.size(); }

    /// Pops the head. Under the lock.
    T pop_locked() {
        T v = std::move(queue.front());
        queue.pop_front();
        ++head_id;
        reserved_by = nullptr;
        this->owner().on_output_taken_locked();
        return v;
    }

    /// Hands buffered messages to waiting receivers. Under the lock.
    bool serve_receivers_locked(finish_batch& batch) {
        bool served = false;
        while (!queue.empty() && reserved_by == nullptr && !receivers.empty()) {
            waiter_base* w = receivers.pop_front();
            static_cast<waiter<std::optional<T>>*>(w)->grant(std::in_place, pop_locked());
            batch.add(w);
            served = true;
        }
        return served;
    }
    void end_receivers_locked(finish_batch& batch) noexcept { end_receivers<T>(this->owner(), receivers, batch); }
    /// Fault or cancel: the buffered messages are gone. Under the lock.
    void drop_locked() noexcept {
        head_id += queue.size();
        queue.clear();
        reserved_by = nullptr;
    }

    /// receive(): the head now, the end, or a wait. Lock not held.
    task<std::optional<T>> receive(const cancellation_token& token) {
        block_core& c = this->owner();
        if (token.is_cancellation_requested()) {
            return canceled_task<std::optional<T>>();
        }
        std::optional<task<std::optional<T>>> now;
        {
            std::lock_guard lock(c.mutex);
            now = receive_now_locked();
        }
        if (now) {
            c.after_output_taken();
            return std::move(*now);
        }
        task<std::optional<T>> t = wait_slow<std::optional<T>>(
            c, receivers, {token, {}}, [this, &c](waiter<std::optional<T>>& w, finish_batch&) {
                if ((queue.empty() || reserved_by != nullptr) && !c.finished) {
                    return false;
                }
                settle_receiver_locked(w);
                return true;
            });
        c.after_output_taken(); // the wait may have taken a message that arrived meanwhile
        return t;
    }
    std::optional<T> try_receive() {
        block_core& c = this->owner();
        std::optional<T> v;
        {
            std::lock_guard lock(c.mutex);
            if (queue.empty() || reserved_by != nullptr) {
                return std::nullopt;
            }
            v.emplace(pop_locked());
        }
        c.after_output_taken();
        return v;
    }

    /// Links `target` (§1). Lock not held.
    std::uint64_t link(target_port<T>& target, const link_options& o, std::function<bool(const T&)> predicate) {
        return add_link(*this, make_link(target, o, std::move(predicate)), o.prepend, [](link_record<T>&) {});
    }
    /// Removes the link `key`; false if it was gone (spent, declined permanently, unlinked).
    bool unlink(std::uint64_t key) {
        return remove_link(*this, key, [] { return false; });
    }
    /// Every link goes (the block's handle is destroyed).
    void unlink_all() { remove_all_links(*this); }

private:
    /// A ready outcome for receive() if there is one now. Under the lock.
    std::optional<task<std::optional<T>>> receive_now_locked() {
        block_core& c = this->owner();
        if (!queue.empty() && reserved_by == nullptr) {
            return ready_task<std::optional<T>>(pop_locked());
        }
        if (c.finished) {
            if (std::exception_ptr e = c.completion_error_locked()) {
                return failed_task<std::optional<T>>(e, c.completion_status_locked());
            }
            return ready_task<std::optional<T>>(std::nullopt);
        }
        return std::nullopt;
    }
    void settle_receiver_locked(waiter<std::optional<T>>& w) {
        block_core& c = this->owner();
        if (!queue.empty() && reserved_by == nullptr) {
            w.grant(std::in_place, pop_locked());
        } else if (std::exception_ptr e = c.completion_error_locked()) {
            w.fail(e, c.completion_status_locked());
        } else {
            w.grant(std::nullopt);
        }
    }

    std::vector<offer_candidate<T>> scratch_; ///< the propagator's only (§3)
};

} // namespace weft::detail::dataflow
