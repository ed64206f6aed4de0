#pragma once
/// @file adjoint_check.hpp
/// The adjoint identity test every operator must pass, as a number (adjoint_check) and as a
/// pass/fail rule that holds at every size (measure_adjoint, require_adjoint).
///
/// @code
/// double e = xrestore::adjoint_check(blur, 42);          // ~1e-7; a wrong adjoint: ~1/sqrt(size)
/// xrestore::require_adjoint(my_op, {.label = "my_op"});   // throws adjoint_error when wrong
/// auto m = xrestore::measure_adjoint(my_op);              // m.relative_error, m.passed
/// @endcode
///
/// What adjoint_check's number means. With x, y standard normal (N entries in the domain, M in
/// the range) it returns
///   e = |<A x, y> - <x, A^T y>| / (||A x|| ||y||).
/// Write B for the adjoint the operator implements and E = A - B^T. Then
/// <A x, y> - <x, B y> = y^T E x has standard deviation ||E||_F, while ||A x|| ~ ||A||_F and
/// ||y|| ~ sqrt(M). So e ~ (||E||_F / ||A||_F) / sqrt(M): a WRONG adjoint does not give a value
/// of order 1, it gives a value that shrinks like 1/sqrt(M) with the image size (an unrelated
/// B, such as the forward map used as the adjoint of a non-symmetric blur: about 1 / sqrt(M); an
/// adjoint wrong only along one image border: less again). A correct adjoint leaves only float32
/// rounding, which shrinks the same way: the rounding errors of A x and A^T y have random signs,
/// so they add up like the terms of y^T E x do. A fixed threshold on e therefore either rejects
/// correct small operators or accepts wrong large ones. tests/test_adjoint_check.cpp measures
/// it: the forward map of a 5 x 9 blur used as its adjoint gives e = 0.035 on 16 x 16 images and
/// 0.0011 on 512 x 512 (sqrt(M) e stays between 0.49 and 0.78); a replicate-boundary blur whose
/// adjoint forgets the fold at the right border gives e = 1.8e-5 on 1024 x 1024 and 7.0e-6 on
/// 2048 x 2048, below the 1e-5 the command line used to accept as correct.
///
/// The pass/fail rule removes the size. measure_adjoint draws `trials` pairs (pair t as
/// adjoint_check(op, seed + t) does) and returns
///   r = sqrt( sum_t d_t^2 / sum_t s_t^2 ),  d_t = <A x_t, y_t> - <x_t, A^T y_t>,
///   s_t = max(||A x_t||, ||A^T y_t||),
/// which is about sqrt(M) e: an estimate of ||A - B^T||_F / ||A||_F, the relative error of the
/// adjoint as a matrix, whatever the size (s_t ~ ||A||_F for both norms when B is right; the max
/// keeps r of order 1 when B is far too large, or nonzero while A is zero). Several pairs make a
/// lucky small |y^T E x| unlikely: r below 1 % of its mean has probability about 1e-6 for three.
///   - float32 rounding of a correct adjoint: each output value is a sum of k products rounded
///     with unit roundoff u = 2^-24 = 6e-8, so r ~ u sqrt(k) independently of the size. Every
///     library operator in every mode stays at or below 1.2e-6 (the largest: a 17 x 17 box
///     wrapped around a 1 x 1 image, 289 products per value).
///   - a wrong adjoint: an unrelated B gives r ~ 1 at every size (0.15 to 0.76 for the blur
///     above); one wrong along a border band of b of the H columns gives r ~ 0.5 sqrt(b / H)
///     (0.008 for the missing fold at H = 2048).
/// The default tolerance 1e-4 sits in between: 1,700 u, room for sums of about 3e6 terms before
/// rounding fails a correct operator, and below the border-band error up to H ~ 2.5e7 b. A
/// user's operator with longer float sums can raise it.
///
/// Solvers that use A^T run require_adjoint once on entry when XRESTORE_CHECK_ADJOINT is 1: by
/// default in debug builds (NDEBUG not defined); define it to 1 to check in a release build too,
/// or to 0 to turn the check off. Without it, call require_adjoint(A) yourself before solving.

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#ifndef XRESTORE_CHECK_ADJOINT
#ifdef NDEBUG
#define XRESTORE_CHECK_ADJOINT 0
#else
#define XRESTORE_CHECK_ADJOINT 1
#endif
#endif

