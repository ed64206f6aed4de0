#pragma once
/// @file gradient_descent.hpp
/// Landweber iteration: gradient descent on the least-squares data term 1/2 ||A x - y||^2,
///   x_{k+1} = x_k - s A^T (A x_k - y),
/// with the step s = 1 / ||A||^2 by default (||A|| estimated by operator_norm). Started from
/// A^T y (or a given x0) and stopped early, it is the classic semi-convergent regulariser; run
/// long on a well-posed problem it converges to the least-squares solution. For an added
/// lambda ||x||_1 (or ||W x||_1) use ista / fista (fista.hpp).
///
/// @code
/// auto r = xrestore::gradient_descent(blur, y, {.max_iter = 50});
/// xrestore::image x = r.x;                 // r.objective[k-1] = 1/2 ||A x_k - y||^2
/// auto s = xrestore::gradient_descent(blur, y, x0, {.max_iter = 50, .step = 1.0});
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/step_size.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Options of gradient_descent.
struct gradient_descent_options {
    int max_iter = 100; ///< iterations at most (> 0)
    /// Step s (> 0, finite); 0 picks 1 / ||A||^2 with ||A|| from operator_norm. Steps in
    /// (0, 2 / ||A||^2) converge.
    double step = 0.0;
    /// Stop (solver_stop::converged) when ||x_k - x_{k-1}|| / ||x_k|| < tol (>= 0; 0 never).
    double tol = 0.0;
};

namespace detail {

inline void validate(const gradient_descent_options& o, std::string_view where) {
    require(o.max_iter > 0, where, "options.max_iter", "positive", o.max_iter);
    require(std::isfinite(o.step) && o.step >= 0.0, where, "options.step",
            "finite and >= 0 (0 = 1 / ||A||^2)", o.step);
    require(std::isfinite(o.tol) && o.tol >= 0.0, where, "options.tol", "finite and >= 0", o.tol);
}

template <linear_operator Op, class Monitor>
solver_result<domain_t<Op>>
gradient_descent_impl(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                      const gradient_descent_options& options, Monitor& monitor) {
    iteration_tracker track; // the clock starts here
    constexpr std::string_view where = "gradient_descent";
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    validate(options, where);
    check_measurement(a, y, where);
    check_start(a, x0, where);
    require_finite_vector(y, where, "y");
    require_finite_vector(x0, where, "x0");
    const double step = options.step > 0.0 ? options.step : inverse_squared_norm(a, where);

    solver_result<X> result;
    X& x = result.x;
    x = std::move(x0);
    X previous = xrestore::zeros_like(x);
    xrestore::copy(x, previous);
    X g = xrestore::zeros_like(x);
    Y r = xrestore::zeros_like(y);
    xrestore::apply_into(a, x, r);
    xrestore::axpy(-1.0f, y, r); // r = A x - y
    // divergence: F(x_k) > 1e6 max(F(x_0), F(0)), F(0) = 1/2 ||y||^2
    track.watch_objective(0.5 * xrestore::dot(r, r), 0.5 * xrestore::dot(y, y));
    result.objective.reserve(static_cast<std::size_t>(options.max_iter));
    result.change.reserve(static_cast<std::size_t>(options.max_iter));

    for (int k = 1; k <= options.max_iter; ++k) {
        xrestore::adjoint_into(a, r, g);                 // g = A^T (A x - y)
        xrestore::axpy(static_cast<float>(-step), g, x); // x = x - s g
        xrestore::apply_into(a, x, r);
        xrestore::axpy(-1.0f, y, r);                        // r = A x - y
        const double objective = 0.5 * xrestore::dot(r, r); // 1/2 ||A x - y||^2
        if (std::string reason = track.objective_verdict(k, objective); !reason.empty()) {
            stop_diverged(result, x, previous, std::move(reason)); // x = x_{k-1}
            return result;
        }
        result.objective.push_back(objective);
        if (track.record(result, std::as_const(x), previous, k, options.tol, monitor)) {
            return result;
        }
    }
    result.stop = solver_stop::max_iterations;
    return result;
}

} // namespace detail

/// Landweber / gradient descent on 1/2 ||A x - y||^2 from x0 = A^T y. Records the objective
/// 1/2 ||A x_k - y||^2 and the relative change after every iteration; calls monitor(k, x_k)
/// (true stops). Throws value_error for bad options or non-finite y, shape_error when y does not
/// have A's range shape. A diverging run (the rule of solvers/detail/iteration.hpp: a non-finite
/// objective, or one above 1e6 max(F(x_0), F(0))) stops with solver_stop::diverged and the last
/// good x. result.seconds holds the seconds of each iteration.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
gradient_descent(const Op& a, const range_t<Op>& y, const gradient_descent_options& options = {},
                 Monitor&& monitor = {}) {
    return detail::gradient_descent_impl(a, y, detail::default_start(a, y, "gradient_descent"),
                                         options, monitor);
}

/// The same from a given start x0 (domain shape of A).
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
gradient_descent(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                 const gradient_descent_options& options, Monitor&& monitor = {}) {
    return detail::gradient_descent_impl(a, y, std::move(x0), options, monitor);
}

} // namespace xrestore
