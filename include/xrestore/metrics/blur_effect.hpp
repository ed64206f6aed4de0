#pragma once
/// @file blur_effect.hpp
/// No-reference blur metric of Crete et al. (2007), identical to scikit-image 0.19's
/// `skimage.measure.blur_effect(img, h_size, channel_axis=...)` with the default reduction
/// (maximum over axes): 0 for a sharp image, towards 1 for a strongly blurred one.
///
/// @code
/// double b = xrestore::blur_effect(img);          // 1 x H x W gray or 3 x H x W RGB
/// double b5 = xrestore::blur_effect(img, 5);      // re-blurring filter of 5 taps
/// @endcode
///
/// On the gray image Y (RGB: skimage.color.rgb2gray, Y = 0.2125 R + 0.7154 G + 0.0721 B), for
/// each axis a (rows, then columns):
///   F_a     = uniform filter of h_size taps along a (scipy uniform_filter1d, 'reflect');
///   D_a(u)  = |Sobel of u along a| (edge [1 0 -1] along a, smoothing [1 2 1] / 4 across);
///   T_a     = max(0, D_a(Y) - D_a(F_a))
///   B_a     = |M1 - M2| / M1,  M1 = sum D_a(Y),  M2 = sum T_a,
/// the sums over the interior rows and columns [2, n - 1). The result is max_a B_a. An image
/// without any gradient along an axis (M1 = 0) has no defined blur: value_error (skimage
/// returns NaN).

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

namespace xrestore {

namespace detail {

/// scipy.ndimage.uniform_filter1d(y, size, axis, mode='reflect') of an h x w array: the mean of
/// the `size` samples [i - size/2, i - size/2 + size) along the axis.
inline std::vector<double> uniform_filter1d(const std::vector<double>& y, std::size_t h,
                                            std::size_t w, std::size_t size, int axis) {
    std::vector<double> out(h * w);
    const std::size_t n = axis == 0 ? h : w;
    const std::size_t lines = axis == 0 ? w : h;
    const std::size_t step = axis == 0 ? w : 1;
    const std::size_t line_step = axis == 0 ? 1 : w;
    const auto left = static_cast<std::ptrdiff_t>(size / 2);
    const auto nn = static_cast<std::ptrdiff_t>(n);
    std::vector<double> line(n);
    for (std::size_t l = 0; l < lines; ++l) {
        const double* src = y.data() + l * line_step;
        for (std::size_t i = 0; i < n; ++i) {
            line[i] = src[i * step];
        }
        double* dst = out.data() + l * line_step;
        for (std::size_t i = 0; i < n; ++i) {
            double sum = 0.0;
            const auto start = static_cast<std::ptrdiff_t>(i) - left;
            for (std::size_t k = 0; k < size; ++k) {
                sum += line[static_cast<std::size_t>(
                    reflect_index(start + static_cast<std::ptrdiff_t>(k), nn))];
            }
            dst[i * step] = sum / static_cast<double>(size);
        }
    }
    return out;
}

/// |Sobel along `axis`| at interior pixel (i, j), 1 <= i < h - 1, 1 <= j < w - 1:
///   axis 0: |sum_b s_b (y[i+1][j+b] - y[i-1][j+b])|, s = (1/4, 1/2, 1/4); axis 1 transposed.
inline double sobel_abs(const double* y, std::size_t w, std::size_t i, std::size_t j, int axis) {
    const double* up = y + (i - 1) * w + j;
    const double* mid = y + i * w + j;
    const double* down = y + (i + 1) * w + j;
    if (axis == 0) {
        return std::abs(0.25 * (down[-1] - up[-1]) + 0.5 * (down[0] - up[0]) +
                        0.25 * (down[1] - up[1]));
    }
    return std::abs(0.25 * (up[1] - up[-1]) + 0.5 * (mid[1] - mid[-1]) +
                    0.25 * (down[1] - down[-1]));
}

} // namespace detail

/// Blur effect of a 1 x H x W (gray) or 3 x H x W (RGB) image; H and W at least 4, h_size at
/// least 1. Throws shape_error for other channel counts and value_error for non-finite values,
/// too small images or an image without gradient.
inline double blur_effect(const image& img, std::size_t h_size = 11) {
    constexpr std::string_view where = "blur_effect";
    require(h_size >= 1 && h_size <= 100000, where, "h_size", "between 1 and 100000", h_size);
    const std::size_t h = img.shape()[1];
    const std::size_t w = img.shape()[2];
    if (h < 4 || w < 4) {
        throw value_error(detail::concat(where, ": image must be at least 4 x 4, got ",
                                         shape_string(img.shape())));
    }
    detail::require_finite(img, where, "image");
    const auto y = detail::luminance(img, detail::rgb2gray_weights, 1.0, where);
    double worst = 0.0;
    for (int axis = 0; axis < 2; ++axis) {
        const auto f = detail::uniform_filter1d(y, h, w, h_size, axis);
        double m1 = 0.0;
        double m2 = 0.0;
        for (std::size_t i = 2; i + 1 < h; ++i) {
            for (std::size_t j = 2; j + 1 < w; ++j) {
                const double sharp = detail::sobel_abs(y.data(), w, i, j, axis);
                const double blur = detail::sobel_abs(f.data(), w, i, j, axis);
                m1 += sharp;
                m2 += std::max(0.0, sharp - blur); // T = max(0, D(Y) - D(F))
            }
        }
        if (m1 == 0.0) {
            throw value_error(detail::concat(
                where, ": image must vary along ", axis == 0 ? "its rows" : "its columns",
                " (its Sobel response there is zero, the blur is undefined), got a flat image"));
        }
        worst = std::max(worst, std::abs(m1 - m2) / m1); // B = |M1 - M2| / M1
    }
    return worst;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_array<E, image>
double blur_effect(const E&, std::size_t = 11) {
    detail::reject_array<E, image>();
    return 0.0;
}

} // namespace xrestore
