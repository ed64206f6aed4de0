#pragma once
/// @file proximal.hpp
/// Proximal maps of the classical priors: soft thresholding (the prox of the L1 norm), the prox
/// of lambda ||W x||_1 for the orthonormal Haar transform W, the projection onto a box
/// [lo, hi], and the prox of isotropic total variation by Chambolle's (2004) dual projection
/// algorithm. The element-wise and stencil arithmetic is in XRESTORE_HD kernel bodies, run by
/// the CPU backend here and reusable by a device backend.
///
/// @code
/// xrestore::image s = xrestore::soft_threshold(x, 0.1);             // prox of 0.1 ||.||_1
/// xrestore::image w = xrestore::haar_l1_prox(x, 0.1, xrestore::haar_wavelet(shape, 3));
/// xrestore::image u = xrestore::tv_prox(x, 0.1, {.max_iter = 200, .tol = 1e-5});
/// @endcode
///
/// Definitions, for lambda >= 0:
///   soft_threshold(x, lambda) = argmin_z 1/2 ||z - x||^2 + lambda ||z||_1
///                             = sign(x) max(|x| - lambda, 0)
///   haar_l1_prox(x, lambda, W) = argmin_z 1/2 ||z - x||^2 + lambda ||W z||_1
///                              = W^T soft_threshold(W x, lambda)      (W orthonormal)
///   project_box(x, lo, hi)    = min(max(x, lo), hi)
///   tv_prox(x, lambda)        = argmin_z 1/2 ||z - x||^2 + lambda TV(z)
/// with TV(z) = sum_{c,i,j} sqrt((D_v z)^2 + (D_h z)^2) the isotropic total variation of each
/// channel (forward differences, Neumann boundary: the `gradient` operator; channels are not
/// coupled), the same quantity as metrics' total_variation().

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/haar.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <tuple>

