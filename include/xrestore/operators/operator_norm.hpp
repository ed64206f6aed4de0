#pragma once
/// @file operator_norm.hpp
/// Operator-norm estimate ||A||_2 by power iteration on A^T A.
///
/// @code
/// double L = xrestore::operator_norm(blur);                  // about 1 for a normalised blur
/// double step = 1.0 / (L * L);                               // a safe gradient step
/// @endcode

#include "xrestore/core/linear_operator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

namespace xrestore {

struct operator_norm_options {
    int max_iter = 100;     ///< power iterations at most
    double tol = 1e-6;      ///< stop when the estimate changes by less than tol (relative)
    std::uint64_t seed = 0; ///< seed of the random start vector
};

/// Largest singular value of `op`, estimated by power iteration on A^T A (a lower bound that
/// converges from below). Throws value_error when the operator returns NaN or infinity.
template <linear_operator Op>
double operator_norm(const Op& op, const operator_norm_options& options = {}) {
    require(options.max_iter > 0, "operator_norm", "max_iter", "positive", options.max_iter);
    require(std::isfinite(options.tol) && options.tol >= 0.0, "operator_norm", "tol",
            "finite and >= 0", options.tol);
    using X = domain_t<Op>;
    std::mt19937_64 rng(options.seed);
    X x = vector_space<X>::random(op.domain_shape(), rng);
    double n = xrestore::norm(x);
    xrestore::scal(static_cast<float>(1.0 / n), x);
    double estimate = 0.0;
    for (int k = 0; k < options.max_iter; ++k) {
        X z = xrestore::apply_normal(op, x);       // z = A^T A x, ||x|| = 1
        const double lambda = xrestore::dot(x, z); // Rayleigh quotient
        n = xrestore::norm(z);
        if (!std::isfinite(n)) {
            throw value_error(detail::concat("operator_norm: A^T A x must be finite, got norm ", n,
                                             " at iteration ", k,
                                             " (the operator produced NaN or infinity)"));
        }
        if (n == 0.0) {
            return 0.0; // A^T A x = 0: the zero operator (for a random x)
        }
        xrestore::scal(static_cast<float>(1.0 / n), z);
        x = std::move(z);
        const double next = std::sqrt(std::max(lambda, 0.0));
        if (k > 0 && std::abs(next - estimate) <= options.tol * next) {
            return next;
        }
        estimate = next;
    }
    return estimate;
}

} // namespace xrestore
