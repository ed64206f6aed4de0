#pragma once
/// @file laplacian_variance.hpp
/// Variance of the Laplacian, a no-reference sharpness (focus) measure: higher is sharper.
///
/// @code
/// double v = xrestore::laplacian_variance(img);    // 1 x H x W gray or 3 x H x W RGB
/// bool blurry = v < 1e-3;                         // a threshold for images in [0,1]
/// @endcode
///
/// On the luminance Y (RGB: Y = 0.299 R + 0.587 G + 0.114 B, ITU-R BT.601 as in OpenCV's
/// gray conversion; values as given, not rescaled), with the 3 x 3 Laplacian
/// [0 1 0; 1 -4 1; 0 1 0] over the valid region only (no padding):
///   L[i][j] = Y[i-1][j] + Y[i+1][j] + Y[i][j-1] + Y[i][j+1] - 4 Y[i][j],  0 < i < H-1, 0 < j < W-1
///   result  = (1/N) sum (L - mean L)^2 over those N = (H - 2)(W - 2) values (population
///             variance, numpy's var). Images in [0, 255] give 255^2 times the value.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

namespace xrestore {

/// Variance of the valid-region Laplacian of the luminance. Throws shape_error for other than
/// 1 or 3 channels and value_error for images smaller than 3 x 3 or non-finite values.
inline double laplacian_variance(const image& img) {
    constexpr std::string_view where = "laplacian_variance";
    const std::size_t h = img.shape()[1];
    const std::size_t w = img.shape()[2];
    if (h < 3 || w < 3) {
        throw value_error(detail::concat(where, ": image must be at least 3 x 3, got ",
                                         shape_string(img.shape())));
    }
    detail::require_finite(img, where, "image");
    const auto y = detail::luminance(img, detail::bt601_weights, 1.0, where);
    std::vector<double> lap((h - 2) * (w - 2));
    std::size_t n = 0;
    for (std::size_t i = 1; i + 1 < h; ++i) {
        const double* up = y.data() + (i - 1) * w;
        const double* row = up + w;
        const double* down = row + w;
        for (std::size_t j = 1; j + 1 < w; ++j) {
            lap[n++] = up[j] + down[j] + row[j - 1] + row[j + 1] - 4.0 * row[j];
        }
    }
    double mean = 0.0;
    for (double v : lap) {
        mean += v;
    }
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (double v : lap) {
        ss += (v - mean) * (v - mean);
    }
    return ss / static_cast<double>(n);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_array<E, image>
double laplacian_variance(const E&) {
    detail::reject_array<E, image>();
    return 0.0;
}

} // namespace xrestore
