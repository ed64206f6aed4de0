#pragma once
/// @file layer_checks.hpp
/// Helpers shared by the layers of train/: PyTorch's default uniform initialisation of
/// convolution weights and biases, and the input checks every forward makes.
///
/// @code
/// auto w = xrestore::train::detail::uniform_init<float>({4, 3, 3, 3}, 1.0 / std::sqrt(27.0), 0);
/// xrestore::train::detail::require_input_channels(x, 3, "conv2d");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xarray.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::train::detail {

/// A tensor of `shape` drawn uniformly from [-bound, bound) by a seeded engine, as PyTorch's
/// default Conv2d/ConvTranspose2d initialisation (bound = 1 / sqrt(fan_in)); the values are
/// reproducible for a seed, not equal to PyTorch's draws.
template <class T>
xt::xarray<T> uniform_init(const std::vector<std::size_t>& shape, double bound,
                           std::uint64_t seed) {
    xt::xarray<T> v = xt::xarray<T>::from_shape(shape);
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<double> draw(-bound, bound);
    for (T& e : v) {
        e = static_cast<T>(draw(engine));
    }
    return v;
}

/// The input of a layer must have `channels` channels (dimension 1) and non-empty planes.
template <class T>
void require_input_channels(const tensor4<T>& x, std::size_t channels, std::string_view where) {
    if (x.shape(1) != channels) {
        throw shape_error(
            xrestore::detail::describe(where, "input channels (dimension 1 of N x C x H x W)",
                                       std::to_string(channels), x.shape(1)));
    }
    if (x.shape(0) == 0 || x.shape(2) == 0 || x.shape(3) == 0) {
        throw shape_error(xrestore::detail::concat(where, ": input must be non-empty, got ",
                                                   x.shape(0), " x ", x.shape(1), " x ", x.shape(2),
                                                   " x ", x.shape(3)));
    }
}

/// "a x b x c" for a shape.
template <class Shape>
std::string shape_text(const Shape& shape) {
    std::string text;
    for (std::size_t d : shape) {
        text += (text.empty() ? "" : " x ") + std::to_string(d);
    }
    return text;
}

/// A parameter's value and gradient must still have the shape the layer was built with (the
/// value may be replaced by assignment, from a checkpoint say).
template <class T>
void require_parameter_shape(const parameter<T>& p, const std::vector<std::size_t>& shape,
                             std::string_view where) {
    const auto same = [&](const xt::xarray<T>& a) {
        return a.dimension() == shape.size() &&
               std::equal(shape.begin(), shape.end(), a.shape().begin());
    };
    if (!same(p.value)) {
        throw shape_error(xrestore::detail::describe(where, p.name, "of shape " + shape_text(shape),
                                                     shape_text(p.value.shape())));
    }
    if (!same(p.grad)) {
        throw shape_error(xrestore::detail::describe(where, p.name + " gradient",
                                                     "of shape " + shape_text(shape),
                                                     shape_text(p.grad.shape())));
    }
}

} // namespace xrestore::train::detail
