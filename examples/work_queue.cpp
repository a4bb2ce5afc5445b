// work_queue: a queue between processes. The producer (this program) binds a UNIX socket,
// starts three consumer processes (this program again, with --consumer NAME) and hands out 1,000
// items, one at a time to each consumer; a consumer answers each item with its result.
// The contract: an item is held by one consumer at a time. A consumer that dies (killed,
// crashed) loses only the item it held: the producer sees its connection end, puts that item
// back in the queue, and another consumer does it. Every item is done; the held one is the only
// one that may be done twice (if the consumer had finished it but died before answering).
// The self-check kills a consumer (SIGKILL) while it holds an item, and accounts for every id.
#include <weft/weft.hpp>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

struct item {
    long id = 0;
    long value = 0;
};

/// Reads one line ("\n"-terminated) from `s`, keeping what follows in `pending`; nothing at
/// end of stream.
weft::task<std::optional<std::string>> read_line(weft::unix_socket& s, std::string& pending) {
    std::array<char, 256> buf;
    for (std::size_t eol = pending.find('\n'); eol == std::string::npos; eol = pending.find('\n')) {
        const std::size_t n = co_await s.read_some(buf);
        if (n == 0) {
            co_return std::nullopt;
        }
        pending.append(buf.data(), n);
    }
    const std::size_t eol = pending.find('\n');
    std::string line = pending.substr(0, eol);
    pending.erase(0, eol + 1);
    co_return line;
}

// --- a consumer process -----------------------------------------------------------------------

/// Squares each item. With --stall, holds its first item forever (until it is killed).
int consumer_main(const std::string& name, bool stall) {
    weft::io_context io;
    weft::unix_socket s = weft::unix_socket::connect(io, weft::unix_endpoint::abstract(name)).get();
    std::string pending;
    while (const auto line = read_line(s, pending).get()) {
        if (stall) {
            ::pause(); // holds the item: the producer kills us
        }
        const long id = std::strtol(line->c_str(), nullptr, 10);
        const long value = std::strtol(line->c_str() + line->find(' ') + 1, nullptr, 10);
        const std::string answer = std::to_string(id) + " " + std::to_string(value * value) + "\n";
        s.write_all(answer).get();
    }
    return 0;
}

// --- the producer -----------------------------------------------------------------------------

/// Feeds one consumer: an item out, its result back, the next. If the connection ends with an
/// item held, the item goes back to the queue for another consumer.
weft::task<void>
feed(weft::unix_socket link, weft::channel<item>& queue, weft::channel<item>& results, std::atomic<int>& redelivered) {
    std::string pending;
    while (const std::optional<item> it = co_await queue.read()) {
        std::optional<std::string> answer;
        try {
            const std::string line = std::to_string(it->id) + " " + std::to_string(it->value) + "\n";
            co_await link.write_all(line);
            answer = co_await read_line(link, pending);
        } catch (const std::system_error&) {
            // ECONNRESET, EPIPE: the consumer is gone
        }
        if (!answer) {
            redelivered.fetch_add(1);
            (void)queue.try_write(*it); // the queue is unbounded: never refused
            break;
        }
        const long result = std::strtol(answer->c_str() + answer->find(' ') + 1, nullptr, 10);
        co_await results.write(item{std::strtol(answer->c_str(), nullptr, 10), result});
    }
    link.close();
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--consumer") {
        return consumer_main(argv[2], argc > 3 && std::string(argv[3]) == "--stall");
    }
    constexpr long total = 1000;
    constexpr int consumers = 3;
    weft::io_context io;
    const std::string name = "weft-work-queue-" + std::to_string(::getpid());
    auto listener = weft::unix_listener::bind(io, weft::unix_endpoint::abstract(name));
    std::vector<weft::process> children;
    for (int i = 0; i < consumers; ++i) {
        weft::process_options opts{.program = "/proc/self/exe", .args = {"--consumer", name}, .argv0 = "consumer"};
        if (i == 0) {
            opts.args.push_back("--stall"); // this one will hold an item and be killed
        }
        children.push_back(weft::process::spawn(io, opts));
    }
    weft::channel<item> queue;
    weft::channel<item> results({.capacity = 64});
    for (long id = 1; id <= total; ++id) {
        (void)queue.try_write(item{id, id});
    }
    std::atomic<int> redelivered{0};
    std::vector<weft::task<void>> feeders;
    for (int i = 0; i < consumers; ++i) {
        feeders.push_back(feed(listener.accept().get(), queue, results, redelivered));
    }
    std::map<long, long> done; // id -> result
    int duplicates = 0;
    bool killed = false;
    while (done.size() < static_cast<std::size_t>(total)) {
        const item r = results.read().get().value();
        duplicates += done.count(r.id) != 0 ? 1 : 0;
        done[r.id] = r.value;
        if (done.size() == static_cast<std::size_t>(total - 1) && !killed) { // all but the item the staller holds
            killed = children[0].kill(SIGKILL);
        }
    }
    queue.complete(); // the feeders end, closing their links: the consumers see end of input
    weft::when_all(std::move(feeders)).wait();
    bool results_right = true;
    for (const auto& [id, result] : done) {
        results_right = results_right && result == id * id;
    }
    const weft::exit_status staller = children[0].wait().get();
    int clean_exits = 0;
    for (int i = 1; i < consumers; ++i) {
        clean_exits += children[static_cast<std::size_t>(i)].wait().get().success() ? 1 : 0;
    }
    const bool ok = done.size() == static_cast<std::size_t>(total) && done.begin()->first == 1 &&
                    done.rbegin()->first == total && results_right && duplicates == 0 && redelivered.load() == 1 &&
                    killed && staller.signal == SIGKILL && clean_exits == consumers - 1;
    std::printf("work_queue: %zu of %ld items done (ids 1..%ld, results right: %s), %d duplicate(s); "
                "consumer killed holding an item (%s), its item redelivered %d time(s); %d consumers exited "
                "cleanly: %s\n",
                done.size(),
                total,
                total,
                results_right ? "yes" : "no",
                duplicates,
                staller.to_string().c_str(),
                redelivered.load(),
                clean_exits,
                ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
