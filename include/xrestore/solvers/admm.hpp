#pragma once
/// @file admm.hpp
/// ADMM in the scaled form for min_x 1/2 ||A x - y||^2 + g(x), split as x = v:
///   x = (A^T A + eta I)^{-1} (A^T y + eta (v - u))   (CG, warm-started from the previous x)
///   v = prox_{g / eta}(x + u)                           (the pluggable v-update)
///   u = u + (x - v)
/// from x = u = v = 0. With a continuation schedule (eta_growth > 1) the penalty grows after every
/// iteration, eta_{k+1} = min(eta_k eta_growth, eta_max), and u is rescaled by eta_k / eta_{k+1}
/// so that the unscaled dual eta u is kept; a growing penalty ties x to v and makes the iteration
/// settle (a fixed point exists for bounded denoisers). The v-update is any callable V -> V: a
/// proximal map (called as `v_update(z, 1 / eta)` when it takes the step, so a prox of g can scale
/// its threshold) or a denoiser (called as `v_update(z)`), which is plug-and-play ADMM (see
/// pnp.hpp).
///
/// @code
/// auto l1 = [&](const xrestore::image& z, double t) { return xrestore::soft_threshold(z, mu*t); };
/// auto r = xrestore::admm(A, y, l1, {.eta = 1.0, .max_iter = 200});
/// xrestore::image x = r.x;  // r.iterations, r.stop, r.change
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/monitor.hpp"
#include "xrestore/solvers/tikhonov.hpp"

#include <cmath>
#include <concepts>
#include <functional>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Options of admm.
struct admm_options {
    double eta = 1.0;   ///< penalty parameter (finite, > 0); the prox step is 1 / eta
    int max_iter = 100; ///< outer iterations (> 0)
    /// stop (converged) once ||x_k - x_{k-1}|| / ||x_k|| < tol; 0 runs all max_iter iterations
    double tol = 0.0;
    cg_options cg{.max_iter = 100, .tol = 1e-6}; ///< the x-update's CG
    /// start each x-update's CG from the previous x (true) or from 0 (false)
    bool warm_start = true;
    double eta_growth = 1.0; ///< continuation: eta grows by this factor per iteration (>= 1)
    double eta_max = std::numeric_limits<double>::infinity(); ///< continuation cap (>= eta)
};

/// The penalty schedule of ADMM: eta_1 = eta, eta_{k+1} = min(eta_k growth, eta_max).
struct admm_penalty {
    double eta = 1.0;
    double growth = 1.0;
    double max = std::numeric_limits<double>::infinity();
};

/// A v-update for vectors V: callable as `f(z)` or `f(z, step)`, returning a V.
template <class F, class V>
concept admm_v_update = requires(F& f, const V& z, double step) {
    { f(z) } -> std::convertible_to<V>;
}
|| requires(F& f, const V& z, double step) {
    { f(z, step) } -> std::convertible_to<V>;
};

