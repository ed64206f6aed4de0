#pragma once
/// @file tv.hpp
/// Total-variation regularised restoration by the primal-dual algorithm of Chambolle & Pock
/// (2011), for any linear operator A on C x H x W images:
///   tv_primal_dual:      min_x 1/2 ||A x - y||^2 + lambda TV(x)
///   tv_haar_primal_dual: min_x 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_wavelet ||W x||_1
/// with TV(x) = ||D x||_{2,1} the isotropic total variation and W a sparsifying transform. D and
/// W are operator arguments; by default D is the finite-difference gradient (forward
/// differences, Neumann boundary: `gradient_operator_t`, the `gradient` operator on images) and W
/// the orthonormal Haar transform of `options.levels` levels. Any D whose range is a
/// 2 x C x H x W field (tv_gradient: the two halves are paired in the norm) and any W with dense
/// coefficients (sparsifying_transform) plug in: the iteration below needs only their apply and
/// adjoint, and is exact for every linear D and W (an analysis prior; no orthonormality needed).
///
/// @code
/// auto r = xrestore::tv_primal_dual(blur, y, {.lambda = 2e-3, .max_iter = 300});
/// auto s = xrestore::tv_haar_primal_dual(blur, y, {.lambda_tv = 2e-3, .lambda_wavelet = 5e-4});
/// auto u = xrestore::tv_primal_dual(blur, y, my_gradient, {.lambda = 2e-3});  // a user's D
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
/// Steps: ||K||^2 <= ||A||^2 + ||D||^2 + ||W||^2, with ||A|| from operator_norm, ||D||^2 <= 8 for
/// the finite differences and ||W|| = 1 for the Haar transform (another D or W: its
/// operator_norm estimate); tau sigma ||K||^2 < 1 is the convergence condition. By default
/// tau = 10 / ||K|| and sigma = 0.99 / (tau ||K||^2): the primal variable (pixels in [0, 1]) is
/// about a hundred times larger than the duals (bounded by the lambdas, or of the size of the
/// residual). On a 3 x 96 x 96 photo this ratio left, after 100 iterations, a 10 times smaller
/// objective gap than tau = sigma for box-13 deblurring, and 1 % instead of 190 % for 60 %
/// inpainting (where tau = sigma fills the holes very slowly). K x_new is computed once per
/// iteration for the objective, and K x_bar = 2 K x_new - K x follows by linearity, so an
/// iteration applies A, A^T, D, D^T (and W, W^T) once each.

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/gradient.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/operators/operator_norm.hpp"
#include "xrestore/prox/projection.hpp"
#include "xrestore/prox/sparsifying_transform.hpp"
#include "xrestore/prox/tv.hpp"
#include "xrestore/prox/wavelet_bands.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
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
    /// levels of the default Haar transform, used when no W is passed (in
    /// [1, haar_wavelet::max_levels(shape)])
    std::size_t levels = 3;
    /// penalised coefficients of a Haar transform (the default one or one passed); any other W
    /// penalises all of its coefficients and needs wavelet_bands::all
    wavelet_bands bands = wavelet_bands::all;
    int max_iter = 200; ///< iterations at most (> 0)
    double tau = 0.0;   ///< as tv_options::tau
    double sigma = 0.0; ///< as tv_options::sigma
    double tol = 0.0;   ///< as tv_options::tol
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

/// The absent W block of tv_primal_dual.
template <class X>
struct no_transform_block {
    using range_type = X;
};

/// The default D: the finite-difference gradient of the images' backend.
template <linear_operator Op>
auto default_gradient(const Op& a) {
    using X = domain_t<Op>;
    static_assert(dense_vector<X> && std::same_as<shape_t<X>, shape3>,
                  "tv_primal_dual: the default gradient needs an operator on C x H x W images "
                  "(xrestore::image or a device image); pass a gradient operator otherwise");
    return gradient_operator_t<X>(gradient{a.domain_shape()});
}

/// Throw shape_error unless `op`'s domain shape is A's (`what` names op).
template <linear_operator Op, linear_operator B>
void check_same_domain(const Op& a, const B& op, std::string_view where, std::string_view what) {
    if (!(op.domain_shape() == a.domain_shape())) {
        throw shape_error(concat(where, ": ", what, "'s domain shape must be A's domain shape ",
                                 shape_string(a.domain_shape()), ", got ",
                                 shape_string(op.domain_shape())));
    }
}

