#pragma once
/// @file denoiser_call.hpp
/// A denoiser call inside a solver loop, with its output shape checked (PnP, RED).
///
/// @code
/// x = xrestore::detail::denoise_checked(d, z, "pnp_pgd");  // D(z), shape_error if D reshapes
/// @endcode

#include "xrestore/core/denoiser.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/combinators.hpp"

#include <string_view>

namespace xrestore::detail {

/// One denoiser call with its output shape checked.
template <class V, denoiser_for<V> D>
V denoise_checked(const D& d, const V& z, std::string_view where) {
    V out = d(z);
    check_vector_shape(out, vector_space<V>::shape(z), where, "the denoiser's output");
    return out;
}

} // namespace xrestore::detail
