#pragma once
/// @file richardson_lucy.hpp
/// Richardson-Lucy deconvolution for Poisson noise: the EM iteration for the Kullback-Leibler
/// data term KL(y || A x) = sum(A x - y + y log(y / A x)) with A non-negative,
///   x <- x .* A^T(y ./ A x) ./ A^T 1
/// optionally with total-variation regularisation (Dey et al. 2006):
///   x <- x .* A^T(y ./ A x) ./ A^T 1 ./ (1 - lambda div(grad x / |grad x|_eps))
/// and every iterate clipped non-negative. The gradient is an operator argument D (div = -D^T),
/// by default the finite differences of gradient.hpp; any tv_gradient (range 2 x C x H x W, the
/// two halves paired in |grad x|) plugs in: `richardson_lucy(blur, y, my_gradient, options)`.
///
/// @code
/// auto r = xrestore::richardson_lucy(blur, y, {.max_iter = 50});
/// xrestore::image x = r.x;           // r.objective[k] = KL(y || A x_{k+1}) (+ lambda TV)
/// auto t = xrestore::richardson_lucy(blur, y, {.max_iter = 50, .tv_lambda = 0.002});
/// @endcode
///
/// Guards: A x is floored at `epsilon` in the ratio and pixels with y = 0 contribute 0 to it;
/// pixels with A^T 1 = 0 (never observed, e.g. masked out) keep their value. With the TV term
/// |grad x|_eps = sqrt(|grad x|^2 + eps^2), so every component of the unit field is at most 1 in
/// magnitude, |div| <= 4 and 1 - lambda div >= 1 - 4 lambda > 0 for lambda < 1/4: the update
/// never divides by zero or flips sign. The bound |D^T u| <= 4 for |u_p| <= 1 holds for the
/// finite differences; a user's D must keep it (scale D so that it does) for the same guarantee.
/// The start is the flat image x_0 = sum(y) / sum(A^T 1), which gives A x_0 the measured total
/// intensity.

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/gradient.hpp"
#include "xrestore/prox/tv.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/validation.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Options of richardson_lucy.
struct richardson_lucy_options {
    int max_iter = 50;        ///< iterations (> 0)
    double tol = 0.0;         ///< relative-change stop; 0 runs all iterations
    double tv_lambda = 0.0;   ///< weight of the TV term, in [0, 0.25); 0 is plain RL
    double tv_epsilon = 1e-3; ///< smoothing of |grad x| in the TV term (finite, > 0)
    double epsilon = 1e-12;   ///< floor of A x in y / A x (finite, > 0)
    /// record KL(y || A x_k) (+ tv_lambda TV(x_k)) after every iteration (costs a reduction,
    /// plus a gradient with TV); otherwise `objective` stays empty
    bool record_objective = true;
};

namespace kernels {

/// out[i] = y[i] / max(ax[i], eps), 0 where y[i] = 0
struct poisson_ratio_body {
    const float* y;
    const float* ax;
    float* out;
    float eps;
    XRESTORE_HD void operator()(std::size_t i) const {
        const float a = ax[i] > eps ? ax[i] : eps;
        out[i] = y[i] > 0.0f ? y[i] / a : 0.0f;
    }
};

/// x[i] <- max(x[i] c[i] / n[i] / (1 - lambda div[i]), 0) where n[i] > 0 (div may be null for
/// plain RL); x[i] is kept where n[i] <= 0.
struct richardson_lucy_update_body {
    float* x;
    const float* correction; ///< A^T (y / A x)
    const float* normalizer; ///< A^T 1
    const float* divergence; ///< div(grad x / |grad x|), or null
    float lambda;
    XRESTORE_HD void operator()(std::size_t i) const {
        const float n = normalizer[i];
        if (!(n > 0.0f)) {
            return;
        }
        float factor = correction[i] / n;
        if (divergence != nullptr) {
            factor /= 1.0f - lambda * divergence[i];
        }
        const float v = x[i] * factor;
        x[i] = v > 0.0f ? v : 0.0f;
    }
};

/// g <- g / sqrt(|g|^2 + eps^2) for a 2 x C x H x W field (count = C H W): the unit field.
struct unit_field_body {
    float* g;
    std::size_t count;
    float eps;
    XRESTORE_HD void operator()(std::size_t p) const {
        const float a = g[p];
        const float b = g[count + p];
        const float scale = 1.0f / std::sqrt(a * a + b * b + eps * eps);
        g[p] = a * scale;
        g[count + p] = b * scale;
    }
};

/// ax - y + y log(y / max(ax, eps)) (0 log 0 = 0): the term of KL(y || A x).
struct kl_term {
    const float* y;
    const float* ax;
    double eps;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double a = ax[i];
        const double v = y[i];
        double term = a - v;
        if (v > 0.0) {
            term += v * std::log(v / (a > eps ? a : eps));
        }
        return term;
    }
};

} // namespace kernels

