#pragma once
/// @file fista.hpp
/// ISTA and FISTA (Beck & Teboulle 2009) for the L1-regularised least-squares problem
///   min_x 1/2 ||A x - y||^2 + lambda ||W x||_1,
/// with W a sparsifying transform passed as an operator: by default the orthonormal multi-level
/// Haar transform of `options.levels` levels, `identity(shape)` for sparsity in the pixel domain,
/// or any linear operator on A's domain whose coefficients are a dense array (a user's own).
/// `ista` and `fista` are the two entry points and differ only in the momentum step.
///
/// @code
/// auto r = xrestore::fista(blur, y, {.lambda = 2e-4, .levels = 3});   // Haar, the default
/// auto p = xrestore::fista(blur, y, xrestore::identity(shape), {.lambda = 2e-4});  // ||x||_1
/// double final_objective = r.objective.back();  // 1/2 ||A x - y||^2 + lambda ||W x||_1
/// @endcode
///
/// Iteration k (s the step, t_1 = 1, z_1 = x_0):
///   x_k = W^T soft_threshold(W (z_k - s A^T (A z_k - y)), s lambda)
///   t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2,  beta_k = (t_k - 1) / t_{k+1}   (ISTA: beta_k = 0)
///   z_{k+1} = x_k + beta_k (x_k - x_{k-1})
/// The thresholding step is the proximal map of s lambda ||W x||_1 exactly when W is orthonormal
/// (W^T W = W W^T = I: the Haar transform, the identity, a permutation or sign flip), and then
/// this is proximal gradient on the objective above. For any other W (a redundant frame, a
/// gradient: an analysis prior) the step W^T soft(W v) is not that prox: the iteration is the
/// usual thresholding heuristic, converges to no known minimiser, and the recorded objective need
/// not decrease; use tv_primal_dual (tv.hpp) for a general analysis prior. With the Haar
/// transform, `options.bands = wavelet_bands::details` leaves the final low-pass block
/// unpenalised. The objective of x_k is recorded every iteration at no extra operator cost: A x_k
/// is computed once and A z_{k+1} = (1 + beta_k) A x_k - beta_k A x_{k-1} follows by linearity,
/// and the thresholding already yields W x_k (for orthonormal W). So each iteration applies A once
/// and A^T once, plus W and W^T (none for the identity).

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/prox/soft_threshold.hpp"
#include "xrestore/prox/sparsifying_transform.hpp"
#include "xrestore/prox/wavelet_bands.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/step_size.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Options of ista and fista.
struct fista_options {
    double lambda = 1e-3; ///< weight of the L1 term (>= 0, finite)
    /// levels of the default Haar transform, used when no transform is passed (in
    /// [1, haar_wavelet::max_levels(shape)])
    std::size_t levels = 3;
    /// penalised coefficients of a Haar transform (the default one or one passed); any other
    /// transform penalises all of its coefficients and needs wavelet_bands::all
    wavelet_bands bands = wavelet_bands::all;
    int max_iter = 100; ///< iterations at most (> 0)
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
    require(o.bands == wavelet_bands::all || o.bands == wavelet_bands::details, where,
            "options.bands", "wavelet_bands::all or wavelet_bands::details",
            static_cast<int>(o.bands));
    require(o.max_iter > 0, where, "options.max_iter", "positive", o.max_iter);
    require(std::isfinite(o.step) && o.step >= 0.0, where, "options.step",
            "finite and >= 0 (0 = 1 / ||A||^2)", o.step);
    require(std::isfinite(o.tol) && o.tol >= 0.0, where, "options.tol", "finite and >= 0", o.tol);
}

