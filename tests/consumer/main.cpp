// The consumer smoke test: include the umbrella header, spawn a task, check its value.
#include <weft/weft.hpp>

int main() {
    weft::thread_pool pool{weft::pool_options{.threads = 2}};
    weft::task<int> t = weft::spawn(pool, [] { return 6 * 7; });
    auto u = t.then([](int x) { return x + 1; });
    return u.get() == 43 ? 0 : 1;
}
