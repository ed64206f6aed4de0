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

#include "xrestore/core/linear_operator.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/detail/admm_loop.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <concepts>
#include <limits>
#include <type_traits>

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

/// A v-update for vectors V: callable as `f(z)` or `f(z, step)`, returning a V.
template <class F, class V>
concept admm_v_update = requires(F& f, const V& z, double step) {
    { f(z) } -> std::convertible_to<V>;
}
|| requires(F& f, const V& z, double step) {
    { f(z, step) } -> std::convertible_to<V>;
};

/// Scaled ADMM for min_x 1/2 ||A x - y||^2 + g(x) with the v-update prox_{g/eta} (see the file
/// comment). Returns x (result.x; v equals x at convergence), the iterations, the stop reason
/// (max_iterations; converged when options.tol > 0 and the relative change of x fell below it;
/// monitor; diverged when x, v or u became non-finite or ||x|| grew past the rule of
/// solvers/detail/iteration.hpp: x is then the last good iterate), the relative change of x and
/// the seconds per iteration. objective stays empty (g is known only through its prox).
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
