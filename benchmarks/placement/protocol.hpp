// benchmarks/placement/protocol.hpp — the wire format between the placement benchmark's client
// (weft_placement_bench) and its server (placement_server): fixed 64-byte messages.
//
// A request says how much CPU work its continuation does (`work_ns`); the server spins that
// long (calibrated, see spin_work.hpp) and sends the message back. A stats request returns
// the server's CPU time and weft's own counters, so the client can turn a window into CPU
// seconds, hops and inline runs per request.
#pragma once

#include <cstdint>
#include <cstring>

namespace placement {

constexpr std::size_t message_bytes = 64;

enum class kind : std::uint32_t {
    work = 1,
    stats = 2
};

struct request {
    kind what = kind::work;
    std::uint32_t work_ns = 0;
    std::uint64_t sequence = 0; ///< echoed: the client checks every reply is its own
};

/// The server's reply to a stats request (cumulative since it started).
struct server_stats {
    std::uint64_t cpu_ns = 0; ///< getrusage(RUSAGE_SELF): user + system
    std::uint64_t continuations_inline = 0;
    std::uint64_t continuations_hopped = 0;
    std::uint64_t adaptive_hops = 0;
    std::uint64_t ops_finished = 0;
    std::uint64_t loops = 0;
    std::uint64_t wakeups = 0;
};

static_assert(sizeof(request) <= message_bytes && 8 + sizeof(server_stats) <= message_bytes);

inline void encode(const request& r, unsigned char* out) {
    std::memset(out, 0, message_bytes);
    std::memcpy(out, &r, sizeof r);
}
inline request decode_request(const unsigned char* in) {
    request r;
    std::memcpy(&r, in, sizeof r);
    return r;
}
inline void encode_stats(std::uint64_t sequence, const server_stats& s, unsigned char* out) {
    std::memset(out, 0, message_bytes);
    std::memcpy(out, &sequence, 8);
    std::memcpy(out + 8, &s, sizeof s);
}
inline server_stats decode_stats(const unsigned char* in, std::uint64_t& sequence) {
    server_stats s;
    std::memcpy(&sequence, in, 8);
    std::memcpy(&s, in + 8, sizeof s);
    return s;
}

} // namespace placement
