// weft/sync/select.hpp — select: read from whichever of several channels has an item first,
// taking exactly one item (Go's select over receives; .NET has none: a WhenAny over
// ReadAsync calls loses the losers' items).
// Design note: the select arm protocol in weft/detail/sync/waiter.hpp (select_group, pop_live);
// docs/guide/channels.md "select".
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync/waiter.hpp>
#include <weft/scheduler.hpp>
#include <weft/sync/channel.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

/// What select() yields: the index of the arm that won (its channel's position in the call)
/// and that arm's read, an item or the end of its channel (an empty optional).
template<typename... T>
using select_result = std::variant<std::optional<T>...>;

namespace detail {

/// One select: its result state, the claim its arms race for, and the arms to withdraw once
/// it is decided.
template<typename... T>
class select_state final
    : public task_state<select_result<T...>>
    , public select_group {
    using result = select_result<T...>;

public:
    select_state() noexcept
        : task_state<result>(state_base::ops_of<&destroy, &cancel_hook>, 1, 1, state_base::st_pending) {
        this->set_hop_continuations();
    }

    /// Tries each channel once, starting at a rotating index (each arm wins its share when
    /// several are ready), then waits on all of them; the first to deliver claims the select.
    void start(const cancellation_token& token, channel<T>&... chs) {
        if (token.can_be_canceled()) {
            // no reference of its own: the state dies only once decided (every arm's
            // continuation holds one until then), and then the callback does nothing; the
            // destructor unregisters it before a member goes
            on_token_ = token.register_callback([this] {
                if (this->try_decide()) {
                    complete_canceled();
                }
            });
        }
        const std::size_t first = next_start() % sizeof...(T);
        for (std::size_t k = 0; k < sizeof...(T) && !decided(); ++k) {
            start_arm((first + k) % sizeof...(T), std::index_sequence_for<T...>{}, chs...);
        }
        withdraw_arms_if_decided();
    }

private:
    static void destroy(state_base* s) noexcept { delete down_cast<select_state>(down_cast<task_state<result>>(s)); }
    static void cancel_hook(state_base* s) noexcept {
        auto* self = down_cast<select_state>(down_cast<task_state<result>>(s));
        if (self->try_decide()) {
            self->complete_canceled();
        }
    }

    static std::uint32_t next_start() noexcept {
        static thread_local std::uint32_t n = 0;
        return n++;
    }

    bool decided() const noexcept { return this->raw_status() != state_base::st_pending || decided_.load(acquire); }

    template<std::size_t... I>
    void start_arm(std::size_t which, std::index_sequence<I...>, channel<T>&... chs) {
        ((I == which ? start_one<I>(chs) : void()), ...);
    }

    template<std::size_t I, typename U>
    void start_one(channel<U>& ch) {
        task<std::optional<U>> arm = ch.read_impl(cancellation_token{}, this);
        {
            std::lock_guard lock(mutex_);
            arms_.push_back(task_access::state(arm));
            arms_.back()->add_keeper();
        }
        this->add_keeper(); // the arm continuation's
        (void)arm.then(inline_scheduler{}, [this](task<std::optional<U>> t) noexcept { on_arm<I>(std::move(t)); });
    }

    /// Runs once per arm. A canceled arm lost (another arm, or the token, decided); any other
    /// outcome is the winner's: it claimed the select before its channel gave it anything.
    template<std::size_t I, typename U>
    void on_arm(task<std::optional<U>> t) noexcept {
        if (t.status() != task_status::canceled) {
            decided_.store(true, release);
            if (t.status() == task_status::succeeded) {
                std::optional<U> v = std::move(t).get();
                this->try_set_value(std::in_place_index<I>, std::move(v));
            } else {
                this->try_set_exception(task_access::state(t)->take_error());
            }
            withdraw_arms();
        }
        this->release_keeper(); // a lost arm (canceled) is nobody's error: nothing to observe
    }

    void complete_canceled() noexcept {
        decided_.store(true, release);
        this->try_set_canceled();
        withdraw_arms();
    }

    void withdraw_arms_if_decided() noexcept {
        if (decided()) {
            withdraw_arms();
        }
    }
    /// Asks every arm still waiting to leave its channel (it finishes canceled).
    void withdraw_arms() noexcept {
        std::vector<state_base*> arms;
        {
            std::lock_guard lock(mutex_);
            arms.swap(arms_);
        }
        for (state_base* a : arms) {
            a->request_cancel();
            a->release_keeper();
        }
    }

public:
    ~select_state() {
        on_token_.unregister();
        for (state_base* a : arms_) {
            a->release_keeper();
        }
    }

private:
    atomic<bool> decided_{false}; // order: acquire/release — a hint: stops start() early
    cancellation_registration on_token_;
    std::mutex mutex_;
    // --- guarded by mutex_ --------------------------------------------------------------
    std::vector<state_base*> arms_; // keeper refs: to withdraw the losers
};

} // namespace detail

/// Reads one item from whichever channel has one first, and only from that one: the other
/// arms take nothing (their waits are withdrawn). The result's index() is the winning arm; its
/// optional is empty when that channel ended (a completed channel is always ready: leave it
/// out of the next select). A channel completed with an error makes its arm fail the select
/// with that error. When several are ready at once, the arm tried first rotates, so each wins
/// its share. Canceled if `token` fires before any arm delivered (then nothing was taken).
template<typename... T>
    requires(sizeof...(T) >= 1)
[[nodiscard]] task<select_result<T...>> select(const cancellation_token& token, channel<T>&... chs) {
    auto* st = new detail::select_state<T...>();
    task<select_result<T...>> result = detail::task_access::adopt<select_result<T...>>(st);
    try {
        st->start(token, chs...);
    } catch (...) {
        st->release_keeper();
        throw;
    }
    st->release_keeper(); // the starter's
    return result;
}

template<typename... T>
    requires(sizeof...(T) >= 1)
[[nodiscard]] task<select_result<T...>> select(channel<T>&... chs) {
    return select(cancellation_token{}, chs...);
}

} // namespace weft