/// The default transform of ista/fista: the Haar transform of `levels` levels on A's domain.
/// Throws value_error for a domain that is not C x H x W images (no Haar transform) and for
/// levels outside [1, haar_wavelet::max_levels(shape)].
template <linear_operator Op>
auto default_haar_transform(const Op& a, std::size_t levels, std::string_view where) {
    using X = domain_t<Op>;
    if constexpr (requires { typename haar_transform_for<X>::type; }) {
        return haar_transform_t<X>(haar_wavelet(a.domain_shape(), levels));
    } else {
        throw value_error(concat(where,
                                 ": the default Haar transform needs an operator on C x H x W "
                                 "images, got a domain of shape ",
                                 shape_string(a.domain_shape()),
                                 " (pass a transform, identity(shape) for the pixel basis)"));
        return identity_operator<X>(a.domain_shape());
    }
}

/// ISTA/FISTA with the transform returned by `make_transform()` (a reference to the caller's, or
/// the default Haar transform built after the arguments are checked).
template <linear_operator Op, class MakeTransform, class Monitor>
solver_result<domain_t<Op>> proximal_gradient(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                                              MakeTransform&& make_transform,
                                              const fista_options& options, bool accelerate,
                                              Monitor& monitor) {
    iteration_tracker track; // the clock starts here
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

    decltype(auto) transform = make_transform(); // W
    using W = std::remove_cvref_t<decltype(transform)>;
    static_assert(sparsifying_transform<W, X>,
                  "ista/fista: the transform must be a linear operator on the operator's domain "
                  "with dense coefficients");
    // the identity: threshold x itself, without copies
    constexpr bool pixel_basis = std::same_as<W, identity_operator<X>>;
    require_bands_of<W>(options.bands, where);
    if (!(transform.domain_shape() == a.domain_shape())) {
        throw shape_error(concat(where, ": the transform's domain shape must be A's domain shape ",
                                 shape_string(a.domain_shape()), ", got ",
                                 shape_string(transform.domain_shape())));
    }
    const double step = options.step > 0.0 ? options.step : inverse_squared_norm(a, where);
    const double threshold = step * options.lambda; // prox of s lambda ||W x||_1

    solver_result<X> result;
    X& x = result.x; // x_{k-1}, then x_k
    x = std::move(x0);
    X z = xrestore::zeros_like(x);
    xrestore::copy(x, z); // z_1 = x_0
    X next = xrestore::zeros_like(x);
    X g = xrestore::zeros_like(x);
    range_t<W> coefficients; // W x_k
    if constexpr (!pixel_basis) {
        coefficients = xrestore::zeros<range_t<W>>(transform.range_shape());
    }
    Y ax = xrestore::zeros_like(y);
    xrestore::apply_into(a, x, ax); // A x_0
    Y az = xrestore::zeros_like(y);
    xrestore::copy(ax, az); // A z_1
    Y ax_next = xrestore::zeros_like(y);
    Y r = xrestore::zeros_like(y);
    {
        // divergence: F(x_k) > 1e6 max(F(x_0), F(0)), F(0) = 1/2 ||y||^2
        xrestore::copy(ax, r);
        xrestore::axpy(-1.0f, y, r); // A x_0 - y
        double start_penalty = 0.0;  // ||W x_0||_1
        if constexpr (pixel_basis) {
            start_penalty = l1_norm(x);
        } else {
            xrestore::apply_into(transform, x, coefficients);
            start_penalty = bands_l1_norm(coefficients, transform, options.bands);
        }
        track.watch_objective(0.5 * xrestore::dot(r, r) + options.lambda * start_penalty,
                              0.5 * xrestore::dot(y, y));
    }
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
        if constexpr (pixel_basis) {
            soft_threshold_into(next, threshold, next); // x = soft(v, s lambda)
            penalty = l1_norm(next);                    // ||x||_1
        } else {
            xrestore::apply_into(transform, next, coefficients); // w = W v
            // w = soft(w, s lambda), ||W x||_1
            penalty = soft_threshold_bands(coefficients, threshold, transform, options.bands);
            xrestore::adjoint_into(transform, coefficients, next); // x = W^T soft(w, s lambda)
        }
        xrestore::apply_into(a, next, ax_next); // A x_k
        xrestore::copy(ax_next, r);
        xrestore::axpy(-1.0f, y, r);
        // F(x_k) = 1/2 ||A x_k - y||^2 + lambda ||W x_k||_1
        const double objective = 0.5 * xrestore::dot(r, r) + options.lambda * penalty;
        if (std::string reason = track.objective_verdict(k, objective); !reason.empty()) {
            mark_diverged(result, std::move(reason)); // x still holds x_{k-1}
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
        if (track.record(result, std::as_const(next), x, k, options.tol, monitor)) {
            return result;
        }
    }
    result.stop = solver_stop::max_iterations;
    return result;
}

} // namespace detail

