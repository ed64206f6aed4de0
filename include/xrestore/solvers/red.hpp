#pragma once
/// @file red.hpp
/// Regularisation by denoising (RED, Romano, Elad and Milanfar 2017): the prior
/// rho(x) = 1/2 x^T (x - D(x)), whose gradient is taken as x - D(x), with the data term
/// 1/2 ||A x - y||^2:
///   red_gradient_descent (the reference study's):  x = x - step (A^T (A x - y) + lambda (x -
///   D(x))) red_fixed_point (Romano et al.):  x = (A^T A + lambda I)^{-1} (A^T y + lambda D(x)) by
///   CG
/// both from x = A^T y. The study's values are the defaults: lambda = 0.1, step = 1.
///
/// @code
/// auto r = xrestore::red_gradient_descent(A, y, xrestore::gaussian_denoiser{.sigma = 1.0});
/// xrestore::image x = r.x;  // clipped to [0,1]; r.objective[k] = E(x_k), k = 0..iterations-1
/// auto f = xrestore::red_fixed_point(A, y, denoiser, {.lambda = 0.1, .max_iter = 30});
/// @endcode
///
/// x - D(x) is the gradient of rho only when D is locally homogeneous and has a symmetric
/// Jacobian; otherwise both iterations still run but no longer minimise a known objective. The
/// recorded objective E(x) = 1/2 ||A x - y||^2 + lambda/2 <x, x - D(x)> comes at no extra
/// denoiser call: entry k is E at the iterate x_k that iteration k + 1 starts from (x_0 = A^T y),
/// so it lags the returned x by one iteration.

#include "xrestore/core/denoiser.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/detail/clip.hpp"
#include "xrestore/solvers/detail/denoiser_call.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/shifted_normal_solver.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <type_traits>

