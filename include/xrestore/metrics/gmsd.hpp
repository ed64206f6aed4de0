#pragma once
/// @file gmsd.hpp
/// Gradient magnitude similarity deviation (Xue, Zhang, Mou & Bovik 2014), following the
/// authors' MATLAB GMSD.m. Lower is better; 0 for identical images.
///
/// @code
/// double d = xrestore::gmsd(reference, estimate);                 // images in [0,1]
/// xrestore::matrix q = xrestore::gms_map(reference, estimate);    // ceil(H/2) x ceil(W/2)
/// double f = xrestore::gmsd_masked(reference, estimate, mask);    // mask 1 x H x W
/// @endcode
///
/// Steps, on the luminance Y = 255 / data_range * (0.299 R + 0.587 G + 0.114 B) (one channel:
/// Y = 255 / data_range * x):
///   1. Y <- conv2(Y, ones(2) / 4, 'same') sampled at (1:2:end, 1:2:end): the mean of each 2 x 2
///      block starting at even (0-based) indices, zero outside the image (odd sizes);
///   2. Prewitt gradients with zero padding, hx = [1 0 -1; 1 0 -1; 1 0 -1] / 3, hy = hx^T:
///      m = sqrt((Y * hx)^2 + (Y * hy)^2);
///   3. GMS = (2 m1 m2 + c) / (m1^2 + m2^2 + c), c = 170;
///   4. GMSD = standard deviation of the GMS map with N - 1 normalisation (MATLAB std2).
/// gmsd_masked takes the deviation over the map entries whose 2 x 2 block (its pixels inside the
/// image) a 1 x H x W mask selects (nonzero) at least half of; an all-ones mask gives gmsd().

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

/// Parameters of gmsd().
struct gmsd_options {
    /// Distance between the minimum and maximum possible values; images are rescaled to
    /// [0, 255] by 255 / data_range.
    double data_range = 1.0;
    /// Stabilising constant of the similarity map (170 in the paper, for [0, 255] images).
    double c = 170.0;
};

namespace detail {

/// Luminance of row i of a 1- or 3-channel h x w image into y (w values):
/// Y = scale (w0 R + w1 G + w2 B), or scale x.
inline void gmsd_luma_row(const image& x, std::size_t i, double scale, double* y) {
    const std::size_t w = x.shape()[2];
    const std::size_t plane = x.shape()[1] * w;
    const float* r = x.data() + i * w;
    if (x.shape()[0] == 1) {
        for (std::size_t j = 0; j < w; ++j) {
            y[j] = scale * static_cast<double>(r[j]);
        }
        return;
    }
    const float* g = r + plane;
    const float* b = g + plane;
    for (std::size_t j = 0; j < w; ++j) {
        y[j] = scale * (bt601_weights[0] * static_cast<double>(r[j]) +
                        bt601_weights[1] * static_cast<double>(g[j]) +
                        bt601_weights[2] * static_cast<double>(b[j]));
    }
}

/// Step 1 on the luminance of a 1- or 3-channel h x w image: the ceil(h/2) x ceil(w/2) means of
/// the 2 x 2 blocks (zero outside the image), stored with a one-pixel zero border for step 2:
/// d has (h2 + 2) x (w2 + 2) entries.
inline std::vector<double> gmsd_downsample(const image& x, double scale) {
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    const std::size_t h2 = (h + 1) / 2;
    const std::size_t w2 = (w + 1) / 2;
    const std::size_t stride = w2 + 2;
    std::vector<double> d((h2 + 2) * stride, 0.0);
    std::vector<double> rows(4 * w2, 0.0); // two rows of luminance, zero-padded to 2 w2
    double* y0 = rows.data();
    double* y1 = y0 + 2 * w2;
    for (std::size_t p = 0; p < h2; ++p) {
        gmsd_luma_row(x, 2 * p, scale, y0);
        if (2 * p + 1 < h) {
            gmsd_luma_row(x, 2 * p + 1, scale, y1);
        } else {
            std::fill(y1, y1 + w, 0.0);
        }
        double* out = d.data() + (p + 1) * stride + 1;
        for (std::size_t q = 0; q < w2; ++q) {
            out[q] = 0.25 * (((y0[2 * q] + y0[2 * q + 1]) + y1[2 * q]) + y1[2 * q + 1]);
        }
    }
    return d;
}

/// Step 2: Prewitt gradient magnitude of the zero-bordered h x w array from step 1.
inline std::vector<double> gmsd_gradient(const std::vector<double>& d, std::size_t h,
                                         std::size_t w) {
    const std::size_t stride = w + 2;
    std::vector<double> m(h * w);
    for (std::size_t i = 0; i < h; ++i) {
        // rows i - 1, i, i + 1 of the image; [j] is column j - 1, [j + 1] column j
        const double* up = d.data() + i * stride;
        const double* mid = up + stride;
        const double* down = mid + stride;
        double* out = m.data() + i * w;
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < w; ++j) {
            // gx = sum over the rows of (right - left) / 3, gy = sum over the columns of
            // (below - above) / 3
            const double gx =
                ((up[j + 2] - up[j]) + (mid[j + 2] - mid[j]) + (down[j + 2] - down[j])) / 3.0;
            const double gy =
                ((down[j] - up[j]) + (down[j + 1] - up[j + 1]) + (down[j + 2] - up[j + 2])) / 3.0;
            out[j] = std::sqrt(gx * gx + gy * gy);
        }
    }
    return m;
}