/// FISTA for min 1/2 ||A x - y||^2 + lambda ||W x||_1 with W the Haar transform of
/// options.levels levels, from x_0 = A^T y. Records the objective F(x_k) and the relative change
/// after every iteration and calls monitor(k, x_k) (true stops). Throws value_error for bad
/// options (Haar levels too many for the image included), a domain without a Haar transform or
/// non-finite y, shape_error when y does not have A's range shape. A diverging run (the rule of
/// solvers/detail/iteration.hpp: a non-finite objective, or one above 1e6 max(F(x_0), F(0)))
/// stops with solver_stop::diverged and the last good x. result.seconds holds the seconds of
/// each iteration.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, const fista_options& options = {},
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, detail::default_start(a, y, "fista"),
        [&] { return detail::default_haar_transform(a, options.levels, "fista"); }, options, true,
        monitor);
}

/// FISTA from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const fista_options& options,
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, std::move(x0),
        [&] { return detail::default_haar_transform(a, options.levels, "fista"); }, options, true,
        monitor);
}

/// FISTA for min 1/2 ||A x - y||^2 + lambda ||W x||_1 with the transform W given: any linear
/// operator on A's domain with dense coefficients (the prox step is exact for orthonormal W; see
/// the file comment). options.levels is not used; options.bands must be wavelet_bands::all
/// unless W is the Haar transform. As the Haar form, plus shape_error when W's domain shape is
/// not A's and value_error for wavelet_bands::details with a transform other than Haar.
template <linear_operator Op, sparsifying_transform<domain_t<Op>> W, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, const W& w, const fista_options& options = {},
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, detail::default_start(a, y, "fista"), [&]() -> const W& { return w; }, options, true,
        monitor);
}

/// FISTA with the transform W from a given start x0.
template <linear_operator Op, sparsifying_transform<domain_t<Op>> W, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
fista(const Op& a, const range_t<Op>& y, const W& w, domain_t<Op> x0, const fista_options& options,
      Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, std::move(x0), [&]() -> const W& { return w; }, options, true, monitor);
}

/// ISTA (proximal gradient without momentum; the objective is non-increasing for
/// s <= 1 / ||A||^2 and orthonormal W) for the same problem with the Haar transform, from
/// x_0 = A^T y.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, const fista_options& options = {}, Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, detail::default_start(a, y, "ista"),
        [&] { return detail::default_haar_transform(a, options.levels, "ista"); }, options, false,
        monitor);
}

/// ISTA from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const fista_options& options,
     Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, std::move(x0),
        [&] { return detail::default_haar_transform(a, options.levels, "ista"); }, options, false,
        monitor);
}

/// ISTA with the transform W (see fista).
template <linear_operator Op, sparsifying_transform<domain_t<Op>> W, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, const W& w, const fista_options& options = {},
     Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, detail::default_start(a, y, "ista"), [&]() -> const W& { return w; }, options, false,
        monitor);
}

/// ISTA with the transform W from a given start x0.
template <linear_operator Op, sparsifying_transform<domain_t<Op>> W, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
ista(const Op& a, const range_t<Op>& y, const W& w, domain_t<Op> x0, const fista_options& options,
     Monitor&& monitor = {}) {
    return detail::proximal_gradient(
        a, y, std::move(x0), [&]() -> const W& { return w; }, options, false, monitor);
}

} // namespace xrestore
