#pragma once
/// @file measurement.hpp
/// Checks of the measured y and of a start x0 against the operator, the default start A^T y,
/// and what an operator must be for a denoiser to act on its domain.
///
/// @code
/// xrestore::detail::check_measured_y(A, y, "pnp_admm");     // shape and finite entries
/// auto x0 = xrestore::detail::default_start(A, y, "fista");  // A^T y
/// @endcode

#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/solvers/detail/validation.hpp"

#include <concepts>
#include <string_view>

namespace xrestore::detail {

/// Throw shape_error unless y has A's range shape.
template <linear_operator Op>
void check_measurement(const Op& a, const range_t<Op>& y, std::string_view where) {
    check_vector_shape(y, a.range_shape(), where, "y");
}

/// Throw shape_error unless x0 has A's domain shape.
template <linear_operator Op>
void check_start(const Op& a, const domain_t<Op>& x0, std::string_view where) {
    check_vector_shape(x0, a.domain_shape(), where, "x0");
}

/// Throw shape_error / value_error unless y has A's range shape and is finite.
template <linear_operator Op>
void check_measured_y(const Op& A, const range_t<Op>& y, std::string_view where) {
    check_measurement(A, y, where);
    require_finite_entries(y, where, "y");
}

/// x_0 = A^T y, the default start of the solvers, after checking y's shape.
template <linear_operator Op>
domain_t<Op> default_start(const Op& a, const range_t<Op>& y, std::string_view where) {
    check_measurement(a, y, where);
    domain_t<Op> x0 = xrestore::zeros<domain_t<Op>>(a.domain_shape());
    xrestore::adjoint_into(a, y, x0); // x_0 = A^T y
    return x0;
}

/// True when A maps C x H x W arrays to arrays of the same type (images, device images): what
/// a denoiser can take.
template <linear_operator Op>
constexpr bool is_image_operator = std::same_as<domain_t<Op>, range_t<Op>>&&
    dense_vector<domain_t<Op>>&& std::same_as<shape_t<domain_t<Op>>, shape3>;

} // namespace xrestore::detail
