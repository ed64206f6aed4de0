#pragma once
/// @file element_codec.hpp
/// Element encodings of weights files: exact float16 / bfloat16 -> float32 decoding, float64
/// rounded to float32, round-to-nearest-even float32 -> float16 / bfloat16 encoding,
/// little-endian float and integer element decoding, and overflow-checked size arithmetic for
/// the readers.
///
/// @code
/// std::uint16_t h = xrestore::detail::float_to_half(1.0F);   // 0x3C00
/// float back = xrestore::detail::half_to_float(h);            // 1.0F
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/state_dict.hpp"

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace xrestore::detail {

/// out = a * b; false on overflow.
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
        return false;
    }
    out = a * b;
    return true;
}

/// out = a + b; false on overflow.
inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (b > std::numeric_limits<std::uint64_t>::max() - a) {
        return false;
    }
    out = a + b;
    return true;
}

/// The float32 value of IEEE binary16 bits (exact).
inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1FU;
    const std::uint32_t mantissa = h & 0x3FFU;
    if (exponent == 0) {
        // zero or subnormal: mantissa * 2^-24, exact in float32
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
    }
    if (exponent == 0x1F) {
        return std::bit_cast<float>(sign | 0x7F800000U | (mantissa << 13)); // inf, NaN payload
    }
    // rebias 15 -> 127
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// The float32 value of bfloat16 bits (exact: the upper half of a float32).
inline float bfloat16_to_float(std::uint16_t b) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// IEEE binary16 bits of `f`, rounded to nearest even; overflow gives infinity, NaN stays NaN.
inline std::uint16_t float_to_half(float f) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000U);
    const std::uint32_t magnitude = bits & 0x7FFFFFFFU;
    if (magnitude >= 0x7F800000U) { // inf or NaN (a NaN keeps its top payload bits and is quiet)
        return static_cast<std::uint16_t>(
            sign | 0x7C00U |
            (magnitude > 0x7F800000U ? 0x200U | ((magnitude >> 13) & 0x3FFU) : 0U));
    }
    const int exponent = static_cast<int>(magnitude >> 23) - 127;
    if (exponent > 15) {
        return static_cast<std::uint16_t>(sign | 0x7C00U);
    }
    if (magnitude < 0x33000000U) { // below 2^-25: rounds to zero (2^-25 itself ties to even 0)
        return sign;
    }
    // 24-bit significand with its implicit bit; keep 11 bits (normal) or fewer (subnormal)
    const std::uint32_t significand = (magnitude & 0x7FFFFFU) | 0x800000U;
    const int shift = exponent >= -14 ? 13 : 13 + (-14 - exponent); // 13 .. 24
    std::uint32_t kept = significand >> shift;
    const std::uint32_t rest = significand & ((1U << shift) - 1U);
    const std::uint32_t halfway = 1U << (shift - 1);
    if (rest > halfway || (rest == halfway && (kept & 1U) != 0)) {
        ++kept; // a carry into the exponent (or up to infinity) is the right result
    }
    if (exponent >= -14) {
        // biased exponent (exponent + 15); the implicit bit in `kept` adds one more
        return static_cast<std::uint16_t>(
            sign + ((static_cast<std::uint32_t>(exponent + 14) << 10) + kept));
    }
    return static_cast<std::uint16_t>(sign | kept); // subnormal (a carry makes it the least normal)
}

/// bfloat16 bits of `f`, rounded to nearest even; overflow gives infinity, NaN stays NaN.
inline std::uint16_t float_to_bfloat16(float f) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
    if ((bits & 0x7FFFFFFFU) > 0x7F800000U) {
        return static_cast<std::uint16_t>((bits >> 16) | 0x40U); // quiet NaN, sign kept
    }
    const std::uint32_t rounded = bits + 0x7FFFU + ((bits >> 16) & 1U);
    return static_cast<std::uint16_t>(rounded >> 16);
}

/// Bytes per element of a weight dtype.
inline std::size_t element_size(weight_dtype t) {
    switch (t) {
    case weight_dtype::float64:
    case weight_dtype::int64:
        return 8;
    case weight_dtype::float32:
    case weight_dtype::int32:
        return 4;
    case weight_dtype::float16:
    case weight_dtype::bfloat16:
    case weight_dtype::int16:
        return 2;
    case weight_dtype::int8:
    case weight_dtype::uint8:
    case weight_dtype::boolean:
        return 1;
    }
    return 1;
}

