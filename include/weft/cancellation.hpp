// weft/cancellation.hpp — cancellation_source, cancellation_token and RAII callback
// registrations (.NET CancellationTokenSource / CancellationToken / CancellationTokenRegistration).
// Design note: docs/guide/cancellation.md (contract); the protocol is in cancel_state below.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/detail/atomic.hpp>
#include <weft/detail/ref_count.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/errors.hpp>
#include <weft/timer_source.hpp>
#include <weft/unobserved.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

class cancellation_token;
class cancellation_registration;

namespace detail {

class cancel_state;

/// A registered callback; owned by its cancellation_registration.
struct cancel_callback_node {
    cancel_callback_node* prev = nullptr;
    cancel_callback_node* next = nullptr;
    bool linked = false; // guarded by the state's mutex_
    virtual void invoke() = 0;
    virtual ~cancel_callback_node() = default;
};

template<typename F>
struct cancel_callback_impl final : cancel_callback_node {
    explicit cancel_callback_impl(F&& f) : fn(std::move(f)) {}
    explicit cancel_callback_impl(const F& f) : fn(f) {}
    void invoke() override { fn(); }
    F fn;
};

/// The shared state of a source and its tokens.
/// Protocol: cancel() sets canceled_ (seq_cst exchange: one winner), then repeatedly takes the
/// newest registered callback off the list under mutex_, marks it running, runs it without the
/// lock, and clears the mark. A registration being destroyed unlinks its node under mutex_; if
/// its callback is running on another thread it waits on done_cv_; if it is running on this
/// thread (deregistering from inside the callback) it does not wait.
class cancel_state : public ref_counted<cancel_state> {
public:
    cancel_state() = default;
    cancel_state(const cancel_state&) = delete;
    cancel_state& operator=(const cancel_state&) = delete;

    void add_source() noexcept { sources_.fetch_add(1, relaxed); } // order: relaxed — counter
    /// The last source handle is gone: nobody can cancel any more, so a pending cancel_after
    /// timer is dropped (it holds a reference).
    void release_source() noexcept {
        // order: acq_rel — orders the timer id read below after every source's cancel_after
        if (sources_.fetch_sub(1, acq_rel) == 1) {
            drop_timer();
        }
    }

    bool is_canceled() const noexcept {
        return canceled_.load(acquire); // order: acquire — pairs with cancel()'s exchange
    }

    /// Runs every callback; returns false if already canceled. Callback exceptions are
    /// collected and thrown together, after all callbacks ran, as aggregate_error.
    bool cancel() {
        // order: acq_rel — one winner; release publishes the flag to is_canceled() readers
        if (canceled_.exchange(true, acq_rel)) {
            return false;
        }
        std::vector<std::exception_ptr> errors;
        std::unique_lock lock(mutex_);
        while (cancel_callback_node* node = tail_) {
            unlink(node);
            running_ = node;
            running_thread_ = std::this_thread::get_id();
            lock.unlock();
            try {
                node->invoke();
            } catch (...) {
                errors.push_back(std::current_exception());
            }
            lock.lock();
            running_ = nullptr;
            done_cv_.notify_all();
            if (std::exchange(orphaned_, false)) {
                delete node; // its registration was dropped from inside this very callback
            }
        }
        lock.unlock();
        if (!errors.empty()) {
            throw aggregate_error(std::move(errors));
        }
        return true;
    }

    /// Links `node` unless already canceled; returns false (node not linked) if canceled.
    bool try_link(cancel_callback_node* node) {
        std::lock_guard lock(mutex_);
        if (canceled_.load(relaxed)) { // order: relaxed — mutex_ orders it against cancel()'s loop
            return false;
        }
        node->prev = tail_;
        node->next = nullptr;
        if (tail_ != nullptr) {
            tail_->next = node;
        } else {
            head_ = node;
        }
        tail_ = node;
        node->linked = true;
        return true;
    }

