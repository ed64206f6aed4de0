#pragma once
/// @file tensor.hpp
/// Tensor aliases and shape helpers. Images are C x H x W float32 xtensor containers with values
/// in [0,1] after loading.
///
/// @code
/// xrestore::image x = xt::zeros<float>({3, 64, 64});
/// xrestore::check_shape(x, xrestore::shape3{3, 64, 64}, "deblur", "x");
/// @endcode

#include "xrestore/core/error.hpp"

#include <xtensor/xtensor.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

namespace xrestore {

/// A float32 tensor of rank N (row-major, contiguous).
template <std::size_t N>
using tensor = xt::xtensor<float, N>;

/// An image: channels x height x width.
using image = tensor<3>;
/// A 2-D array (a kernel, a single channel).
using matrix = tensor<2>;

/// Shape of an image: {channels, height, width}.
using shape3 = std::array<std::size_t, 3>;

/// "3 x 37 x 45" for any shape-like sequence.
template <class Shape>
std::string shape_string(const Shape& shape) {
    std::ostringstream out;
    bool first = true;
    for (auto extent : shape) {
        out << (first ? "" : " x ") << extent;
        first = false;
    }
    if (first) {
        out << "(scalar)";
    }
    return out.str();
}

/// The shape of an xtensor container or expression as a std::array of rank N.
template <std::size_t N, class E>
std::array<std::size_t, N> shape_of(const E& e) {
    if (e.dimension() != N) {
        throw shape_error(detail::concat("shape_of: expected rank ", N, ", got rank ",
                                         e.dimension(), " (shape ", shape_string(e.shape()), ")"));
    }
    std::array<std::size_t, N> s{};
    for (std::size_t i = 0; i < N; ++i) {
        s[i] = e.shape()[i];
    }
    return s;
}

/// Throw shape_error unless `e` has exactly `expected` shape.
template <class E, std::size_t N>
void check_shape(const E& e, const std::array<std::size_t, N>& expected, std::string_view where,
                 std::string_view argument) {
    bool ok = e.dimension() == N;
    for (std::size_t i = 0; ok && i < N; ++i) {
        ok = e.shape()[i] == expected[i];
    }
    if (!ok) {
        throw shape_error(detail::concat(where, ": ", argument, " must have shape ",
                                         shape_string(expected), ", got ",
                                         shape_string(e.shape())));
    }
}

/// Number of elements of a shape.
template <std::size_t N>
constexpr std::size_t element_count(const std::array<std::size_t, N>& shape) {
    std::size_t n = 1;
    for (auto extent : shape) {
        n *= extent;
    }
    return n;
}

/// Throw value_error if any element of `e` is NaN or infinite.
template <class E>
void check_finite(const E& e, std::string_view where, std::string_view argument) {
    std::size_t index = 0;
    for (auto v : e) {
        if (!std::isfinite(static_cast<double>(v))) {
            throw value_error(detail::concat(where, ": ", argument,
                                             " must contain only finite values, got ", v,
                                             " at flat index ", index));
        }
        ++index;
    }
}

} // namespace xrestore