namespace xrestore {

/// A linear operator whose adjoint does not match its forward map (require_adjoint).
class adjoint_error : public value_error {
public:
    using value_error::value_error;
};

namespace detail {

/// One random pair of the adjoint test: the two inner products and the norms that scale them.
struct adjoint_pair {
    double lhs = 0.0;      ///< <A x, y>
    double rhs = 0.0;      ///< <x, A^T y>
    double norm_ax = 0.0;  ///< ||A x||
    double norm_aty = 0.0; ///< ||A^T y||
    double norm_x = 0.0;
    double norm_y = 0.0;
};

/// The pair drawn from `seed`: x then y standard normal from one generator.
template <linear_operator Op>
adjoint_pair draw_adjoint_pair(const Op& op, std::uint64_t seed) {
    using X = domain_t<Op>;
    using Y = range_t<Op>;
    std::mt19937_64 rng(seed);
    const X x = vector_space<X>::random(op.domain_shape(), rng);
    const Y y = vector_space<Y>::random(op.range_shape(), rng);
    const Y ax = op.apply(x);
    const X aty = op.adjoint(y);
    adjoint_pair p;
    p.lhs = xrestore::dot(ax, y);  // <A x, y>
    p.rhs = xrestore::dot(x, aty); // <x, A^T y>
    p.norm_ax = xrestore::norm(ax);
    p.norm_aty = xrestore::norm(aty);
    p.norm_x = xrestore::norm(x);
    p.norm_y = xrestore::norm(y);
    return p;
}

/// adjoint_check's value of one pair.
inline double adjoint_check_value(const adjoint_pair& p) {
    const double scale = p.norm_ax * p.norm_y;
    if (scale == 0.0) {
        // A x = 0 for a random x: the identity holds iff A^T y is orthogonal to x as well.
        const double base = p.norm_x * p.norm_y;
        return base == 0.0 ? 0.0 : std::abs(p.rhs) / base; // empty spaces: nothing to check
    }
    return std::abs(p.lhs - p.rhs) / scale;
}

/// The C++ name of T as the compiler spells it ("colour_crosstalk"); long template names are
/// cut after their first '<'.
template <class T>
std::string type_name() {
#if defined(__GNUC__) || defined(__clang__)
    const std::string_view f = __PRETTY_FUNCTION__; // "... type_name() [with T = X; ...]"
    const auto start = f.find("T = ");
    if (start == std::string_view::npos) {
        return "the operator";
    }
    std::string_view name = f.substr(start + 4);
    name = name.substr(0, std::min(name.find(';'), name.rfind(']')));
    if (name.size() > 80 && name.find('<') != std::string_view::npos) {
        return std::string(name.substr(0, name.find('<'))) + "<...>";
    }
    return std::string(name);
#else
    return "the operator";
#endif
}

} // namespace detail

/// Relative adjoint error e = |<A x, y> - <x, A^T y>| / (||A x|| ||y||) of `op` on standard-normal
/// x and y drawn from `seed`. About 1e-7 for a correct adjoint, but NOT of order 1 for a wrong
/// one: both shrink like 1 / sqrt(size) (see the file comment); use require_adjoint to decide.
template <linear_operator Op>
double adjoint_check(const Op& op, std::uint64_t seed = 0) {
    return detail::adjoint_check_value(detail::draw_adjoint_pair(op, seed));
}

/// Options of measure_adjoint and require_adjoint.
struct adjoint_check_options {
    /// Largest relative error r accepted (finite, > 0); see the file comment for the 1e-4.
    double tolerance = 1e-4;
    int trials = 3;         ///< random pairs (> 0); pair t is adjoint_check's pair of seed + t
    std::uint64_t seed = 0; ///< seed of the first pair
    /// The operator's name in the error message; empty: its C++ type.
    std::string label = {};
};

/// What measure_adjoint found.
struct adjoint_measurement {
    /// r = sqrt(sum_t d_t^2 / sum_t s_t^2), an estimate of ||A - B^T||_F / ||A||_F for the
    /// implemented adjoint B (NaN when the operator produced NaN or infinity).
    double relative_error = 0.0;
    double worst_check = 0.0; ///< the largest adjoint_check value e of the pairs
    int trials = 0;           ///< pairs drawn
    double tolerance = 0.0;   ///< the tolerance r was compared with
    bool passed = false;      ///< r <= tolerance
};

/// The adjoint of `op` measured on options.trials random pairs (see the file comment). Throws
/// value_error for a tolerance that is not finite and > 0 or trials <= 0.
template <linear_operator Op>
adjoint_measurement measure_adjoint(const Op& op, const adjoint_check_options& options = {}) {
    require(std::isfinite(options.tolerance) && options.tolerance > 0.0, "measure_adjoint",
            "options.tolerance", "finite and > 0", options.tolerance);
    require(options.trials > 0, "measure_adjoint", "options.trials", "positive", options.trials);
    double squared_differences = 0.0;
    double squared_scales = 0.0;
    adjoint_measurement m;
    for (int t = 0; t < options.trials; ++t) {
        const auto p = detail::draw_adjoint_pair(op, options.seed + static_cast<std::uint64_t>(t));
        const double d = p.lhs - p.rhs;                   // y^T (A - B^T) x
        const double s = std::max(p.norm_ax, p.norm_aty); // ~ ||A||_F
        squared_differences += d * d;
        squared_scales += s * s;
        const double e = detail::adjoint_check_value(p);
        m.worst_check = std::isnan(e) ? e : std::max(m.worst_check, e);
        if (!std::isfinite(d) || !std::isfinite(s)) {
            squared_differences = std::numeric_limits<double>::quiet_NaN();
        }
    }
    m.relative_error =
        squared_scales == 0.0 ? 0.0 : std::sqrt(squared_differences / squared_scales);
    if (std::isnan(squared_differences)) {
        m.relative_error = squared_differences;
    }
    m.trials = options.trials;
    m.tolerance = options.tolerance;
    m.passed = m.relative_error <= options.tolerance; // false for NaN
    return m;
}

/// Throw adjoint_error unless the adjoint of `op` passes measure_adjoint's rule. The message
/// names `where` (the caller, a solver's name), the operator (options.label or its type), the
/// measured relative error, adjoint_check's value, the tolerance and the range shape.
template <linear_operator Op>
void require_adjoint(const Op& op, const adjoint_check_options& options = {},
                     std::string_view where = "require_adjoint") {
    const auto m = measure_adjoint(op, options);
    if (m.passed) {
        return;
    }
    const std::string label = options.label.empty() ? detail::type_name<Op>() : options.label;
    throw adjoint_error(detail::concat(
        where, ": the adjoint of ", label,
        " must match its forward map, |<A x, y> - <x, A^T y>| / max(|A x|, |A^T y|) <= ",
        m.tolerance, " over ", m.trials, " standard normal pairs, got ", m.relative_error,
        " (adjoint_check ", m.worst_check,
        "; a correct adjoint gives float rounding, about 1e-7, "
        "a wrong one about the relative error of A^T as a matrix)"));
}

} // namespace xrestore