namespace xrestore {

/// Options of red_gradient_descent. The defaults are the study's (lambda = 0.1, step 1).
struct red_options {
    double lambda = 0.1;     ///< prior weight (finite, >= 0)
    double step = 1.0;       ///< gradient step (finite, > 0)
    int max_iter = 100;      ///< iterations (> 0)
    double tol = 0.0;        ///< relative-change stop; 0 runs all iterations
    bool clip_output = true; ///< clip the returned x to [0,1]
};

/// Options of red_fixed_point.
struct red_fixed_point_options {
    double lambda = 0.1; ///< prior weight (finite, > 0: it is also the CG system's shift)
    int max_iter = 100;  ///< outer iterations (> 0)
    double tol = 0.0;    ///< relative-change stop; 0 runs all iterations
    cg_options cg{.max_iter = 100, .tol = 1e-6};
    bool warm_start = true;  ///< CG from the previous x (true) or from 0 (false)
    bool clip_output = true; ///< clip the returned x to [0,1]
};

namespace detail {

/// E(x) = 1/2 ||r||^2 + lambda/2 <x, x - dx> with r = A x - y and dx = D(x).
template <vector_type V>
double red_objective(const V& residual, const V& x, const V& dx, double lambda) {
    // <x, x - D x> = <x, x> - <x, D x>
    return 0.5 * xrestore::dot(residual, residual) +
           0.5 * lambda * (xrestore::dot(x, x) - xrestore::dot(x, dx));
}

} // namespace detail

/// RED by gradient descent (the study's): from x_0 = A^T y,
///   x_k = x_{k-1} - step (A^T (A x_{k-1} - y) + lambda (x_{k-1} - D(x_{k-1}))).
/// Returns x (clipped to [0,1] unless clip_output is false), the iterations, the stop reason
/// (max_iterations; converged when tol > 0; monitor; diverged by the rule of
/// solvers/detail/iteration.hpp, on ||x_k||: the last good x), the relative change, the seconds
/// and the objective (see the file comment) per iteration. `monitor(k, x_k)` is called
/// after every iteration with the unclipped iterate. Throws value_error for a negative lambda,
/// step <= 0, max_iter <= 0, a negative tol or a non-finite y, shape_error for a wrong y shape or
/// a denoiser that changes the shape.
template <linear_operator Op, class D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && denoiser_for<D, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>>
        red_gradient_descent(const Op& A, const domain_t<Op>& y, const D& d,
                             const red_options& options = {}, Monitor&& monitor = {}) {
    detail::iteration_tracker track; // the clock starts here
    constexpr const char* where = "red_gradient_descent";
    require(std::isfinite(options.lambda) && options.lambda >= 0.0, where, "options.lambda",
            "finite and >= 0", options.lambda);
    require(std::isfinite(options.step) && options.step > 0.0, where, "options.step",
            "finite and > 0", options.step);
    detail::validate_iterations(options.max_iter, options.tol, where);
    detail::check_measured_y(A, y, where);
    using V = domain_t<Op>;
    solver_result<V> result;
    V& x = result.x;
    x = xrestore::zeros<V>(A.domain_shape());
    xrestore::adjoint_into(A, y, x); // x_0 = A^T y
    V previous = x;
    V residual = xrestore::zeros<V>(A.range_shape());
    V g = xrestore::zeros_like(x);
    // divergence (the objective lags one iteration): ||x_k|| > 1e6 max(||x_0||, ||y||, sqrt(n))
    track.watch_norm({xrestore::norm(x), xrestore::norm(y)}, x);
    const auto lambda = static_cast<float>(options.lambda);
    result.stop = solver_stop::max_iterations;
    for (int k = 1; k <= options.max_iter; ++k) {
        const V dx = detail::denoise_checked(d, x, where); // D(x)
        xrestore::apply_into(A, x, residual);
        xrestore::axpy(-1.0f, y, residual); // r = A x - y
        result.objective.push_back(detail::red_objective(residual, x, dx, options.lambda));
        xrestore::adjoint_into(A, residual, g); // g = A^T r
        xrestore::axpy(lambda, x, g);
        xrestore::axpy(-lambda, dx, g);                          // g += lambda (x - D(x))
        xrestore::axpy(static_cast<float>(-options.step), g, x); // x = x - step g
        if (track.finish(result, x, previous, k, options.tol, monitor)) {
            break;
        }
    }
    if (options.clip_output) {
        detail::clip_unit(x);
    }
    return result;
}

/// RED by the fixed-point iteration of Romano et al.: from x_0 = A^T y,
///   x_k = (A^T A + lambda I)^{-1} (A^T y + lambda D(x_{k-1}))   (CG, warm-started by default).
/// Returns as red_gradient_descent (the objective is recorded with the same one-iteration lag,
/// at the cost of one more A per iteration). Throws value_error for lambda <= 0, max_iter <= 0, a
/// negative tol, bad CG options or a non-finite y, shape_error for a wrong y shape or a denoiser
/// that changes the shape.
template <linear_operator Op, class D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && denoiser_for<D, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>> red_fixed_point(const Op& A, const domain_t<Op>& y, const D& d,
                                                    const red_fixed_point_options& options = {},
                                                    Monitor&& monitor = {}) {
    detail::iteration_tracker track; // the clock starts here
    constexpr const char* where = "red_fixed_point";
    require(std::isfinite(options.lambda) && options.lambda > 0.0, where, "options.lambda",
            "finite and > 0", options.lambda);
    detail::validate_iterations(options.max_iter, options.tol, where);
    detail::validate_cg_options(options.cg, where);
    detail::check_measured_y(A, y, where);
    detail::shifted_normal_solver<Op> solver(A, y, options.lambda, options.cg);
    using V = domain_t<Op>;
    solver_result<V> result;
    V& x = result.x;
    x = solver.aty(); // x_0 = A^T y
    V previous = x;
    V residual = xrestore::zeros<V>(A.range_shape());
    // divergence (the objective lags one iteration): ||x_k|| > 1e6 max(||x_0||, ||y||, sqrt(n))
    track.watch_norm({xrestore::norm(x), xrestore::norm(y)}, x);
    result.stop = solver_stop::max_iterations;
    for (int k = 1; k <= options.max_iter; ++k) {
        const V dx = detail::denoise_checked(d, x, where); // D(x)
        xrestore::apply_into(A, x, residual);
        xrestore::axpy(-1.0f, y, residual); // r = A x - y
        result.objective.push_back(detail::red_objective(residual, x, dx, options.lambda));
        // x = (A^T A + lambda I)^{-1} (A^T y + lambda D(x))
        solver.solve(dx, x, options.warm_start);
        if (track.finish(result, x, previous, k, options.tol, monitor)) {
            break;
        }
    }
    if (options.clip_output) {
        detail::clip_unit(x);
    }
    return result;
}

} // namespace xrestore
