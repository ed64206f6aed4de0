#pragma once
/// @file step_size.hpp
/// The default gradient step of the first-order solvers (Landweber, ISTA/FISTA): 1 / ||A||^2
/// with ||A|| from the power-iteration estimate.
///
/// @code
/// const double step = options.step > 0.0 ? options.step
///                                        : xrestore::detail::inverse_squared_norm(a, "fista");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/operators/operator_norm.hpp"

#include <cmath>
#include <string_view>

namespace xrestore::detail {

/// 1 / ||A||^2 from the power-iteration estimate; value_error for the zero operator.
template <linear_operator Op>
double inverse_squared_norm(const Op& a, std::string_view where) {
    const double norm = operator_norm(a);
    require(norm > 0.0 && std::isfinite(norm), where, "A",
            "an operator with a positive norm (to pick the step)", norm);
    return 1.0 / (norm * norm);
}

} // namespace xrestore::detail