    /// Ensures `node`'s callback is neither linked nor running on another thread, and frees
    /// the node — unless its callback is running on this thread (the registration is being
    /// dropped from inside it): then cancel() frees it when the callback returns.
    void unlink_and_free(cancel_callback_node* node) {
        std::unique_lock lock(mutex_);
        if (node->linked) {
            unlink(node);
        } else if (running_ == node) {
            if (running_thread_ == std::this_thread::get_id()) {
                orphaned_ = true;
                return;
            }
            done_cv_.wait(lock, [&] { return running_ != node; });
        }
        lock.unlock();
        delete node;
    }

    void cancel_after(std::chrono::steady_clock::duration delay, timer_source& timers);

    /// Parent registrations of a linked source, destroyed before the state.
    std::vector<cancellation_registration>& parents() noexcept { return parents_; }

    ~cancel_state();

private:
    void unlink(cancel_callback_node* node) noexcept {
        (node->prev != nullptr ? node->prev->next : head_) = node->next;
        (node->next != nullptr ? node->next->prev : tail_) = node->prev;
        node->prev = node->next = nullptr;
        node->linked = false;
    }
    void drop_timer() noexcept;

    atomic<std::uint32_t> sources_{0};
    atomic<bool> canceled_{false};

    std::mutex mutex_;
    std::condition_variable done_cv_;
    // --- guarded by mutex_ -----------------------------------------------------------------
    // Invariant: head_..tail_ holds exactly the linked nodes; running_ is the node whose
    // callback cancel() is executing (unlinked), or nullptr.
    cancel_callback_node* head_ = nullptr;
    cancel_callback_node* tail_ = nullptr;
    cancel_callback_node* running_ = nullptr;
    std::thread::id running_thread_;
    bool orphaned_ = false;            // running_'s registration was dropped from inside its callback
    timer_source::timer_id timer_ = 0; // pending cancel_after timer, 0 if none
    timer_source* timers_ = nullptr;   // the source timer_ is scheduled on

    // --- set once by the creator of a linked source, before it is shared ------------------
    std::vector<cancellation_registration> parents_;
};

} // namespace detail

/// Keeps a callback registered; unregisters it when destroyed or on unregister(). After
/// either returns, the callback is not running on another thread and will never start.
/// Unregistering from inside the callback itself does not wait (no self-deadlock).
///
/// Thread safety: one registration is used by one thread at a time.
/// Blocking:      the destructor may wait for a callback running on another thread.
class cancellation_registration {
public:
    cancellation_registration() noexcept = default;
    cancellation_registration(cancellation_registration&& o) noexcept
        : state_(std::exchange(o.state_, nullptr))
        , node_(std::exchange(o.node_, nullptr)) {}
    cancellation_registration& operator=(cancellation_registration&& o) noexcept {
        if (this != &o) {
            unregister();
            state_ = std::exchange(o.state_, nullptr);
            node_ = std::exchange(o.node_, nullptr);
        }
        return *this;
    }
    ~cancellation_registration() { unregister(); }

    /// True while a callback is registered through this object.
    explicit operator bool() const noexcept { return node_ != nullptr; }

    void unregister() noexcept {
        if (node_ != nullptr) { // the common case (nothing registered) stays inline and cheap
            unregister_registered();
        }
    }

private:
    [[gnu::noinline]] void unregister_registered() noexcept {
        state_->unlink_and_free(node_);
        state_->release_ref();
        node_ = nullptr;
        state_ = nullptr;
    }

    friend class cancellation_token;
    cancellation_registration(detail::cancel_state* s, detail::cancel_callback_node* n) noexcept
        : state_(s)
        , node_(n) {}

    detail::cancel_state* state_ = nullptr;
    detail::cancel_callback_node* node_ = nullptr;
};

/// Observes cancellation of one source. Cheap to copy; a default token is never canceled.
///
/// Thread safety: distinct and shared objects safe.
class cancellation_token {
public:
    cancellation_token() noexcept = default;

    /// A token that can never be canceled (.NET CancellationToken.None).
    static cancellation_token none() noexcept { return {}; }

