#pragma once
/// @file cg.hpp
/// Conjugate gradient for C x = b with C symmetric positive definite (A^T A + eta I, the
/// x-update of PnP-ADMM...). C is a square linear operator or any callable, either
/// `V(const V&)` or, to avoid allocating in the loop, `void(const V& in, V& out)`. Written only
/// against the vector-space operations (dot, axpy, axpby, copy), so it runs on every backend.
///
/// @code
/// auto normal = [&](const xrestore::image& v) { return blur.adjoint(blur.apply(v)); };
/// auto result = xrestore::conjugate_gradient(normal, rhs, xrestore::zeros_like(rhs));
/// if (result.stop != xrestore::cg_stop::converged) std::cerr << to_string(result.stop);
/// @endcode

#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"

#include <cmath>
#include <concepts>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace xrestore {

/// Why conjugate_gradient stopped.
enum class cg_stop {
    converged,          ///< ||r|| / ||b|| < tol (or r became exactly 0)
    max_iterations,     ///< options.max_iter iterations done without converging
    breakdown,          ///< <d, C d> == 0 or non-finite, or a non-finite residual / step: C is
                        ///< not positive definite (or overflow); x is the last finite iterate
    zero_rhs,           ///< b == 0: x = 0 is returned without iterating
    stopped_by_monitor, ///< the monitor returned true
};

/// "converged", "max_iterations", "breakdown", "zero_rhs" or "stopped_by_monitor".
inline const char* to_string(cg_stop stop) {
    switch (stop) {
    case cg_stop::converged:
        return "converged";
    case cg_stop::max_iterations:
        return "max_iterations";
    case cg_stop::breakdown:
        return "breakdown";
    case cg_stop::zero_rhs:
        return "zero_rhs";
    case cg_stop::stopped_by_monitor:
        return "stopped_by_monitor";
    }
    return "unknown";
}

/// Options of conjugate_gradient.
struct cg_options {
    int max_iter = 100; ///< iterations at most (> 0)
    double tol = 1e-6;  ///< stop when ||r_k|| / ||b|| < tol (>= 0; 0 runs all iterations)
};

/// What conjugate_gradient returns.
template <vector_type V>
struct cg_result {
    V x;                                  ///< the solution estimate
    int iterations = 0;                   ///< iterations done; C was applied iterations + 1 times
    std::vector<double> residual_history; ///< ||r_k|| / ||b|| for k = 0..iterations
    cg_stop stop = cg_stop::max_iterations;
};

/// A callable that applies C in place: `apply_c(in, out)` overwrites `out` (already shaped like
/// `in`, contents arbitrary) with C in.
template <class F, class V>
concept cg_apply_in_place = std::invocable<F&, const V&, V&>;

/// A callable that returns C in by value.
template <class F, class V>
concept cg_apply_by_value = requires(F& f, const V& in) {
    { f(in) } -> std::convertible_to<V>;
};

/// A monitor `bool(int iteration, const V& x, double relative_residual)`; returning true stops
/// the solver. A monitor returning void only observes.
template <class M, class V>
concept cg_monitor = std::invocable<M&, int, const V&, double>;

