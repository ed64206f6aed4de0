#pragma once
/// @file combinators.hpp
/// Operators built from operators: identity, scaling a A, composition A B, sum A + B, vertical
/// stacking [A; B], the normal operator A^T A and the shifted normal operator A^T A + eta I.
/// Each combinator holds its operands by value (operators are cheap to copy or share their
/// data), satisfies linear_operator itself, and derives its adjoint (and normal where a better
/// form exists) from its operands'.
///
/// @code
/// auto A = xrestore::compose(xrestore::inpainting(mask), blur);      // A x = m .* (k * x)
/// auto K = xrestore::stack(A, xrestore::scale(0.1, xrestore::gradient(shape)));
/// auto N = xrestore::shifted_normal(A, 1e-3);                       // A^T A + 1e-3 I
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace xrestore {

namespace detail {

/// Printable text of a vector-space shape (an array of extents or a pair of shapes).
template <std::size_t N>
std::string shape_text(const std::array<std::size_t, N>& shape) {
    return shape_string(shape);
}
template <class First, class Second>
std::string shape_text(const std::pair<First, Second>& shape) {
    return concat("(", shape_text(shape.first), ") and (", shape_text(shape.second), ")");
}
template <class Shape>
std::string shape_text(const Shape&) {
    return "(shape not printable)";
}

/// Throw shape_error unless vector x has shape `expected`.
template <vector_type V>
void check_vector_shape(const V& x, const shape_t<V>& expected, std::string_view where,
                        std::string_view argument) {
    const auto actual = vector_space<V>::shape(x);
    if (!(actual == expected)) {
        throw shape_error(concat(where, ": ", argument, " must have shape ", shape_text(expected),
                                 ", got ", shape_text(actual)));
    }
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// identity

/// I x = x on vectors of type V and a fixed shape.
template <vector_type V>
class identity_operator {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)
    using shape_type = shape_t<V>;

    explicit identity_operator(shape_type shape) : shape_(std::move(shape)) {}

    /// y = x
    V apply(const V& x) const {
        detail::check_vector_shape(x, shape_, "identity_operator::apply", "x");
        return x;
    }
    /// out = x
    void apply_into(const V& x, V& out) const {
        detail::check_vector_shape(x, shape_, "identity_operator::apply", "x");
        xrestore::copy(x, out);
    }
    /// x = y
    V adjoint(const V& y) const {
        detail::check_vector_shape(y, shape_, "identity_operator::adjoint", "y");
        return y;
    }
    /// out = y
    void adjoint_into(const V& y, V& out) const {
        detail::check_vector_shape(y, shape_, "identity_operator::adjoint", "y");
        xrestore::copy(y, out);
    }
    /// I^T I x = x
    V normal(const V& x) const { return apply(x); }

    shape_type domain_shape() const { return shape_; }
    shape_type range_shape() const { return shape_; }

private:
    shape_type shape_;
};

/// The identity on C x H x W images.
inline identity_operator<image> identity(shape3 shape) {
    return identity_operator<image>(shape);
}

// ---------------------------------------------------------------------------------------------
// scaling

/// (a A) x = a (A x); adjoint a A^T; normal a^2 A^T A.
template <linear_operator A>
class scaled_operator {
public:
    using domain_type = domain_t<A>;
    using range_type = range_t<A>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `factor` must be finite.
    scaled_operator(double factor, A op) : factor_(factor), op_(std::move(op)) {
        require(std::isfinite(factor), "scale", "the factor", "finite", factor);
    }

    /// y = a A x
    range_type apply(const domain_type& x) const {
        range_type y = op_.apply(x);
        xrestore::scal(static_cast<float>(factor_), y);
        return y;
    }
    void apply_into(const domain_type& x, range_type& out) const {
        xrestore::apply_into(op_, x, out);
        xrestore::scal(static_cast<float>(factor_), out);
    }
    /// x = a A^T y
    domain_type adjoint(const range_type& y) const {
        domain_type x = op_.adjoint(y);
        xrestore::scal(static_cast<float>(factor_), x);
        return x;
    }
    void adjoint_into(const range_type& y, domain_type& out) const {
        xrestore::adjoint_into(op_, y, out);
        xrestore::scal(static_cast<float>(factor_), out);
    }
    /// (a A)^T (a A) x = a^2 A^T A x
    domain_type normal(const domain_type& x) const {
        domain_type z = xrestore::apply_normal(op_, x);
        xrestore::scal(static_cast<float>(factor_ * factor_), z);
        return z;
    }

    shape_t<domain_type> domain_shape() const { return op_.domain_shape(); }
    shape_t<range_type> range_shape() const { return op_.range_shape(); }
    double factor() const { return factor_; }
    const A& inner() const { return op_; }

private:
    double factor_;
    A op_;
};

/// a A
template <linear_operator A>
scaled_operator<A> scale(double factor, A op) {
    return scaled_operator<A>(factor, std::move(op));
}

// ---------------------------------------------------------------------------------------------
// composition

/// (A B) x = A (B x): B is applied first. Adjoint B^T A^T; normal B^T (A^T A) B, which uses A's
/// own normal when it has one. first() is A (the outer operator), second() is B (the inner one).
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, range_t<B>>
class composed_operator {
public:
    using domain_type = domain_t<B>;
    using range_type = range_t<A>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// Throws shape_error unless A's domain shape equals B's range shape.
    composed_operator(A a, B b) : a_(std::move(a)), b_(std::move(b)) {
        if (!(a_.domain_shape() == b_.range_shape())) {
            throw shape_error(detail::concat(
                "compose: the domain of the first (outer) operator must have the shape of the "
                "range of the second (inner) operator, ",
                detail::shape_text(b_.range_shape()), ", got ",
                detail::shape_text(a_.domain_shape())));
        }
    }

    /// y = A (B x)
    range_type apply(const domain_type& x) const { return a_.apply(b_.apply(x)); }
    void apply_into(const domain_type& x, range_type& out) const {
        const auto t = b_.apply(x); // t = B x
        xrestore::apply_into(a_, t, out);
    }
    /// x = B^T (A^T y)
    domain_type adjoint(const range_type& y) const { return b_.adjoint(a_.adjoint(y)); }
    void adjoint_into(const range_type& y, domain_type& out) const {
        const auto t = a_.adjoint(y); // t = A^T y
        xrestore::adjoint_into(b_, t, out);
    }
    /// B^T (A^T A) (B x)
    domain_type normal(const domain_type& x) const {
        return b_.adjoint(xrestore::apply_normal(a_, b_.apply(x)));
    }

    shape_t<domain_type> domain_shape() const { return b_.domain_shape(); }
    shape_t<range_type> range_shape() const { return a_.range_shape(); }
    /// The outer operator A (applied last).
    const A& first() const { return a_; }
    /// The inner operator B (applied first).
    const B& second() const { return b_; }

private:
    A a_;
    B b_;
};

/// A B (B applied first).
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, range_t<B>> composed_operator<A, B> compose(A a, B b) {
    return composed_operator<A, B>(std::move(a), std::move(b));
}

/// A B C ... = A (B (C ...)): the last operator is applied first.
template <linear_operator A, linear_operator B, linear_operator... Rest>
requires(sizeof...(Rest) > 0) auto compose(A a, B b, Rest... rest) {
    return compose(std::move(a), compose(std::move(b), std::move(rest)...));
}

// ---------------------------------------------------------------------------------------------
// sum

/// (A + B) x = A x + B x; adjoint A^T + B^T. Both operators map the same spaces with the same
/// shapes.
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, domain_t<B>> && std::same_as<range_t<A>, range_t<B>>
class sum_operator {
public:
    using domain_type = domain_t<A>;
    using range_type = range_t<A>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// Throws shape_error unless both operators have the same domain and range shapes.
    sum_operator(A a, B b) : a_(std::move(a)), b_(std::move(b)) {
        if (!(a_.domain_shape() == b_.domain_shape())) {
            throw shape_error(detail::concat("add: the second operator must have domain shape ",
                                             detail::shape_text(a_.domain_shape()), ", got ",
                                             detail::shape_text(b_.domain_shape())));
        }
        if (!(a_.range_shape() == b_.range_shape())) {
            throw shape_error(detail::concat("add: the second operator must have range shape ",
                                             detail::shape_text(a_.range_shape()), ", got ",
                                             detail::shape_text(b_.range_shape())));
        }
    }

    /// y = A x + B x
    range_type apply(const domain_type& x) const {
        range_type y = a_.apply(x);
        xrestore::axpy(1.0f, b_.apply(x), y);
        return y;
    }
    void apply_into(const domain_type& x, range_type& out) const {
        const range_type t = b_.apply(x); // t = B x, before out is written (out may alias x)
        xrestore::apply_into(a_, x, out);
        xrestore::axpy(1.0f, t, out);
    }
    /// x = A^T y + B^T y
    domain_type adjoint(const range_type& y) const {
        domain_type x = a_.adjoint(y);
        xrestore::axpy(1.0f, b_.adjoint(y), x);
        return x;
    }
    void adjoint_into(const range_type& y, domain_type& out) const {
        const domain_type t = b_.adjoint(y);
        xrestore::adjoint_into(a_, y, out);
        xrestore::axpy(1.0f, t, out);
    }

    shape_t<domain_type> domain_shape() const { return a_.domain_shape(); }
    shape_t<range_type> range_shape() const { return a_.range_shape(); }
    const A& first() const { return a_; }
    const B& second() const { return b_; }

private:
    A a_;
    B b_;
};

/// A + B
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, domain_t<B>> && std::same_as<range_t<A>, range_t<B>>
    sum_operator<A, B> add(A a, B b) {
    return sum_operator<A, B>(std::move(a), std::move(b));
}

// ---------------------------------------------------------------------------------------------
// stacking

/// [A; B] x = (A x, B x) in the product space; adjoint A^T y1 + B^T y2; normal A^T A + B^T B
/// (each through its operand's own normal when present).
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, domain_t<B>>
class stacked_operator {
public:
    using domain_type = domain_t<A>;
    using range_type = product_vector<range_t<A>, range_t<B>>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// Throws shape_error unless both operators have the same domain shape.
    stacked_operator(A a, B b) : a_(std::move(a)), b_(std::move(b)) {
        if (!(a_.domain_shape() == b_.domain_shape())) {
            throw shape_error(detail::concat("stack: the second operator must have domain shape ",
                                             detail::shape_text(a_.domain_shape()), ", got ",
                                             detail::shape_text(b_.domain_shape())));
        }
    }

    /// y = (A x, B x)
    range_type apply(const domain_type& x) const { return {a_.apply(x), b_.apply(x)}; }
    void apply_into(const domain_type& x, range_type& out) const {
        xrestore::apply_into(a_, x, out.first);
        xrestore::apply_into(b_, x, out.second);
    }
    /// x = A^T y1 + B^T y2
    domain_type adjoint(const range_type& y) const {
        domain_type x = a_.adjoint(y.first);
        xrestore::axpy(1.0f, b_.adjoint(y.second), x);
        return x;
    }
    void adjoint_into(const range_type& y, domain_type& out) const {
        const domain_type t = b_.adjoint(y.second);
        xrestore::adjoint_into(a_, y.first, out);
        xrestore::axpy(1.0f, t, out);
    }
    /// A^T A x + B^T B x
    domain_type normal(const domain_type& x) const {
        domain_type z = xrestore::apply_normal(a_, x);
        xrestore::axpy(1.0f, xrestore::apply_normal(b_, x), z);
        return z;
    }

    shape_t<domain_type> domain_shape() const { return a_.domain_shape(); }
    shape_t<range_type> range_shape() const { return {a_.range_shape(), b_.range_shape()}; }
    const A& first() const { return a_; }
    const B& second() const { return b_; }

private:
    A a_;
    B b_;
};

/// [A; B]
template <linear_operator A, linear_operator B>
requires std::same_as<domain_t<A>, domain_t<B>> stacked_operator<A, B> stack(A a, B b) {
    return stacked_operator<A, B>(std::move(a), std::move(b));
}

// ---------------------------------------------------------------------------------------------
// normal operators

/// N = A^T A, through A's own normal() when it has one. Self-adjoint.
template <linear_operator A>
class normal_operator {
public:
    using domain_type = domain_t<A>;
    using range_type = domain_t<A>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    explicit normal_operator(A op) : op_(std::move(op)) {}

    /// y = A^T A x
    domain_type apply(const domain_type& x) const { return xrestore::apply_normal(op_, x); }
    /// x = (A^T A)^T y = A^T A y
    domain_type adjoint(const domain_type& y) const { return xrestore::apply_normal(op_, y); }
    /// N^T N x = N (N x)
    domain_type normal(const domain_type& x) const { return apply(apply(x)); }

    shape_t<domain_type> domain_shape() const { return op_.domain_shape(); }
    shape_t<domain_type> range_shape() const { return op_.domain_shape(); }
    const A& inner() const { return op_; }

private:
    A op_;
};

/// A^T A as an operator.
template <linear_operator A>
normal_operator<A> normal(A op) {
    return normal_operator<A>(std::move(op));
}

/// M = A^T A + eta I (eta >= 0): the system matrix of Tikhonov and of ADMM x-updates.
/// Self-adjoint, positive definite for eta > 0.
template <linear_operator A>
class shifted_normal_operator {
public:
    using domain_type = domain_t<A>;
    using range_type = domain_t<A>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `eta` must be finite and >= 0.
    shifted_normal_operator(A op, double eta) : op_(std::move(op)), eta_(eta) {
        require(std::isfinite(eta) && eta >= 0.0, "shifted_normal", "eta", "finite and >= 0", eta);
    }

    /// y = A^T A x + eta x
    domain_type apply(const domain_type& x) const {
        domain_type y = xrestore::apply_normal(op_, x);
        xrestore::axpy(static_cast<float>(eta_), x, y);
        return y;
    }
    /// M is self-adjoint
    domain_type adjoint(const domain_type& y) const { return apply(y); }
    /// M^T M x = M (M x)
    domain_type normal(const domain_type& x) const { return apply(apply(x)); }

    shape_t<domain_type> domain_shape() const { return op_.domain_shape(); }
    shape_t<domain_type> range_shape() const { return op_.domain_shape(); }
    const A& inner() const { return op_; }
    double eta() const { return eta_; }

private:
    A op_;
    double eta_;
};

/// A^T A + eta I as an operator.
template <linear_operator A>
shifted_normal_operator<A> shifted_normal(A op, double eta) {
    return shifted_normal_operator<A>(std::move(op), eta);
}

} // namespace xrestore
