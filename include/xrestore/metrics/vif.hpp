#pragma once
/// @file vif.hpp
/// Visual information fidelity in the pixel domain, VIFp (Sheikh & Bovik 2006, the authors'
/// multi-scale pixel version), with the same special cases as piq.vif_p. Higher is better: 1 for
/// identical images, about 0 when the distorted image carries no information about the
/// reference, above 1 for an image with more contrast than the reference.
///
/// @code
/// double v = xrestore::vif_p(reference, distorted);                 // images in [0,1]
/// double f = xrestore::vif_p_masked(reference, distorted, mask);    // mask 1 x H x W
/// @endcode
///
/// On the luminance Y = 255 / data_range * (0.299 R + 0.587 G + 0.114 B) (one channel:
/// 255 / data_range * x) of the reference r and the distorted image d, for scales s = 0..3 with
/// the normalised Gaussian window of N = 2^(4-s) + 1 taps and sigma N / 5:
///   1. for s > 0, r and d are filtered with the window ('valid': no padding) and every second
///      row and column kept, starting with the first;
///   2. local statistics over the window, 'valid': mu, s_rr = max(E[r^2] - mu_r^2, 0), s_dd
///      likewise, s_rd = E[r d] - mu_r mu_d;
///   3. gain g = s_rd / (s_rr + 1e-8) and s_v = s_dd - g s_rd; where s_rr < 1e-8: g = 0,
///      s_v = s_dd, s_rr = 0; where s_dd < 1e-8: g = 0, s_v = 0; where g < 0: s_v = s_dd,
///      g = 0; s_v at least 1e-8;
///   4. num += sum log10(1 + g^2 s_rr / (s_v + sigma_n^2)), den += sum log10(1 + s_rr /
///      sigma_n^2) over the map;
///   VIFp = (num + 1e-8) / (den + 1e-8).
/// Images must be at least 41 x 41 (the coarsest map then has one row). The argument order is
/// the library's (reference first); piq.vif_p takes (distorted, reference).
///
/// vif_p_masked restricts the sums of step 4 to the map entries whose window is centred on a
/// pixel the mask selects (nonzero), at every scale: map entry (i, j) of scale s is centred on
/// the original pixel (o_s + t_s (i + (N - 1) / 2), same for j), with t_s = 2^s and o_s the sum
/// of t_{k-1} (N_k - 1) / 2 over the downsamplings k <= s. An all-ones mask gives vif_p().

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

/// Parameters of vif_p().
struct vif_options {
    /// Distance between the minimum and maximum possible values; images are rescaled to
    /// [0, 255] by 255 / data_range.
    double data_range = 1.0;
    /// Variance of the visual noise of the model, on the [0, 255] scale (2 in the paper).
    double sigma_n_sq = 2.0;
};

