#pragma once
/// @file pnp.hpp
/// Plug-and-play restoration: a denoiser D takes the place of a proximal map.
///   pnp_admm  (the reference study's algorithm, exactly): x = u = v = 0; repeat
///               x = CG solve of (A^T A + eta I) x = A^T y + eta (v - u)
///               v = D(x + u)
///               u = u + (x - v)
///             and the output x clipped to [0,1]; eta = 1e-4.
///   pnp_pgd   proximal gradient: x = D(x - step A^T (A x - y)) from x = A^T y.
///   pnp_hqs   half-quadratic splitting: x = (A^T A + mu I)^{-1} (A^T y + mu z), z = D(x), from
///             z = 0, with mu optionally growing by a factor per iteration; the output is z.
///
/// @code
/// xrestore::reference_monitor watch(truth, {.clip = true, .stop_when_mse_rises = true});
/// auto r = xrestore::pnp_admm(A, y, xrestore::gaussian_denoiser{.sigma = 1}, {}, std::ref(watch));
/// xrestore::image x = r.x;  // clipped to [0,1]; r.iterations, r.stop, r.change
/// @endcode
///
/// CG start: the study's CG starts from the x0 it is given; pnp_admm passes the previous x
/// (`warm_start = true`, the default), which changes nothing at convergence and saves CG
/// iterations; `warm_start = false` starts every solve from 0. The monitor is called after every
/// iteration with the unclipped iterate (x for ADMM and PGD, z for HQS): score it with
/// `reference_monitor_options::clip = true` to see what would be returned. Denoisers are called
/// as `d(z)`, also sigma-aware ones (their fixed-strength call).

#include "xrestore/core/denoiser.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/detail/admm_loop.hpp"
#include "xrestore/solvers/detail/clip.hpp"
#include "xrestore/solvers/detail/denoiser_call.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/shifted_normal_solver.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <limits>
#include <type_traits>

