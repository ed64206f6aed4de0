#pragma once
/// @file boundary.hpp
/// Boundary modes: how an image is extended beyond its edges before a convolution, and the
/// index map that says which source pixel a padded position copies.
///
/// @code
/// xrestore::boundary b = xrestore::parse_boundary("reflect");
/// long s = xrestore::boundary_source_index(-1, 5, b);   // 1: x[-1] = x[1]
/// std::string_view name = xrestore::to_string(b);        // "reflect"
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace xrestore {

/// How a convolution extends the image beyond its edges. With x = a b c d:
///   zero:      0 0 | a b c d | 0 0
///   circular:  c d | a b c d | a b      (periodic wrap)
///   reflect:   c b | a b c d | c b      (mirror without repeating the edge, numpy/torch 'reflect')
///   replicate: a a | a b c d | d d      (edge value)
///   mean:      m m | a b c d | m m      (m = the channel's mean, so the padding is linear in x)
/// Every mode supports pads of any width: circular and reflect fold the index repeatedly.
enum class boundary { zero, circular, reflect, replicate, mean };

/// The canonical name of a boundary mode.
constexpr std::string_view to_string(boundary b) {
    switch (b) {
    case boundary::zero:
        return "zero";
    case boundary::circular:
        return "circular";
    case boundary::reflect:
        return "reflect";
    case boundary::replicate:
        return "replicate";
    case boundary::mean:
        return "mean";
    }
    return "unknown";
}

/// Parse a boundary name: zero, circular, reflect, replicate, mean; also the aliases
/// "periodic" and "wrap" (circular) and "edge" (replicate). Throws value_error otherwise.
inline boundary parse_boundary(std::string_view name) {
    if (name == "zero") {
        return boundary::zero;
    }
    if (name == "circular" || name == "periodic" || name == "wrap") {
        return boundary::circular;
    }
    if (name == "reflect") {
        return boundary::reflect;
    }
    if (name == "replicate" || name == "edge") {
        return boundary::replicate;
    }
    if (name == "mean") {
        return boundary::mean;
    }
    throw value_error(detail::concat(
        "parse_boundary: name must be one of zero, circular (or periodic, wrap), reflect, "
        "replicate (or edge), mean; got '",
        name, "'"));
}

/// The source index that padded position i of an axis of length n copies, or -1 when the mode
/// fills it with a constant (zero, or the channel mean). Requires n >= 1.
///   circular:  i mod n
///   reflect:   fold i into [0, 2n-2) and mirror the upper half (n = 1 gives 0)
///   replicate: clamp(i, 0, n-1)
XRESTORE_HD constexpr std::int64_t boundary_source_index(std::int64_t i, std::int64_t n,
                                                         boundary b) {
    if (i >= 0 && i < n) {
        return i;
    }
    switch (b) {
    case boundary::circular: {
        const std::int64_t m = i % n;
        return m < 0 ? m + n : m;
    }
    case boundary::reflect: {
        if (n == 1) {
            return 0;
        }
        const std::int64_t period = 2 * (n - 1);
        std::int64_t m = i % period;
        m = m < 0 ? m + period : m;
        return m < n ? m : period - m;
    }
    case boundary::replicate:
        return i < 0 ? 0 : n - 1;
    case boundary::zero:
    case boundary::mean:
        return -1;
    }
    return -1;
}

} // namespace xrestore
