#pragma once
/// @file measurement.hpp
/// Checks of the measured y and of a start x0 against the operator, the default start A^T y,
/// and what an operator must be for a denoiser to act on its domain. The entry checks
/// (check_measured_y, check_start: every solver that uses A^T calls exactly one of them once) also
/// run require_adjoint on A when XRESTORE_CHECK_ADJOINT is 1 (by default in debug builds; see
/// operators/adjoint_check.hpp).
///
/// @code
/// xrestore::detail::check_measured_y(A, y, "pnp_admm");     // shape, finite entries, adjoint
/// auto x0 = xrestore::detail::default_start(A, y, "fista");  // A^T y
/// @endcode

#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/adjoint_check.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/solvers/detail/validation.hpp"

#include <concepts>
#include <random>
#include <string_view>

namespace xrestore::detail {

/// When XRESTORE_CHECK_ADJOINT is 1, throw adjoint_error naming `where` unless A's adjoint passes
/// require_adjoint (three random pairs: three A and three A^T); otherwise nothing. Operators
/// whose vector types cannot draw random vectors are not checked.
template <linear_operator Op>
void check_adjoint_on_entry([[maybe_unused]] const Op& A, [[maybe_unused]] std::string_view where) {
#if XRESTORE_CHECK_ADJOINT
    if constexpr (requires(std::mt19937_64 & rng) {
                      vector_space<domain_t<Op>>::random(A.domain_shape(), rng);
                      vector_space<range_t<Op>>::random(A.range_shape(), rng);
                  }) {
        require_adjoint(A, {}, where);
    }
#endif
}

/// Throw shape_error unless y has A's range shape.
template <linear_operator Op>
void check_measurement(const Op& a, const range_t<Op>& y, std::string_view where) {
    check_vector_shape(y, a.range_shape(), where, "y");
}

/// Throw shape_error unless x0 has A's domain shape; then the adjoint check on entry (for the
/// solvers that take a start, which check y with check_measurement).
template <linear_operator Op>
void check_start(const Op& a, const domain_t<Op>& x0, std::string_view where) {
    check_vector_shape(x0, a.domain_shape(), where, "x0");
    check_adjoint_on_entry(a, where);
}

/// Throw shape_error / value_error unless y has A's range shape and is finite; then the adjoint
/// check on entry.
template <linear_operator Op>
void check_measured_y(const Op& A, const range_t<Op>& y, std::string_view where) {
    check_measurement(A, y, where);
    require_finite_entries(y, where, "y");
    check_adjoint_on_entry(A, where);
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
