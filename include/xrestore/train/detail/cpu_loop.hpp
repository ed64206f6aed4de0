#pragma once
/// @file cpu_loop.hpp
/// The CPU launcher of train/'s kernel bodies (a plain loop over the indices), and the shape
/// checks the element-wise, resampling and structural layers share.
///
/// @code
/// xrestore::train::detail::cpu_loop(y.size(), body);  // body(0), body(1), ..., body(n - 1)
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace xrestore::train::detail {

/// Run a kernel body over the indices 0..n-1 on the CPU, in order.
template <class Body>
void cpu_loop(std::size_t n, const Body& body) {
    for (std::size_t i = 0; i < n; ++i) {
        body(i);
    }
}

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
