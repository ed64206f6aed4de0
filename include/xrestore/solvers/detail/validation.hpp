#pragma once
/// @file validation.hpp
/// Argument checks the solvers share: iteration counts and tolerances, the options of an inner
/// CG solve, and finiteness of vectors. Each throws value_error naming the solver and the
/// argument.
///
/// @code
/// xrestore::detail::validate_iterations(options.max_iter, options.tol, "pnp_pgd");
/// xrestore::detail::require_finite_vector(y, "fista", "y");
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/cg.hpp"

#include <cmath>
#include <concepts>
#include <string_view>

namespace xrestore::detail {

/// Throw value_error naming `where` unless max_iter > 0 and tol is finite and >= 0.
inline void validate_iterations(int max_iter, double tol, std::string_view where) {
    require(max_iter > 0, where, "options.max_iter", "positive", max_iter);
    require(std::isfinite(tol) && tol >= 0.0, where, "options.tol", "finite and >= 0", tol);
}

/// Throw value_error naming `where` unless the CG options are valid.
inline void validate_cg_options(const cg_options& cg, std::string_view where) {
    require(cg.max_iter > 0, where, "options.cg.max_iter", "positive", cg.max_iter);
    require(std::isfinite(cg.tol) && cg.tol >= 0.0, where, "options.cg.tol", "finite and >= 0",
            cg.tol);
}

/// Throw value_error unless ||v|| is finite (v has no NaN or infinity, up to overflow).
template <vector_type V>
void require_finite_vector(const V& v, std::string_view where, std::string_view argument) {
    const double n = xrestore::norm(v);
    require(std::isfinite(n), where, argument, "finite (its norm)", n);
}

/// Throw value_error unless every element of v is finite (the index is named for images).
template <vector_type V>
void require_finite_entries(const V& v, std::string_view where, std::string_view argument) {
    if constexpr (std::same_as<backend_t<V>, cpu_tag> && requires {
                      v.data();
                      v.size();
                      v.dimension();
                  }) {
        check_finite(v, where, argument); // names the first bad index
    } else {
        const double n = xrestore::norm(v);
        require(std::isfinite(n), where, argument, "finite (its norm)", n);
    }
}

} // namespace xrestore::detail