/// KL(y || a) = sum(a - y + y log(y / a)) with 0 log 0 = 0 and a floored at eps in the log.
/// Throws shape_error when the shapes differ.
inline double kullback_leibler(const image& y, const image& a, double eps = 1e-12) {
    check_shape(a, shape_of<3>(y), "kullback_leibler", "a");
    return cpu_backend::sum_over_indices(y.size(), kernels::kl_term{y.data(), a.data(), eps});
}

namespace detail {

/// Richardson-Lucy with the gradient operator returned by make_gradient().
template <linear_operator Op, class MakeGradient, class Monitor>
solver_result<image> richardson_lucy_impl(const Op& A, const image& y, MakeGradient&& make_gradient,
                                          const richardson_lucy_options& options,
                                          Monitor& monitor) {
    iteration_tracker track; // the clock starts here
    constexpr const char* where = "richardson_lucy";
    validate_iterations(options.max_iter, options.tol, where);
    require(std::isfinite(options.tv_lambda) && options.tv_lambda >= 0.0 &&
                options.tv_lambda < 0.25,
            where, "options.tv_lambda", "in [0, 0.25)", options.tv_lambda);
    require(std::isfinite(options.tv_epsilon) && options.tv_epsilon > 0.0, where,
            "options.tv_epsilon", "finite and > 0", options.tv_epsilon);
    require(std::isfinite(options.epsilon) && options.epsilon > 0.0, where, "options.epsilon",
            "finite and > 0", options.epsilon);
    check_measured_y(A, y, where);
    double y_sum = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        if (y.data()[i] < 0.0f) {
            throw value_error(concat(where, ": y must be non-negative (Poisson counts), got ",
                                     y.data()[i], " at flat index ", i));
        }
        y_sum += y.data()[i];
    }

    // n = A^T 1
    image normalizer = xrestore::zeros<image>(A.domain_shape());
    {
        image ones = xrestore::zeros<image>(A.range_shape());
        xrestore::vector_space<image>::fill(1.0f, ones);
        xrestore::adjoint_into(A, ones, normalizer);
    }
    double normalizer_sum = 0.0;
    for (std::size_t i = 0; i < normalizer.size(); ++i) {
        const float n = normalizer.data()[i];
        // allow float rounding of a non-negative operator's adjoint
        if (!(n >= -1e-6f)) {
            throw value_error(concat(where, ": A must be non-negative (A^T 1 >= 0), got A^T 1 = ",
                                     n, " at flat index ", i));
        }
        normalizer_sum += n > 0.0f ? n : 0.0f;
    }
    require(normalizer_sum > 0.0, where, "A", "non-zero (A^T 1 > 0 somewhere)", normalizer_sum);

    const bool tv = options.tv_lambda > 0.0;
    const shape3 shape = A.domain_shape();
    const std::size_t count = element_count(shape);
    decltype(auto) grad = make_gradient(); // D
    using D = std::remove_cvref_t<decltype(grad)>;
    static_assert(tv_gradient<D, image>, "richardson_lucy: D must be a linear operator on images "
                                         "with a dense 2 x C x H x W range");
    if (!(grad.domain_shape() == shape) || grad.range_shape()[0] != 2) {
        throw shape_error(concat(where, ": the gradient operator D must map A's domain ",
                                 shape_string(shape), " to 2 x C x H x W fields, got ",
                                 shape_string(grad.domain_shape()), " -> ",
                                 shape_string(grad.range_shape())));
    }
    range_t<D> field;
    image divergence;
    if (tv) {
        field = xrestore::zeros<range_t<D>>(grad.range_shape());
        divergence = xrestore::zeros<image>(shape);
    }
    const std::size_t field_count = element_count(grad.range_shape()) / 2; // |grad x| entries

