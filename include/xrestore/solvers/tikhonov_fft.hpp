#pragma once
/// @file tikhonov_fft.hpp
/// Closed-form Tikhonov for a convolution with circular boundary, which the FFT diagonalises:
///   x = F^-1[ conj(K) Y / (|K|^2 + lambda |D|^2) ]
/// with K the transfer function of the kernel at the operator's exact centring and |D|^2 the
/// symbol of R^T R (1 for I, 4 - 2 cos(2 pi k / H) - 2 cos(2 pi l / W) for the periodic gradient).
/// Options and regularisers are tikhonov's (tikhonov.hpp); the CG solver there takes any operator.
///
/// @code
/// const xrestore::convolution A(k, {3, 64, 64}, {.boundary = xrestore::boundary::circular});
/// xrestore::image x = xrestore::tikhonov_fft(A, y, {.lambda = 1e-2});
/// auto k = xrestore::convolution_transfer_function(A);  // H x W complex, A x = F^-1[K F x]
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/fft.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/operators/boundary.hpp"
#include "xrestore/operators/convolution.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/tikhonov.hpp"

#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <vector>

namespace xrestore {

namespace detail {

/// The symbol |D|^2 of R^T R at frequency (k, l) of an H x W grid.
inline double regularizer_symbol(tikhonov_regularizer regularizer, std::size_t k, std::size_t l,
                                 std::size_t height, std::size_t width) {
    switch (regularizer) {
    case tikhonov_regularizer::none:
        return 0.0;
    case tikhonov_regularizer::identity:
        return 1.0;
    case tikhonov_regularizer::periodic_gradient:
    case tikhonov_regularizer::gradient: {
        // |e^{i w} - 1|^2 = 2 - 2 cos w per axis
        const double wk =
            2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(height);
        const double wl =
            2.0 * std::numbers::pi * static_cast<double>(l) / static_cast<double>(width);
        return (2.0 - 2.0 * std::cos(wk)) + (2.0 - 2.0 * std::cos(wl));
    }
    }
    return 0.0;
}

} // namespace detail

/// The transfer function K(k, l) (H x W, row-major) of a convolution with circular boundary:
/// A x = F^-1[K F x] exactly. Built from the kernel as the operator applies it (flipped when
/// flip_kernel; centred at top = (kh-1)/2, left = (kw-1)/2, so even kernels are handled), taps
/// wrapping around when the kernel is larger than the image. Throws value_error unless the
/// operator's boundary is circular.
inline std::vector<std::complex<double>> convolution_transfer_function(const convolution& A) {
    require(A.options().boundary == boundary::circular, "convolution_transfer_function",
            "the operator's boundary", "circular", to_string(A.options().boundary));
    const auto shape = A.domain_shape();
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const matrix& given = A.kernel();
    const matrix w = A.options().flip_kernel ? detail::rotate_180(given) : given;
    const std::size_t kh = w.shape()[0];
    const std::size_t kw = w.shape()[1];
    const std::size_t top = (kh - 1) / 2;
    const std::size_t left = (kw - 1) / 2;
    // y(i,j) = sum_{u,v} w(u,v) x(i+u-top, j+v-left) = sum_{a,b} h(a,b) x(i-a, j-b) with
    // h((top-u) mod H, (left-v) mod W) += w(u,v)
    std::vector<std::complex<double>> h(height * width, 0.0);
    for (std::size_t u = 0; u < kh; ++u) {
        const std::size_t a = (top + kh * height - u) % height;
        for (std::size_t v = 0; v < kw; ++v) {
            const std::size_t b = (left + kw * width - v) % width;
            h[a * width + b] += static_cast<double>(w(u, v));
        }
    }
    fft2_plan<double>(height, width).forward(h);
    return h;
}

/// Closed-form Tikhonov for a convolution with circular boundary, per channel:
///   x = F^-1[ conj(K) Y / (|K|^2 + lambda |D|^2) ]
/// in double precision; frequencies where the denominator is 0 get 0 (the minimum-norm
/// least-squares solution, e.g. regularizer none with zeros in K). options.cg and
/// record_objective are ignored. Throws value_error unless A's boundary is circular, for
/// regularizer gradient (Neumann: use periodic_gradient, or the CG solver), for a negative or
/// non-finite lambda or a non-finite y; shape_error when y does not have A's shape.
inline image tikhonov_fft(const convolution& A, const image& y,
                          const tikhonov_options& options = {}) {
    constexpr const char* where = "tikhonov_fft";
    require(std::isfinite(options.lambda) && options.lambda >= 0.0, where, "options.lambda",
            "finite and >= 0", options.lambda);
    if (options.regularizer == tikhonov_regularizer::gradient) {
        throw value_error(
            "tikhonov_fft: options.regularizer must be none, identity or periodic_gradient (the "
            "Neumann gradient is not diagonalised by the FFT), got gradient");
    }
    require(A.options().boundary == boundary::circular, where, "the operator's boundary",
            "circular", to_string(A.options().boundary));
    detail::check_measured_y(A, y, where);
    const auto shape = A.domain_shape();
    const std::size_t channels = shape[0];
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const auto transfer = convolution_transfer_function(A);
    // G = conj(K) / (|K|^2 + lambda |D|^2), 0 where the denominator is 0
    std::vector<std::complex<double>> filter(height * width);
    for (std::size_t k = 0; k < height; ++k) {
        for (std::size_t l = 0; l < width; ++l) {
            const auto K = transfer[k * width + l];
            const double denominator =
                std::norm(K) + options.lambda * detail::regularizer_symbol(options.regularizer, k,
                                                                           l, height, width);
            filter[k * width + l] = denominator > 0.0 ? std::conj(K) / denominator : 0.0;
        }
    }
    const fft2_plan<double> plan(height, width);
    image x(shape);
    std::vector<std::complex<double>> plane(height * width);
    for (std::size_t c = 0; c < channels; ++c) {
        const float* source = y.data() + c * height * width;
        for (std::size_t p = 0; p < height * width; ++p) {
            plane[p] = source[p];
        }
        plan.forward(plane);
        for (std::size_t p = 0; p < height * width; ++p) {
            plane[p] *= filter[p]; // X = G Y
        }
        plan.inverse(plane);
        float* target = x.data() + c * height * width;
        for (std::size_t p = 0; p < height * width; ++p) {
            target[p] = static_cast<float>(plane[p].real());
        }
    }
    return x;
}

// A y that is not of A's range type and would convert to it only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fails to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class Y>
requires detail::mismatched_array<Y, image> image tikhonov_fft(const convolution&, const Y&,
                                                               const tikhonov_options& = {}) {
    detail::reject_array<Y, image>();
    return {};
}

} // namespace xrestore
