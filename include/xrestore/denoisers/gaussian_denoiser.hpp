#pragma once
/// @file gaussian_denoiser.hpp
/// The simplest denoiser: Gaussian smoothing, a depthwise convolution with a normalised Gaussian
/// kernel and reflect boundary (no darkening at the edges).
///
/// @code
/// xrestore::gaussian_denoiser smooth{.sigma = 1.0};
/// xrestore::image clean = smooth(noisy);              // a xrestore::denoiser
/// static_assert(xrestore::denoiser<xrestore::gaussian_denoiser>);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/operators/boundary.hpp"
#include "xrestore/operators/convolution.hpp"
#include "xrestore/operators/kernels.hpp"

#include <cmath>
#include <cstddef>

namespace xrestore {

/// Gaussian smoothing of each channel: x * g_sigma, g_sigma the size x size Gaussian of
/// standard deviation `sigma` pixels (gaussian_kernel), padded by `boundary`. The noise level
/// is not an input: smoothing strength is the spatial sigma alone, so this denoiser is not
/// sigma-aware.
struct gaussian_denoiser {
    double sigma = 1.0;   ///< standard deviation of the kernel in pixels (> 0, finite)
    std::size_t size = 0; ///< kernel side; 0 picks 2 ceil(3 sigma) + 1 (at most 4096)
    xrestore::boundary boundary = xrestore::boundary::reflect; ///< image extension

    /// The kernel side used: `size`, or 2 ceil(3 sigma) + 1 when size is 0.
    std::size_t kernel_size() const {
        require(std::isfinite(sigma) && sigma > 0.0 && sigma <= 600.0, "gaussian_denoiser", "sigma",
                "in (0, 600]", sigma);
        return size != 0 ? size : 2 * static_cast<std::size_t>(std::ceil(3.0 * sigma)) + 1;
    }

    /// x * g_sigma. Throws value_error for a bad sigma or size or a non-finite x, shape_error for
    /// an empty x.
    image operator()(const image& x) const {
        constexpr const char* where = "gaussian_denoiser";
        const std::size_t side = kernel_size();
        require(side <= max_kernel_size, where, "size", "at most 4096", side);
        const shape3 shape = shape_of<3>(x);
        if (x.size() == 0) {
            throw shape_error(
                detail::concat(where, ": x must be non-empty, got ", shape_string(shape)));
        }
        check_finite(x, where, "x");
        const convolution blur(gaussian_kernel(sigma, side), shape, {.boundary = boundary});
        return blur.apply(x);
    }
};

} // namespace xrestore
