#pragma once
/// @file clip.hpp
/// Clipping of a solver's output to [0, 1] on the vector's backend (PnP, RED: `clip_output`).
///
/// @code
/// if (options.clip_output) {
///     xrestore::detail::clip_unit(result.x);  // x = min(max(x, 0), 1)
/// }
/// @endcode

#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/vector_space.hpp"

namespace xrestore::detail {

/// x <- clip(x, 0, 1), on x's backend
template <dense_vector V>
void clip_unit(V& x) {
    for_each_index_on<V>(x.size(), kernels::clip_body{0.0f, 1.0f, x.data()});
}

} // namespace xrestore::detail
