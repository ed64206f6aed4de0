#pragma once
/// @file tv.hpp
/// The proximal map of isotropic total variation by Chambolle's (2004) dual projection
/// algorithm, the (2,1) norm of a gradient field, and what a gradient operator for TV must be:
///   tv_prox(x, lambda) = argmin_z 1/2 ||z - x||^2 + lambda TV(z)
/// with TV(z) = sum_{c,i,j} sqrt((D_v z)^2 + (D_h z)^2) the isotropic total variation of each
/// channel (forward differences, Neumann boundary: the `gradient` operator; channels are not
/// coupled), the same quantity as metrics' total_variation().
///
/// @code
/// xrestore::image u = xrestore::tv_prox(x, 0.1, {.max_iter = 200, .tol = 1e-5});
/// double tv = xrestore::l21_norm(xrestore::gradient(xrestore::shape_of<3>(u)).apply(u));
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/prox/detail/threshold.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string_view>
#include <tuple>

namespace xrestore {

namespace kernels {

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

/// A gradient operator for total variation on vectors X, TV(x) = ||D x||_{2,1}: a linear
/// operator on X whose range is a dense 2 x C x H x W field, the two halves paired in the
/// isotropic norm (the finite differences of gradient.hpp, or a user's own).
template <class D, class X>
concept tv_gradient = linear_operator<D> && std::same_as<domain_t<D>, X> &&
    dense_vector<range_t<D>> &&(std::tuple_size_v<shape_t<range_t<D>>> == 4);

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
