#pragma once
/// @file tv.hpp
/// Total-variation regularised restoration by the primal-dual algorithm of Chambolle & Pock
/// (2011), for any linear operator A on C x H x W images:
///   tv_primal_dual:      min_x 1/2 ||A x - y||^2 + lambda TV(x)
///   tv_haar_primal_dual: min_x 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_wavelet ||W x||_1
/// with TV the isotropic total variation of each channel (forward differences, Neumann boundary:
/// TV(x) = ||D x||_{2,1}, D the `gradient` operator) and W the orthonormal Haar transform.
///
/// @code
/// auto r = xrestore::tv_primal_dual(blur, y, {.lambda = 2e-3, .max_iter = 300});
/// auto s = xrestore::tv_haar_primal_dual(blur, y, {.lambda_tv = 2e-3, .lambda_wavelet = 5e-4});
/// double f = r.objective.back();   // 1/2 ||A x - y||^2 + lambda TV(x)
/// @endcode
///
/// Formulation: min_x F(K x) with K = [A; D; W] (the W block only in the combined problem) and
/// F(u, v, w) = 1/2 ||u - y||^2 + lambda_tv ||v||_{2,1} + lambda_wavelet ||w||_1, G = 0. The data
/// term is handled through its dual like the regularisers, so every step is explicit and A only
/// needs apply and adjoint (no inner solves). Iteration, with x_bar_0 = x_0 and duals q, p, w
/// starting at 0:
///   q = (q + sigma (A x_bar - y)) / (1 + sigma)          prox of sigma F_1^*
///   p = proj_{|p_ij| <= lambda_tv}(p + sigma D x_bar)      prox of sigma F_2^*
///   w = clip(w + sigma W x_bar, -lambda_wavelet, lambda_wavelet)
///   x_new = x - tau (A^T q + D^T p + W^T w)
///   x_bar = 2 x_new - x
/// Steps: ||K||^2 <= ||A||^2 + ||D||^2 + ||W||^2 <= ||A||^2 + 8 (+ 1), with ||A|| from
/// operator_norm; tau sigma ||K||^2 < 1 is the convergence condition. By default
/// tau = 10 / ||K|| and sigma = 0.99 / (tau ||K||^2): the primal variable (pixels in [0, 1]) is
/// about a hundred times larger than the duals (bounded by the lambdas, or of the size of the
/// residual). On a 3 x 96 x 96 photo this ratio left, after 100 iterations, a 10 times smaller
/// objective gap than tau = sigma for box-13 deblurring, and 1 % instead of 190 % for 60 %
/// inpainting (where tau = sigma fills the holes very slowly). K x_new is computed once per
/// iteration for the objective, and K x_bar = 2 K x_new - K x follows by linearity, so an
/// iteration applies
/// A, A^T, D, D^T (and W, W^T) once each.

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/gradient.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/prox/haar_l1.hpp"
#include "xrestore/prox/projection.hpp"
#include "xrestore/prox/tv.hpp"
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

/// Options of tv_primal_dual.
struct tv_options {
    double lambda = 1e-3; ///< weight of TV (>= 0, finite)
    int max_iter = 200;   ///< iterations at most (> 0)
    /// Primal step tau (>= 0); 0 picks 10 / ||K|| (see the file comment).
    double tau = 0.0;
    /// Dual step sigma (>= 0); 0 picks 0.99 / (tau ||K||^2). When both are given,
    /// tau sigma ||K||^2 must be < 1 for the bound on ||K||^2.
    double sigma = 0.0;
    /// Stop (solver_stop::converged) when ||x_k - x_{k-1}|| / ||x_k|| < tol (>= 0; 0 never).
    double tol = 0.0;
};

/// Options of tv_haar_primal_dual.
struct tv_haar_options {
    double lambda_tv = 1e-3;      ///< weight of TV (>= 0, finite)
    double lambda_wavelet = 1e-3; ///< weight of ||W x||_1 (>= 0, finite)
    std::size_t levels = 3;       ///< Haar levels, in [1, haar_wavelet::max_levels(shape)]
    wavelet_bands bands = wavelet_bands::all; ///< penalised Haar coefficients
    int max_iter = 200;                       ///< iterations at most (> 0)
    double tau = 0.0;                         ///< as tv_options::tau
    double sigma = 0.0;                       ///< as tv_options::sigma
    double tol = 0.0;                         ///< as tv_options::tol
};

