#pragma once
/// @file tikhonov.hpp
/// Least squares and Tikhonov regularisation, min_x ||A x - y||^2 + lambda ||R x||^2 with
/// R = 0 (least squares), I, or the image gradient (Neumann or periodic), solved by conjugate
/// gradient on the normal equations (A^T A + lambda R^T R) x = A^T y for any linear operator.
/// The closed form by FFT for circular convolutions is tikhonov_fft (tikhonov_fft.hpp).
///
/// @code
/// xrestore::convolution A(xrestore::box_kernel(13), {3, 64, 64});
/// auto r = xrestore::tikhonov(A, y, {.lambda = 1e-2, .cg = {.max_iter = 300, .tol = 1e-6}});
/// xrestore::image x = r.x;  // r.iterations, r.stop, r.change (and r.objective if recorded)
/// @endcode
///
/// The library's `gradient` operator has Neumann boundaries (the difference leaving the image
/// is 0), which the FFT does not diagonalise: `tikhonov_regularizer::gradient` is available in
/// the CG solver only. `tikhonov_regularizer::periodic_gradient` (forward differences that wrap
/// around) is available in both and makes the two agree on circular convolutions.

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/detail/iteration.hpp"
#include "xrestore/solvers/detail/measurement.hpp"
#include "xrestore/solvers/detail/shifted_normal_solver.hpp"
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

/// The regulariser R of Tikhonov's ||R x||^2.
enum class tikhonov_regularizer {
    none,             ///< R = 0: plain least squares (CG from 0 gives the minimum-norm solution)
    identity,         ///< R = I
    gradient,         ///< R = the Neumann gradient of gradient.hpp (images only; CG only)
    periodic_gradient ///< R = forward differences with periodic wrap (images only; CG and FFT)
};

/// "none", "identity", "gradient" or "periodic_gradient".
inline const char* to_string(tikhonov_regularizer r) {
    switch (r) {
    case tikhonov_regularizer::none:
        return "none";
    case tikhonov_regularizer::identity:
        return "identity";
    case tikhonov_regularizer::gradient:
        return "gradient";
    case tikhonov_regularizer::periodic_gradient:
        return "periodic_gradient";
    }
    return "unknown";
}

/// Options of tikhonov and tikhonov_fft.
struct tikhonov_options {
    double lambda = 1e-2; ///< weight of ||R x||^2 (finite, >= 0)
    tikhonov_regularizer regularizer = tikhonov_regularizer::identity;
    cg_options cg{.max_iter = 200, .tol = 1e-6}; ///< the CG solve (ignored by tikhonov_fft)
    /// Record ||A x_k - y||^2 + lambda ||R x_k||^2 after every CG iteration (costs one more A
    /// and R per iteration); otherwise `objective` stays empty.
    bool record_objective = false;
};

/// Options of least_squares.
struct least_squares_options {
    cg_options cg{.max_iter = 200, .tol = 1e-6};
    bool record_objective = false; ///< record ||A x_k - y||^2 after every CG iteration
};

namespace kernels {

/// out[p] += weight * (R^T R x)[p] for the gradient R of a C x H x W image, i.e. the negative
/// Laplacian: the sum over the 4 neighbours q of p of (x[p] - x[q]). Neumann (periodic = false):
/// neighbours outside the image are left out; periodic: they wrap around.
struct negative_laplacian_body {
    const float* x;
    float* out;
    float weight;
    std::size_t height;
    std::size_t width;
    bool periodic;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        const std::size_t base = p - i * width - j; // start of the channel's plane
        const float v = x[p];
        float sum = 0.0f;
        if (periodic) {
            const std::size_t up = i > 0 ? i - 1 : height - 1;
            const std::size_t down = i + 1 < height ? i + 1 : 0;
            const std::size_t left = j > 0 ? j - 1 : width - 1;
            const std::size_t right = j + 1 < width ? j + 1 : 0;
            sum = 4.0f * v - x[base + up * width + j] - x[base + down * width + j] -
                  x[base + i * width + left] - x[base + i * width + right];
        } else {
            sum += i > 0 ? v - x[p - width] : 0.0f;
            sum += i + 1 < height ? v - x[p + width] : 0.0f;
            sum += j > 0 ? v - x[p - 1] : 0.0f;
            sum += j + 1 < width ? v - x[p + 1] : 0.0f;
        }
        out[p] += weight * sum;
    }
};

} // namespace kernels

