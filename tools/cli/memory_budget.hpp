#pragma once
// Memory: what a command will need, estimated from its inputs' headers before anything large is
// allocated, against a limit (--max-memory GB; by default 3/4 of the physical memory), and what
// it was doing when an allocation failed anyway (std::bad_alloc), for the error message.

#include "command.hpp"

#include <xrestore/core/tensor.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::cli {

/// Physical memory in bytes (0 when unknown).
std::uint64_t physical_memory();

/// The default of --max-memory, in GB: 3/4 of the physical memory (16 when unknown).
double default_max_memory_gb();

/// Declares --max-memory on `c`, bound to `gb` (initialised to the default).
void add_memory_flag(command& c, double& gb);

/// Bytes of `images` float32 images of shape `shape`.
double image_bytes(const shape3& shape, double images = 1.0);

/// The parts of a command's working set, checked against the limit.
class memory_plan {
public:
    memory_plan(std::string command, double limit_gb)
        : command_(std::move(command)), limit_gb_(limit_gb) {}

    /// The input `flag` ('path'): read from its header only; adds what decoding it takes and
    /// returns the shape load_array will give.
    shape3 input(const std::string& flag, const std::string& path);
    /// A part of the working set: `what` ("PnP-ADMM's iterates, 16 images") and its bytes.
    void add(std::string what, double bytes);
    /// Throws value_error when the parts add up to more than the limit, listing the largest.
    void check() const;
    [[nodiscard]] double total() const;

private:
    std::string command_;
    double limit_gb_;
    std::vector<std::pair<std::string, double>> parts_;
};

/// What the command is doing, for the message of an allocation that fails: an activity lives
/// for a step (reading an input, running the solver...) and the innermost one is reported.
class activity {
public:
    explicit activity(std::string what);
    ~activity();
    activity(const activity&) = delete;
    activity& operator=(const activity&) = delete;

private:
    int exceptions_; ///< uncaught exceptions when it began: more at its end means unwinding
};

/// f() as the activity `what`: returns what f returns.
template <class F>
decltype(auto) during(std::string what, F&& f) {
    const activity scope(std::move(what));
    return std::forward<F>(f)();
}

/// The innermost activity; once an exception has ended them, the innermost one it ended ("" when
/// none).
std::string current_activity();

} // namespace xrestore::cli