namespace detail {

/// f(z) when f takes one argument, else f(z, step).
template <class V, class F>
V call_v_update(F& f, const V& z, double step) {
    if constexpr (requires {
                      { f(z) } -> std::convertible_to<V>;
                  }) {
        return f(z);
    } else {
        return f(z, step);
    }
}

/// Throw value_error naming `where` unless max_iter > 0 and tol is finite and >= 0.
inline void validate_iterations(int max_iter, double tol, std::string_view where) {
    require(max_iter > 0, where, "options.max_iter", "positive", max_iter);
    require(std::isfinite(tol) && tol >= 0.0, where, "options.tol", "finite and >= 0", tol);
}

/// The scaled ADMM loop shared by admm and pnp_admm.
template <linear_operator Op, class VUpdate, class Monitor>
solver_result<domain_t<Op>> admm_loop(const Op& A, const range_t<Op>& y, VUpdate& v_update,
                                      admm_penalty penalty, int max_iter, double tol,
                                      const cg_options& cg, bool warm_start, Monitor& monitor,
                                      std::string_view where) {
    using V = domain_t<Op>;
    double eta = penalty.eta;
    require(std::isfinite(eta) && eta > 0.0, where, "options.eta", "finite and > 0", eta);
    require(std::isfinite(penalty.growth) && penalty.growth >= 1.0, where, "options.eta_growth",
            "finite and >= 1", penalty.growth);
    require(!std::isnan(penalty.max) && penalty.max >= eta, where, "options.eta_max",
            ">= options.eta", penalty.max);
    validate_iterations(max_iter, tol, where);
    validate_cg_options(cg, where);
    check_measured_y(A, y, where);

    const auto shape = A.domain_shape();
    shifted_normal_solver<Op> solver(A, y, eta, cg);
    solver_result<V> result;
    V& x = result.x;
    x = xrestore::zeros<V>(shape);
    V u = xrestore::zeros<V>(shape);
    V v = xrestore::zeros<V>(shape);
    V work = xrestore::zeros<V>(shape);
    V previous = xrestore::zeros<V>(shape);
    for (int k = 1; k <= max_iter; ++k) {
        xrestore::copy(v, work);
        xrestore::axpy(-1.0f, u, work); // c = v - u
        // x = (A^T A + eta I)^{-1} (A^T y + eta (v - u))
        solver.solve(work, x, warm_start);
        result.inner_iterations.push_back(solver.last_iterations());
        xrestore::copy(x, work);
        xrestore::axpy(1.0f, u, work); // z = x + u
        // v = prox_{g / eta}(x + u)
        V next = call_v_update<V>(v_update, std::as_const(work), 1.0 / eta);
        check_vector_shape(next, shape, where, "the v-update's output");
        v = std::move(next);
        xrestore::axpy(1.0f, x, u);
        xrestore::axpy(-1.0f, v, u); // u = u + (x - v)
        if (!std::isfinite(xrestore::norm(x)) || !std::isfinite(xrestore::norm(v)) ||
            !std::isfinite(xrestore::norm(u))) {
            stop_diverged(result, x, previous); // x = the last finite iterate
            return result;
        }
        if (record_iteration(result, std::as_const(x), previous, k, tol, monitor)) {
            return result;
        }
        if (penalty.growth > 1.0 && eta < penalty.max) {
            const double next_eta = std::min(eta * penalty.growth, penalty.max);
            xrestore::scal(static_cast<float>(eta / next_eta), u); // keep eta u
            eta = next_eta;
            solver.set_eta(eta);
        }
    }
    result.stop = solver_stop::max_iterations;
    return result;
}

} // namespace detail

/// Scaled ADMM for min_x 1/2 ||A x - y||^2 + g(x) with the v-update prox_{g/eta} (see the file
/// comment). Returns x (result.x; v equals x at convergence), the iterations, the stop reason
/// (max_iterations; converged when options.tol > 0 and the relative change of x fell below it;
/// monitor; diverged when x, v or u became non-finite: x is then the last finite iterate) and
/// the relative change of x per iteration. objective stays empty (g is not known to the solver).
/// `monitor(k, x_k)` is called after every iteration. Throws value_error for eta <= 0, max_iter
/// <= 0, a negative tol, bad CG options or a non-finite y; shape_error when y does not have A's
/// range shape or the v-update returns a wrong shape.
template <linear_operator Op, class VUpdate, class Monitor = no_monitor>
requires admm_v_update<std::remove_reference_t<VUpdate>, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>> admm(const Op& A, const range_t<Op>& y, VUpdate&& v_update,
                                         const admm_options& options = {}, Monitor&& monitor = {}) {
    return detail::admm_loop(A, y, v_update, {options.eta, options.eta_growth, options.eta_max},
                             options.max_iter, options.tol, options.cg, options.warm_start, monitor,
                             "admm");
}

} // namespace xrestore