    bool is_cancellation_requested() const noexcept { return state_ && state_->is_canceled(); }
    bool can_be_canceled() const noexcept { return static_cast<bool>(state_); }
    void throw_if_cancellation_requested() const {
        if (is_cancellation_requested()) {
            throw operation_canceled{};
        }
    }

    /// Registers `f` to run once when the source is canceled, on the canceling thread. If it
    /// already is, `f` runs now, on this thread, and its exception (if any) propagates here;
    /// the returned registration is then empty. A null function pointer or empty
    /// std::function is rejected with std::invalid_argument.
    template<typename F>
        requires std::is_invocable_v < std::decay_t<F>
    & > [[nodiscard]] cancellation_registration register_callback(F&& f) const {
        if constexpr (std::is_pointer_v<std::decay_t<F>> || std::is_same_v<std::decay_t<F>, std::function<void()>>) {
            if (!f) {
                throw std::invalid_argument("weft: null cancellation callback");
            }
        }
        if (!state_) {
            return {};
        }
        auto* node = new detail::cancel_callback_impl<std::decay_t<F>>(std::forward<F>(f));
        if (!state_->try_link(node)) {
            std::unique_ptr<detail::cancel_callback_node> owned(node);
            owned->invoke();
            return {};
        }
        state_->add_ref(); // the registration's
        return cancellation_registration(state_.get(), node);
    }

    friend bool operator==(const cancellation_token& a, const cancellation_token& b) noexcept {
        return a.state_ == b.state_;
    }

private:
    friend class cancellation_source;
    friend class cancellation_token_ref;
    explicit cancellation_token(detail::cancel_state* s) noexcept : state_(s) {}
    detail::ref_ptr<detail::cancel_state> state_;
};

/// A token borrowed for the length of one call: what an options struct passed to an operation
/// holds (op_options::token). It refers to the token's state without owning a reference, so it
/// is trivially destructible — options built in braces inside `co_await` are then safe on
/// every compiler (g++ 12 runs a destructor for such a brace-initialised temporary on storage
/// it never constructed; decision 0009). Valid while its source or any token of that source
/// lives: `op(buf, {.token = src.token()})` is fine (the operation takes its own reference
/// before it returns); do not keep one beyond the source and every token.
class cancellation_token_ref {
public:
    constexpr cancellation_token_ref() noexcept = default;
    cancellation_token_ref(const cancellation_token& t) noexcept : state_(t.state_.get()) {}

    /// A token (with its own reference) for the same source.
    cancellation_token token() const noexcept { return cancellation_token(state_); }
    operator cancellation_token() const noexcept { return token(); }
    bool is_cancellation_requested() const noexcept { return state_ != nullptr && state_->is_canceled(); }
    bool can_be_canceled() const noexcept { return state_ != nullptr; }

private:
    detail::cancel_state* state_ = nullptr;
};
static_assert(std::is_trivially_destructible_v<cancellation_token_ref>);

/// Signals cancellation to its tokens (.NET CancellationTokenSource). Copies share one state.
///
/// Thread safety: distinct and shared objects safe; cancel() may race with anything.
/// Blocking:      cancel() runs the callbacks on the calling thread before it returns.
/// Exceptions:    cancel() throws aggregate_error holding every callback's exception, after
///                all callbacks ran; the source is canceled regardless.
class cancellation_source {
public:
    cancellation_source() : state_(new detail::cancel_state) { state_->add_source(); }
    cancellation_source(const cancellation_source& o) noexcept : state_(o.state_) {
        state_->add_ref();
        state_->add_source();
    }
    cancellation_source& operator=(const cancellation_source& o) noexcept {
        cancellation_source copy(o);
        std::swap(state_, copy.state_);
        return *this;
    }
    ~cancellation_source() {
        state_->release_source();
        state_->release_ref();
    }

    cancellation_token token() const noexcept { return cancellation_token(state_); }
    bool is_cancellation_requested() const noexcept { return state_->is_canceled(); }

