// weft/sync/select.hpp — select: of several channel reads and writes, do the first that can
// be done and only that one (Go's select; .NET has none: a WhenAny over ReadAsync calls loses
// the losers' items).
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
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

/// What a select over reads only yields: the index of the arm that won (its channel's position
/// in the call) and that arm's read, an item or the end of its channel (an empty optional).
template<typename... T>
using select_result = std::variant<std::optional<T>...>;

/// What a select's write arm yields when it won: its item is in the channel.
struct sent {
    friend bool operator==(sent, sent) noexcept { return true; }
};

/// A select arm that reads from `ch` (a channel passed to select() as it is reads too).
template<typename T>
struct read_arm {
    using result = std::optional<T>;
    channel<T>* ch;
};

/// A select arm that writes `item` into `ch`. The item stays the caller's: it is moved from
/// only if this arm wins, so it must live until the select completes (co_await it in place).
template<typename T>
struct write_arm {
    using result = sent;
    channel<T>* ch;
    T* item;
};

template<typename T>
read_arm<T> on_read(channel<T>& ch) noexcept {
    return {&ch};
}

/// A write arm for select(). Throws std::invalid_argument on a channel of capacity 0: a
/// rendezvous would have to decide two selects at once (weft's select decides one).
template<typename T>
write_arm<T> on_write(channel<T>& ch, T& item) {
    if (ch.capacity() == 0) {
        throw std::invalid_argument("weft: a select write arm needs a buffered channel (capacity >= 1)");
    }
    return {&ch, &item};
}

namespace detail {

template<typename A>
struct arm_of;
template<typename T>
struct arm_of<channel<T>> {
    using type = read_arm<T>;
    static type make(channel<T>& ch) noexcept { return {&ch}; }
};
template<typename T>
struct arm_of<read_arm<T>> {
    using type = read_arm<T>;
    static type make(read_arm<T> a) noexcept { return a; }
};
template<typename T>
struct arm_of<write_arm<T>> {
    using type = write_arm<T>;
    static type make(write_arm<T> a) noexcept { return a; }
};
template<typename A>
using arm_t = typename arm_of<std::remove_cvref_t<A>>::type;

/// One select: its result state, the claim its arms race for, and the arms to withdraw once
/// it is decided.
template<typename... Arm>
class select_state final
    : public task_state<std::variant<typename Arm::result...>>
    , public select_group {
    using result = std::variant<typename Arm::result...>;

public:
    select_state() noexcept
        : task_state<result>(state_base::ops_of<&destroy, &cancel_hook>, 1, 1, state_base::st_pending) {
        this->set_hop_continuations();
    }

    /// Tries each channel once, starting at a rotating index (each arm wins its share when
    /// several are ready), then waits on all of them; the first to deliver claims the select.
    void start(const cancellation_token& token, Arm... arms) {
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
        const std::size_t first = next_start() % sizeof...(Arm);
        for (std::size_t k = 0; k < sizeof...(Arm) && !decided(); ++k) {
            start_arm((first + k) % sizeof...(Arm), std::index_sequence_for<Arm...>{}, arms...);
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
    void start_arm(std::size_t which, std::index_sequence<I...>, Arm... arms) {
        ((I == which ? start_one<I>(arms) : void()), ...);
    }

    template<std::size_t I, typename U>
    void start_one(read_arm<U> a) {
        watch<I>(a.ch->read_impl(cancellation_token{}, this));
    }
    template<std::size_t I, typename U>
    void start_one(write_arm<U> a) {
        watch<I>(a.ch->write_impl(cancellation_token{}, this, *a.item, true));
    }

    template<std::size_t I, typename R>
    void watch(task<R> arm) {
        {
            std::lock_guard lock(mutex_);
            arms_.push_back(task_access::state(arm));
            arms_.back()->add_keeper();
        }
        this->add_keeper(); // the arm continuation's
        (void)arm.then(inline_scheduler{}, [this](task<R> t) noexcept { on_arm<I>(std::move(t)); });
    }

    /// Runs once per arm. A canceled arm lost (another arm, or the token, decided); any other
    /// outcome is the winner's: it claimed the select before its channel took or gave anything.
    template<std::size_t I, typename R>
    void on_arm(task<R> t) noexcept {
        if (t.status() != task_status::canceled) {
            decided_.store(true, release);
            if (t.status() == task_status::succeeded) {
                if constexpr (std::is_void_v<R>) {
                    this->try_set_value(std::in_place_index<I>, sent{});
                } else {
                    R v = std::move(t).get();
                    this->try_set_value(std::in_place_index<I>, std::move(v));
                }
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

/// Does the first of its arms that can be done, and only that one: a read (a channel, or
/// on_read(ch)) takes one item, a write (on_write(ch, item)) puts its item in; every other arm
/// takes and writes nothing (their waits are withdrawn). The result's index() is the winning
/// arm's position in the call: a read's optional is empty when that channel ended (a completed
/// channel is always ready: leave it out of the next select); a write's is `sent`. A channel
/// completed with an error fails the select with it from a read arm; a write arm on a
/// completed channel fails it with channel_closed (its item stays the caller's). When several
/// are ready at once, the arm tried first rotates, so each wins its share. Canceled if `token`
/// fires before any arm was done (then nothing was taken or written).
template<typename... A>
    requires(sizeof...(A) >= 1)
[[nodiscard]] task<std::variant<typename detail::arm_t<A>::result...>> select(const cancellation_token& token,
                                                                              A&&... arms) {
    using result = std::variant<typename detail::arm_t<A>::result...>;
    auto* st = new detail::select_state<detail::arm_t<A>...>();
    task<result> out = detail::task_access::adopt<result>(st);
    try {
        st->start(token, detail::arm_of<std::remove_cvref_t<A>>::make(arms)...);
    } catch (...) {
        st->release_keeper();
        throw;
    }
    st->release_keeper(); // the starter's
    return out;
}

template<typename A0, typename... A>
    requires(!std::is_same_v<std::remove_cvref_t<A0>, cancellation_token>)
[[nodiscard]] auto select(A0&& a0, A&&... arms) {
    return select(cancellation_token{}, std::forward<A0>(a0), std::forward<A>(arms)...);
}

} // namespace weft