    solver_result<image> result;
    image& x = result.x;
    x = xrestore::zeros<image>(shape);
    // x_0 = sum(y) / sum(A^T 1), flat
    xrestore::vector_space<image>::fill(static_cast<float>(y_sum / normalizer_sum), x);
    image previous = x;
    image ax = xrestore::zeros<image>(A.range_shape());
    image ratio = xrestore::zeros_like(ax);
    image correction = xrestore::zeros_like(x);
    xrestore::apply_into(A, x, ax);
    // divergence: with the objective, F(x_k) > 1e6 max(F(x_0), sum(y)) (sum(y), KL's scale, in
    // place of F(0): KL(y || 0) is not finite); without it, ||x_k|| > 1e6 max(||x_0||, ||y||,
    // sqrt(n))
    if (options.record_objective) {
        double start = cpu_backend::sum_over_indices(
            y.size(), kernels::kl_term{y.data(), ax.data(), options.epsilon});
        if (tv) {
            xrestore::apply_into(grad, x, field);
            start += options.tv_lambda * l21_norm(field);
        }
        track.watch_objective(start, y_sum);
    } else {
        track.watch_norm({xrestore::norm(x), xrestore::norm(y)}, x);
    }
    const auto eps = static_cast<float>(options.epsilon);
    result.stop = solver_stop::max_iterations;
    for (int k = 1; k <= options.max_iter; ++k) {
        // q = y / A x
        cpu_backend::for_each_index(
            ax.size(), kernels::poisson_ratio_body{y.data(), ax.data(), ratio.data(), eps});
        xrestore::adjoint_into(A, ratio, correction); // c = A^T q
        const float* div = nullptr;
        if (tv) {
            // div(grad x / |grad x|_eps) = -D^T u, u the unit field
            xrestore::apply_into(grad, x, field);
            cpu_backend::for_each_index(
                field_count, kernels::unit_field_body{field.data(), field_count,
                                                      static_cast<float>(options.tv_epsilon)});
            xrestore::adjoint_into(grad, field, divergence);
            xrestore::scal(-1.0f, divergence);
            div = divergence.data();
        }
        // x = max(x c / n / (1 - lambda div), 0)
        cpu_backend::for_each_index(count, kernels::richardson_lucy_update_body{
                                               x.data(), correction.data(), normalizer.data(), div,
                                               static_cast<float>(options.tv_lambda)});
        if (std::string reason = track.norm_verdict(k, xrestore::norm(x)); !reason.empty()) {
            stop_diverged(result, x, previous, std::move(reason)); // x = x_{k-1}
            break;
        }
        xrestore::apply_into(A, x, ax); // A x_k, reused by the next iteration
        if (options.record_objective) {
            double value = cpu_backend::sum_over_indices(
                y.size(), kernels::kl_term{y.data(), ax.data(), options.epsilon});
            if (tv) {
                xrestore::apply_into(grad, x, field);
                value += options.tv_lambda * l21_norm(field); // TV(x) = ||D x||_{2,1}
            }
            if (std::string reason = track.objective_verdict(k, value); !reason.empty()) {
                stop_diverged(result, x, previous, std::move(reason));
                break;
            }
            result.objective.push_back(value);
        }
        if (track.record(result, std::as_const(x), previous, k, options.tol, monitor)) {
            break;
        }
    }
    return result;
}

} // namespace detail

/// Richardson-Lucy (with optional TV) for y = Poisson(A x), A a non-negative operator on
/// images; see the file comment. Returns x (non-negative), the iterations, the stop reason
/// (max_iterations; converged when tol > 0; monitor; diverged by the rule of
/// solvers/detail/iteration.hpp: the last good x), the seconds and the relative
/// change and, when record_objective, KL(y || A x_k) + tv_lambda TV(x_k) after each iteration k
/// (plain RL decreases KL monotonically). `monitor(k, x_k)` is called after every iteration.
/// Throws value_error for max_iter <= 0, a negative tol, tv_lambda outside [0, 0.25),
/// tv_epsilon or epsilon not > 0, a y with negative or non-finite entries, an operator with
/// A^T 1 negative somewhere (not non-negative) or 0 everywhere; shape_error for a wrong y shape.
template <linear_operator Op, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && solver_monitor<std::remove_reference_t<Monitor>, image>
    solver_result<image> richardson_lucy(const Op& A, const image& y,
                                         const richardson_lucy_options& options = {},
                                         Monitor&& monitor = {}) {
    return detail::richardson_lucy_impl(
        A, y, [&] { return gradient(A.domain_shape()); }, options, monitor);
}

/// Richardson-Lucy with TV measured by the gradient operator D given (a tv_gradient on images:
/// TV(x) = ||D x||_{2,1}, div = -D^T; see the file comment for the bound D must keep). As above,
/// plus shape_error when D's domain is not A's or its range is not 2 x C x H x W.
template <linear_operator Op, tv_gradient<image> D, class Monitor = no_monitor>
requires detail::is_image_operator<Op> && solver_monitor<std::remove_reference_t<Monitor>, image>
    solver_result<image> richardson_lucy(const Op& A, const image& y, const D& d,
                                         const richardson_lucy_options& options = {},
                                         Monitor&& monitor = {}) {
    return detail::richardson_lucy_impl(
        A, y, [&]() -> const D& { return d; }, options, monitor);
}

} // namespace xrestore
