#pragma once
/// @file admm_loop.hpp
/// The scaled ADMM loop that admm (a proximal v-update) and pnp_admm (a denoiser) share, with its
/// penalty schedule; see admm.hpp for the iteration.
///
/// @code
/// auto r = xrestore::detail::admm_loop(A, y, v_update, {eta, 1.0, eta}, max_iter, tol, cg,
///                                      true, monitor, "admm");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/shifted_normal_solver.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace xrestore::detail {

/// The penalty schedule of ADMM: eta_1 = eta, eta_{k+1} = min(eta_k growth, eta_max).
struct admm_penalty {
    double eta = 1.0;
    double growth = 1.0;
    double max = std::numeric_limits<double>::infinity();
};

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

/// The scaled ADMM loop shared by admm and pnp_admm.
template <linear_operator Op, class VUpdate, class Monitor>
solver_result<domain_t<Op>> admm_loop(const Op& A, const range_t<Op>& y, VUpdate& v_update,
                                      admm_penalty penalty, int max_iter, double tol,
                                      const cg_options& cg, bool warm_start, Monitor& monitor,
                                      std::string_view where) {
    iteration_tracker track; // the clock starts here
    using V = domain_t<Op>;
    double eta = penalty.eta;
    require(std::isfinite(eta) && eta > 0.0, where, "options.eta", "finite and > 0", eta);
    require(std::isfinite(penalty.growth) && penalty.growth >= 1.0, where, "options.eta_growth",
            "finite and >= 1", penalty.growth);
    require(!std::isnan(penalty.max) && penalty.max >= eta, where, "options.eta_max",
            ">= options.eta", penalty.max);
    validate_iterations(max_iter, tol, where);
    // The largest penalty of the schedule, min(eta growth^(max_iter - 1), eta_max), checked before
    // the first iteration: past about 1e30 the x-update's right-hand side eta (v - u) overflows
    // float32 a few iterations in, and the run would fail midway.
    constexpr double largest_penalty = 1e30;
    require(eta <= largest_penalty, where, "options.eta", "at most 1e30", eta);
    const double reached =
        std::min(eta * std::pow(penalty.growth, static_cast<double>(max_iter - 1)), penalty.max);
    require(reached <= largest_penalty, where, "options.eta_growth",
            concat("small enough that eta growth^(max_iter - 1) stays at most 1e30 (it reaches ",
                   reached, " after ", max_iter, " iterations; options.eta_max caps it)"),
            penalty.growth);
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
    // divergence: ||x_k|| > 1e6 max(||A^T y||, ||y||, sqrt(n)) (x_0 = 0)
    track.watch_norm({xrestore::norm(solver.aty()), xrestore::norm(y)}, x);
    for (int k = 1; k <= max_iter; ++k) {
        xrestore::combine(1.0f, v, -1.0f, u, work); // c = v - u
        // x = (A^T A + eta I)^{-1} (A^T y + eta (v - u))
        solver.solve(work, x, warm_start);
        result.inner_iterations.push_back(solver.last_iterations());
        xrestore::combine(1.0f, x, 1.0f, u, work); // z = x + u
        // v = prox_{g / eta}(x + u)
        V next = call_v_update<V>(v_update, std::as_const(work), 1.0 / eta);
        check_vector_shape(next, shape, where, "the v-update's output");
        v = std::move(next);
        xrestore::axpy(1.0f, x, u);
        xrestore::axpy(-1.0f, v, u); // u = u + (x - v)
        std::string reason = track.norm_verdict(k, xrestore::norm(x));
        if (reason.empty() &&
            (!std::isfinite(xrestore::norm(v)) || !std::isfinite(xrestore::norm(u)))) {
            reason = concat("iteration ", k, ": v or u is not finite");
        }
        if (!reason.empty()) {
            stop_diverged(result, x, previous, std::move(reason)); // x = the last good iterate
            return result;
        }
        if (track.record(result, std::as_const(x), previous, k, tol, monitor)) {
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

} // namespace xrestore::detail
