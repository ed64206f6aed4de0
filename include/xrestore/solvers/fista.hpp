#pragma once
/// @file fista.hpp
/// ISTA and FISTA (Beck & Teboulle 2009) for the L1-regularised least-squares problem
///   min_x 1/2 ||A x - y||^2 + lambda R(x),
/// with R(x) = ||x||_1 (sparsity in the pixel domain, l1_basis::pixel) or R(x) = ||W x||_1 with W
/// the orthonormal multi-level Haar transform (l1_basis::haar, the default; its prox is
/// W^T soft_threshold(W x, s lambda) exactly because W is orthonormal). One options struct
/// chooses the regulariser; `ista` and `fista` are the two entry points and differ only in the
/// momentum step.
///
/// @code
/// auto r = xrestore::fista(blur, y, {.lambda = 2e-4, .basis = xrestore::l1_basis::haar});
/// double final_objective = r.objective.back();  // 1/2 ||A x - y||^2 + lambda ||W x||_1
/// auto plain = xrestore::ista(blur, y, {.lambda = 2e-4, .max_iter = 50});
/// @endcode
///
/// Iteration k (s the step, t_1 = 1, z_1 = x_0):
///   x_k = prox_{s lambda R}(z_k - s A^T (A z_k - y))
///   t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2,  beta_k = (t_k - 1) / t_{k+1}   (ISTA: beta_k = 0)
///   z_{k+1} = x_k + beta_k (x_k - x_{k-1})
/// The objective of x_k is recorded every iteration at no extra operator cost: A x_k is computed
/// once and A z_{k+1} = (1 + beta_k) A x_k - beta_k A x_{k-1} follows by linearity, and the prox
/// already yields W x_k (or x_k). So each iteration applies A once and A^T once (plus W and W^T
/// for the Haar basis).

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/prox/haar_l1.hpp"
#include "xrestore/prox/soft_threshold.hpp"
#include "xrestore/prox/wavelet_bands.hpp"
#include "xrestore/solvers/gradient_descent.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Where the L1 term measures sparsity.
enum class l1_basis {
    pixel, ///< R(x) = ||x||_1
    haar   ///< R(x) = ||W x||_1, W the orthonormal Haar transform of `levels` levels
};

/// Options of ista and fista.
struct fista_options {
    double lambda = 1e-3;            ///< weight of the L1 term (>= 0, finite)
    l1_basis basis = l1_basis::haar; ///< pixel or Haar-wavelet sparsity
    std::size_t levels = 3;          ///< Haar levels (basis haar; in [1, max_levels(shape)])
    wavelet_bands bands = wavelet_bands::all; ///< penalised Haar coefficients (basis haar)
    int max_iter = 100;                       ///< iterations at most (> 0)
    /// Step s (> 0, finite); 0 picks 1 / ||A||^2 with ||A|| from operator_norm. Convergence
    /// needs s <= 1 / ||A||^2.
    double step = 0.0;
    /// Stop (solver_stop::converged) when ||x_k - x_{k-1}|| / ||x_k|| < tol (>= 0; 0 never).
    double tol = 0.0;
};