namespace detail {

/// A row-major h x w plane of doubles.
struct vif_plane {
    std::size_t h = 0;
    std::size_t w = 0;
    std::vector<double> v;
};

/// The normalised Gaussian window of `taps` taps with sigma = taps / 5 (one axis; the 2-D window
/// is its outer product).
inline std::vector<double> vif_window(std::size_t taps) {
    std::vector<double> g(taps);
    const double sigma = static_cast<double>(taps) / 5.0;
    const double centre = (static_cast<double>(taps) - 1.0) / 2.0;
    double sum = 0.0;
    for (std::size_t k = 0; k < taps; ++k) {
        const double t = static_cast<double>(k) - centre;
        g[k] = std::exp(-t * t / (2.0 * sigma * sigma));
        sum += g[k];
    }
    for (double& v : g) {
        v /= sum;
    }
    return g;
}

/// 'valid' correlation of `a` with the separable window g x g, keeping every `step`-th output
/// row and column (1 or 2): the output has ceil((h - n + 1) / step) x ceil((w - n + 1) / step)
/// entries. Rows run in parallel; each output is the same sum in the same order.
inline vif_plane vif_filter(const vif_plane& a, const std::vector<double>& g, std::size_t step) {
    const std::size_t n = g.size();
    const std::size_t hv = a.h - n + 1;
    const std::size_t wv = a.w - n + 1;
    vif_plane out{(hv + step - 1) / step, (wv + step - 1) / step, {}};
    out.v.resize(out.h * out.w);
    const std::size_t blocks = (out.h + 15) / 16;
    parallel_tasks(blocks, out.h * a.w * n > (1u << 16), [&](std::size_t b, std::size_t) {
        std::vector<double> column(a.w);
        const std::size_t end = std::min(out.h, (b + 1) * 16);
        for (std::size_t i = b * 16; i < end; ++i) {
            // vertical pass: column(x) = sum_k g[k] a(step i + k, x)
            const double* first = a.v.data() + step * i * a.w;
            for (std::size_t x = 0; x < a.w; ++x) {
                column[x] = g[0] * first[x];
            }
            for (std::size_t k = 1; k < n; ++k) {
                const double* row = first + k * a.w;
                const double gk = g[k];
                XRESTORE_DETAIL_SIMD_LOOP
                for (std::size_t x = 0; x < a.w; ++x) {
                    column[x] += gk * row[x];
                }
            }
            // horizontal pass: out(i, j) = sum_k g[k] column(step j + k)
            double* o = out.v.data() + i * out.w;
            for (std::size_t j = 0; j < out.w; ++j) {
                const double* c = column.data() + step * j;
                double s = 0.0;
                for (std::size_t k = 0; k < n; ++k) {
                    s += g[k] * c[k];
                }
                o[j] = s;
            }
        }
    });
    return out;
}

/// The element-wise product of two planes of one size.
inline vif_plane vif_product(const vif_plane& a, const vif_plane& b) {
    vif_plane out{a.h, a.w, std::vector<double>(a.v.size())};
    for (std::size_t i = 0; i < a.v.size(); ++i) {
        out.v[i] = a.v[i] * b.v[i];
    }
    return out;
}

/// VIFp's numerator and denominator sums, over the map entries `selected(row, column)` accepts
/// (coordinates in the original image). Validates everything first.
template <class Selected>
double vif_score(const image& reference, const image& distorted, const vif_options& options,
                 std::string_view where, const Selected& selected) {
    check_pair(reference, distorted, where);
    require(std::isfinite(options.data_range) && options.data_range > 0.0, where, "data_range",
            "positive and finite", options.data_range);
    require(std::isfinite(options.sigma_n_sq) && options.sigma_n_sq > 0.0, where, "sigma_n_sq",
            "positive and finite", options.sigma_n_sq);
    const std::size_t h = reference.shape()[1];
    const std::size_t w = reference.shape()[2];
    if (h < 41 || w < 41) {
        throw shape_error(
            detail::concat(where,
                           ": images must be at least 41 x 41 (four scales of windows "
                           "17, 9, 5 and 3), got ",
                           shape_string(reference.shape())));
    }
    constexpr double eps = 1e-8;
    const double scale = 255.0 / options.data_range;
    vif_plane r{h, w, luminance(reference, bt601_weights, scale, where)};
    vif_plane d{h, w, luminance(distorted, bt601_weights, scale, where)};
    std::size_t offset = 0; // original position of pixel 0 of this scale
    std::size_t stride = 1; // original pixels per pixel of this scale
    double num = 0.0;
    double den = 0.0;
    for (std::size_t s = 0; s < 4; ++s) {
        const std::size_t taps = (std::size_t{1} << (4 - s)) + 1;
        const std::size_t half = (taps - 1) / 2;
        const std::vector<double> g = vif_window(taps);
        if (s > 0) {
            r = vif_filter(r, g, 2);
            d = vif_filter(d, g, 2);
            offset += stride * half;
            stride *= 2;
        }
        const vif_plane mu_r = vif_filter(r, g, 1);
        const vif_plane mu_d = vif_filter(d, g, 1);
        const vif_plane e_rr = vif_filter(vif_product(r, r), g, 1);
        const vif_plane e_dd = vif_filter(vif_product(d, d), g, 1);
        const vif_plane e_rd = vif_filter(vif_product(r, d), g, 1);
        for (std::size_t i = 0; i < mu_r.h; ++i) {
            const std::size_t row = offset + stride * (i + half);
            for (std::size_t j = 0; j < mu_r.w; ++j) {
                if (!selected(row, offset + stride * (j + half))) {
                    continue;
                }
                const std::size_t p = i * mu_r.w + j;
                double s_rr = std::max(e_rr.v[p] - mu_r.v[p] * mu_r.v[p], 0.0);
                const double s_dd = std::max(e_dd.v[p] - mu_d.v[p] * mu_d.v[p], 0.0);
                const double s_rd = e_rd.v[p] - mu_r.v[p] * mu_d.v[p];
                double gain = s_rd / (s_rr + eps);
                double s_v = s_dd - gain * s_rd;
                if (s_rr < eps) { // a flat reference window: no signal to transmit
                    gain = 0.0;
                    s_v = s_dd;
                    s_rr = 0.0;
                }
                if (s_dd < eps) { // a flat distorted window: nothing received
                    gain = 0.0;
                    s_v = 0.0;
                }
                if (gain < 0.0) { // inverted contrast counts as noise
                    s_v = s_dd;
                    gain = 0.0;
                }
                s_v = s_v > eps ? s_v : eps;
                num += std::log10(1.0 + gain * gain * s_rr / (s_v + options.sigma_n_sq));
                den += std::log10(1.0 + s_rr / options.sigma_n_sq);
            }
        }
    }
    return (num + eps) / (den + eps);
}

} // namespace detail

/// VIFp of two 1- or 3-channel C x H x W images (H, W >= 41), reference first. Throws
/// shape_error for different shapes, other channel counts or images under 41 x 41, value_error
/// for non-finite values or invalid options.
inline double vif_p(const image& reference, const image& distorted,
                    const vif_options& options = {}) {
    return detail::vif_score(reference, distorted, options, "vif_p",
                             [](std::size_t, std::size_t) { return true; });
}

/// VIFp pooled over the windows centred on the pixels a 1 x H x W mask selects (nonzero; see the
/// file comment). Throws like vif_p(), shape_error for a mask of another shape (VIFp works on
/// the luminance, so one mask for all channels), value_error for a non-finite mask or one that
/// selects no window centre at any scale.
inline double vif_p_masked(const image& reference, const image& distorted, const image& mask,
                           const vif_options& options = {}) {
    constexpr std::string_view where = "vif_p_masked";
    detail::check_pair(reference, distorted, where);
    const shape3 shape = shape_of<3>(reference);
    detail::require_shared_mask(mask, shape, where, "VIFp");
    const std::size_t w = shape[2];
    std::size_t count = 0;
    const float* m = mask.data();
    const double v = detail::vif_score(reference, distorted, options, where,
                                       [&](std::size_t row, std::size_t column) {
                                           const bool keep = m[row * w + column] != 0.0F;
                                           count += keep ? 1 : 0;
                                           return keep;
                                       });
    if (count == 0) {
        throw value_error(
            detail::concat(where, ": the mask selects no window centre at any scale (the centres "
                                  "lie at least 8 pixels inside the image)"));
    }
    return v;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float fail to compile here with a plain message
// naming the type needed (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double vif_p(const R&, const E&, const vif_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double vif_p_masked(const R&, const E&, const M&, const vif_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

} // namespace xrestore
