#pragma once
/// @file haar_l1.hpp
/// The proximal map of lambda ||W x||_1 for an orthonormal Haar transform W, optionally sparing
/// the final low-pass block (wavelet_bands::details), and the thresholding and L1 norm of Haar
/// coefficients it is made of:
///   haar_l1_prox(x, lambda, W) = argmin_z 1/2 ||z - x||^2 + lambda ||W z||_1
///                              = W^T soft_threshold(W x, lambda)      (W orthonormal)
///
/// @code
/// const xrestore::haar_wavelet w({3, 64, 64}, 3);
/// xrestore::image z = xrestore::haar_l1_prox(x, 0.1, w);
/// xrestore::image d = xrestore::haar_l1_prox(x, 0.1, w, xrestore::wavelet_bands::details);
/// @endcode

#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/prox/detail/threshold.hpp"
#include "xrestore/prox/soft_threshold.hpp"
#include "xrestore/prox/wavelet_bands.hpp"

#include <array>
#include <cstddef>

namespace xrestore {

namespace kernels {

/// Soft thresholding of a C x H x W array in place, except inside the top-left
/// `keep_rows` x `keep_cols` block of every channel (the Haar low-pass block), which is kept.
struct soft_threshold_outside_block_body {
    float* x;
    float t;
    std::size_t height;
    std::size_t width;
    std::size_t keep_rows;
    std::size_t keep_cols;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        if (i < keep_rows && j < keep_cols) {
            return;
        }
        x[p] = soft_threshold_value(x[p], t);
    }
};

/// |x[p]| outside the top-left keep_rows x keep_cols block of every channel, else 0
struct abs_outside_block_term {
    const float* x;
    std::size_t height;
    std::size_t width;
    std::size_t keep_rows;
    std::size_t keep_cols;
    XRESTORE_HD double operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        if (i < keep_rows && j < keep_cols) {
            return 0.0;
        }
        const double v = static_cast<double>(x[p]);
        return v < 0.0 ? -v : v;
    }
};

} // namespace kernels

/// Soft-threshold Haar coefficients `w` (C x H x W, Mallat layout of `transform`) in place by
/// lambda, over the chosen bands.
template <dense_vector V, class Transform>
void soft_threshold_coefficients(V& w, double lambda, const Transform& transform,
                                 wavelet_bands bands = wavelet_bands::all) {
    detail::require_threshold(lambda, "soft_threshold_coefficients", "lambda");
    const shape3 shape = transform.domain_shape();
    check_shape(w, shape, "soft_threshold_coefficients", "w");
    const auto block = bands == wavelet_bands::all
                           ? std::array<std::size_t, 2>{0, 0}
                           : detail::haar_lowpass_block(shape, transform.levels());
    for_each_index_on<V>(w.size(), kernels::soft_threshold_outside_block_body{
                                       w.data(), static_cast<float>(lambda), shape[1], shape[2],
                                       block[0], block[1]});
}

/// The L1 norm of Haar coefficients `w` over the chosen bands: ||W x||_1 when w = W x.
template <dense_vector V, class Transform>
double coefficient_l1_norm(const V& w, const Transform& transform,
                           wavelet_bands bands = wavelet_bands::all) {
    const shape3 shape = transform.domain_shape();
    check_shape(w, shape, "coefficient_l1_norm", "w");
    const auto block = bands == wavelet_bands::all
                           ? std::array<std::size_t, 2>{0, 0}
                           : detail::haar_lowpass_block(shape, transform.levels());
    return sum_over_indices_on<V>(w.size(), kernels::abs_outside_block_term{
                                                w.data(), shape[1], shape[2], block[0], block[1]});
}

/// W^T soft_threshold(W x, lambda): the prox of lambda ||W x||_1 (over the chosen bands; with
/// wavelet_bands::details the low-pass block is kept, the prox of the details-only norm).
/// Throws value_error for lambda < 0, shape_error when x does not have the transform's shape.
template <dense_vector V, class Transform>
V haar_l1_prox(const V& x, double lambda, const Transform& transform,
               wavelet_bands bands = wavelet_bands::all) {
    detail::require_threshold(lambda, "haar_l1_prox", "lambda");
    check_shape(x, transform.domain_shape(), "haar_l1_prox", "x");
    V w;
    transform.apply_into(x, w);                               // w = W x
    soft_threshold_coefficients(w, lambda, transform, bands); // w = soft(w, lambda)
    transform.adjoint_into(w, w);                             // x = W^T w
    return w;
}

} // namespace xrestore