namespace xrestore {

/// Options of pnp_admm. The defaults are the study's (eta = 1e-4).
struct pnp_admm_options {
    double eta = 1e-4;  ///< ADMM penalty (finite, > 0)
    int max_iter = 100; ///< outer iterations (> 0)
    /// stop (converged) once ||x_k - x_{k-1}|| / ||x_k|| < tol; 0 runs all iterations
    double tol = 0.0;
    cg_options cg{.max_iter = 100, .tol = 1e-6}; ///< the x-update's CG
    bool warm_start = true;  ///< CG from the previous x (true) or from 0 (false)
    bool clip_output = true; ///< clip the returned x to [0,1] (the study does)
    /// continuation: eta grows by this factor after every iteration (>= 1; 1 keeps it fixed),
    /// up to eta_max, with u rescaled to keep eta u (see admm.hpp)
    double eta_growth = 1.0;
    double eta_max = std::numeric_limits<double>::infinity(); ///< continuation cap (>= eta)
};

/// Options of pnp_pgd.
struct pnp_pgd_options {
    double step = 1.0;  ///< gradient step (finite, > 0; stable below 2 / ||A||^2)
    int max_iter = 100; ///< iterations (> 0)
    double tol = 0.0;   ///< relative-change stop; 0 runs all iterations
    bool clip_output = true;
};

/// Options of pnp_hqs.
struct pnp_hqs_options {
    double mu = 1e-2;       ///< coupling weight of the first iteration (finite, > 0)
    double mu_growth = 1.0; ///< mu_k = mu * mu_growth^(k-1) (finite, >= 1)
    int max_iter = 100;     ///< iterations (> 0)
    double tol = 0.0;       ///< relative-change stop on z; 0 runs all iterations
    cg_options cg{.max_iter = 100, .tol = 1e-6};
    bool warm_start = true;  ///< CG from the previous x (true) or from 0 (false)
    bool clip_output = true; ///< clip the returned z to [0,1]
};

/// PnP-ADMM as the reference study defines it (see the file comment), with the denoiser D as
/// the v-update. Returns x clipped to [0,1] (unless clip_output is false), the iterations, the
/// stop reason (max_iterations; converged when tol > 0; monitor: x is the iterate the monitor
/// saw last; diverged by the rule of solvers/detail/iteration.hpp: the last good x), the
/// relative change and the seconds per iteration (no objective: see monitor.hpp). Throws
/// value_error for eta <= 0, max_iter <= 0, a negative tol, bad CG options or a non-finite y,
/// shape_error when y does not have A's range shape or D changes the shape.
template <linear_operator Op, class D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && denoiser_for<D, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>> pnp_admm(const Op& A, const domain_t<Op>& y, const D& d,
                                             const pnp_admm_options& options = {},
                                             Monitor&& monitor = {}) {
    constexpr const char* where = "pnp_admm";
    // v = D(x + u)
    auto v_update = [&d](const domain_t<Op>& z) { return detail::denoise_checked(d, z, where); };
    auto result = detail::admm_loop(
        A, y, v_update, {options.eta, options.eta_growth, options.eta_max}, options.max_iter,
        options.tol, options.cg, options.warm_start, monitor, where);
    if (options.clip_output) {
        detail::clip_unit(result.x);
    }
    return result;
}

/// PnP proximal gradient: x_0 = A^T y, x_k = D(x_{k-1} - step A^T (A x_{k-1} - y)). Returns x
/// (clipped to [0,1] unless clip_output is false) with the history as pnp_admm. Throws
/// value_error for step <= 0, max_iter <= 0, a negative tol or a non-finite y, shape_error for a
/// wrong y shape or a denoiser that changes the shape.
template <linear_operator Op, class D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && denoiser_for<D, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>> pnp_pgd(const Op& A, const domain_t<Op>& y, const D& d,
                                            const pnp_pgd_options& options = {},
                                            Monitor&& monitor = {}) {
    detail::iteration_tracker track; // the clock starts here
    constexpr const char* where = "pnp_pgd";
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
    V z = xrestore::zeros_like(x);
    // divergence: ||x_k|| > 1e6 max(||x_0||, ||y||, sqrt(n)), x_0 = A^T y
    track.watch_norm({xrestore::norm(x), xrestore::norm(y)}, x);
    result.stop = solver_stop::max_iterations;
    for (int k = 1; k <= options.max_iter; ++k) {
        xrestore::apply_into(A, x, residual);
        xrestore::axpy(-1.0f, y, residual); // r = A x - y
        xrestore::adjoint_into(A, residual, z);
        xrestore::axpby(1.0f, x, static_cast<float>(-options.step), z); // z = x - step A^T r
        x = detail::denoise_checked(d, z, where);                       // x = D(z)
        if (track.finish(result, x, previous, k, options.tol, monitor)) {
            break;
        }
    }
    if (options.clip_output) {
        detail::clip_unit(x);
    }
    return result;
}

/// PnP half-quadratic splitting: from z = 0, x_k = (A^T A + mu_k I)^{-1} (A^T y + mu_k z_{k-1})
/// by CG, z_k = D(x_k), mu_k = mu mu_growth^(k-1). Returns z (clipped to [0,1] unless
/// clip_output is false) with the history of z as pnp_admm. Throws value_error for mu <= 0,
/// mu_growth < 1, max_iter <= 0, a negative tol, bad CG options or a non-finite y, shape_error
/// for a wrong y shape or a denoiser that changes the shape.
template <linear_operator Op, class D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && denoiser_for<D, domain_t<Op>> &&
    solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>>
        solver_result<domain_t<Op>> pnp_hqs(const Op& A, const domain_t<Op>& y, const D& d,
                                            const pnp_hqs_options& options = {},
                                            Monitor&& monitor = {}) {
    detail::iteration_tracker track; // the clock starts here
    constexpr const char* where = "pnp_hqs";
    require(std::isfinite(options.mu) && options.mu > 0.0, where, "options.mu", "finite and > 0",
            options.mu);
    require(std::isfinite(options.mu_growth) && options.mu_growth >= 1.0, where,
            "options.mu_growth", "finite and >= 1", options.mu_growth);
    detail::validate_iterations(options.max_iter, options.tol, where);
    detail::validate_cg_options(options.cg, where);
    detail::check_measured_y(A, y, where);
    detail::shifted_normal_solver<Op> solver(A, y, options.mu, options.cg);
    using V = domain_t<Op>;
    solver_result<V> result;
    V& z = result.x;
    z = xrestore::zeros<V>(A.domain_shape());
    V x = xrestore::zeros_like(z);
    V previous = xrestore::zeros_like(z);
    // divergence: ||z_k|| > 1e6 max(||A^T y||, ||y||, sqrt(n)) (z_0 = 0)
    track.watch_norm({xrestore::norm(solver.aty()), xrestore::norm(y)}, z);
    double mu = options.mu;
    result.stop = solver_stop::max_iterations;
    for (int k = 1; k <= options.max_iter; ++k) {
        solver.set_eta(mu);
        solver.solve(z, x, options.warm_start); // x = (A^T A + mu I)^{-1} (A^T y + mu z)
        if (!std::isfinite(xrestore::norm(x))) {
            // z still holds z_{k-1}
            detail::mark_diverged(result,
                                  detail::concat("iteration ", k, ": the x-update is not finite"));
            break;
        }
        z = detail::denoise_checked(d, x, where); // z = D(x)
        if (track.finish(result, z, previous, k, options.tol, monitor)) {
            break;
        }
        mu *= options.mu_growth;
    }
    if (options.clip_output) {
        detail::clip_unit(z);
    }
    return result;
}

} // namespace xrestore