namespace xrestore {

namespace kernels {

/// sign(v) max(|v| - t, 0) for t >= 0
XRESTORE_HD inline float soft_threshold_value(float v, float t) {
    return v > t ? v - t : (v < -t ? v + t : 0.0f);
}

/// out[i] = sign(x[i]) max(|x[i]| - t, 0) (out may be x)
struct soft_threshold_body {
    const float* x;
    float* out;
    float t;
    XRESTORE_HD void operator()(std::size_t i) const { out[i] = soft_threshold_value(x[i], t); }
};

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

/// x[p] = 0 inside the top-left `rows` x `cols` block of every channel of a C x H x W array
struct zero_block_body {
    float* x;
    std::size_t height;
    std::size_t width;
    std::size_t rows;
    std::size_t cols;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        if (i < rows && j < cols) {
            x[p] = 0.0f;
        }
    }
};

/// |x[i]| in double (the term of an L1 norm)
struct abs_term {
    const float* x;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double v = static_cast<double>(x[i]);
        return v < 0.0 ? -v : v;
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

/// sqrt(g0[p]^2 + g1[p]^2) in double for a 2 x count field g (the term of ||g||_{2,1})
struct field_magnitude_term {
    const float* g;
    std::size_t count;
    XRESTORE_HD double operator()(std::size_t p) const {
        const double a = static_cast<double>(g[p]);
        const double b = static_cast<double>(g[count + p]);
        return sqrt(a * a + b * b);
    }
};

/// Projection of a 2 x count field onto { |p_ij| <= radius } after a dual ascent step:
///   q = p + s g,  p = q / max(1, |q| / radius)   (pointwise over the two components)
/// With s = 0 it is the plain projection. This is the prox of the conjugate of radius ||.||_{2,1}.
struct field_ball_step_body {
    float* p;
    const float* g;
    float s;
    float radius;
    std::size_t count;
    XRESTORE_HD void operator()(std::size_t i) const {
        const float a = p[i] + s * g[i];
        const float b = p[count + i] + s * g[count + i];
        const float n = sqrtf(a * a + b * b);
        const float f = n > radius ? radius / n : 1.0f;
        p[i] = a * f;
        p[count + i] = b * f;
    }
};

/// Clip after a dual ascent step: w = min(max(w + s g, -radius), radius) (the prox of the
/// conjugate of radius ||.||_1, pointwise).
struct clip_step_body {
    float* w;
    const float* g;
    float s;
    float radius;
    XRESTORE_HD void operator()(std::size_t i) const {
        float v = w[i] + s * g[i];
        v = v < -radius ? -radius : v;
        w[i] = v > radius ? radius : v;
    }
};

/// out(c,i,j) = a div(p)(c,i,j) + b f(c,i,j) for a 2 x C x H x W field p (div = -D^T, backward
/// differences; see gradient.hpp):
///   div p = p0(i,j)[i < H-1] - p0(i-1,j)[i > 0] + p1(i,j)[j < W-1] - p1(i,j-1)[j > 0]
struct scaled_divergence_plus_body {
    const float* p;
    const float* f;
    float* out;
    float a;
    float b;
    std::size_t count;
    std::size_t height;
    std::size_t width;
    XRESTORE_HD void operator()(std::size_t q) const {
        const std::size_t j = q % width;
        const std::size_t i = (q / width) % height;
        const float* p0 = p;
        const float* p1 = p + count;
        float d = 0.0f;
        d += i + 1 < height ? p0[q] : 0.0f;
        d -= i > 0 ? p0[q - width] : 0.0f;
        d += j + 1 < width ? p1[q] : 0.0f;
        d -= j > 0 ? p1[q - 1] : 0.0f;
        out[q] = a * d + b * f[q];
    }
};

/// One step of Chambolle's projection algorithm at pixel q, given u = div p - f / lambda:
///   g = D u (forward differences),  p <- (p + tau g) / (1 + tau |g|)
/// Returns |p_new - p_old|^2 (double) so the caller can sum the change.
struct chambolle_step_body {
    const float* u;
    float* p;
    float tau;
    std::size_t count;
    std::size_t height;
    std::size_t width;
    XRESTORE_HD double operator()(std::size_t q) const {
        const std::size_t j = q % width;
        const std::size_t i = (q / width) % height;
        const float v = u[q];
        const float g0 = i + 1 < height ? u[q + width] - v : 0.0f;
        const float g1 = j + 1 < width ? u[q + 1] - v : 0.0f;
        const float denominator = 1.0f + tau * sqrtf(g0 * g0 + g1 * g1);
        const float a = (p[q] + tau * g0) / denominator;
        const float b = (p[count + q] + tau * g1) / denominator;
        const double da = static_cast<double>(a) - static_cast<double>(p[q]);
        const double db = static_cast<double>(b) - static_cast<double>(p[count + q]);
        p[q] = a;
        p[count + q] = b;
        return da * da + db * db;
    }
};

} // namespace kernels

namespace detail {

inline void require_threshold(double lambda, std::string_view where, std::string_view argument) {
    require(std::isfinite(lambda) && lambda >= 0.0, where, argument, "finite and >= 0", lambda);
}

/// The low-pass block {rows, cols} left after `levels` Haar levels on an H x W channel.
inline std::array<std::size_t, 2> haar_lowpass_block(const shape3& shape, std::size_t levels) {
    std::size_t h = shape[1];
    std::size_t w = shape[2];
    for (std::size_t l = 0; l < levels; ++l) {
        h -= h / 2;
        w -= w / 2;
    }
    return {h, w};
}

} // namespace detail

/// Set the final low-pass (approximation) block of Haar coefficients `w` to 0 in place (any
/// backend: `transform` is a haar_wavelet or its device twin).
template <dense_vector V, class Transform>
void zero_lowpass_block(V& w, const Transform& transform) {
    const shape3 shape = transform.domain_shape();
    check_shape(w, shape, "zero_lowpass_block", "w");
    const auto block = detail::haar_lowpass_block(shape, transform.levels());
    for_each_index_on<V>(
        w.size(), kernels::zero_block_body{w.data(), shape[1], shape[2], block[0], block[1]});
}

/// Which Haar coefficients a wavelet-L1 term penalises.
enum class wavelet_bands {
    all,    ///< every coefficient: lambda ||W x||_1 exactly
    details ///< all but the final low-pass (approximation) block: the mean is not shrunk
};

// ---------------------------------------------------------------------------------------------
// Soft thresholding: the prox of lambda ||.||_1

/// out = sign(x) max(|x| - lambda, 0), element-wise (out is resized when needed; may be x).
/// Throws value_error for lambda < 0 or non-finite.
template <dense_vector V>
void soft_threshold_into(const V& x, double lambda, V& out) {
    detail::require_threshold(lambda, "soft_threshold", "lambda");
    if (&out != &x && out.shape() != x.shape()) {
        out.resize(x.shape());
    }
    for_each_index_on<V>(
        x.size(), kernels::soft_threshold_body{x.data(), out.data(), static_cast<float>(lambda)});
}

/// sign(x) max(|x| - lambda, 0): the prox of lambda ||.||_1. Throws value_error for lambda < 0.
template <dense_vector V>
V soft_threshold(const V& x, double lambda) {
    V out(x.shape());
    soft_threshold_into(x, lambda, out);
    return out;
}

/// ||x||_1, accumulated in double.
template <dense_vector V>
double l1_norm(const V& x) {
    return sum_over_indices_on<V>(x.size(), kernels::abs_term{x.data()});
}

// ---------------------------------------------------------------------------------------------
// Haar-L1: the prox of lambda ||W x||_1 for the orthonormal Haar transform

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

// ---------------------------------------------------------------------------------------------
// Box projection

/// x = min(max(x, lo), hi) in place. Throws value_error unless lo <= hi (infinite bounds allowed,
/// NaN not).
template <dense_vector V>
void project_box_in_place(V& x, double lo, double hi) {
    require(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, "project_box", "lo, hi",
            "ordered numbers with lo <= hi", detail::concat(lo, ", ", hi));
    for_each_index_on<V>(
        x.size(), kernels::clip_body{static_cast<float>(lo), static_cast<float>(hi), x.data()});
}

/// min(max(x, lo), hi): the projection onto the box [lo, hi]^n (the prox of its indicator).
template <dense_vector V>
V project_box(const V& x, double lo, double hi) {
    V out = x;
    project_box_in_place(out, lo, hi);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Total variation

/// ||g||_{2,1} = sum_p sqrt(g0_p^2 + g1_p^2) of a 2 x C x H x W field (TV(x) when g = D x).
template <dense_vector V>
requires(std::tuple_size_v<shape_t<V>> == 4) double l21_norm(const V& g) {
    if (g.shape()[0] != 2) {
        throw shape_error(detail::concat("l21_norm: g must have shape 2 x C x H x W, got ",
                                         shape_string(g.shape())));
    }
    const std::size_t count = g.size() / 2;
    return sum_over_indices_on<V>(count, kernels::field_magnitude_term{g.data(), count});
}

/// Options of tv_prox.
struct tv_prox_options {
    int max_iter = 100; ///< dual iterations at most (> 0)
    /// Stop when the RMS change of the dual field, sqrt(||p_k - p_{k-1}||^2 / (2 n)), is below
    /// tol (>= 0; 0 runs every iteration). The dual field has |p_ij| <= 1.
    double tol = 1e-4;
    /// Dual step (0, 0.25]. Chambolle proves convergence for tau <= 1/8; 1/4 (the default, as in
    /// scikit-image) converges in practice and is twice as fast.
    double tau = 0.25;
};

/// What tv_prox_into reports.
struct tv_prox_info {
    int iterations = 0;  ///< dual iterations done
    double change = 0.0; ///< RMS change of the dual field at the last iteration
    bool converged = false;
};

/// out = argmin_z 1/2 ||z - x||^2 + lambda TV(z) by Chambolle's projection algorithm, starting
/// from the dual field `dual` (2 x C x H x W; resized and zeroed when its shape is wrong) and
/// leaving the final dual field there, so a sequence of related problems can warm-start.
///   u = div p - x / lambda,  p <- (p + tau D u) / (1 + tau |D u|),  z = x - lambda div p
/// Throws value_error for lambda < 0 or non-finite, non-finite x, or bad options; shape_error
/// for an empty image. lambda = 0 returns x.
inline tv_prox_info tv_prox_into(const image& x, double lambda, const tv_prox_options& options,
                                 image& out, tensor<4>& dual) {
    constexpr std::string_view where = "tv_prox";
    detail::require_threshold(lambda, where, "lambda");
    require(options.max_iter > 0, where, "options.max_iter", "positive", options.max_iter);
    require(std::isfinite(options.tol) && options.tol >= 0.0, where, "options.tol",
            "finite and >= 0", options.tol);
    require(std::isfinite(options.tau) && options.tau > 0.0 && options.tau <= 0.25, where,
            "options.tau", "in (0, 0.25]", options.tau);
    const shape3 shape = shape_of<3>(x);
    if (x.size() == 0) {
        throw shape_error(
            detail::concat(where, ": x must be non-empty, got ", shape_string(shape)));
    }
    check_finite(x, where, "x");
    const std::array<std::size_t, 4> field_shape{2, shape[0], shape[1], shape[2]};
    if (dual.shape() != field_shape) {
        dual.resize(field_shape);
        dual.fill(0.0f);
    }
    if (&out != &x && out.shape() != x.shape()) {
        out.resize(x.shape());
    }
    tv_prox_info info;
    if (lambda == 0.0) {
        if (&out != &x) {
            std::copy(x.begin(), x.end(), out.begin());
        }
        info.converged = true;
        return info;
    }
    const std::size_t count = x.size();
    image u(shape);
    const float inv_lambda = static_cast<float>(1.0 / lambda);
    for (int k = 1; k <= options.max_iter; ++k) {
        // u = div p - x / lambda
        cpu_backend::for_each_index(
            count, kernels::scaled_divergence_plus_body{dual.data(), x.data(), u.data(), 1.0f,
                                                        -inv_lambda, count, shape[1], shape[2]});
        // p = (p + tau D u) / (1 + tau |D u|)
        const double squared_change = cpu_backend::sum_over_indices(
            count,
            kernels::chambolle_step_body{u.data(), dual.data(), static_cast<float>(options.tau),
                                         count, shape[1], shape[2]});
        info.iterations = k;
        info.change = std::sqrt(squared_change / static_cast<double>(2 * count));
        if (info.change < options.tol) {
            info.converged = true;
            break;
        }
    }
    // z = x - lambda div p
    if (&out == &x) {
        const image copy = x;
        cpu_backend::for_each_index(
            count, kernels::scaled_divergence_plus_body{dual.data(), copy.data(), out.data(),
                                                        static_cast<float>(-lambda), 1.0f, count,
                                                        shape[1], shape[2]});
    } else {
        cpu_backend::for_each_index(
            count, kernels::scaled_divergence_plus_body{dual.data(), x.data(), out.data(),
                                                        static_cast<float>(-lambda), 1.0f, count,
                                                        shape[1], shape[2]});
    }
    return info;
}

/// argmin_z 1/2 ||z - x||^2 + lambda TV(z) (isotropic TV of each channel) by Chambolle's
/// projection algorithm from a zero dual field. See tv_prox_into for the errors.
inline image tv_prox(const image& x, double lambda, const tv_prox_options& options = {}) {
    image out;
    tensor<4> dual;
    tv_prox_into(x, lambda, options, out, dual);
    return out;
}

} // namespace xrestore
