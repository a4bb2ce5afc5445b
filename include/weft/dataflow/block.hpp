// weft/dataflow/block.hpp — what every dataflow block offers: completion, fault, links, and
// the post/send/receive surface (.NET IDataflowBlock, ISourceBlock<T>, ITargetBlock<T>,
// DataflowBlock.Post/SendAsync/ReceiveAsync/TryReceive, LinkTo).
// Design note: weft/detail/dataflow/block_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>
#include <weft/dataflow/options.hpp>
#include <weft/detail/dataflow/block_core.hpp>
#include <weft/detail/dataflow/queue_source.hpp>
#include <weft/detail/ref_ptr.hpp>
#include <weft/task.hpp>

#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

/// A link made by link_to(). Destroying the handle keeps the link (.NET's IDisposable link is
/// kept alive the same way); unlink() removes it.
class dataflow_link {
public:
    dataflow_link() = default;
    explicit dataflow_link(std::function<bool()> unlink) : unlink_(std::move(unlink)) {}
    /// Removes the link; false if it was gone already (spent its max_messages, its target
    /// completed, unlinked before).
    bool unlink() {
        if (!unlink_) {
            return false;
        }
        auto f = std::exchange(unlink_, nullptr);
        return f();
    }

private:
    std::function<bool()> unlink_;
};

/// Anything that can be a link's target: a block with an input of T (join inputs included).
template<typename B, typename T>
concept dataflow_target_of = requires(B& b) {
    { b.input_port() } -> std::same_as<detail::dataflow::target_port<T>&>;
};

namespace detail::dataflow {

/// The types a block core's input and output carry; `none` for a side it lacks.
template<typename Core>
struct input_of {
    using type = none;
};
template<typename Core>
    requires requires {
        typename Core::input_type;
    }
struct input_of<Core> {
    using type = typename Core::input_type;
};
template<typename Core>
struct output_of {
    using type = none;
};
template<typename Core>
    requires requires {
        typename Core::output_type;
    }
struct output_of<Core> {
    using type = typename Core::output_type;
};

/// Links a block's output (a queue_source or a value_source) to a target (§1).
template<typename T, typename Output>
dataflow_link link_source(block_core& owner,
                          Output& out,
                          target_port<T>& target,
                          const link_options& o,
                          std::function<bool(const T&)> predicate) {
    const std::uint64_t key = out.link(target, o, std::move(predicate));
    ref_ptr<block_core> keep(&owner);
    return dataflow_link([keep, &out, key] { return out.unlink(key); });
}

/// The handle every block is: it owns one reference to the core and offers the surface the
/// core has (a core with `input_type`/`output_type` has a queue_target `input` and a
/// queue_source `output`; `none` marks a side it lacks). Destroying a block that has not
/// finished cancels it (§7 of the design note) and removes its links.
template<typename Core>
class block_handle {
public:
    using input_type = typename input_of<Core>::type;
    using output_type = typename output_of<Core>::type;
    static constexpr bool has_input = !std::is_same_v<input_type, none>;
    static constexpr bool has_output = !std::is_same_v<output_type, none>;

    block_handle(const block_handle&) = delete;
    block_handle& operator=(const block_handle&) = delete;

    /// No more input; the block completes once it holds nothing and runs nothing.
    void complete() { core_->complete(); }
    /// Faults the block: buffered messages are dropped, completion() fails with `error`.
    void fault(std::exception_ptr error) { core_->fault(std::move(error)); }
    /// Completes when the block has completed (.NET IDataflowBlock.Completion): succeeds, fails
    /// with the block's error (several: aggregate_error), or is canceled.
    [[nodiscard]] task<void> completion() { return core_->completion(); }
    bool is_completed() const {
        std::lock_guard lock(core_->mutex);
        return core_->finished;
    }

    // --- input (.NET ITargetBlock<T>, DataflowBlock.Post / SendAsync) -----------------------
    /// Accepted now, or false: the block is full or declining (completed, faulted, canceled).
    [[nodiscard]] bool post(input_type v) requires has_input { return core_->input.post(std::move(v)); }
    /// Completes with true once the block accepted `v` (waiting for room), false if it declines
    /// it (completed meanwhile); canceled, `v` not delivered, if `token` fires first.
    [[nodiscard]] task<bool> send(input_type v, const cancellation_token& token = {}) requires has_input {
        return core_->input.send(std::move(v), token);
    }
    /// What link_to() links to.
    target_port<input_type>& input_port() noexcept requires has_input { return core_->input; }

    // --- output (.NET ISourceBlock<T>, LinkTo, ReceiveAsync, TryReceive) --------------------
    /// Links the output to `target`: messages are offered to the links in order (prepend puts
    /// a link first); a message goes to exactly one target.
    template<typename Target>
        requires has_output && dataflow_target_of<std::remove_reference_t<Target>, output_type>
            dataflow_link link_to(Target&& target, link_options o = {}) {
            return link_source<output_type>(*core_, core_->output, target.input_port(), o, {});
        }
    /// A filtered link: only messages with `predicate(m)` are offered through it. The predicate
    /// runs under the source's lock: keep it short and do not call the block from it.
    template<typename Target, typename Pred>
        requires has_output && dataflow_target_of<std::remove_reference_t<Target>, output_type> &&
            std::predicate<Pred&, const output_type&>
                dataflow_link link_to(Target&& target, link_options o, Pred predicate) {
            return link_source<output_type>(*core_,
                                            core_->output,
                                            target.input_port(),
                                            o,
                                            std::function<bool(const output_type&)>(std::move(predicate)));
        }
    /// The next output message; an empty optional once the block completed with none left; the
    /// block's error if it faulted. Canceled (nothing taken) if `token` fires.
    [[nodiscard]] task<std::optional<output_type>> receive(const cancellation_token& token = {}) requires has_output {
        return core_->output.receive(token);
    }
    std::optional<output_type> try_receive() requires has_output { return core_->output.try_receive(); }
    /// Messages waiting in the output.
    std::size_t output_count() const requires has_output {
        std::lock_guard lock(core_->mutex);
        return core_->output.count_locked();
    }
    /// True while the output's head matched no link's predicate: it waits for a link that
    /// takes it (a catch-all link, e.g. to a null_target, drains such messages).
    bool output_unmatched() const requires has_output {
        std::lock_guard lock(core_->mutex);
        return core_->output.unmatched;
    }

protected:
    explicit block_handle(Core* c) : core_(ref_ptr<Core>::adopt(c)) { core_->arm_token(); }
    ~block_handle() {
        core_->on_token.unregister();
        core_->cancel(); // nothing if it finished already
        core_->unlink_outputs();
    }

    ref_ptr<Core> core_;
};

} // namespace detail::dataflow

} // namespace weft
