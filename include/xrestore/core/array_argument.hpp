#pragma once
/// @file array_argument.hpp
/// A plain compile-time message, instead of a silent conversion, for an xtensor argument that
/// does not fit a parameter of a fixed-rank float32 tensor type (xrestore::image = tensor<3>,
/// tensor<4>, matrix...): an xt::xarray or another expression whose rank is not fixed, an
/// xtensor of another rank, or an array of double. Such an argument would otherwise convert
/// implicitly through xtensor's converting constructor: an xt::xarray or a double array silently
/// (a copy, a narrowing to float), and one of another rank into a tensor with a garbage shape at
/// run time (std::bad_alloc, or reads past its data). Float expressions of the right fixed rank
/// (`x * 2.0f`, a view of a tensor) still convert as before.
///
/// @code
/// template <class E> requires xrestore::detail::mismatched_array<E, xrestore::image>
/// xrestore::image apply(const E&) const { xrestore::detail::reject_array<E, xrestore::image>();
/// return {}; }
/// @endcode

#include "xrestore/core/tensor.hpp"

#include <xtensor/xexpression.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

namespace xrestore::detail {

/// True for the float32 tensors tensor<N>.
template <class T>
inline constexpr bool is_float_tensor = false;
template <std::size_t N>
inline constexpr bool is_float_tensor<tensor<N>> = true;

/// The rank of an xtensor expression when its shape type fixes it (std::array), else SIZE_MAX
/// (xt::xarray, views and functions of one).
template <class E>
constexpr std::size_t static_rank() {
    using S = typename std::remove_cvref_t<E>::shape_type;
    if constexpr (requires { std::tuple_size<S>::value; }) {
        return std::tuple_size<S>::value;
    } else {
        return SIZE_MAX;
    }
}

/// An xtensor expression E passed for a parameter of type T = tensor<N> that must not convert
/// to it: its rank is not fixed, differs from N, or its elements are not float.
template <class E, class T>
concept mismatched_array =
    is_float_tensor<T> && xt::is_xexpression<std::remove_cvref_t<E>>::value &&
    !std::same_as<std::remove_cvref_t<E>, T> &&
    (static_rank<E>() != T::rank ||
     !std::same_as<typename std::remove_cvref_t<E>::value_type, float>);

/// false, for a static_assert that fails only when its template is instantiated.
template <class T>
inline constexpr bool always_false = false;

// clang-format off
#define XRESTORE_DETAIL_ARRAY_MESSAGES(N, TYPE, SPELLED)                                           \
    static_assert(!(expected == N && got == SIZE_MAX),                                             \
                  "xrestore: an xt::xarray (an array whose rank is not fixed) cannot be passed "   \
                  "where " TYPE " (" SPELLED ") is needed; convert it explicitly, " TYPE "(x), "   \
                  "after checking that x.dimension() == " #N);                                     \
    static_assert(!(expected == N && got != SIZE_MAX && got != N),                                 \
                  "xrestore: an array of another rank cannot be passed where " TYPE " ("           \
                  SPELLED ") is needed");                                                          \
    static_assert(!(expected == N && got == N && !is_float),                                       \
                  "xrestore: an array of double (or of any element type but float) cannot be "     \
                  "passed where " TYPE " (" SPELLED ") is needed; convert it explicitly, "         \
                  "xt::cast<float>(x)")
// clang-format on

/// Fails to compile with a message naming T and what is wrong with E (see the file comment);
/// called by the overloads that catch mismatched arguments.
template <class E, class T>
void reject_array() {
    constexpr std::size_t expected = T::rank;
    constexpr std::size_t got = static_rank<E>();
    constexpr bool is_float = std::same_as<typename std::remove_cvref_t<E>::value_type, float>;
    XRESTORE_DETAIL_ARRAY_MESSAGES(3, "xrestore::image", "xt::xtensor<float, 3>, C x H x W");
    XRESTORE_DETAIL_ARRAY_MESSAGES(4, "xrestore::tensor<4>", "xt::xtensor<float, 4>");
    XRESTORE_DETAIL_ARRAY_MESSAGES(2, "xrestore::matrix", "xt::xtensor<float, 2>");
    XRESTORE_DETAIL_ARRAY_MESSAGES(1, "xrestore::tensor<1>", "xt::xtensor<float, 1>");
    static_assert(expected <= 4 || always_false<E>,
                  "xrestore: this argument must be the parameter's xrestore::tensor<N>: a float "
                  "xtensor of its rank");
}

#undef XRESTORE_DETAIL_ARRAY_MESSAGES

/// xtensor expressions E... for parameters of type T, at least one of them mismatched.
template <class T, class... E>
concept mismatched_arrays = (xt::is_xexpression<std::remove_cvref_t<E>>::value && ...) &&
                            (mismatched_array<E, T> || ...);

/// reject_array for each mismatched one of E...
template <class T, class... E>
void reject_arrays() {
    (
        [] {
            if constexpr (mismatched_array<E, T>) {
                reject_array<E, T>();
            }
        }(),
        ...);
}

} // namespace xrestore::detail

/// Declares, in the public part of a linear operator class with apply(const DOMAIN&) and
/// adjoint(const RANGE&), the overloads that turn a mismatched argument (an xt::xarray, another
/// rank, double: see the file comment) into a plain compile-time message naming the type needed.
/// Nothing changes for arguments of the right type, nor for array types other than tensor<N>.
// clang-format off
#define XRESTORE_ARRAY_ARGUMENT_CHECKS(DOMAIN, RANGE)                                              \
    template <class E>                                                                             \
    requires ::xrestore::detail::mismatched_array<E, DOMAIN>                                       \
    RANGE apply(const E&) const {                                                                  \
        ::xrestore::detail::reject_array<E, DOMAIN>();                                             \
        return RANGE{};                                                                            \
    }                                                                                              \
    template <class E>                                                                             \
    requires ::xrestore::detail::mismatched_array<E, RANGE>                                        \
    DOMAIN adjoint(const E&) const {                                                               \
        ::xrestore::detail::reject_array<E, RANGE>();                                              \
        return DOMAIN{};                                                                           \
    }
// clang-format on
