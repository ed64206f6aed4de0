#pragma once
// Shared by the benchmark programs that print one key=value line (bench_train, bench_dip): the
// process's memory from /proc/self/status and "--name value" options.

#include <cstdlib>
#include <fstream>
#include <string>

namespace xrestore::bench {

/// A /proc/self/status field in MB ("VmRSS", "VmHWM"), -1 when absent.
inline double status_mb(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) {
            return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
        }
    }
    return -1.0;
}

/// The unsigned value after `name` among the arguments, or `fallback`.
inline std::size_t option(int argc, char** argv, const std::string& name, std::size_t fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (argv[i] == name) {
            return std::strtoull(argv[i + 1], nullptr, 10);
        }
    }
    return fallback;
}

} // namespace xrestore::bench
