// weft/dataflow/null_target.hpp — null_target<T>: a target that takes every message and drops it
// (.NET DataflowBlock.NullTarget<T>), the catch-all link after filtered ones.
// Design note: weft/detail/dataflow/block_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/block.hpp>
#include <weft/scheduler.hpp>

#include <cstdint>

namespace weft {
namespace detail::dataflow {

template<typename T>
class null_core final : public block_core {
public:
    explicit null_core(any_scheduler s) : block_core(s, {}), input(*this) {}

    class port final : public target_port<T> {
    public:
        explicit port(null_core& c) : target_port<T>(c), core_(&c) {}
        offer_result offer(source_port<T>& from, std::uint64_t id) override {
            if (!from.consume(id, *this)) {
                return offer_result::declined;
            }
            std::lock_guard lock(core_->mutex);
            ++core_->dropped;
            return offer_result::accepted;
        }

    private:
        null_core* core_;
    };
    port input;
    std::uint64_t dropped = 0; // guarded by mutex

    bool quiescent_locked() const noexcept override { return true; }
    void drop_locked(finish_batch&) noexcept override {}
    void run_job(job_kind) noexcept override {}
};

} // namespace detail::dataflow

/// Takes every message offered and drops it, counting them (dropped()).
template<typename T>
class null_target {
public:
    explicit null_target(any_scheduler s)
        : core_(detail::ref_ptr<detail::dataflow::null_core<T>>::adopt(new detail::dataflow::null_core<T>(s))) {}
    detail::dataflow::target_port<T>& input_port() noexcept { return core_->input; }
    std::uint64_t dropped() const {
        std::lock_guard lock(core_->mutex);
        return core_->dropped;
    }

private:
    detail::ref_ptr<detail::dataflow::null_core<T>> core_;
};

} // namespace weft
