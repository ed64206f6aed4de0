// Memory estimates and the activity behind a failed allocation (see memory_budget.hpp).
#include "memory_budget.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <unistd.h>
#include <utility>

namespace xrestore::cli {

namespace {

std::vector<std::string>& activities() {
    static std::vector<std::string> stack;
    return stack;
}

/// The innermost activity an exception left (its scope ends before the exception is caught).
std::string& left_by_exception() {
    static std::string what;
    return what;
}

std::string gb(double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
    return text;
}

/// "" if `gb` is a valid --max-memory, else the error.
std::string check_memory_limit(std::string& value) {
    try {
        std::size_t used = 0;
        const double v = std::stod(value, &used);
        if (used == value.size() && std::isfinite(v) && v > 0.0) {
            return {};
        }
    } catch (const std::exception&) {
    }
    return "must be a number of GB > 0, got '" + value + "'";
}

} // namespace

std::uint64_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0
               ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
               : 0;
}

double default_max_memory_gb() {
    const std::uint64_t bytes = physical_memory();
    return bytes == 0 ? 16.0 : std::floor(0.75 * static_cast<double>(bytes) / 1e8) / 10.0;
}

void add_memory_flag(command& c, double& limit_gb) {
    limit_gb = default_max_memory_gb();
    c.add("--max-memory", limit_gb,
          "refuse to start when the run's estimated memory exceeds this many GB (default: 3/4 of "
          "the physical memory)")
        .validated(check_memory_limit, "GB > 0")
        .show_default();
}

double image_bytes(const shape3& shape, double images) {
    return images * 4.0 * static_cast<double>(shape[0]) * static_cast<double>(shape[1]) *
           static_cast<double>(shape[2]);
}

shape3 memory_plan::input(const std::string& flag, const std::string& path) {
    const activity reading("reading the header of " + flag + " '" + path + "'");
    const array_info info = read_array_info(path);
    add("decoding " + flag + " '" + path + "' (" + shape_string(info.shape) + ")",
        static_cast<double>(info.decoder_bytes) + image_bytes(info.shape));
    return info.shape;
}

void memory_plan::add(std::string what, double bytes) {
    parts_.emplace_back(std::move(what), bytes);
}

double memory_plan::total() const {
    double sum = 0.0;
    for (const auto& [what, bytes] : parts_) {
        sum += bytes;
    }
    return sum;
}

void memory_plan::check() const {
    const double need = total();
    if (need <= limit_gb_ * 1e9) {
        return;
    }
    std::vector<std::pair<std::string, double>> largest = parts_;
    std::sort(largest.begin(), largest.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string list;
    for (std::size_t i = 0; i < largest.size() && i < 3; ++i) {
        list += (i == 0 ? "" : "; ") + largest[i].first + ": " + gb(largest[i].second);
    }
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g GB", limit_gb_);
    throw value_error(command_ + ": this run needs about " + gb(need) + " of memory (" + list +
                      "), more than --max-memory " + limit +
                      "; use a smaller input, or raise --max-memory if the machine has the memory");
}

activity::activity(std::string what) : exceptions_(std::uncaught_exceptions()) {
    activities().push_back(std::move(what));
}

activity::~activity() {
    if (std::uncaught_exceptions() > exceptions_ && left_by_exception().empty()) {
        left_by_exception() = activities().back();
    }
    activities().pop_back();
}

std::string current_activity() {
    return activities().empty() ? left_by_exception() : activities().back();
}

} // namespace xrestore::cli