/// ||D||^2 or a bound: 8 for the finite differences, else the operator_norm estimate.
template <linear_operator D>
double squared_gradient_norm(const D& d, std::string_view where) {
    if constexpr (std::same_as<D, gradient_operator_t<domain_t<D>>>) {
        return 8.0; // ||D||^2 < 8 for forward differences
    } else {
        const double n = operator_norm(d);
        require(std::isfinite(n), where, "the gradient operator D",
                "an operator with a finite norm", n);
        return n * n;
    }
}

/// ||W||^2: 1 for the Haar transform (orthonormal), else the operator_norm estimate.
template <linear_operator W>
double squared_transform_norm(const W& w, std::string_view where) {
    if constexpr (haar_transform<W>) {
        return 1.0;
    } else {
        const double n = operator_norm(w);
        require(std::isfinite(n), where, "the transform W", "an operator with a finite norm", n);
        return n * n;
    }
}

/// The Chambolle-Pock loop with the D and W returned by make_gradient() and make_transform()
/// (references to the caller's, or the defaults built after the arguments are checked; W may be
/// no_transform_block, which drops the W block).
template <linear_operator Op, class MakeGradient, class MakeTransform, class Monitor>
solver_result<domain_t<Op>>
tv_primal_dual_impl(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                    MakeGradient&& make_gradient, MakeTransform&& make_transform,
                    const primal_dual_problem& o, std::string_view where, Monitor& monitor) {
    iteration_tracker track; // the clock starts here
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    static_assert(dense_vector<X>,
                  "tv_primal_dual: the operator's domain must be a dense float array (images)");
    validate(o, where);
    check_measurement(a, y, where);
    check_start(a, x0, where);
    require_finite_vector(y, where, "y");
    require_finite_vector(x0, where, "x0");
    const auto shape = a.domain_shape();
    decltype(auto) d = make_gradient(); // D
    using D = std::remove_cvref_t<decltype(d)>;
    static_assert(tv_gradient<D, X>, "tv_primal_dual: D must be a linear operator on the "
                                     "operator's domain with a dense 2 x C x H x W range");
    using field = range_t<D>; // 2 x C x H x W
    check_same_domain(a, d, where, "the gradient operator D");
    if (d.range_shape()[0] != 2) {
        throw shape_error(concat(where, ": the gradient operator D must have range shape ",
                                 "2 x C x H x W, got ", shape_string(d.range_shape())));
    }
    decltype(auto) transform = make_transform(); // W
    using W = std::remove_cvref_t<decltype(transform)>;
    constexpr bool with_wavelet = !std::same_as<W, no_transform_block<X>>;
    using coefficients = typename W::range_type;
    if constexpr (with_wavelet) {
        static_assert(sparsifying_transform<W, X>,
                      "tv_haar_primal_dual: W must be a linear operator on the operator's "
                      "domain with dense coefficients");
        require_bands_of<W>(o.bands, where);
        check_same_domain(a, transform, where, "the transform W");
    }

    // ||K||^2 <= ||A||^2 + ||D||^2 (+ ||W||^2)
    const double a_norm = operator_norm(a);
    require(std::isfinite(a_norm), where, "A", "an operator with a finite norm", a_norm);
    double w_squared = 0.0;
    if constexpr (with_wavelet) {
        w_squared = squared_transform_norm(transform, where);
    }
    const double k_squared = a_norm * a_norm + squared_gradient_norm(d, where) + w_squared;
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
    X kt = xrestore::zeros<X>(shape); // K^T (q, p, w)
    X scratch = xrestore::zeros<X>(shape);
    // K x (current), K x_new, K x_bar; the duals
    Y ax = xrestore::zeros_like(y);
    Y ax_next = xrestore::zeros_like(y);
    Y ax_bar = xrestore::zeros_like(y);
    Y q = xrestore::zeros_like(y);
    Y r = xrestore::zeros_like(y);
    field dx = xrestore::zeros<field>(d.range_shape());
    field dx_next = xrestore::zeros_like(dx);
    field dx_bar;
    coefficients wx;
    coefficients wx_next;
    coefficients wx_bar;
    xrestore::apply_into(a, x, ax);
    xrestore::apply_into(d, x, dx);
    field p = xrestore::zeros_like(dx);
    coefficients w;
    if constexpr (with_wavelet) {
        wx = xrestore::zeros<coefficients>(transform.range_shape());
        wx_next = xrestore::zeros_like(wx);
        xrestore::apply_into(transform, x, wx);
        zero_unpenalised_bands(wx, transform, o.bands);
        w = xrestore::zeros_like(wx);
        wx_bar = wx;
    }
    xrestore::copy(ax, ax_bar); // x_bar_0 = x_0
    dx_bar = dx;
    {
        // divergence: F(x_k) > 1e6 max(F(x_0), F(0)), F(0) = 1/2 ||y||^2
        xrestore::copy(ax, r);
        xrestore::axpy(-1.0f, y, r); // A x_0 - y
        double start = 0.5 * xrestore::dot(r, r) + o.lambda_tv * l21_norm(dx);
        if constexpr (with_wavelet) {
            start += o.lambda_wavelet * bands_l1_norm(wx, transform, o.bands);
        }
        track.watch_objective(start, 0.5 * xrestore::dot(y, y));
    }
    const std::size_t field_count = dx.size() / 2; // entries of each half of D x
    const auto sigma_f = static_cast<float>(sigma);
    result.objective.reserve(static_cast<std::size_t>(o.max_iter));
    result.change.reserve(static_cast<std::size_t>(o.max_iter));

    for (int k = 1; k <= o.max_iter; ++k) {
        // q = (q + sigma (A x_bar - y)) / (1 + sigma)
        xrestore::axpy(sigma_f, ax_bar, q);
        xrestore::axpy(-sigma_f, y, q);
        xrestore::scal(static_cast<float>(1.0 / (1.0 + sigma)), q);
        // p = proj_{|p_ij| <= lambda_tv}(p + sigma D x_bar)
        for_each_index_on<field>(field_count, kernels::field_ball_step_body{
                                                  p.data(), dx_bar.data(), sigma_f,
                                                  static_cast<float>(o.lambda_tv), field_count});
        // kt = A^T q + D^T p
        xrestore::adjoint_into(a, q, kt);
        xrestore::adjoint_into(d, p, scratch);
        xrestore::axpy(1.0f, scratch, kt);
        if constexpr (with_wavelet) {
            // w = clip(w + sigma W x_bar, -lambda_wavelet, lambda_wavelet),  kt += W^T w
            for_each_index_on<coefficients>(
                w.size(), kernels::clip_step_body{w.data(), wx_bar.data(), sigma_f,
                                                  static_cast<float>(o.lambda_wavelet)});
            xrestore::adjoint_into(transform, w, scratch);
            xrestore::axpy(1.0f, scratch, kt);
        }
        xrestore::axpy(static_cast<float>(-tau), kt, x); // x_new = x - tau K^T (q, p, w)

        // K x_new and the objective 1/2 ||A x - y||^2 + lambda_tv ||D x||_{2,1} (+ ...)
        xrestore::apply_into(a, x, ax_next);
        xrestore::apply_into(d, x, dx_next);
        xrestore::copy(ax_next, r);
        xrestore::axpy(-1.0f, y, r);
        double objective = 0.5 * xrestore::dot(r, r) + o.lambda_tv * l21_norm(dx_next);
        if constexpr (with_wavelet) {
            xrestore::apply_into(transform, x, wx_next);
            objective += o.lambda_wavelet * bands_l1_norm(wx_next, transform, o.bands);
        }
        if (std::string reason = track.objective_verdict(k, objective); !reason.empty()) {
            stop_diverged(result, x, previous, std::move(reason)); // x = x_{k-1}
            return result;
        }
        // K x_bar = 2 K x_new - K x
        xrestore::copy(ax_next, ax_bar);
        xrestore::axpby(-1.0f, ax, 2.0f, ax_bar);
        xrestore::copy(dx_next, dx_bar);
        xrestore::axpby(-1.0f, dx, 2.0f, dx_bar);
        std::swap(ax, ax_next);
        std::swap(dx, dx_next);
        if constexpr (with_wavelet) {
            // the W block of K is P W, P dropping the unpenalised coefficients (details: the
            // Haar low-pass block)
            zero_unpenalised_bands(wx_next, transform, o.bands);
            xrestore::copy(wx_next, wx_bar);
            xrestore::axpby(-1.0f, wx, 2.0f, wx_bar);
            std::swap(wx, wx_next);
        }
        result.objective.push_back(objective);
        if (track.record(result, std::as_const(x), previous, k, o.tol, monitor)) {
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
/// range type), TV by the finite differences. Records the objective of x_k and the relative change
/// after every iteration and calls monitor(k, x_k) (true stops). Throws value_error for bad
/// options or non-finite y, shape_error when y does not have A's range shape. A diverging run (the
/// rule of solvers/detail/iteration.hpp: a non-finite objective, or one above
/// 1e6 max(F(x_0), F(0))) stops with solver_stop::diverged and the last good x.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, const tv_options& options = {},
               Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, detail::default_start(a, y, "tv_primal_dual"),
        [&] { return detail::default_gradient(a); },
        [] { return detail::no_transform_block<domain_t<Op>>{}; }, detail::problem_of(options),
        "tv_primal_dual", monitor);
}

/// tv_primal_dual from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, domain_t<Op> x0, const tv_options& options,
               Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, std::move(x0), [&] { return detail::default_gradient(a); },
        [] { return detail::no_transform_block<domain_t<Op>>{}; }, detail::problem_of(options),
        "tv_primal_dual", monitor);
}

