// benchmarks/echo/server_asio.cpp — the Asio echo server of the echo benchmark (Debian's
// standalone Asio): one thread running io_context::run(), the classic callback chain
// async_read_some -> async_write per connection. Built twice: with epoll (Asio's default) and,
// as asio_echo_server_uring, with ASIO_HAS_IO_URING + ASIO_DISABLE_EPOLL (io_uring reactor).
#include <array>
#include <memory>

#include "echo/server_main.hpp"
#include <asio.hpp>

namespace {

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(asio::ip::tcp::socket s) : socket_(std::move(s)) {}
    void start() { read(); }

private:
    void read() {
        socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
            if (!ec) {
                self->write(n);
            }
        });
    }
    void write(std::size_t n) {
        asio::async_write(
            socket_, asio::buffer(buf_.data(), n), [self = shared_from_this()](std::error_code ec, std::size_t) {
                if (!ec) {
                    self->read();
                }
            });
    }
    asio::ip::tcp::socket socket_;
    std::array<char, 4096> buf_;
};

void accept(asio::ip::tcp::acceptor& a) {
    a.async_accept([&a](std::error_code ec, asio::ip::tcp::socket s) {
        if (!ec) {
            s.set_option(asio::ip::tcp::no_delay(true));
            std::make_shared<session>(std::move(s))->start();
        }
        accept(a);
    });
}

} // namespace

int main() {
    asio::io_context io(1);
    asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    echo_bench::announce(acceptor.local_endpoint().port());
    accept(acceptor);
    io.run();
}