namespace detail {

/// "3 x 64 x 64" for array shapes, "(a) + (b)" for product-vector shapes.
template <class Shape>
std::string cg_shape_text(const Shape& shape) {
    if constexpr (requires {
                      shape.first;
                      shape.second;
                  }) {
        std::string text = "(";
        text += cg_shape_text(shape.first);
        text += ") + (";
        text += cg_shape_text(shape.second);
        text += ")";
        return text;
    } else {
        return shape_string(shape);
    }
}

/// A monitor that never stops the solver.
struct cg_no_monitor {
    template <class V>
    bool operator()(int, const V&, double) const {
        return false;
    }
};

template <vector_type V, class ApplyC, class Monitor>
cg_result<V> conjugate_gradient_impl(ApplyC& apply_c, const V& b, V x0, const cg_options& options,
                                     Monitor& monitor) {
    static_assert(cg_apply_in_place<ApplyC, V> || cg_apply_by_value<ApplyC, V>,
                  "conjugate_gradient: C must be callable as V(const V&) or void(const V&, V&)");
    require(options.max_iter > 0, "conjugate_gradient", "options.max_iter", "positive",
            options.max_iter);
    require(options.tol >= 0.0, "conjugate_gradient", "options.tol", "non-negative", options.tol);
    using space = vector_space<V>;
    if (!(space::shape(b) == space::shape(x0))) {
        throw shape_error(concat("conjugate_gradient: x0 must have the shape of b, ",
                                 cg_shape_text(space::shape(b)), ", got ",
                                 cg_shape_text(space::shape(x0))));
    }
    // out = C in
    auto apply = [&apply_c](const V& in, V& out) {
        if constexpr (cg_apply_in_place<ApplyC, V>) {
            apply_c(in, out);
        } else {
            out = apply_c(in);
        }
    };

    const double b_norm = xrestore::norm(b);
    require(std::isfinite(b_norm), "conjugate_gradient", "b", "finite (its norm)", b_norm);
    const double x0_norm = xrestore::norm(x0);
    require(std::isfinite(x0_norm), "conjugate_gradient", "x0", "finite (its norm)", x0_norm);

    cg_result<V> result;
    if (b_norm == 0.0) {
        // C x = 0 is solved by x = 0
        result.x = xrestore::zeros_like(b);
        result.residual_history.push_back(0.0);
        result.stop = cg_stop::zero_rhs;
        return result;
    }

    V& x = result.x;
    x = std::move(x0);
    V z = xrestore::zeros_like(b);
    apply(x, z);
    V r = xrestore::zeros_like(b);
    xrestore::copy(b, r);
    xrestore::axpy(-1.0f, z, r); // r = b - C x
    double rr = xrestore::dot(r, r);
    auto& history = result.residual_history;
    history.reserve(static_cast<std::size_t>(options.max_iter) + 1);
    history.push_back(std::sqrt(rr) / b_norm);
    if (!std::isfinite(rr)) {
        result.stop = cg_stop::breakdown;
        return result;
    }
    if (rr == 0.0 || history.back() < options.tol) {
        result.stop = cg_stop::converged;
        return result;
    }
    V d = xrestore::zeros_like(b);
    xrestore::copy(r, d); // d = r

    // Overflow guard without extra reductions: by the triangle inequality
    // ||d_{k+1}|| <= ||r_{k+1}|| + |beta| ||d_k|| and ||x_{k+1}|| <= ||x_k|| + |alpha| ||d_k||, so
    // while both bounds stay below half the float range no element of x or d can overflow.
    constexpr double ceiling = 0.5 * static_cast<double>(std::numeric_limits<float>::max());
    double d_bound = std::sqrt(rr);
    double x_bound = x0_norm;

    for (int k = 1; k <= options.max_iter; ++k) {
        apply(d, z);                           // z = C d
        const double dz = xrestore::dot(d, z); // <d, C d>
        const double alpha = rr / dz;          // alpha = <r, r> / <d, C d>
        const double step = std::abs(alpha) * d_bound;
        if (!std::isfinite(dz) || dz == 0.0 || !std::isfinite(alpha) ||
            !(x_bound + step < ceiling)) {
            result.stop = cg_stop::breakdown;
            return result;
        }
        // x += alpha d, r -= alpha C d and <r, r> in one pass
        const double rr_next = xrestore::cg_step(static_cast<float>(alpha), d, z, x, r);
        x_bound += step;
        result.iterations = k;
        history.push_back(std::sqrt(rr_next) / b_norm);
        if (!std::isfinite(rr_next)) {
            result.stop = cg_stop::breakdown; // x is finite (guarded above), r overflowed
            return result;
        }
        bool stop_requested = false;
        if constexpr (std::is_void_v<std::invoke_result_t<Monitor&, int, const V&, double>>) {
            monitor(k, std::as_const(x), history.back());
        } else {
            stop_requested = static_cast<bool>(monitor(k, std::as_const(x), history.back()));
        }
        if (rr_next == 0.0 || history.back() < options.tol) {
            result.stop = cg_stop::converged;
            return result;
        }
        if (stop_requested) {
            result.stop = cg_stop::stopped_by_monitor;
            return result;
        }
        if (k == options.max_iter) {
            break;
        }
        const double beta = rr_next / rr; // beta = <r_{k+1}, r_{k+1}> / <r_k, r_k>
        rr = rr_next;
        d_bound = std::sqrt(rr) + beta * d_bound;
        if (!(d_bound < ceiling)) {
            result.stop = cg_stop::breakdown;
            return result;
        }
        xrestore::axpby(1.0f, r, static_cast<float>(beta), d); // d = r + beta d
    }
    result.stop = cg_stop::max_iterations;
    return result;
}

} // namespace detail

