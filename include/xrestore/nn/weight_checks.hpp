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

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace xrestore::nn::detail {

/// 1 when `v` is an infinity or a NaN (its exponent bits all set), else 0 (the packers check
/// the values they read with it).
inline std::uint32_t not_finite_bit(float v) {
    constexpr std::uint32_t exponent = 0x7f800000U;
    return static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(v) & exponent) == exponent);
}

/// Whether every value is finite: a value is infinite or NaN exactly when its exponent bits are
/// all ones, an integer test that runs in vector registers (std::isfinite in a loop does not
/// vectorise), over the threads for a large tensor.
inline bool all_finite(std::span<const float> values) {
    constexpr std::uint32_t exponent = 0x7f800000U;
    const float* v = values.data();
    const auto n = static_cast<std::ptrdiff_t>(values.size());
    std::uint32_t bad = 0;
#if defined(_OPENMP)
#pragma omp parallel for simd reduction(|                                                          \
                                        : bad)                                                     \
    schedule(static) if (n >= (std::ptrdiff_t{1} << 18))
#endif
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        bad |=
            static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(v[i]) & exponent) == exponent);
    }
    return bad == 0;
}

/// The error for tensor `name` holding a non-finite value.
[[noreturn]] inline void throw_not_finite(std::string_view name) {
    throw value_error(xrestore::detail::concat("tensor '", name, "' contains non-finite values"));
}

/// Throw value_error if `t` holds a non-finite value.
inline void require_finite(const weight_tensor& t, std::string_view name) {
    if (!all_finite(t.floats())) {
        throw_not_finite(name);
    }
}

/// Throw shape_error unless `t` has shape `expected`; with `check_values`, value_error if it
/// holds a non-finite value.
inline void require_shape(const weight_tensor& t, std::string_view name,
                          const std::vector<std::size_t>& expected, bool check_values = true) {
    if (t.shape != expected) {
        throw shape_error(xrestore::detail::concat("tensor '", name, "' must have shape ",
                                                   shape_string(expected), ", got ",
                                                   shape_string(t.shape)));
    }
    if (check_values) {
        require_finite(t, name);
    }
}

} // namespace xrestore::nn::detail
