#pragma once
/// @file tikhonov.hpp
/// Least squares and Tikhonov regularisation, min_x ||A x - y||^2 + lambda ||R x||^2 with
/// R = 0 (least squares), I, or the image gradient (Neumann or periodic), solved by conjugate
/// gradient on the normal equations (A^T A + lambda R^T R) x = A^T y for any linear operator,
/// and in closed form by FFT when A is a convolution with circular boundary:
///   x = F^-1[ conj(K) Y / (|K|^2 + lambda |D|^2) ]
/// with K the transfer function of the kernel at the operator's exact centring and |D|^2 the
/// symbol of R^T R (1 for I, 4 - 2 cos(2 pi k / H) - 2 cos(2 pi l / W) for the periodic gradient).
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
#include "xrestore/operators/combinators.hpp"
#include "xrestore/operators/convolution.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/fft.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <cmath>
#include <complex>
#include <concepts>
#include <cstddef>
#include <numbers>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

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

/// Throw value_error naming `where` unless the CG options are valid.
inline void validate_cg_options(const cg_options& cg, std::string_view where) {
    require(cg.max_iter > 0, where, "options.cg.max_iter", "positive", cg.max_iter);
    require(std::isfinite(cg.tol) && cg.tol >= 0.0, where, "options.cg.tol", "finite and >= 0",
            cg.tol);
}

/// Throw value_error unless every element of v is finite (the index is named for images).
template <vector_type V>
void require_finite_entries(const V& v, std::string_view where, std::string_view argument) {
    if constexpr (std::same_as<backend_t<V>, cpu_tag> && requires {
                      v.data();
                      v.size();
                      v.dimension();
                  }) {
        check_finite(v, where, argument); // names the first bad index
    } else {
        const double n = xrestore::norm(v);
        require(std::isfinite(n), where, argument, "finite (its norm)", n);
    }
}

/// Throw shape_error / value_error unless y has A's range shape and is finite.
template <linear_operator Op>
void check_measured_y(const Op& A, const range_t<Op>& y, std::string_view where) {
    check_vector_shape(y, A.range_shape(), where, "y");
    require_finite_entries(y, where, "y");
}

/// out = A^T A x, through A's normal() when it has one, else A^T (A x) with `ax` as the
/// range buffer.
template <linear_operator Op>
void normal_into(const Op& A, const domain_t<Op>& x, range_t<Op>& ax, domain_t<Op>& out) {
    if constexpr (has_normal<Op>) {
        out = A.normal(x);
    } else {
        xrestore::apply_into(A, x, ax);
        xrestore::adjoint_into(A, ax, out);
    }
}

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

/// Solves (A^T A + eta I) x = A^T y + eta c by CG: the x-update of ADMM, PnP-ADMM, HQS and the
/// RED fixed point. Holds A^T y and the work buffers, so repeated solves allocate only CG's.
template <linear_operator Op>
class shifted_normal_solver {
public:
    using V = domain_t<Op>;

    shifted_normal_solver(const Op& A, const range_t<Op>& y, double eta, cg_options cg)
        : A_(A), eta_(eta), cg_(cg), aty_(xrestore::zeros<V>(A.domain_shape())),
          rhs_(xrestore::zeros<V>(A.domain_shape())),
          ax_(xrestore::zeros<range_t<Op>>(A.range_shape())) {
        xrestore::adjoint_into(A, y, aty_); // A^T y
    }

    void set_eta(double eta) { eta_ = eta; }
    const V& aty() const { return aty_; }
    /// CG iterations of the last solve.
    int last_iterations() const { return last_iterations_; }

    /// x <- (A^T A + eta I)^{-1} (A^T y + eta c), CG from x itself (warm) or from 0.
    cg_stop solve(const V& c, V& x, bool warm) {
        xrestore::copy(aty_, rhs_);
        xrestore::axpy(static_cast<float>(eta_), c, rhs_); // b = A^T y + eta c
        auto apply_c = [this](const V& in, V& out) {
            normal_into(A_, in, ax_, out);                     // out = A^T A in
            xrestore::axpy(static_cast<float>(eta_), in, out); // out += eta in
        };
        V start = warm ? std::move(x) : xrestore::zeros_like(rhs_);
        auto result = conjugate_gradient<V>(apply_c, rhs_, std::move(start), cg_);
        x = std::move(result.x);
        last_iterations_ = result.iterations;
        return result.stop;
    }

private:
    const Op& A_;
    double eta_;
    cg_options cg_;
    V aty_;
    V rhs_;
    range_t<Op> ax_;
    int last_iterations_ = 0;
};

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
    auto cg_monitor = [&](int k, const V& x, double) {
        result.change.push_back(relative_change_and_store(x, previous));
        if (record_objective) {
            result.objective.push_back(
                tikhonov_objective(A, y, x, lambda, regularizer, objective_ax, objective_rx));
        }
        return ask_monitor(monitor, k, x);
    };
    auto solved = conjugate_gradient<V>(apply_c, b, xrestore::zeros_like(b), cg, cg_monitor);
    result.x = std::move(solved.x);
    result.iterations = solved.iterations;
    result.stop = stop_from_cg(solved.stop);
    return result;
}