/// min_x 1/2 ||A x - y||^2 + lambda ||D x||_{2,1} with the gradient operator D given (a
/// tv_gradient: range 2 x C x H x W; its norm is estimated for the default steps). As the form
/// above, plus shape_error when D's domain shape is not A's or its range is not 2 x C x H x W.
template <linear_operator Op, tv_gradient<domain_t<Op>> D, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, const D& d, const tv_options& options = {},
               Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, detail::default_start(a, y, "tv_primal_dual"), [&]() -> const D& { return d; },
        [] { return detail::no_transform_block<domain_t<Op>>{}; }, detail::problem_of(options),
        "tv_primal_dual", monitor);
}

/// tv_primal_dual with the gradient operator D from a given start x0.
template <linear_operator Op, tv_gradient<domain_t<Op>> D, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_primal_dual(const Op& a, const range_t<Op>& y, const D& d, domain_t<Op> x0,
               const tv_options& options, Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, std::move(x0), [&]() -> const D& { return d; },
        [] { return detail::no_transform_block<domain_t<Op>>{}; }, detail::problem_of(options),
        "tv_primal_dual", monitor);
}

/// min_x 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_wavelet ||W x||_1 by Chambolle-Pock with
/// K = [A; D; W], from x_0 = A^T y, D the finite differences and W the Haar transform of
/// options.levels levels. Same records, monitor and errors as tv_primal_dual (Haar levels too
/// many for the image included).
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, const tv_haar_options& options = {},
                    Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, detail::default_start(a, y, "tv_haar_primal_dual"),
        [&] { return detail::default_gradient(a); },
        [&] {
            return haar_transform_t<domain_t<Op>>(haar_wavelet(a.domain_shape(), options.levels));
        },
        detail::problem_of(options), "tv_haar_primal_dual", monitor);
}

