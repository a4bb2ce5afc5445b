// amqp_work_queue: a work queue on a RabbitMQ broker (WEFT_AMQP_URL) shared by three consumer
// processes. The producer starts three copies of this program as workers, publishes 300 jobs
// (persistent, each confirmed by the broker), and collects the workers' results; every job is
// done, spread over the workers (prefetch 5 each), and acked only after its work succeeded
// (at-least-once). Exit 77 when no broker can be reached.
#include <weft/amqp.hpp>
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace amqp = weft::amqp;

namespace {

constexpr int jobs = 300;

/// A worker: takes jobs, "works" (squares the number), publishes "job:square:pid", then acks.
int worker(const amqp::connection_options& where) {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection conn{pool, where};
    const std::string pid = std::to_string(::getpid());
    auto c = conn.consume("work_queue.jobs",
                          [&](amqp::delivery job) {
                              const long n = std::stol(job.msg.body);
                              const std::string result = job.msg.body + ":" + std::to_string(n * n) + ":" + pid;
                              return conn.publish("", "work_queue.results", amqp::message{.body = result});
                          },
                          {.prefetch = 5})
                 .get();
    std::printf("ready\n");
    std::fflush(stdout);
    c.completion().wait(); // until the producer ends this process
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    amqp::connection_options where;
    try {
        where = amqp::connection_options::from_environment();
    } catch (const std::invalid_argument& e) {
        std::printf("amqp_work_queue: %s: skipped\n", e.what());
        return 77;
    }
    try {
        if (argc > 1 && std::string(argv[1]) == "worker") {
            return worker(where);
        }
        amqp::connection conn{pool, where};
        conn.declare_queue("work_queue.jobs", {.durable = true}).get();
        conn.declare_queue("work_queue.results", {.durable = true}).get();

        // Three worker processes: this program again, each told to be a worker.
        weft::io_context io;
        std::vector<weft::process> workers;
        for (int i = 0; i < 3; ++i) {
            workers.push_back(weft::process::spawn(io,
                                                   {.program = "/proc/self/exe",
                                                    .args = {"worker"},
                                                    .std_out = weft::stdio::pipe(),
                                                    .kill_on_drop = true}));
        }
        for (auto& w : workers) { // each says "ready" once it consumes
            char buf[16];
            w.stdout_pipe().read_some(std::as_writable_bytes(std::span(buf))).get();
        }

        std::mutex m;
        std::map<int, std::string> done_by; // job -> worker pid
        int wrong = 0;
        auto results = conn.consume("work_queue.results",
                                    [&](amqp::delivery d) {
                                        const auto a = d.msg.body.find(':');
                                        const auto b = d.msg.body.find(':', a + 1);
                                        const int job = std::stoi(d.msg.body.substr(0, a));
                                        std::lock_guard lock(m);
                                        wrong +=
                                            std::stol(d.msg.body.substr(a + 1, b - a - 1)) == long{job} * job ? 0 : 1;
                                        done_by[job] = d.msg.body.substr(b + 1);
                                    })
                           .get();

        std::vector<weft::task<void>> confirms;
        for (int i = 0; i < jobs; ++i) {
            confirms.push_back(conn.publish("", "work_queue.jobs", amqp::message{.body = std::to_string(i)}));
        }
        for (auto& c : confirms) {
            c.get(); // the broker has every job
        }
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        for (;;) {
            {
                std::lock_guard lock(m);
                if (static_cast<int>(done_by.size()) == jobs || std::chrono::steady_clock::now() > give_up) {
                    break;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        for (auto& w : workers) {
            w.terminate();
            w.wait().get();
        }
        results.cancel().get();
        std::map<std::string, int> per_worker;
        for (const auto& [job, pid] : done_by) {
            ++per_worker[pid];
        }
        for (const auto& [pid, n] : per_worker) {
            std::printf("worker %s did %d jobs\n", pid.c_str(), n);
        }
        std::printf("%zu of %d jobs done, %d wrong\n", done_by.size(), jobs, wrong);
        conn.delete_queue("work_queue.jobs").get();
        conn.delete_queue("work_queue.results").get();
        return static_cast<int>(done_by.size()) == jobs && wrong == 0 ? 0 : 1;
    } catch (const amqp::amqp_error& e) {
        if (e.code() == amqp::errc::connection_failed) {
            std::printf("amqp_work_queue: no broker: %s: skipped\n", e.what());
            return 77;
        }
        throw;
    }
}
