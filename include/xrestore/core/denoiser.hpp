#pragma once
/// @file denoiser.hpp
/// The denoiser concept: an image in, an image of the same shape out, optionally told the noise
/// level. Plug-and-play and RED take any type that satisfies it: the classical denoisers of
/// denoisers/, the U-Net adapter, or a user's own lambda. A concept beside linear_operator, so
/// that solvers need no denoiser header.
///
/// @code
/// auto d = xrestore::gaussian_denoiser{.sigma = 1.0};
/// xrestore::image clean = xrestore::denoise(d, noisy);          // d(noisy)
/// auto own = [](const xrestore::image& x) { return xrestore::image(x); };  // also a denoiser
/// @endcode

#include "xrestore/core/tensor.hpp"

#include <concepts>

namespace xrestore {

/// A callable V -> V: a denoiser of vectors V (device arrays for a device denoiser, say).
template <class D, class V>
concept denoiser_for = requires(const D& d, const V& x) {
    { d(x) } -> std::convertible_to<V>;
};

/// A callable image -> image.
template <class D>
concept denoiser = denoiser_for<D, image>;

/// A denoiser that also accepts the noise standard deviation: d(x, sigma).
template <class D>
concept sigma_aware_denoiser = denoiser<D> && requires(const D& d, const image& x, double s) {
    { d(x, s) } -> std::convertible_to<image>;
};

/// d(x), with the output shape checked against the input's.
template <denoiser D>
image denoise(const D& d, const image& x) {
    image out = d(x);
    check_shape(out, shape_of<3>(x), "denoise", "denoiser output");
    return out;
}

} // namespace xrestore
