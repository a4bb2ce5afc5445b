// weft/dataflow/options.hpp — what every dataflow block and link is configured with (.NET
// ExecutionDataflowBlockOptions, GroupingDataflowBlockOptions, DataflowLinkOptions).
// Design note: weft/detail/dataflow/block_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/cancellation.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>

namespace weft {

/// Options of a dataflow block. Each block uses the fields that apply to it (a buffer has no
/// parallelism; only batch and join read `greedy` and `max_groups`).
struct dataflow_options {
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
    /// Messages the block holds at most (input, in processing, output). A full block postpones
    /// offers (they are taken up when room appears, never dropped), post() returns false and
    /// send() waits. For a batch block it counts items, for a join block tuples per input.
    std::size_t bounded_capacity = unbounded;
    /// Bodies running at once (transform, transform_many, action). 0 is std::invalid_argument.
    std::size_t max_degree_of_parallelism = 1;
    /// With parallelism > 1, outputs leave in input order (a reorder buffer holds early ones).
    bool ensure_ordered = true;
    /// Messages one scheduled activation handles before it yields its thread (fairness between
    /// blocks on one scheduler). 0 is std::invalid_argument.
    std::size_t max_messages_per_task = unbounded;
    /// Canceling it cancels the block: buffered messages are dropped, completion() is canceled.
    cancellation_token token{};
    /// Batch and join: greedy blocks take every offer they have room for; non-greedy ones take
    /// messages only when a whole batch or tuple can be taken at once (two-phase: reserve, consume).
    bool greedy = true;
    /// Batch and join: groups made at most, then the block completes.
    std::uint64_t max_groups = std::numeric_limits<std::uint64_t>::max();
};

/// Options of one link (source.link_to(target, options)).
struct link_options {
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
    /// The source's completion (or fault, or cancellation) reaches the target. A target linked
    /// so from several sources completes once all of them have completed; it faults (or is
    /// canceled) as soon as one of them does.
    bool propagate_completion = false;
    /// The link removes itself after this many messages went through it. 0: std::invalid_argument.
    std::size_t max_messages = unbounded;
    /// Put the link before the existing ones (offered first) instead of after them.
    bool prepend = false;
};

} // namespace weft