/// Solve C x = b from x0 by conjugate gradient, C given as a callable (`V(const V&)` or
/// `void(const V& in, V& out)`; the in-place form is preferred when both exist). Stops when
/// ||r_k|| / ||b|| < tol with r_k the recursively updated residual, after max_iter iterations, on
/// breakdown (C not positive definite along a search direction), or at once with x = 0 when
/// b = 0. Throws value_error for max_iter <= 0, tol < 0 or non-finite b / x0, shape_error when x0
/// and b differ in shape.
template <vector_type V, class ApplyC>
requires(!linear_operator<std::remove_cvref_t<ApplyC>>) &&
    (cg_apply_in_place<std::remove_reference_t<ApplyC>, V> ||
     cg_apply_by_value<std::remove_reference_t<ApplyC>, V>)
        cg_result<V> conjugate_gradient(ApplyC&& apply_c, const V& b, std::type_identity_t<V> x0,
                                        const cg_options& options = {}) {
    detail::cg_no_monitor monitor;
    return detail::conjugate_gradient_impl<V>(apply_c, b, std::move(x0), options, monitor);
}

/// As above, calling `monitor(k, x_k, ||r_k|| / ||b||)` after every iteration k >= 1; a monitor
/// that returns true stops the solver (cg_stop::stopped_by_monitor, unless it converged at k).
template <vector_type V, class ApplyC, class Monitor>
requires(!linear_operator<std::remove_cvref_t<ApplyC>>) &&
    (cg_apply_in_place<std::remove_reference_t<ApplyC>, V> ||
     cg_apply_by_value<std::remove_reference_t<ApplyC>,
                       V>)&&cg_monitor<std::remove_reference_t<Monitor>,
                                       V> cg_result<V> conjugate_gradient(ApplyC&& apply_c,
                                                                          const V& b,
                                                                          std::type_identity_t<V>
                                                                              x0,
                                                                          const cg_options& options,
                                                                          Monitor&& monitor) {
    return detail::conjugate_gradient_impl<V>(apply_c, b, std::move(x0), options, monitor);
}

/// Solve C x = b for a square linear operator C (symmetric positive definite), applying it
/// through `apply_into` when the operator has one. b must have the operator's domain shape.
template <square_operator Op>
cg_result<domain_t<Op>> conjugate_gradient(const Op& c, const domain_t<Op>& b,
                                           std::type_identity_t<domain_t<Op>> x0,
                                           const cg_options& options = {}) {
    return conjugate_gradient(c, b, std::move(x0), options, detail::cg_no_monitor{});
}

/// The operator form with a monitor (see the callable form).
template <square_operator Op, class Monitor>
requires cg_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> cg_result<domain_t<Op>>
conjugate_gradient(const Op& c, const domain_t<Op>& b, std::type_identity_t<domain_t<Op>> x0,
                   const cg_options& options, Monitor&& monitor) {
    using V = domain_t<Op>;
    if (!(vector_space<V>::shape(b) == c.domain_shape())) {
        throw shape_error(detail::concat("conjugate_gradient: b must have the operator's shape ",
                                         detail::cg_shape_text(c.domain_shape()), ", got ",
                                         detail::cg_shape_text(vector_space<V>::shape(b))));
    }
    auto apply_c = [&c](const V& in, V& out) { xrestore::apply_into(c, in, out); };
    return detail::conjugate_gradient_impl<V>(apply_c, b, std::move(x0), options, monitor);
}

} // namespace xrestore