namespace detail {

/// out += weight R^T R x for the gradient regularisers (x an image).
inline void add_laplacian(const image& x, float weight, bool periodic, image& out) {
    cpu_backend::for_each_index(x.size(), kernels::negative_laplacian_body{x.data(), out.data(),
                                                                           weight, x.shape()[1],
                                                                           x.shape()[2], periodic});
}

/// The solver's stop reason from CG's.
inline solver_stop stop_from_cg(cg_stop stop) {
    switch (stop) {
    case cg_stop::converged:
    case cg_stop::zero_rhs:
        return solver_stop::converged;
    case cg_stop::max_iterations:
        return solver_stop::max_iterations;
    case cg_stop::breakdown:
        return solver_stop::diverged;
    case cg_stop::stopped_by_monitor:
        return solver_stop::monitor;
    }
    return solver_stop::max_iterations;
}

/// ||A x - y||^2 + lambda ||R x||^2 with `ax` and `rx` as buffers.
template <linear_operator Op>
double tikhonov_objective(const Op& A, const range_t<Op>& y, const domain_t<Op>& x, double lambda,
                          tikhonov_regularizer regularizer, range_t<Op>& ax, domain_t<Op>& rx) {
    xrestore::apply_into(A, x, ax);
    xrestore::axpy(-1.0f, y, ax); // A x - y
    double value = xrestore::dot(ax, ax);
    if (regularizer == tikhonov_regularizer::identity) {
        value += lambda * xrestore::dot(x, x);
    } else if (regularizer != tikhonov_regularizer::none) {
        if constexpr (std::same_as<domain_t<Op>, image>) {
            // ||R x||^2 = <x, R^T R x>
            xrestore::vector_space<image>::fill(0.0f, rx);
            add_laplacian(x, 1.0f, regularizer == tikhonov_regularizer::periodic_gradient, rx);
            value += lambda * xrestore::dot(x, rx);
        }
    }
    return value;
}

template <linear_operator Op, class Monitor>
solver_result<domain_t<Op>>
tikhonov_cg(const Op& A, const range_t<Op>& y, double lambda, tikhonov_regularizer regularizer,
            const cg_options& cg, bool record_objective, Monitor& monitor, std::string_view where) {
    iteration_tracker track; // the clock starts here
    using V = domain_t<Op>;
    validate_cg_options(cg, where);
    check_measured_y(A, y, where);
    const bool gradient_regularizer = regularizer == tikhonov_regularizer::gradient ||
                                      regularizer == tikhonov_regularizer::periodic_gradient;
    if constexpr (!std::same_as<V, image>) {
        if (gradient_regularizer) {
            throw value_error(concat(where, ": options.regularizer ", to_string(regularizer),
                                     " needs an operator whose domain is an image"));
        }
    }
    const bool periodic = regularizer == tikhonov_regularizer::periodic_gradient;
    range_t<Op> ax = xrestore::zeros<range_t<Op>>(A.range_shape());
    V b = xrestore::zeros<V>(A.domain_shape());
    xrestore::adjoint_into(A, y, b); // b = A^T y
    const auto weight = static_cast<float>(lambda);
    // C v = A^T A v + lambda R^T R v
    auto apply_c = [&](const V& in, V& out) {
        normal_into(A, in, ax, out);
        if (regularizer == tikhonov_regularizer::identity) {
            xrestore::axpy(weight, in, out);
        } else if (gradient_regularizer) {
            if constexpr (std::same_as<V, image>) {
                add_laplacian(in, weight, periodic, out);
            }
        }
    };

    solver_result<V> result;
    V previous = xrestore::zeros_like(b);
    range_t<Op> objective_ax = xrestore::zeros<range_t<Op>>(A.range_shape());
    V objective_rx = xrestore::zeros_like(b);
    std::string diverged; // why the objective diverged, if it did
    if (record_objective) {
        // divergence: F(x_k) > 1e6 F(0), F(0) = F(x_0) = ||y||^2 (CG cannot raise F: see
        // solvers/detail/iteration.hpp)
        const double start = xrestore::dot(y, y);
        track.watch_objective(start, start);
    }
    auto cg_monitor = [&](int k, const V& x, double) {
        if (record_objective) {
            const double f =
                tikhonov_objective(A, y, x, lambda, regularizer, objective_ax, objective_rx);
            diverged = track.objective_verdict(k, f);
            if (!diverged.empty()) {
                return true; // `previous` still holds x_{k-1}
            }
            result.objective.push_back(f);
        }
        result.change.push_back(relative_change_and_store(x, previous));
        return track.ask(result, k, x, monitor);
    };
    auto solved = conjugate_gradient<V>(apply_c, b, xrestore::zeros_like(b), cg, cg_monitor);
    result.x = std::move(solved.x);
    result.iterations = solved.iterations;
    result.stop = stop_from_cg(solved.stop);
    if (!diverged.empty()) {
        xrestore::copy(previous, result.x); // the last good iterate
        result.iterations = static_cast<int>(result.change.size());
        mark_diverged(result, std::move(diverged));
    } else if (solved.stop == cg_stop::breakdown) {
        mark_diverged(result,
                      concat("conjugate gradient broke down after ", solved.iterations,
                             " iterations (a non-finite value, or a system that is not positive "
                             "definite along a search direction)"));
    }
    return result;
}

} // namespace detail

