#pragma once
/// @file total_variation.hpp
/// Isotropic total variation of an image, a no-reference measure of its oscillation (noise and
/// ringing raise it, blur lowers it).
///
/// @code
/// double tv = xrestore::total_variation(img);      // C x H x W
/// double per_pixel = tv / static_cast<double>(img.size());
/// @endcode
///
/// TV(x) = sum_c sum_{i,j} sqrt(dx^2 + dy^2) with forward differences and Neumann boundary:
///   dx = x[c][i][j+1] - x[c][i][j]  (0 in the last column),
///   dy = x[c][i+1][j] - x[c][i][j]  (0 in the last row),
/// summed over channels (channel by channel, not a vectorial TV), accumulated in double.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <cmath>
#include <cstddef>
#include <string_view>

namespace xrestore {

/// Isotropic TV of a C x H x W image. Throws value_error for an empty or non-finite image.
inline double total_variation(const image& img) {
    constexpr std::string_view where = "total_variation";
    if (img.size() == 0) {
        throw value_error(
            detail::concat(where, ": image must be non-empty, got ", shape_string(img.shape())));
    }
    detail::require_finite(img, where, "image");
    const std::size_t channels = img.shape()[0];
    const std::size_t h = img.shape()[1];
    const std::size_t w = img.shape()[2];
    double total = 0.0;
    for (std::size_t c = 0; c < channels; ++c) {
        const float* x = img.data() + c * h * w;
        for (std::size_t i = 0; i < h; ++i) {
            const float* row = x + i * w;
            const float* next = i + 1 < h ? row + w : row; // Neumann: dy = 0 in the last row
            for (std::size_t j = 0; j < w; ++j) {
                const double v = static_cast<double>(row[j]);
                const double dx = j + 1 < w ? static_cast<double>(row[j + 1]) - v : 0.0;
                const double dy = static_cast<double>(next[j]) - v;
                total += std::sqrt(dx * dx + dy * dy);
            }
        }
    }
    return total;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_array<E, image>
double total_variation(const E&) {
    detail::reject_array<E, image>();
    return 0.0;
}

} // namespace xrestore