namespace detail {

inline void validate(const fista_options& o, std::string_view where) {
    require(std::isfinite(o.lambda) && o.lambda >= 0.0, where, "options.lambda", "finite and >= 0",
            o.lambda);
    require(o.basis == l1_basis::pixel || o.basis == l1_basis::haar, where, "options.basis",
            "l1_basis::pixel or l1_basis::haar", static_cast<int>(o.basis));
    require(o.bands == wavelet_bands::all || o.bands == wavelet_bands::details, where,
            "options.bands", "wavelet_bands::all or wavelet_bands::details",
            static_cast<int>(o.bands));
    require(o.max_iter > 0, where, "options.max_iter", "positive", o.max_iter);
    require(std::isfinite(o.step) && o.step >= 0.0, where, "options.step",
            "finite and >= 0 (0 = 1 / ||A||^2)", o.step);
    require(std::isfinite(o.tol) && o.tol >= 0.0, where, "options.tol", "finite and >= 0", o.tol);
}

template <linear_operator Op, class Monitor>
solver_result<domain_t<Op>> proximal_gradient(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                                              const fista_options& options, bool accelerate,
                                              Monitor& monitor) {
    const std::string_view where = accelerate ? "fista" : "ista";
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    static_assert(dense_vector<X>,
                  "ista/fista: the operator's domain must be a dense float array (an xtensor "
                  "container or a device array: the L1 prox is element-wise on it)");
    validate(options, where);
    check_measurement(a, y, where);
    check_start(a, x0, where);
    require_finite_vector(y, where, "y");
    require_finite_vector(x0, where, "x0");

    // W, only for the Haar basis (which needs C x H x W images)
    constexpr bool has_haar = requires {
        typename haar_transform_for<X>::type;
    };
    using transform_type =
        std::conditional_t<has_haar, haar_transform_for<X>, std::type_identity<haar_wavelet>>::type;
    std::optional<transform_type> transform;
    if (options.basis == l1_basis::haar) {
        if constexpr (has_haar) {
            transform.emplace(haar_wavelet(a.domain_shape(), options.levels));
        } else {
            throw value_error(concat(where,
                                     ": options.basis l1_basis::haar needs an operator on "
                                     "C x H x W images, got a domain of shape ",
                                     shape_string(a.domain_shape())));
        }
    }
    const double step = options.step > 0.0 ? options.step : inverse_squared_norm(a, where);
    const double threshold = step * options.lambda; // prox of s lambda R

    solver_result<X> result;
    X& x = result.x; // x_{k-1}, then x_k
    x = std::move(x0);
    X z = xrestore::zeros_like(x);
    xrestore::copy(x, z); // z_1 = x_0
    X next = xrestore::zeros_like(x);
    X g = xrestore::zeros_like(x);
    X coefficients; // W x_k (Haar basis)
    Y ax = xrestore::zeros_like(y);
    xrestore::apply_into(a, x, ax); // A x_0
    Y az = xrestore::zeros_like(y);
    xrestore::copy(ax, az); // A z_1
    Y ax_next = xrestore::zeros_like(y);
    Y r = xrestore::zeros_like(y);
    double t = 1.0;
    result.objective.reserve(static_cast<std::size_t>(options.max_iter));
    result.change.reserve(static_cast<std::size_t>(options.max_iter));

    for (int k = 1; k <= options.max_iter; ++k) {
        xrestore::copy(az, r);
        xrestore::axpy(-1.0f, y, r);     // r = A z - y
        xrestore::adjoint_into(a, r, g); // g = A^T (A z - y)
        xrestore::copy(z, next);
        xrestore::axpy(static_cast<float>(-step), g, next); // v = z - s g
        double penalty = 0.0;
        if (transform) {
            if constexpr (has_haar) {
                transform->apply_into(next, coefficients); // w = W v
                soft_threshold_coefficients(coefficients, threshold, *transform, options.bands);
                penalty = coefficient_l1_norm(coefficients, *transform, options.bands); // ||W x||_1
                transform->adjoint_into(coefficients, next); // x = W^T soft(w, s lambda)
            }
        } else {
            soft_threshold_into(next, threshold, next); // x = soft(v, s lambda)
            penalty = l1_norm(next);                    // ||x||_1
        }
        xrestore::apply_into(a, next, ax_next); // A x_k
        xrestore::copy(ax_next, r);
        xrestore::axpy(-1.0f, y, r);
        // F(x_k) = 1/2 ||A x_k - y||^2 + lambda R(x_k)
        const double objective = 0.5 * xrestore::dot(r, r) + options.lambda * penalty;
        if (!std::isfinite(objective)) {
            result.stop = solver_stop::diverged; // x still holds x_{k-1}
            return result;
        }
        double beta = 0.0;
        if (accelerate) {
            const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
            beta = (t - 1.0) / t_next; // beta_k = (t_k - 1) / t_{k+1}
            t = t_next;
        }
        // z_{k+1} = (1 + beta) x_k - beta x_{k-1},  A z_{k+1} likewise
        xrestore::copy(next, z);
        xrestore::axpby(static_cast<float>(-beta), x, static_cast<float>(1.0 + beta), z);
        xrestore::copy(ax_next, az);
        xrestore::axpby(static_cast<float>(-beta), ax, static_cast<float>(1.0 + beta), az);
        std::swap(ax, ax_next); // A x_k
        result.objective.push_back(objective);
        // x = x_k
        if (record_iteration(result, std::as_const(next), x, k, options.tol, monitor)) {
            return result;
        }
    }
    result.stop = solver_stop::max_iterations;
    return result;
}

} // namespace detail

/// FISTA for min 1/2 ||A x - y||^2 + lambda R(x) (R chosen by options.basis) from x_0 = A^T y.
/// Records the objective F(x_k) and the relative change after every iteration and calls
/// monitor(k, x_k) (true stops). Throws value_error for bad options (Haar levels too many for the
/// image included) or non-finite y, shape_error when y does not have A's range shape. A
/// non-finite objective stops with solver_stop::diverged and the last finite x.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, const fista_options& options = {},
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(a, y, detail::default_start(a, y, "fista"), options, true,
                                     monitor);
}

/// FISTA from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const fista_options& options,
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(a, y, std::move(x0), options, true, monitor);
}

/// ISTA (proximal gradient without momentum; the objective is non-increasing for
/// s <= 1 / ||A||^2) for the same problem, from x_0 = A^T y.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, const fista_options& options = {}, Monitor&& monitor = {}) {
    return detail::proximal_gradient(a, y, detail::default_start(a, y, "ista"), options, false,
                                     monitor);
}

/// ISTA from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const fista_options& options,
     Monitor&& monitor = {}) {
    return detail::proximal_gradient(a, y, std::move(x0), options, false, monitor);
}

} // namespace xrestore
