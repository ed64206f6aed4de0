#pragma once
/// @file mse.hpp
/// Mean squared error between two arrays of the same shape, accumulated in double
/// (skimage.metrics.mean_squared_error), on any backend: xtensor containers and expressions on
/// the host, two dense arrays of one type (device arrays...) as a reduction of
/// kernels::squared_difference_term on their backend, only the scalar coming back.
///
/// @code
/// double e = xrestore::mse(reference, estimate);
/// double d = xrestore::mse(xrestore::to_device(reference), xrestore::to_device(estimate));
/// @endcode

#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/squared_error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include <xtensor/xlayout.hpp>

namespace xrestore {

namespace detail {

/// Row-major float32 containers (xtensor, xarray) expose contiguous data().
template <class E>
inline constexpr bool is_contiguous_float = requires(const E& e) {
    { e.data() } -> std::convertible_to<const float*>;
    requires std::decay_t<E>::static_layout == xt::layout_type::row_major;
};

} // namespace detail

/// (1/n) sum (a - b)^2 over all elements; shapes must match. Throws shape_error for different
/// shapes, value_error for empty arrays.
template <class E1, class E2>
double mse(const E1& reference, const E2& estimate) {
    const auto& sa = reference.shape();
    const auto& sb = estimate.shape();
    if (!std::equal(sa.begin(), sa.end(), sb.begin(), sb.end())) {
        throw shape_error(detail::concat("mse: estimate must have the reference's shape ",
                                         shape_string(reference.shape()), ", got ",
                                         shape_string(estimate.shape())));
    }
    require(reference.size() > 0, "mse", "reference", "non-empty", "an empty array");
    if constexpr (detail::is_contiguous_float<E1> && detail::is_contiguous_float<E2>) {
        return detail::squared_error_sum(reference.data(), estimate.data(), reference.size()) /
               static_cast<double>(reference.size());
    } else if constexpr (std::same_as<E1, E2> && dense_vector<E1>) {
        // sum_i (a_i - b_i)^2 / n on the arrays' backend
        return sum_over_indices_on<E1>(
                   reference.size(),
                   kernels::squared_difference_term{reference.data(), estimate.data()}) /
               static_cast<double>(reference.size());
    } else {
        double total = 0.0;
        auto a = reference.begin();
        for (auto b = estimate.begin(); b != estimate.end(); ++a, ++b) {
            const double d = static_cast<double>(*a) - static_cast<double>(*b);
            total += d * d;
        }
        return total / static_cast<double>(reference.size());
    }
}

} // namespace xrestore
