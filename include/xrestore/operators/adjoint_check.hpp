#pragma once
/// @file adjoint_check.hpp
/// The adjoint identity test every operator must pass: with random x and y,
///   error = |<A x, y> - <x, A^T y>| / (||A x|| ||y||).
/// A correct adjoint gives float rounding error (about 1e-7); a wrong one gives order 1.
///
/// @code
/// xrestore::convolution blur(xrestore::box_kernel(7), {3, 37, 45});
/// double e = xrestore::adjoint_check(blur, 42);   // e < 1e-5
/// @endcode

#include "xrestore/core/linear_operator.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace xrestore {

/// Relative adjoint error of `op` on standard-normal x and y drawn from `seed`.
template <linear_operator Op>
double adjoint_check(const Op& op, std::uint64_t seed = 0) {
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    std::mt19937_64 rng(seed);
    const X x = vector_space<X>::random(op.domain_shape(), rng);
    const Y y = vector_space<Y>::random(op.range_shape(), rng);
    const Y ax = op.apply(x);
    const X aty = op.adjoint(y);
    const double lhs = xrestore::dot(ax, y);  // <A x, y>
    const double rhs = xrestore::dot(x, aty); // <x, A^T y>
    const double scale = xrestore::norm(ax) * xrestore::norm(y);
    if (scale == 0.0) {
        // A x = 0 for a random x: the identity holds iff A^T y is orthogonal to x as well.
        const double base = xrestore::norm(x) * xrestore::norm(y);
        return base == 0.0 ? 0.0 : std::abs(rhs) / base; // empty spaces: nothing to check
    }
    return std::abs(lhs - rhs) / scale;
}

} // namespace xrestore
