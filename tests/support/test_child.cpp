// tests/support/test_child.cpp — the child the process tests spawn: reports what it inherited
// (descriptors, signal mask and ignored signals) and writes known patterns.
//   fds              the numbers of its open descriptors, space-separated ("0 1 2")
//   signals          its SigBlk and SigIgn masks from /proc/self/status ("0000000000000000 ...")
//   pattern N        N bytes of the pattern i % 251 to stdout
//   spew N           N pattern bytes to stderr, then N to stdout (a parent reading one pipe at a
//                    time would deadlock)
//   interleave N     N pattern bytes to each of stdout and stderr, in alternating 4 KiB pieces
//   echo             stdin to stdout until end of input
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace {

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::vector<char> pattern(std::size_t from, std::size_t n) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<char>((from + i) % 251);
    }
    return v;
}

int list_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) {
        return 2;
    }
    const int own = ::dirfd(d);
    std::vector<int> fds;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.' && std::atoi(e->d_name) != own) {
            fds.push_back(std::atoi(e->d_name));
        }
    }
    ::closedir(d);
    std::string out;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        out += (i > 0 ? " " : "") + std::to_string(fds[i]);
    }
    out += "\n";
    return write_all(1, out.data(), out.size()) ? 0 : 1;
}

int signal_masks() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) {
        return 2;
    }
    char line[256];
    std::string out;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "SigBlk:", 7) == 0 || std::strncmp(line, "SigIgn:", 7) == 0) {
            out += line;
        }
    }
    std::fclose(f);
    return write_all(1, out.data(), out.size()) ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    const std::size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 0;
    if (mode == "fds") {
        return list_fds();
    }
    if (mode == "signals") {
        return signal_masks();
    }
    if (mode == "pattern") {
        const auto p = pattern(0, n);
        return write_all(1, p.data(), n) ? 0 : 1;
    }
    if (mode == "spew") {
        const auto p = pattern(0, n);
        return write_all(2, p.data(), n) && write_all(1, p.data(), n) ? 0 : 1;
    }
    if (mode == "interleave") {
        const auto p = pattern(0, n);
        for (std::size_t at = 0; at < n; at += 4096) {
            const std::size_t k = n - at < 4096 ? n - at : 4096;
            if (!write_all(1, p.data() + at, k) || !write_all(2, p.data() + at, k)) {
                return 1;
            }
        }
        return 0;
    }
    if (mode == "echo") {
        char buf[65536];
        for (;;) {
            const ssize_t r = ::read(0, buf, sizeof buf);
            if (r <= 0) {
                return r == 0 ? 0 : 1;
            }
            if (!write_all(1, buf, static_cast<std::size_t>(r))) {
                return 1;
            }
        }
    }
    std::fprintf(stderr, "test_child: unknown mode '%s'\n", mode.c_str());
    return 64;
}
