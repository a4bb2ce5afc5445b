// weft/with_cancellation.hpp — with_cancellation(t, token): a task that completes canceled as
// soon as the token is, and asks what it waits for to end (.NET Task.WaitAsync(token)); the
// token forms of when_all and when_any are built on it.
// Design note: docs/decisions/0010-composition.md §3.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/down_cast.hpp>
#include <weft/detail/task_state.hpp>
#include <weft/task.hpp>

#include <utility>
#include <vector>

namespace weft {

namespace detail {

/// A keeper's reference to a task's state, to ask it to end: it never reads the value, so it
/// does not make the value shared (the task's readers may still move it out).
class cancel_target {
public:
    template<typename T>
    static cancel_target of(const task<T>& t) {
        return cancel_target(task_access::checked_state(t));
    }
    cancel_target(const cancel_target& o) noexcept : s_(o.s_) { s_->add_keeper(); }
    cancel_target(cancel_target&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    cancel_target& operator=(const cancel_target&) = delete;
    cancel_target& operator=(cancel_target&&) = delete;
    ~cancel_target() {
        if (s_ != nullptr) {
            s_->release_keeper();
        }
    }
    void request_cancel() const noexcept { s_->request_cancel(); }

private:
    explicit cancel_target(state_base* s) noexcept : s_(s) { s_->add_keeper(); }
    state_base* s_;
};

/// Completes with the input's outcome, or canceled when the token fires first; then asks every
/// target (a combinator's inputs; none: the input itself) to cancel (request_cancel).
/// References: the handle, and the machinery, released once the input completed and the
/// token's callback can no longer run. The callback holds one of its own while it runs: asking
/// a target may complete the input on this very thread, and so release the machinery.
template<typename T>
class cancel_on_state final
    : public task_state<T>
    , public continuation {
public:
    cancel_on_state(task<T> input, std::vector<cancel_target> targets)
        : task_state<T>(state_base::ops_of<&destroy>, 1, 1, state_base::st_pending)
        , input_(task_access::release(input))
        , targets_(std::move(targets)) {
        on_complete = &on_input;
    }
    ~cancel_on_state() {
        if (input_taken_) { // its value was moved into this state: our reference is a keeper's
            input_->release_keeper();
        } else {
            input_->release_ref();
        }
    }
    cancel_on_state(const cancel_on_state&) = delete;
    cancel_on_state& operator=(const cancel_on_state&) = delete;

    /// May throw (the registration's allocation) before anything is linked.
    void start(const cancellation_token& token) {
        if (token.can_be_canceled()) {
            try {
                registration_ = token.register_callback([this] { on_cancel(); });
            } catch (...) {
                this->release_keeper(); // the machinery's; the caller's handle drops the other
                throw;
            }
        }
        if (!input_->attach(this)) {
            on_input(this);
        }
    }

private:
    static void destroy(state_base* s) noexcept {
        delete detail::down_cast<cancel_on_state>(detail::down_cast<task_state<T>>(s));
    }

    static void on_input(continuation* c) noexcept {
        auto* self = detail::down_cast<cancel_on_state>(c);
        if (self->try_claim()) {
            self->complete_from(*self->input_, self->input_taken_);
        }
        self->registration_.unregister(); // after this, on_cancel is not running elsewhere
        self->release_keeper();
    }

    void on_cancel() noexcept {
        this->add_keeper();
        if (this->try_claim()) {
            this->error_ = std::make_exception_ptr(operation_canceled{});
            this->publish(state_base::st_canceled);
        }
        if (targets_.empty()) {
            input_->request_cancel();
        }
        for (const auto& t : targets_) { // immutable: read without a lock
            t.request_cancel();
        }
        this->release_keeper();
    }

    task_state<T>* const input_; // a reader's reference, adopted from the input task
    const std::vector<cancel_target> targets_;
    cancellation_registration registration_;
    bool input_taken_ = false; // on_input moved the value out as the only reader
};

/// A keeper's reference to each input: what a token form asks to end.
template<typename T>
std::vector<cancel_target> cancel_targets_of(const std::vector<task<T>>& inputs) {
    std::vector<cancel_target> targets;
    targets.reserve(inputs.size());
    for (const auto& t : inputs) {
        targets.push_back(cancel_target::of(t));
    }
    return targets;
}

template<typename T>
task<T> cancel_on(const cancellation_token& token, task<T> input, std::vector<cancel_target> targets) {
    task_access::checked_state(input);
    if (!token.can_be_canceled()) {
        return input;
    }
    auto* st = new cancel_on_state<T>(std::move(input), std::move(targets));
    task<T> result = task_access::adopt<T>(st);
    st->start(token);
    return result;
}

} // namespace detail

/// A task with `t`'s outcome, or canceled (operation_canceled) as soon as `token` is canceled,
/// whichever comes first (.NET Task.WaitAsync(CancellationToken)). When the token wins, `t` is
/// asked to end too: an I/O operation is canceled, queued spawned work is dropped; other work
/// (a coroutine, a promise) goes on, and `t` itself still tells how it ended.
template<typename T>
task<T> with_cancellation(task<T> t, const cancellation_token& token) {
    return detail::cancel_on(token, std::move(t), {});
}

} // namespace weft