/// tv_haar_primal_dual from a given start x0.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, domain_t<Op> x0,
                    const tv_haar_options& options, Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, std::move(x0), [&] { return detail::default_gradient(a); },
        [&] {
            return haar_transform_t<domain_t<Op>>(haar_wavelet(a.domain_shape(), options.levels));
        },
        detail::problem_of(options), "tv_haar_primal_dual", monitor);
}

/// min_x 1/2 ||A x - y||^2 + lambda_tv ||D x||_{2,1} + lambda_wavelet ||W x||_1 with the
/// gradient operator D and the transform W given (W's norm is estimated for the default steps
/// unless it is the Haar transform). options.levels is not used; options.bands must be
/// wavelet_bands::all unless W is the Haar transform. As tv_primal_dual with D, plus shape_error
/// when W's domain shape is not A's.
template <linear_operator Op, tv_gradient<domain_t<Op>> D, sparsifying_transform<domain_t<Op>> W,
          class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, const D& d, const W& w,
                    const tv_haar_options& options = {}, Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, detail::default_start(a, y, "tv_haar_primal_dual"), [&]() -> const D& { return d; },
        [&]() -> const W& { return w; }, detail::problem_of(options), "tv_haar_primal_dual",
        monitor);
}

/// tv_haar_primal_dual with D and W from a given start x0.
template <linear_operator Op, tv_gradient<domain_t<Op>> D, sparsifying_transform<domain_t<Op>> W,
          class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tv_haar_primal_dual(const Op& a, const range_t<Op>& y, const D& d, const W& w, domain_t<Op> x0,
                    const tv_haar_options& options, Monitor&& monitor = {}) {
    return detail::tv_primal_dual_impl(
        a, y, std::move(x0), [&]() -> const D& { return d; }, [&]() -> const W& { return w; },
        detail::problem_of(options), "tv_haar_primal_dual", monitor);
}

} // namespace xrestore
