// priority_scheduler: a user-written scheduler (one thread, two lanes: urgent work first) used
// with spawn, then, co_await, resume_on and when_all exactly like weft's own schedulers.
#include <weft/weft.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// The whole contract: schedule(work_item*) takes the item and later calls run() (or discard())
// once. Optional: runs_on_this_thread(), and a scheduler_scope around each item so that
// continuations attached inside it come back here (the capture rule).
class priority_scheduler {
public:
    class lane {
    public:
        lane(priority_scheduler& owner, bool urgent) : owner_(owner), urgent_(urgent) {}
        void schedule(weft::work_item* w) { owner_.push(w, urgent_); }
        bool runs_on_this_thread() const { return std::this_thread::get_id() == owner_.thread_.get_id(); }

    private:
        priority_scheduler& owner_;
        bool urgent_;
    };

    priority_scheduler() : thread_([this] { loop(); }) {}
    ~priority_scheduler() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    lane& urgent() { return urgent_lane_; }
    lane& background() { return background_lane_; }

private:
    void push(weft::work_item* w, bool urgent) {
        {
            std::lock_guard lock(mutex_);
            (urgent ? urgent_ : background_).push_back(w);
        }
        wake_.notify_one();
    }
    void loop() {
        for (;;) {
            weft::work_item* w = nullptr;
            bool urgent = false;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stopping_ || !urgent_.empty() || !background_.empty(); });
                auto& q = !urgent_.empty() ? urgent_ : background_;
                if (q.empty()) {
                    return; // stopping, and nothing left
                }
                urgent = &q == &urgent_;
                w = q.front();
                q.pop_front();
            }
            weft::scheduler_scope scope{urgent ? weft::any_scheduler(urgent_lane_)
                                               : weft::any_scheduler(background_lane_)};
            w->run();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<weft::work_item*> urgent_, background_;
    bool stopping_ = false;
    lane urgent_lane_{*this, true};
    lane background_lane_{*this, false};
    std::thread thread_; // last: starts after everything above exists
};

weft::task<std::string> handle(weft::thread_pool& pool, priority_scheduler& sched, int id) {
    co_await weft::resume_on(sched.urgent());                         // hop onto the user's scheduler
    int parsed = co_await weft::spawn(pool, [id] { return id * 2; }); // back here afterwards
    co_return "request " + std::to_string(id) + " -> " + std::to_string(parsed) +
        (sched.urgent().runs_on_this_thread() ? " (urgent lane)" : " (elsewhere!)");
}

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    priority_scheduler sched;

    std::vector<weft::task<std::string>> requests;
    for (int id = 0; id < 3; ++id) {
        requests.push_back(handle(pool, sched, id));
    }
    auto report = weft::spawn(sched.background(), [] {
                      return std::string("background report");
                  }).then(sched.urgent(), [](const std::string& s) { return s + ", then urgent"; });

    auto all = weft::when_all(requests).get();
    bool ok = true;
    for (const auto& line : all) {
        std::printf("%s\n", line.c_str());
        ok = ok && line.find("(urgent lane)") != std::string::npos;
    }
    const std::string r = report.get();
    std::printf("%s\n", r.c_str());
    return ok && r == "background report, then urgent" ? 0 : 1;
}
