#pragma once
/// @file linear_operator.hpp
/// The linear_operator concept and the helpers that use an operator's optional in-place and
/// normal members when it has them.
///
/// A linear operator A : X -> Y is any type with
///   - `domain_type` and `range_type`, both vector types (see vector_space.hpp),
///   - `apply(x) -> range_type` and `adjoint(y) -> domain_type`,
///   - `domain_shape()` and `range_shape()`.
/// Optional members that solvers use when present:
///   - `apply_into(x, out)` / `adjoint_into(y, out)`: write into an existing vector,
///   - `normal(x)`: A^T A x when the operator can do better than adjoint-after-apply.
///
/// @code
/// static_assert(xrestore::explain_linear_operator<my_operator>());  // a plain message if not
/// auto y = xrestore::apply(op, x);       // op.apply(x)
/// auto z = xrestore::apply_normal(op, x); // A^T A x
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/vector_space.hpp"

#include <concepts>
#include <type_traits>

namespace xrestore {

/// A type that has forward and adjoint maps between two vector types.
template <class Op>
concept linear_operator = requires(const Op& op, const typename Op::domain_type& x,
                                   const typename Op::range_type& y) {
    typename Op::domain_type;
    typename Op::range_type;
    requires vector_type<typename Op::domain_type>;
    requires vector_type<typename Op::range_type>;
    { op.apply(x) } -> std::convertible_to<typename Op::range_type>;
    { op.adjoint(y) } -> std::convertible_to<typename Op::domain_type>;
    { op.domain_shape() } -> std::convertible_to<shape_t<typename Op::domain_type>>;
    { op.range_shape() } -> std::convertible_to<shape_t<typename Op::range_type>>;
};

/// A linear operator whose domain and range are the same space (A^T A, A^T A + eta I...).
template <class Op>
concept square_operator =
    linear_operator<Op> && std::same_as<typename Op::domain_type, typename Op::range_type>;

/// True when Op is a linear_operator; otherwise a static_assert says, in plain words, the first
/// requirement it misses (a type, a vector type, a const member, a return type), where the
/// concept's own failure names only the expression that did not compile. Put it beside a new
/// operator: static_assert(xrestore::explain_linear_operator<my_operator>());
template <class Op>
consteval bool explain_linear_operator() {
    if constexpr (!requires { typename Op::domain_type; }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: the operator must name its domain vector type: "
                      "using domain_type = xrestore::image; (or another vector type)");
    } else if constexpr (!requires { typename Op::range_type; }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: the operator must name its range vector type: "
                      "using range_type = xrestore::image; (or another vector type)");
    } else if constexpr (!vector_type<typename Op::domain_type> ||
                         !vector_type<typename Op::range_type>) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: domain_type and range_type must be vector types: "
                      "dense float32 arrays with dense_array_traits (xrestore::image, "
                      "xrestore::tensor<N>, xrestore::device_array<N>, or an array type of yours "
                      "with its own traits) or a product_vector of two; not xt::xarray (its rank "
                      "is not fixed) nor an array of double");
    } else if constexpr (!requires(const Op& op) {
                             {
                                 op.domain_shape()
                                 } -> std::convertible_to<shape_t<typename Op::domain_type>>;
                         }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: the operator needs a const member "
                      "domain_shape() returning the shape type of domain_type "
                      "(std::array<std::size_t, N> for a rank-N array, shape3 for images)");
    } else if constexpr (!requires(const Op& op) {
                             {
                                 op.range_shape()
                                 } -> std::convertible_to<shape_t<typename Op::range_type>>;
                         }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: the operator needs a const member "
                      "range_shape() returning the shape type of range_type "
                      "(std::array<std::size_t, N> for a rank-N array, shape3 for images)");
    } else if constexpr (!requires(const Op& op, const typename Op::domain_type& x) {
                             op.apply(x);
                         }) {
        if constexpr (requires(Op & op, const typename Op::domain_type& x) { op.apply(x); }) {
            static_assert(detail::always_false<Op>,
                          "xrestore::linear_operator: apply must be a const member function: "
                          "range_type apply(const domain_type& x) const");
        } else {
            static_assert(detail::always_false<Op>,
                          "xrestore::linear_operator: the operator needs a member "
                          "range_type apply(const domain_type& x) const");
        }
    } else if constexpr (!requires(const Op& op, const typename Op::domain_type& x) {
                             { op.apply(x) } -> std::convertible_to<typename Op::range_type>;
                         }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: apply(x) must return range_type");
    } else if constexpr (!requires(const Op& op, const typename Op::range_type& y) {
                             op.adjoint(y);
                         }) {
        if constexpr (requires(Op & op, const typename Op::range_type& y) { op.adjoint(y); }) {
            static_assert(detail::always_false<Op>,
                          "xrestore::linear_operator: adjoint must be a const member function: "
                          "domain_type adjoint(const range_type& y) const");
        } else {
            static_assert(detail::always_false<Op>,
                          "xrestore::linear_operator: the operator needs a member "
                          "domain_type adjoint(const range_type& y) const");
        }
    } else if constexpr (!requires(const Op& op, const typename Op::range_type& y) {
                             { op.adjoint(y) } -> std::convertible_to<typename Op::domain_type>;
                         }) {
        static_assert(detail::always_false<Op>,
                      "xrestore::linear_operator: adjoint(y) must return domain_type");
    }
    return linear_operator<Op>;
}

template <linear_operator Op>
using domain_t = typename Op::domain_type;
template <linear_operator Op>
using range_t = typename Op::range_type;

namespace detail {
template <class Op>
concept has_apply_into = requires(const Op& op, const typename Op::domain_type& x,
                                  typename Op::range_type& out) {
    op.apply_into(x, out);
};
template <class Op>
concept has_adjoint_into = requires(const Op& op, const typename Op::range_type& y,
                                    typename Op::domain_type& out) {
    op.adjoint_into(y, out);
};
template <class Op>
concept has_normal = requires(const Op& op, const typename Op::domain_type& x) {
    { op.normal(x) } -> std::convertible_to<typename Op::domain_type>;
};
} // namespace detail

/// y = A x
template <linear_operator Op>
range_t<Op> apply(const Op& op, const domain_t<Op>& x) {
    return op.apply(x);
}

/// x = A^T y
template <linear_operator Op>
domain_t<Op> adjoint(const Op& op, const range_t<Op>& y) {
    return op.adjoint(y);
}

/// out = A x, reusing out's storage when the operator supports it.
template <linear_operator Op>
void apply_into(const Op& op, const domain_t<Op>& x, range_t<Op>& out) {
    if constexpr (detail::has_apply_into<Op>) {
        op.apply_into(x, out);
    } else {
        out = op.apply(x);
    }
}

/// out = A^T y, reusing out's storage when the operator supports it.
template <linear_operator Op>
void adjoint_into(const Op& op, const range_t<Op>& y, domain_t<Op>& out) {
    if constexpr (detail::has_adjoint_into<Op>) {
        op.adjoint_into(y, out);
    } else {
        out = op.adjoint(y);
    }
}

/// A^T A x, through the operator's own normal() when it has one.
template <linear_operator Op>
domain_t<Op> apply_normal(const Op& op, const domain_t<Op>& x) {
    if constexpr (detail::has_normal<Op>) {
        return op.normal(x);
    } else {
        return op.adjoint(op.apply(x));
    }
}

} // namespace xrestore