/// Tikhonov-regularised least squares, min_x ||A x - y||^2 + lambda ||R x||^2, by CG on
/// (A^T A + lambda R^T R) x = A^T y from x = 0. `monitor(k, x_k)` is called after every CG
/// iteration. result.change and result.seconds hold the relative change of x and the seconds per
/// iteration, result.objective the objective when options.record_objective. stop: converged
/// (CG's relative residual below options.cg.tol, or y such that A^T y = 0), max_iterations,
/// monitor, or diverged (CG breakdown: a non-finite value, or a system that is not positive
/// definite along a search direction; or, when recorded, an objective above the rule of
/// solvers/detail/iteration.hpp), with result.stop_detail. Throws value_error for a negative or
/// non-finite lambda, bad CG options, a gradient regulariser on a non-image domain or a non-finite
/// y; shape_error when y does not have A's range shape.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
tikhonov(const Op& A, const range_t<Op>& y, const tikhonov_options& options = {},
         Monitor&& monitor = {}) {
    require(std::isfinite(options.lambda) && options.lambda >= 0.0, "tikhonov", "options.lambda",
            "finite and >= 0", options.lambda);
    return detail::tikhonov_cg(A, y, options.lambda, options.regularizer, options.cg,
                               options.record_objective, monitor, "tikhonov");
}

/// Least squares, min_x ||A x - y||^2, by CG on A^T A x = A^T y from x = 0 (the minimum-norm
/// solution when A^T A is singular). As tikhonov with regularizer none.
template <linear_operator Op, class Monitor = no_monitor>
requires solver_monitor<std::remove_reference_t<Monitor>, domain_t<Op>> solver_result<domain_t<Op>>
least_squares(const Op& A, const range_t<Op>& y, const least_squares_options& options = {},
              Monitor&& monitor = {}) {
    return detail::tikhonov_cg(A, y, 0.0, tikhonov_regularizer::none, options.cg,
                               options.record_objective, monitor, "least_squares");
}

} // namespace xrestore