namespace detail {

/// The problem the primal-dual loop solves; lambda_wavelet = 0 drops the W block.
struct primal_dual_problem {
    double lambda_tv;
    double lambda_wavelet;
    std::size_t levels;
    wavelet_bands bands;
    int max_iter;
    double tau;
    double sigma;
    double tol;
    bool with_wavelet;
};

inline void validate(const primal_dual_problem& o, std::string_view where) {
    const bool combined = o.with_wavelet;
    require(std::isfinite(o.lambda_tv) && o.lambda_tv >= 0.0, where,
            combined ? "options.lambda_tv" : "options.lambda", "finite and >= 0", o.lambda_tv);
    if (combined) {
        require(std::isfinite(o.lambda_wavelet) && o.lambda_wavelet >= 0.0, where,
                "options.lambda_wavelet", "finite and >= 0", o.lambda_wavelet);
        require(o.bands == wavelet_bands::all || o.bands == wavelet_bands::details, where,
                "options.bands", "wavelet_bands::all or wavelet_bands::details",
                static_cast<int>(o.bands));
    }
    require(o.max_iter > 0, where, "options.max_iter", "positive", o.max_iter);
    require(std::isfinite(o.tau) && o.tau >= 0.0, where, "options.tau",
            "finite and >= 0 (0 = automatic)", o.tau);
    require(std::isfinite(o.sigma) && o.sigma >= 0.0, where, "options.sigma",
            "finite and >= 0 (0 = automatic)", o.sigma);
    require(std::isfinite(o.tol) && o.tol >= 0.0, where, "options.tol", "finite and >= 0", o.tol);
}

template <linear_operator Op, class Monitor>
solver_result<domain_t<Op>> tv_primal_dual_impl(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                                                const primal_dual_problem& o,
                                                std::string_view where, Monitor& monitor) {
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    static_assert(dense_vector<X> && std::same_as<shape_t<X>, shape3>,
                  "tv_primal_dual: the operator's domain must be C x H x W images (xrestore::image "
                  "or a device image)");
    using field = rebind_rank_t<X, 4>; // 2 x C x H x W
    validate(o, where);
    check_measurement(a, y, where);
    check_start(a, x0, where);
    require_finite_vector(y, where, "y");
    require_finite_vector(x0, where, "x0");
    const shape3 shape = a.domain_shape();
    const gradient_operator_t<X> d(gradient{shape});
    std::optional<haar_transform_t<X>> transform;
    if (o.with_wavelet) {
        transform.emplace(haar_wavelet(shape, o.levels));
    }

    // ||K||^2 <= ||A||^2 + ||D||^2 (+ ||W||^2), ||D||^2 <= 8, ||W|| = 1
    const double a_norm = operator_norm(a);
    require(std::isfinite(a_norm), where, "A", "an operator with a finite norm", a_norm);
    const double k_squared = a_norm * a_norm + 8.0 + (o.with_wavelet ? 1.0 : 0.0);
    double tau = o.tau;
    double sigma = o.sigma;
    if (tau == 0.0 && sigma == 0.0) {
        tau = 10.0 / std::sqrt(k_squared); // tau / sigma = 100 / 0.99
        sigma = 0.99 / (tau * k_squared);
    } else if (sigma == 0.0) {
        sigma = 0.99 / (tau * k_squared);
    } else if (tau == 0.0) {
        tau = 0.99 / (sigma * k_squared);
    } else {
        require(tau * sigma * k_squared < 1.0, where, "options.tau * options.sigma * ||K||^2",
                concat("< 1 (||K||^2 <= ", k_squared, ")"), tau * sigma * k_squared);
    }

    solver_result<X> result;
    X& x = result.x;
    x = std::move(x0);
    X previous = x;
    X kt(shape); // K^T (q, p, w)
    X scratch(shape);
    // K x (current), K x_new, K x_bar; the duals
    Y ax = xrestore::zeros_like(y);
    Y ax_next = xrestore::zeros_like(y);
    Y ax_bar = xrestore::zeros_like(y);
    Y q = xrestore::zeros_like(y);
    Y r = xrestore::zeros_like(y);
    field dx;
    field dx_next;
    field dx_bar;
    X wx;
    X wx_next;
    X wx_bar;
    xrestore::apply_into(a, x, ax);
    d.apply_into(x, dx);
    field p = xrestore::zeros_like(dx);
    X w;
    if (transform) {
        transform->apply_into(x, wx);
        if (o.bands == wavelet_bands::details) {
            zero_lowpass_block(wx, *transform);
        }
        w = xrestore::zeros_like(wx);
        wx_bar = wx;
    }
    xrestore::copy(ax, ax_bar); // x_bar_0 = x_0
    dx_bar = dx;
    const std::size_t count = x.size();
    const auto sigma_f = static_cast<float>(sigma);
    result.objective.reserve(static_cast<std::size_t>(o.max_iter));
    result.change.reserve(static_cast<std::size_t>(o.max_iter));

    for (int k = 1; k <= o.max_iter; ++k) {
        // q = (q + sigma (A x_bar - y)) / (1 + sigma)
        xrestore::axpy(sigma_f, ax_bar, q);
        xrestore::axpy(-sigma_f, y, q);
        xrestore::scal(static_cast<float>(1.0 / (1.0 + sigma)), q);
        // p = proj_{|p_ij| <= lambda_tv}(p + sigma D x_bar)
        for_each_index_on<X>(count,
                             kernels::field_ball_step_body{p.data(), dx_bar.data(), sigma_f,
                                                           static_cast<float>(o.lambda_tv), count});
        // kt = A^T q + D^T p
        xrestore::adjoint_into(a, q, kt);
        d.adjoint_into(p, scratch);
        xrestore::axpy(1.0f, scratch, kt);
        if (transform) {
            // w = clip(w + sigma W x_bar, -lambda_wavelet, lambda_wavelet),  kt += W^T w
            for_each_index_on<X>(count,
                                 kernels::clip_step_body{w.data(), wx_bar.data(), sigma_f,
                                                         static_cast<float>(o.lambda_wavelet)});
            transform->adjoint_into(w, scratch);
            xrestore::axpy(1.0f, scratch, kt);
        }
        xrestore::axpy(static_cast<float>(-tau), kt, x); // x_new = x - tau K^T (q, p, w)

        // K x_new and the objective 1/2 ||A x - y||^2 + lambda_tv ||D x||_{2,1} (+ ...)
        xrestore::apply_into(a, x, ax_next);
        d.apply_into(x, dx_next);
        xrestore::copy(ax_next, r);
        xrestore::axpy(-1.0f, y, r);
        double objective = 0.5 * xrestore::dot(r, r) + o.lambda_tv * l21_norm(dx_next);
        if (transform) {
            transform->apply_into(x, wx_next);
            objective += o.lambda_wavelet * coefficient_l1_norm(wx_next, *transform, o.bands);
        }
        if (!std::isfinite(objective)) {
            stop_diverged(result, x, previous);
            return result;
        }
        // K x_bar = 2 K x_new - K x
        xrestore::copy(ax_next, ax_bar);
        xrestore::axpby(-1.0f, ax, 2.0f, ax_bar);
        xrestore::copy(dx_next, dx_bar);
        xrestore::axpby(-1.0f, dx, 2.0f, dx_bar);
        std::swap(ax, ax_next);
        std::swap(dx, dx_next);
        if (transform) {
            if (o.bands == wavelet_bands::details) {
                // the W block of K is P W, P dropping the unpenalised low-pass block
                zero_lowpass_block(wx_next, *transform);
            }
            xrestore::copy(wx_next, wx_bar);
            xrestore::axpby(-1.0f, wx, 2.0f, wx_bar);
            std::swap(wx, wx_next);
        }
        result.objective.push_back(objective);
        if (record_iteration(result, std::as_const(x), previous, k, o.tol, monitor)) {
            return result;
        }
    }
    result.stop = solver_stop::max_iterations;
    return result;
}

inline primal_dual_problem problem_of(const tv_options& o) {
    return {o.lambda, 0.0, 1, wavelet_bands::all, o.max_iter, o.tau, o.sigma, o.tol, false};
}
inline primal_dual_problem problem_of(const tv_haar_options& o) {
    return {o.lambda_tv, o.lambda_wavelet, o.levels, o.bands, o.max_iter,
            o.tau,       o.sigma,          o.tol,    true};
}

} // namespace detail

