// weft/parallel/blocked_range.hpp — a half-open range of indices handed to a loop body whole
// (TBB's blocked_range and blocked_range2d).
// Design note: docs/decisions/0012-parallel-loops.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

/// [begin, end) with a grain: the smallest piece a loop cuts it into. A loop body that takes a
/// blocked_range gets one sub-range per chunk.
template<std::integral Index>
class blocked_range {
public:
    using index_type = Index;
    using size_type = std::make_unsigned_t<Index>;

    /// Throws std::invalid_argument when end < begin.
    constexpr blocked_range(Index begin, Index end, std::size_t grain = 1)
        : begin_(begin)
        , end_(end)
        , grain_(grain == 0 ? 1 : grain) {
        if (std::cmp_less(end, begin)) {
            throw std::invalid_argument("weft: blocked_range with end before begin");
        }
    }

    constexpr Index begin() const noexcept { return begin_; }
    constexpr Index end() const noexcept { return end_; }
    constexpr size_type size() const noexcept {
        return static_cast<size_type>(static_cast<size_type>(end_) - static_cast<size_type>(begin_));
    }
    constexpr bool empty() const noexcept { return begin_ == end_; }
    constexpr std::size_t grain() const noexcept { return grain_; }

private:
    Index begin_;
    Index end_;
    std::size_t grain_;
};

/// Rows x columns. A body gets one tile per call: `grain` rows by `grain` columns of each
/// range (64 where a grain is left at 1), clipped at the edges.
template<std::integral Row, std::integral Col = Row>
class blocked_range2d {
public:
    constexpr blocked_range2d(
        Row row_begin, Row row_end, std::size_t row_grain, Col col_begin, Col col_end, std::size_t col_grain)
        : rows_(row_begin, row_end, row_grain)
        , cols_(col_begin, col_end, col_grain) {}
    constexpr blocked_range2d(Row row_begin, Row row_end, Col col_begin, Col col_end)
        : rows_(row_begin, row_end)
        , cols_(col_begin, col_end) {}
    constexpr blocked_range2d(blocked_range<Row> rows, blocked_range<Col> cols) : rows_(rows), cols_(cols) {}

    constexpr const blocked_range<Row>& rows() const noexcept { return rows_; }
    constexpr const blocked_range<Col>& cols() const noexcept { return cols_; }
    constexpr bool empty() const noexcept { return rows_.empty() || cols_.empty(); }

private:
    blocked_range<Row> rows_;
    blocked_range<Col> cols_;
};

} // namespace weft
