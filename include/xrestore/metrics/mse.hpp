#pragma once
/// @file mse.hpp
/// Mean squared error between two arrays of the same shape, accumulated in double
/// (skimage.metrics.mean_squared_error).
///
/// @code
/// double e = xrestore::mse(reference, estimate);
/// @endcode

#include "xrestore/core/squared_error.hpp"
#include "xrestore/core/tensor.hpp"

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

/// (1/n) sum (a - b)^2 over all elements; shapes must match.
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
