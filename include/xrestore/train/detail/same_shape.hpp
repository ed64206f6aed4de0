#pragma once
/// @file same_shape.hpp
/// The shape check the element-wise, resampling and structural layers of train/ share.
///
/// @code
/// xrestore::train::detail::require_same_shape(x, mask, "dropout", "x", "mask");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace xrestore::train::detail {

/// Throw shape_error unless a and b have the same shape (both operands of an element-wise op).
template <class A, class B>
void require_same_shape(const A& a, const B& b, std::string_view where, std::string_view what_a,
                        std::string_view what_b) {
    bool same = a.dimension() == b.dimension();
    for (std::size_t d = 0; same && d < a.dimension(); ++d) {
        same = a.shape()[d] == b.shape()[d];
    }
    if (!same) {
        throw shape_error(xrestore::detail::concat(where, ": ", what_b, " must have the shape of ",
                                                   what_a, " (", shape_string(a.shape()), "), got ",
                                                   shape_string(b.shape())));
    }
}

} // namespace xrestore::train::detail
