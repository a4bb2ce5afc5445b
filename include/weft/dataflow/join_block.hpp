// weft/dataflow/join_block.hpp — join_block<Ts...>: a std::tuple<Ts...> out of one message from
// each input (.NET JoinBlock<T1, T2> and JoinBlock<T1, T2, T3>).
// Design note: weft/detail/dataflow/join_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/detail/dataflow/join_core.hpp>

#include <tuple>
#include <utility>

namespace weft {

/// Greedy (the default): each input takes every message it has room for, and a tuple leaves as
/// soon as every input has one. Non-greedy (`greedy = false`): inputs postpone offers, and the
/// join takes one message from every input at once (reserve all, then consume) or none, so
/// joins that share sources never strand a message in one of them. Messages left unmatched
/// when the join completes are dropped and counted (unmatched_dropped()).
template<typename... Ts>
class join_block
    : public detail::dataflow::block_handle<detail::dataflow::join_core<std::index_sequence_for<Ts...>, Ts...>> {
    static_assert(sizeof...(Ts) >= 2, "weft: join_block needs at least two inputs");
    using core = detail::dataflow::join_core<std::index_sequence_for<Ts...>, Ts...>;

public:
    explicit join_block(any_scheduler s, const dataflow_options& o = {})
        : detail::dataflow::block_handle<core>(new core(s, o)) {}

    /// Input I: what link_to() links to, and post() for messages without a source.
    template<std::size_t I>
    class input {
    public:
        using type = std::tuple_element_t<I, std::tuple<Ts...>>;
        [[nodiscard]] bool post(type v) { return port_->post(std::move(v)); }
        detail::dataflow::target_port<type>& input_port() noexcept { return *port_; }

    private:
        friend class join_block;
        explicit input(detail::dataflow::join_input<core, type>& p) : port_(&p) {}
        detail::dataflow::join_input<core, type>* port_;
    };
    template<std::size_t I>
    input<I> target() noexcept {
        return input<I>(std::get<I>(this->core_->inputs));
    }
    /// Tuples made so far.
    std::uint64_t groups() const {
        std::lock_guard lock(this->core_->mutex);
        return this->core_->groups;
    }
    /// Messages dropped at completion because no tuple could take them.
    std::uint64_t unmatched_dropped() const {
        std::lock_guard lock(this->core_->mutex);
        return this->core_->unmatched_dropped;
    }
};

} // namespace weft
