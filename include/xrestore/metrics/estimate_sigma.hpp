#pragma once
/// @file estimate_sigma.hpp
/// Robust wavelet estimate of the standard deviation of additive Gaussian noise, identical to
/// scikit-image 0.19's `skimage.restoration.estimate_sigma(img, channel_axis=0,
/// average_sigmas=True)`.
///
/// @code
/// double sigma = xrestore::estimate_sigma(noisy);      // ~0.1 for x + 0.1 N(0, 1)
/// @endcode
///
/// Per channel (Donoho & Johnstone 1994): one level of the 2-D db2 (Daubechies-2, 4 taps)
/// wavelet transform as pywt.dwtn(x, 'db2') computes it (mode 'symmetric', i.e. half-sample
/// symmetric extension; along axis 0, then axis 1; (n + 3) / 2 coefficients per axis), the
/// diagonal detail coefficients d = HH, and
///   sigma_c = median(|d| over d != 0) / Phi^{-1}(0.75),  Phi^{-1}(0.75) = 0.6744897501960817
/// (exact zeros are left out, like skimage). The result is the mean of sigma_c over channels.
/// The convolution sums its terms in pywt's order, so coefficients, and the set of exact
/// zeros, match pywt's bit for bit. A channel whose coefficients are all zero (a constant
/// image of 0) gives sigma_c = 0 where skimage returns NaN.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace xrestore {