/// The symbol |D|^2 of R^T R at frequency (k, l) of an H x W grid.
inline double regularizer_symbol(tikhonov_regularizer regularizer, std::size_t k, std::size_t l,
                                 std::size_t height, std::size_t width) {
    switch (regularizer) {
    case tikhonov_regularizer::none:
        return 0.0;
    case tikhonov_regularizer::identity:
        return 1.0;
    case tikhonov_regularizer::periodic_gradient:
    case tikhonov_regularizer::gradient: {
        // |e^{i w} - 1|^2 = 2 - 2 cos w per axis
        const double wk =
            2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(height);
        const double wl =
            2.0 * std::numbers::pi * static_cast<double>(l) / static_cast<double>(width);
        return (2.0 - 2.0 * std::cos(wk)) + (2.0 - 2.0 * std::cos(wl));
    }
    }
    return 0.0;
}

} // namespace detail

/// Tikhonov-regularised least squares, min_x ||A x - y||^2 + lambda ||R x||^2, by CG on
/// (A^T A + lambda R^T R) x = A^T y from x = 0. `monitor(k, x_k)` is called after every CG
/// iteration. result.change holds the relative change of x per iteration, result.objective the
/// objective when options.record_objective. stop: converged (CG's relative residual below
/// options.cg.tol, or y such that A^T y = 0), max_iterations, monitor, or diverged (CG
/// breakdown: a non-finite value, or a system that is not positive definite along a search
/// direction). Throws value_error for a negative or non-finite lambda, bad CG options, a
/// gradient regulariser on a non-image domain or a non-finite y; shape_error when y does not have
/// A's range shape.
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

/// The transfer function K(k, l) (H x W, row-major) of a convolution with circular boundary:
/// A x = F^-1[K F x] exactly. Built from the kernel as the operator applies it (flipped when
/// flip_kernel; centred at top = (kh-1)/2, left = (kw-1)/2, so even kernels are handled), taps
/// wrapping around when the kernel is larger than the image. Throws value_error unless the
/// operator's boundary is circular.
inline std::vector<std::complex<double>> convolution_transfer_function(const convolution& A) {
    require(A.options().boundary == boundary::circular, "convolution_transfer_function",
            "the operator's boundary", "circular", to_string(A.options().boundary));
    const auto shape = A.domain_shape();
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const matrix& given = A.kernel();
    const matrix w = A.options().flip_kernel ? detail::rotate_180(given) : given;
    const std::size_t kh = w.shape()[0];
    const std::size_t kw = w.shape()[1];
    const std::size_t top = (kh - 1) / 2;
    const std::size_t left = (kw - 1) / 2;
    // y(i,j) = sum_{u,v} w(u,v) x(i+u-top, j+v-left) = sum_{a,b} h(a,b) x(i-a, j-b) with
    // h((top-u) mod H, (left-v) mod W) += w(u,v)
    std::vector<std::complex<double>> h(height * width, 0.0);
    for (std::size_t u = 0; u < kh; ++u) {
        const std::size_t a = (top + kh * height - u) % height;
        for (std::size_t v = 0; v < kw; ++v) {
            const std::size_t b = (left + kw * width - v) % width;
            h[a * width + b] += static_cast<double>(w(u, v));
        }
    }
    fft2_plan<double>(height, width).forward(h);
    return h;
}

/// Closed-form Tikhonov for a convolution with circular boundary, per channel:
///   x = F^-1[ conj(K) Y / (|K|^2 + lambda |D|^2) ]
/// in double precision; frequencies where the denominator is 0 get 0 (the minimum-norm
/// least-squares solution, e.g. regularizer none with zeros in K). options.cg and
/// record_objective are ignored. Throws value_error unless A's boundary is circular, for
/// regularizer gradient (Neumann: use periodic_gradient, or the CG solver), for a negative or
/// non-finite lambda or a non-finite y; shape_error when y does not have A's shape.
inline image tikhonov_fft(const convolution& A, const image& y,
                          const tikhonov_options& options = {}) {
    constexpr const char* where = "tikhonov_fft";
    require(std::isfinite(options.lambda) && options.lambda >= 0.0, where, "options.lambda",
            "finite and >= 0", options.lambda);
    if (options.regularizer == tikhonov_regularizer::gradient) {
        throw value_error(
            "tikhonov_fft: options.regularizer must be none, identity or periodic_gradient (the "
            "Neumann gradient is not diagonalised by the FFT), got gradient");
    }
    require(A.options().boundary == boundary::circular, where, "the operator's boundary",
            "circular", to_string(A.options().boundary));
    detail::check_measured_y(A, y, where);
    const auto shape = A.domain_shape();
    const std::size_t channels = shape[0];
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const auto transfer = convolution_transfer_function(A);
    // G = conj(K) / (|K|^2 + lambda |D|^2), 0 where the denominator is 0
    std::vector<std::complex<double>> filter(height * width);
    for (std::size_t k = 0; k < height; ++k) {
        for (std::size_t l = 0; l < width; ++l) {
            const auto K = transfer[k * width + l];
            const double denominator =
                std::norm(K) + options.lambda * detail::regularizer_symbol(options.regularizer, k,
                                                                           l, height, width);
            filter[k * width + l] = denominator > 0.0 ? std::conj(K) / denominator : 0.0;
        }
    }
    const fft2_plan<double> plan(height, width);
    image x(shape);
    std::vector<std::complex<double>> plane(height * width);
    for (std::size_t c = 0; c < channels; ++c) {
        const float* source = y.data() + c * height * width;
        for (std::size_t p = 0; p < height * width; ++p) {
            plane[p] = source[p];
        }
        plan.forward(plane);
        for (std::size_t p = 0; p < height * width; ++p) {
            plane[p] *= filter[p]; // X = G Y
        }
        plan.inverse(plane);
        float* target = x.data() + c * height * width;
        for (std::size_t p = 0; p < height * width; ++p) {
            target[p] = static_cast<float>(plane[p].real());
        }
    }
    return x;
}

} // namespace xrestore
