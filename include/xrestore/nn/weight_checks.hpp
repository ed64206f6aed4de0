#pragma once
/// @file weight_checks.hpp
/// The check every weight tensor passes before a network uses it: its shape is the expected one
/// and all its values are finite; the error names the tensor, the expected and the found shape.
///
/// @code
/// const xrestore::weight_tensor& w = sd.at("conv.layers.0.weight");
/// xrestore::nn::detail::require_shape(w, "conv.layers.0.weight", {64, 32, 3, 3});
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"

#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

namespace xrestore::nn::detail {

/// Throw shape_error unless `t` has shape `expected`, value_error if it holds a non-finite value.
inline void require_shape(const weight_tensor& t, std::string_view name,
                          const std::vector<std::size_t>& expected) {
    if (t.shape != expected) {
        throw shape_error(xrestore::detail::concat("tensor '", name, "' must have shape ",
                                                   shape_string(expected), ", got ",
                                                   shape_string(t.shape)));
    }
    for (float v : t.values) {
        if (!std::isfinite(v)) {
            throw value_error(
                xrestore::detail::concat("tensor '", name, "' contains non-finite values"));
        }
    }
}

} // namespace xrestore::nn::detail