/// The GMS map of two validated images and its size.
inline std::vector<double> gms_values(const image& reference, const image& estimate,
                                      const gmsd_options& options, std::string_view where,
                                      std::size_t& hd, std::size_t& wd) {
    check_pair(reference, estimate, where);
    require(std::isfinite(options.data_range) && options.data_range > 0.0, where, "data_range",
            "positive and finite", options.data_range);
    require(std::isfinite(options.c) && options.c > 0.0, where, "c", "positive and finite",
            options.c);
    const std::size_t h = reference.shape()[1];
    const std::size_t w = reference.shape()[2];
    hd = (h + 1) / 2;
    wd = (w + 1) / 2;
    if (hd * wd < 2) {
        throw value_error(concat(where,
                                 ": images must be at least 3 pixels along one side (the "
                                 "downsampled map needs 2 pixels), got ",
                                 shape_string(reference.shape())));
    }
    if (reference.shape()[0] != 1 && reference.shape()[0] != 3) {
        throw shape_error(concat(where, ": images must have 1 (gray) or 3 (RGB) channels, got ",
                                 shape_string(reference.shape())));
    }
    const double scale = 255.0 / options.data_range;
    const auto m1 = gmsd_gradient(gmsd_downsample(reference, scale), hd, wd);
    const auto m2 = gmsd_gradient(gmsd_downsample(estimate, scale), hd, wd);
    std::vector<double> q(hd * wd);
    for (std::size_t i = 0; i < q.size(); ++i) {
        // GMS = (2 m1 m2 + c) / (m1^2 + m2^2 + c)
        q[i] = (2.0 * m1[i] * m2[i] + options.c) / (m1[i] * m1[i] + m2[i] * m2[i] + options.c);
    }
    return q;
}

} // namespace detail

namespace detail {

/// Standard deviation (N - 1) of the map entries `keep` accepts; at least two are needed.
template <class Keep>
double gms_deviation(const std::vector<double>& q, const Keep& keep, std::string_view where) {
    double sum = 0.0;
    double count = 0.0;
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (keep(i)) {
            sum += q[i];
            count += 1.0;
        }
    }
    if (count < 2.0) {
        throw value_error(concat(where, ": the mask selects ", count,
                                 " entries of the half-resolution similarity map; a deviation "
                                 "needs at least 2"));
    }
    const double mean = sum / count;
    double ss = 0.0;
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (keep(i)) {
            ss += (q[i] - mean) * (q[i] - mean);
        }
    }
    return std::sqrt(ss / (count - 1.0)); // std2: sqrt(sum (q - mean)^2 / (N - 1))
}

} // namespace detail

/// GMSD of two 1- or 3-channel C x H x W images: the standard deviation (N - 1) of the
/// gradient magnitude similarity map. Throws shape_error for different shapes or other channel
/// counts, value_error for non-finite values, too small images or invalid options.
inline double gmsd(const image& reference, const image& estimate,
                   const gmsd_options& options = {}) {
    std::size_t hd = 0;
    std::size_t wd = 0;
    const auto q = detail::gms_values(reference, estimate, options, "gmsd", hd, wd);
    return detail::gms_deviation(
        q, [](std::size_t) { return true; }, "gmsd");
}

/// GMSD over the map entries whose 2 x 2 block a 1 x H x W mask selects at least half of (see
/// the file comment). Throws like gmsd(), shape_error for a mask of another shape (GMSD compares
/// the luminance, so one mask for all channels), value_error for a non-finite mask or one that
/// selects fewer than two map entries.
inline double gmsd_masked(const image& reference, const image& estimate, const image& mask,
                          const gmsd_options& options = {}) {
    constexpr std::string_view where = "gmsd_masked";
    detail::check_pair(reference, estimate, where);
    const shape3 shape = shape_of<3>(reference);
    detail::require_shared_mask(mask, shape, where, "GMSD");
    std::size_t hd = 0;
    std::size_t wd = 0;
    const auto q = detail::gms_values(reference, estimate, options, where, hd, wd);
    const std::size_t h = shape[1];
    const std::size_t w = shape[2];
    std::vector<char> keep(q.size());
    for (std::size_t p = 0; p < hd; ++p) {
        for (std::size_t r = 0; r < wd; ++r) {
            int inside = 0;
            int selected = 0;
            for (std::size_t i = 2 * p; i < std::min(2 * p + 2, h); ++i) {
                for (std::size_t j = 2 * r; j < std::min(2 * r + 2, w); ++j) {
                    ++inside;
                    selected += mask.data()[i * w + j] != 0.0F ? 1 : 0;
                }
            }
            keep[p * wd + r] = 2 * selected >= inside ? 1 : 0;
        }
    }
    return detail::gms_deviation(
        q, [&](std::size_t i) { return keep[i] != 0; }, where);
}

/// The ceil(H/2) x ceil(W/2) gradient magnitude similarity map whose deviation is gmsd().
inline matrix gms_map(const image& reference, const image& estimate,
                      const gmsd_options& options = {}) {
    std::size_t hd = 0;
    std::size_t wd = 0;
    const auto q = detail::gms_values(reference, estimate, options, "gms_map", hd, wd);
    matrix out = matrix::from_shape({hd, wd});
    for (std::size_t i = 0; i < q.size(); ++i) {
        out.data()[i] = static_cast<float>(q[i]);
    }
    return out;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double gmsd(const R&, const E&, const gmsd_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double gmsd_masked(const R&, const E&, const M&, const gmsd_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

template <class R, class E>
requires detail::mismatched_arrays<image, R, E> matrix gms_map(const R&, const E&,
                                                               const gmsd_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

} // namespace xrestore
