// tests/diag/trace_reader.hpp — reads back the trace JSON weft writes (one event per line), so
// the trace tests check what a viewer would get.
#pragma once

#include <string>

namespace weft_test {

/// The value of `"key":` on one event's line: a string's text, or a number's digits; empty if
/// the line has no such key.
inline std::string trace_field(const std::string& line, const std::string& key) {
    const std::string k = "\"" + key + "\":";
    const auto at = line.find(k);
    if (at == std::string::npos) {
        return {};
    }
    const std::size_t p = at + k.size();
    if (line[p] == '"') {
        return line.substr(p + 1, line.find('"', p + 1) - p - 1);
    }
    return line.substr(p, line.find_first_of(",}", p) - p);
}

} // namespace weft_test
