#pragma once
/// @file threshold.hpp
/// The check every proximal map makes of its weight: finite and >= 0.
///
/// @code
/// xrestore::detail::require_threshold(lambda, "soft_threshold", "lambda");
/// @endcode

#include "xrestore/core/error.hpp"

#include <cmath>
#include <string_view>

namespace xrestore::detail {

/// Throw value_error naming `where` and `argument` unless lambda is finite and >= 0.
inline void require_threshold(double lambda, std::string_view where, std::string_view argument) {
    require(std::isfinite(lambda) && lambda >= 0.0, where, argument, "finite and >= 0", lambda);
}

} // namespace xrestore::detail