/// min_x 1/2 ||A x - y||^2 + lambda TV(x) by Chambolle-Pock from x_0 = A^T y (A on images, any
/// range type). Records the objective of x_k and the relative change after every iteration and
/// calls monitor(k, x_k) (true stops). Throws value_error for bad options or non-finite y,
/// shape_error when y does not have A's range shape. A non-finite objective stops with
/// solver_stop::diverged and the last finite x.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, const tv_options& options = {},
               Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(a, y, detail::default_start(a, y, "tv_primal_dual"),
                                       detail::problem_of(options), "tv_primal_dual", monitor);
}

/// tv_primal_dual from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const tv_options& options,
               Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(a, y, std::move(x0), detail::problem_of(options),
                                       "tv_primal_dual", monitor);
}

/// min_x 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_wavelet ||W x||_1 by Chambolle-Pock with
/// K = [A; D; W], from x_0 = A^T y. Same records, monitor and errors as tv_primal_dual (Haar
/// levels too many for the image included).
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, const tv_haar_options& options = {},
                    Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(a, y, detail::default_start(a, y, "tv_haar_primal_dual"),
                                       detail::problem_of(options), "tv_haar_primal_dual", monitor);
}

/// tv_haar_primal_dual from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                    const tv_haar_options& options, Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(a, y, std::move(x0), detail::problem_of(options),
                                       "tv_haar_primal_dual", monitor);
}

} // namespace xrestore
