// benchmarks/placement/histogram.hpp — an HDR-style latency histogram: log-linear buckets
// (64 per power of two, so a recorded value is reported within 1.6%), fixed memory, no
// allocation while recording, exact counts; percentiles come from the counts, never averages.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace placement {

class histogram {
public:
    static constexpr unsigned sub_bits = 6;            // 64 sub-buckets per octave
    static constexpr unsigned linear = 2u << sub_bits; // values below 128 are exact
    static constexpr unsigned octaves = 64 - sub_bits - 1;
    static constexpr unsigned buckets = linear + octaves * (1u << sub_bits);

    void record(std::uint64_t v) noexcept {
        ++counts_[index(v)];
        ++total_;
        max_ = v > max_ ? v : max_;
    }
    void merge(const histogram& other) noexcept {
        for (unsigned i = 0; i < buckets; ++i) {
            counts_[i] += other.counts_[i];
        }
        total_ += other.total_;
        max_ = other.max_ > max_ ? other.max_ : max_;
    }
    std::uint64_t count() const noexcept { return total_; }
    std::uint64_t max() const noexcept { return max_; }

    /// The value below which a fraction q of the recorded values lie (the bucket's upper edge,
    /// capped at the largest value seen); 0 when empty.
    std::uint64_t percentile(double q) const noexcept {
        if (total_ == 0) {
            return 0;
        }
        auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
        rank = rank >= total_ ? total_ - 1 : rank;
        std::uint64_t seen = 0;
        for (unsigned i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen > rank) {
                const std::uint64_t hi = upper_edge(i);
                return hi < max_ ? hi : max_;
            }
        }
        return max_;
    }

    static unsigned index(std::uint64_t v) noexcept {
        if (v < linear) {
            return static_cast<unsigned>(v);
        }
        const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v)); // >= sub_bits + 1
        const unsigned sub = static_cast<unsigned>(v >> (e - sub_bits)) & ((1u << sub_bits) - 1);
        return linear + (e - sub_bits - 1) * (1u << sub_bits) + sub;
    }
    static std::uint64_t upper_edge(unsigned i) noexcept {
        if (i < linear) {
            return i;
        }
        const unsigned k = i - linear;
        const unsigned e = k / (1u << sub_bits) + sub_bits + 1;
        const std::uint64_t sub = k % (1u << sub_bits);
        const std::uint64_t lo = (std::uint64_t{1} << e) | (sub << (e - sub_bits));
        return lo + (std::uint64_t{1} << (e - sub_bits)) - 1;
    }

private:
    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

} // namespace placement
