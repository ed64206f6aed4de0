#pragma once
/// @file ms_ssim.hpp
/// Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003), with SSIM components
/// computed exactly as skimage's Gaussian SSIM.
///
/// @code
/// double m = xrestore::ms_ssim(reference, estimate);          // images >= 176 x 176
/// double g = xrestore::ms_ssim(reference, estimate, {.data_range = 255.0});
/// @endcode
///
/// Definition (Wang's reference MATLAB msssim.m, as also in tf.image.ssim_multiscale and
/// pytorch_msssim): per channel, for scales j = 1..M (M = weights.size(), 5 by default),
///   cs_j   = mean over the cropped map of (2 vxy + C2) / (vx + vy + C2)
///   ssim_M = mean over the cropped map of the full SSIM at the coarsest scale
///   MS-SSIM = max(ssim_M, 0)^w_M * prod_{j<M} max(cs_j, 0)^w_j
/// then the mean over channels. Window moments are those of ssim() with gaussian_weights
/// (sigma 1.5 truncated at 3.5 sigma, 11 taps, 'reflect'), population covariance
/// (use_sample_covariance = false) and the crop of (11 - 1) / 2 pixels, which equals Wang's
/// 'valid' filtering. Between scales both images are 2 x 2 average-pooled:
///   x_{j+1}(i, k) = (x(2i, 2k) + x(2i, 2k+1) + x(2i+1, 2k) + x(2i+1, 2k+1)) / 4
/// dropping a last odd row or column (torch avg_pool2d(2)). The negative-value clamp is
/// pytorch_msssim's (Wang's code would return a complex number). The coarsest scale must hold
/// the window, so images need at least 11 * 2^(M-1) pixels (176 for M = 5) per side.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"
#include "xrestore/metrics/ssim.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

namespace xrestore {

/// Parameters of ms_ssim().
struct ms_ssim_options {
    /// Distance between the minimum and maximum possible values.
    double data_range = 1.0;
    /// Standard deviation of the Gaussian window at every scale.
    double sigma = 1.5;
    /// Stabilising constants, C1 = (k1 data_range)^2 and C2 = (k2 data_range)^2.
    double k1 = 0.01;
    double k2 = 0.03;
    /// Exponent of each scale, finest first; their number is the number of scales.
    std::vector<double> weights = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
};

namespace detail {

/// 2 x 2 average pooling of a C x h x w plane stack into C x (h/2) x (w/2) (floor).
template <class T>
std::vector<double> average_pool2(const T* x, std::size_t channels, std::size_t h, std::size_t w) {
    const std::size_t h2 = h / 2;
    const std::size_t w2 = w / 2;
    std::vector<double> out(channels * h2 * w2);
    for (std::size_t c = 0; c < channels; ++c) {
        for (std::size_t i = 0; i < h2; ++i) {
            const T* a = x + (c * h + 2 * i) * w;
            const T* b = a + w;
            double* o = out.data() + (c * h2 + i) * w2;
            for (std::size_t k = 0; k < w2; ++k) {
                // ((x00 + x01) + x10) + x11, then / 4 (exact)
                o[k] = (((static_cast<double>(a[2 * k]) + static_cast<double>(a[2 * k + 1])) +
                         static_cast<double>(b[2 * k])) +
                        static_cast<double>(b[2 * k + 1])) *
                       0.25;
            }
        }
    }
    return out;
}

} // namespace detail

/// MS-SSIM of two C x H x W images (mean over channels); see the file comment for the exact
/// definition. Throws shape_error for different shapes and value_error for images smaller than
/// 11 * 2^(scales - 1) per side, non-finite values or invalid options.
inline double ms_ssim(const image& reference, const image& estimate,
                      const ms_ssim_options& options = {}) {
    constexpr std::string_view where = "ms_ssim";
    detail::check_pair(reference, estimate, where);
    const std::size_t scales = options.weights.size();
    require(scales >= 1 && scales <= 16, where, "weights", "between 1 and 16 values",
            detail::concat(scales, " values"));
    for (double wgt : options.weights) {
        require(std::isfinite(wgt) && wgt >= 0.0, where, "weights", "non-negative and finite", wgt);
    }
    const detail::ssim_window win = detail::make_ssim_window({.gaussian_weights = true,
                                                              .sigma = options.sigma,
                                                              .use_sample_covariance = false,
                                                              .data_range = options.data_range,
                                                              .k1 = options.k1,
                                                              .k2 = options.k2},
                                                             where);
    const shape3 shape = shape_of<3>(reference);
    const std::size_t minimum = win.size() << (scales - 1);
    if (shape[1] < minimum || shape[2] < minimum) {
        throw value_error(
            detail::concat(where, ": images must be at least ", minimum, " x ", minimum, " for ",
                           scales, " scales with a ", win.size(), " x ", win.size(),
                           " window (each scale halves the size), got ", shape_string(shape)));
    }
    const std::size_t channels = shape[0];
    std::vector<double> value(channels, 1.0);
    std::vector<double> x;
    std::vector<double> y;
    std::size_t h = shape[1];
    std::size_t w = shape[2];
    for (std::size_t j = 0; j < scales; ++j) {
        detail::ssim_sums sums;
        if (j == 0) {
            sums = detail::ssim_channel_sums(reference.data(), estimate.data(), channels, h, w, win,
                                             nullptr, true);
            if (scales > 1) {
                x = detail::average_pool2(reference.data(), channels, h, w);
                y = detail::average_pool2(estimate.data(), channels, h, w);
            }
        } else {
            sums =
                detail::ssim_channel_sums(x.data(), y.data(), channels, h, w, win, nullptr, true);
            if (j + 1 < scales) {
                x = detail::average_pool2(x.data(), channels, h, w);
                y = detail::average_pool2(y.data(), channels, h, w);
            }
        }
        for (std::size_t c = 0; c < channels; ++c) {
            // last scale: the full SSIM; others: contrast-structure only
            const double mean = (j + 1 == scales ? sums.ssim[c] : sums.cs[c]) / sums.count[c];
            value[c] *= std::pow(std::max(mean, 0.0), options.weights[j]);
        }
        h /= 2;
        w /= 2;
    }
    double total = 0.0;
    for (double v : value) {
        total += v;
    }
    return total / static_cast<double>(channels);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double ms_ssim(const R&, const E&, const ms_ssim_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

} // namespace xrestore