/// The `width`-byte little-endian unsigned value at `p`.
inline std::uint64_t little_endian(const unsigned char* p, std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < width; ++k) {
        v |= static_cast<std::uint64_t>(p[k]) << (8 * k);
    }
    return v;
}

/// The float32 value of the little-endian floating-point element at `p` (float64 rounded to
/// nearest).
inline float decode_element(const unsigned char* p, weight_dtype t) {
    if (t == weight_dtype::float32) {
        return std::bit_cast<float>(static_cast<std::uint32_t>(little_endian(p, 4)));
    }
    if (t == weight_dtype::float64) {
        return static_cast<float>(std::bit_cast<double>(little_endian(p, 8)));
    }
    const auto bits = static_cast<std::uint16_t>(p[0] | p[1] << 8);
    return t == weight_dtype::float16 ? half_to_float(bits) : bfloat16_to_float(bits);
}

/// The value of the little-endian integer element at `p` (signed for int64/32/16/8, unsigned
/// for uint8, 0 or 1 for bool).
inline std::int64_t decode_integer(const unsigned char* p, weight_dtype t) {
    const std::size_t width = element_size(t);
    const std::uint64_t v = little_endian(p, width);
    if (t == weight_dtype::uint8) {
        return static_cast<std::int64_t>(v);
    }
    if (t == weight_dtype::boolean) {
        return v != 0 ? 1 : 0;
    }
    // sign-extend from `width` bytes
    const std::uint64_t sign = std::uint64_t{1} << (8 * width - 1);
    return static_cast<std::int64_t>((v ^ sign) - sign);
}

/// out[i] = the i-th little-endian element of `bytes` (bytes.size() == out.size() * size).
inline void decode_elements(std::span<const unsigned char> bytes, weight_dtype t,
                            std::span<float> out) {
    if (out.empty()) {
        return;
    }
    if (t == weight_dtype::float32 && std::endian::native == std::endian::little) {
        std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
        return;
    }
    const std::size_t size = element_size(t);
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = decode_element(bytes.data() + i * size, t);
    }
}

/// out[i] = the i-th little-endian integer element of `bytes` (bytes.size() == out.size() *
/// size).
inline void decode_integers(std::span<const unsigned char> bytes, weight_dtype t,
                            std::span<std::int64_t> out) {
    const std::size_t size = element_size(t);
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = decode_integer(bytes.data() + i * size, t);
    }
}

/// A tensor of `count` elements decoded from the contiguous little-endian `bytes`: float32
/// values for a floating-point dtype, int64 integers for an integer one.
inline void decode_tensor_data(std::span<const unsigned char> bytes, weight_dtype t,
                               std::size_t count, weight_tensor& out) {
    out.stored_as = t;
    if (is_integer(t)) {
        out.integers.resize(count);
        decode_integers(bytes, t, out.integers);
    } else {
        out.values.resize(count);
        decode_elements(bytes, t, out.values);
    }
}

/// decode_tensor_data, except that with `borrow` contiguous little-endian float32 data at a
/// 4-byte-aligned address is not copied: `out.mapped` views `bytes` (mapped_weights).
inline void decode_or_borrow_tensor_data(std::span<const unsigned char> bytes, weight_dtype t,
                                         std::size_t count, weight_tensor& out, bool borrow) {
    if (borrow && count != 0 && t == weight_dtype::float32 &&
        std::endian::native == std::endian::little &&
        reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(float) == 0) {
        out.stored_as = t;
        out.mapped = std::span<const float>(reinterpret_cast<const float*>(bytes.data()), count);
        return;
    }
    decode_tensor_data(bytes, t, count, out);
}

/// "3 float64 tensors converted to float32: 'a', 'b', 'c'" for the notes of a reader (at most
/// `shown` names, then "...").
inline std::string float64_note(const std::vector<std::string>& names, std::size_t shown = 4) {
    std::string text = concat(names.size(), " float64 tensor", names.size() == 1 ? "" : "s",
                              " converted to float32:");
    for (std::size_t k = 0; k < names.size() && k < shown; ++k) {
        text += concat(k == 0 ? " '" : ", '", names[k], "'");
    }
    return names.size() > shown ? text + ", ..." : text;
}

} // namespace xrestore::detail
