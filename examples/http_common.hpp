// http_common.hpp — what the HTTP examples share: parsing one HTTP/1.1 request at the front of a
// buffer (keep-alive, Content-Length bodies, 400 for malformed requests, 405 for methods other
// than GET and HEAD), the plain-text response builder, and the self-checks' client.
#pragma once

#include <weft/weft.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t max_header_bytes = 8192;

struct request_result {
    std::size_t consumed = 0; // bytes of the buffer this request used (0: incomplete)
    bool bad = false;
    bool close = false;
    std::string method;
    std::string target;
    std::string response; // for GET / and the errors; other targets get 404 here
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

std::string reply(int status, std::string_view reason, std::string_view body, bool close) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    r += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += close ? "Connection: close\r\n\r\n" : "\r\n";
    r += body;
    return r;
}

/// Parses one request at the front of `in`.
request_result parse_one(std::string_view in) {
    request_result r;
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        r.bad = in.size() > max_header_bytes;
        if (r.bad) {
            r.response = reply(400, "Bad Request", "header too large\n", true);
            r.close = true;
        }
        return r;
    }
    const std::string_view head = in.substr(0, end);
    const std::size_t line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    std::string_view method, target, version;
    if (sp2 != std::string_view::npos && line.find(' ', sp2 + 1) == std::string_view::npos) {
        method = line.substr(0, sp1);
        target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        version = line.substr(sp2 + 1);
    }
    if (method.empty() || target.empty() || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
        r.bad = r.close = true;
        r.response = reply(400, "Bad Request", "malformed request line\n", true);
        return r;
    }
    bool keep_alive = version == "HTTP/1.1";
    std::size_t body = 0;
    std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
    while (!rest.empty()) {
        const std::size_t eol = rest.find("\r\n");
        const std::string_view h = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
        const std::size_t colon = h.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            r.bad = r.close = true;
            r.response = reply(400, "Bad Request", "malformed header\n", true);
            return r;
        }
        const std::string_view name = h.substr(0, colon);
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        if (iequals(name, "Content-Length")) {
            if (value.empty() || value.size() > 9 ||
                !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                r.bad = r.close = true;
                r.response = reply(400, "Bad Request", "bad Content-Length\n", true);
                return r;
            }
            body = std::stoul(std::string(value));
        } else if (iequals(name, "Transfer-Encoding")) {
            r.bad = r.close = true; // chunked bodies are not supported by this example
            r.response = reply(400, "Bad Request", "Transfer-Encoding not supported\n", true);
            return r;
        } else if (iequals(name, "Connection")) {
            keep_alive = iequals(value, "keep-alive") || (keep_alive && !iequals(value, "close"));
        }
    }
    if (in.size() < end + 4 + body) {
        return r; // the body has not all arrived yet
    }
    r.consumed = end + 4 + body;
    r.close = !keep_alive;
    r.method = std::string(method);
    r.target = std::string(target);
    if (method != "GET" && method != "HEAD") {
        r.response = reply(405, "Method Not Allowed", "only GET\n", r.close);
    } else if (target == "/") {
        r.response = reply(200, "OK", method == "HEAD" ? "" : "Hello, World!", r.close);
        if (method == "HEAD") { // same headers as GET, no body
            r.response = reply(200, "OK", "", r.close);
            r.response.replace(r.response.find("Content-Length: 0"), 17, "Content-Length: 13");
        }
    } else {
        r.response = reply(404, "Not Found", "not found\n", r.close);
    }
    return r;
}

weft::task<std::string> exchange(weft::io_context& io, weft::endpoint at, std::string request) {
    weft::tcp_socket c = co_await weft::tcp_socket::connect(io, at);
    co_await c.write_all(request);
    c.shutdown_send();
    std::string all;
    std::array<char, 1024> buf;
    while (std::size_t n = co_await c.read_some(buf)) {
        all.append(buf.data(), n);
    }
    co_return all;
}

std::size_t count(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

} // namespace