namespace detail {

/// db2 decomposition high-pass filter (pywt.Wavelet('db2').dec_hi).
inline constexpr double db2_dec_hi[4] = {-0.48296291314453416, 0.8365163037378079,
                                         -0.2241438680420134, -0.12940952255126037};

/// a * b rounded to double on its own: the volatile keeps compilers from fusing the product
/// with the following addition into an FMA (-ffp-contract=fast on FMA hardware, e.g. with
/// -march=native), so that every sum rounds exactly as pywt's does. This matters: exact zeros
/// are left out of the median, and on flat or quantised images an FMA build would otherwise
/// change which coefficients are zero and the estimate by tens of percent.
inline double unfused_product(double a, double b) {
    volatile double p = a * b;
    return p;
}

/// One level of pywt's downsampling convolution in mode 'symmetric' along a strided line of n
/// samples: out[o] = sum_j f[j] x_ext[i - j], i = 2 o + 1, o < (n + F - 1) / 2, where
/// x_ext[-1 - k] = x[k] and x_ext[n + k] = x[n - 1 - k]. The four loops (left overhang, centre,
/// filter wider than signal, right overhang) and their summation order are pywt's.
inline void dwt_symmetric(const double* in, std::size_t n, std::size_t in_stride, const double* f,
                          std::size_t nf, double* out, std::size_t out_stride) {
    auto x = [&](std::size_t k) { return in[k * in_stride]; };
    std::size_t i = 1;
    std::size_t o = 0;
    for (; i < nf && i < n; i += 2, ++o) { // left boundary overhang
        double sum = 0.0;
        std::size_t j = 0;
        for (; j <= i; ++j) {
            sum += unfused_product(f[j], x(i - j));
        }
        while (j < nf) {
            for (std::size_t k = 0; k < n && j < nf; ++j, ++k) {
                sum += unfused_product(f[j], x(k));
            }
            for (std::size_t k = 0; k < n && j < nf; ++k, ++j) {
                sum += unfused_product(f[j], x(n - 1 - k));
            }
        }
        out[o * out_stride] = sum;
    }
    for (; i < n; i += 2, ++o) { // centre, the filter inside the signal
        double sum = 0.0;
        for (std::size_t j = 0; j < nf; ++j) {
            sum += unfused_product(x(i - j), f[j]);
        }
        out[o * out_stride] = sum;
    }
    for (; i < nf; i += 2, ++o) { // centre, the filter wider than the signal
        double sum = 0.0;
        std::size_t j = 0;
        while (i - j >= n) {
            for (std::size_t k = 0; k < n && i - j >= n; ++j, ++k) {
                sum += unfused_product(f[i - n - j], x(n - 1 - k));
            }
            for (std::size_t k = 0; k < n && i - j >= n; ++j, ++k) {
                sum += unfused_product(f[i - n - j], x(k));
            }
        }
        for (; j <= i; ++j) {
            sum += unfused_product(f[j], x(i - j));
        }
        while (j < nf) {
            for (std::size_t k = 0; k < n && j < nf; ++j, ++k) {
                sum += unfused_product(f[j], x(k));
            }
            for (std::size_t k = 0; k < n && j < nf; ++k, ++j) {
                sum += unfused_product(f[j], x(n - 1 - k));
            }
        }
        out[o * out_stride] = sum;
    }
    for (; i < n + nf - 1; i += 2, ++o) { // right boundary overhang
        double sum = 0.0;
        std::size_t j = 0;
        while (i - j >= n) {
            for (std::size_t k = 0; k < n && i - j >= n; ++j, ++k) {
                sum += unfused_product(f[i - n - j], x(n - 1 - k));
            }
            for (std::size_t k = 0; k < n && i - j >= n; ++j, ++k) {
                sum += unfused_product(f[i - n - j], x(k));
            }
        }
        for (; j < nf; ++j) {
            sum += unfused_product(f[j], x(i - j));
        }
        out[o * out_stride] = sum;
    }
}

/// Median of |v| over the nonzero entries (numpy's median: the mean of the two middle values
/// for an even count); 0 when there are none.
inline double median_abs_nonzero(std::vector<double>& v) {
    std::size_t n = 0;
    for (double d : v) {
        if (d != 0.0) {
            v[n++] = std::abs(d);
        }
    }
    if (n == 0) {
        return 0.0;
    }
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
    std::nth_element(v.begin(), mid, v.begin() + static_cast<std::ptrdiff_t>(n));
    const double upper = *mid;
    if (n % 2 == 1) {
        return upper;
    }
    const double lower = *std::max_element(v.begin(), mid);
    return (lower + upper) / 2.0;
}

/// sigma of one h x w channel: MAD of the db2 diagonal details / Phi^{-1}(0.75).
inline double estimate_sigma_channel(const float* x, std::size_t h, std::size_t w) {
    const std::size_t h2 = (h + 3) / 2; // (n + F - 1) / 2 with F = 4
    const std::size_t w2 = (w + 3) / 2;
    std::vector<double> plane(h * w);
    for (std::size_t i = 0; i < h * w; ++i) {
        plane[i] = static_cast<double>(x[i]);
    }
    std::vector<double> cols(h2 * w); // high-pass along axis 0
    for (std::size_t j = 0; j < w; ++j) {
        dwt_symmetric(plane.data() + j, h, w, db2_dec_hi, 4, cols.data() + j, w);
    }
    std::vector<double> dd(h2 * w2); // then along axis 1
    for (std::size_t i = 0; i < h2; ++i) {
        dwt_symmetric(cols.data() + i * w, w, 1, db2_dec_hi, 4, dd.data() + i * w2, 1);
    }
    constexpr double phi_inv_075 = 0.6744897501960817; // scipy.stats.norm.ppf(0.75)
    return median_abs_nonzero(dd) / phi_inv_075;
}

} // namespace detail

/// Noise standard deviation of a C x H x W image, averaged over channels. Throws value_error
/// for an empty or non-finite image.
inline double estimate_sigma(const image& img) {
    constexpr std::string_view where = "estimate_sigma";
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
        total += detail::estimate_sigma_channel(img.data() + c * h * w, h, w);
    }
    return total / static_cast<double>(channels);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_array<E, image>
double estimate_sigma(const E&) {
    detail::reject_array<E, image>();
    return 0.0;
}

} // namespace xrestore