    /// Cancels; returns true if this call did it, false if it was already canceled.
    bool cancel() { return state_->cancel(); }

    /// Cancels after `delay` on weft's timer thread (an exception from a callback then goes to
    /// the unobserved-exception handler). Zero or negative cancels now, on this thread.
    /// duration::max() never fires. A later call replaces an earlier pending one.
    template<typename Rep, typename Period>
    void cancel_after(std::chrono::duration<Rep, Period> delay) {
        cancel_after(delay, system_timers());
    }
    /// cancel_after on `timers`' clock, e.g. a weft::testing::manual_timer_source: the source
    /// runs the cancellation (a manual one, inside its advance()). `timers` must outlive the
    /// pending timer (until it fires, is replaced, or the last source handle is gone).
    template<typename Rep, typename Period>
    void cancel_after(std::chrono::duration<Rep, Period> delay, timer_source& timers) {
        using steady = std::chrono::steady_clock;
        if (delay <= delay.zero()) {
            cancel();
            return;
        }
        // Compared in floating-point seconds: no conversion of a century into a narrow Rep
        if (std::chrono::duration<double>(delay) >= std::chrono::duration<double>(std::chrono::hours(24 * 365 * 100))) {
            state_->cancel_after(steady::duration::max(), timers);
            return;
        }
        state_->cancel_after(std::chrono::ceil<steady::duration>(delay), timers);
    }

    /// A new source that is canceled when any of `tokens` is (or already is), or by itself.
    template<typename... Tokens>
        requires(std::is_same_v<std::decay_t<Tokens>, cancellation_token>&&...)
    static cancellation_source linked(const Tokens&... tokens) {
        cancellation_source child;
        (child.link_to(tokens), ...);
        return child;
    }
    static cancellation_source linked(const std::vector<cancellation_token>& tokens) {
        cancellation_source child;
        for (const auto& t : tokens) {
            child.link_to(t);
        }
        return child;
    }

private:
    void link_to(const cancellation_token& parent) {
        detail::cancel_state* child = state_;
        auto reg = parent.register_callback([child] { child->cancel(); });
        if (reg) {
            state_->parents().push_back(std::move(reg));
        }
    }

    detail::cancel_state* state_;
};

namespace detail {

inline void cancel_state::cancel_after(std::chrono::steady_clock::duration delay, timer_source& timers) {
    std::lock_guard lock(mutex_);
    if (timer_ != 0) {
        if (timers_->cancel(timer_)) {
            release_ref(); // the replaced timer's reference; we still hold the caller's
        }
        timer_ = 0;
        timers_ = nullptr;
    }
    if (delay == std::chrono::steady_clock::duration::max() || canceled_.load(relaxed)) {
        return; // order: relaxed — a stale false only arms a harmless timer
    }
    add_ref(); // the timer's reference
    const timer_source::time_point now = timers.now();
    const timer_source::time_point when =
        delay >= timer_source::time_point::max() - now ? timer_source::time_point::max() : now + delay;
    timers_ = &timers;
    timer_ = timers.schedule(when, [this] {
        struct drop {
            cancel_state* s;
            ~drop() { s->release_ref(); }
        } guard{this};
        cancel(); // callback exceptions reach the unobserved handler via the timer thread
    });
    if (timer_ == 0) {
        timers_ = nullptr;
        release_ref(); // the timer source is shutting down (process exit)
    }
}

inline void cancel_state::drop_timer() noexcept {
    timer_source::timer_id id = 0;
    timer_source* timers = nullptr;
    {
        std::lock_guard lock(mutex_);
        id = std::exchange(timer_, 0);
        timers = std::exchange(timers_, nullptr);
    }
    if (id != 0 && timers->cancel(id)) {
        release_ref();
    }
}

inline cancel_state::~cancel_state() {
    parents_.clear(); // unregister from parents first: their callbacks touch this state
}

} // namespace detail
} // namespace weft
