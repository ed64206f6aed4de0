#pragma once
/// @file squared_error.hpp
/// The host sum of squared differences that the CPU mse (metrics/mse.hpp) and the solvers'
/// reference monitor (solvers/monitor.hpp) share, so both give the same number to the last bit.
///
/// @code
/// const double sum = xrestore::detail::squared_error_sum(a.data(), b.data(), a.size());
/// const double mse = sum / static_cast<double>(a.size());
/// @endcode

#include <cstddef>

namespace xrestore::detail {

/// sum (a[i] - b[i])^2 over n floats, in double with eight interleaved accumulators (memory
/// bound: one thread reads as fast as several).
inline double squared_error_sum(const float* a, const float* b, std::size_t n) {
    double acc[8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (std::size_t k = 0; k < 8; ++k) {
            const double d = static_cast<double>(a[i + k]) - static_cast<double>(b[i + k]);
            acc[k] += d * d;
        }
    }
    for (; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
        acc[0] += d * d;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

} // namespace xrestore::detail
