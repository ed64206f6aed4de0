#pragma once
/// @file psnr.hpp
/// Peak signal-to-noise ratio, 10 log10(data_range^2 / MSE)
/// (skimage.metrics.peak_signal_noise_ratio with an explicit data_range).
///
/// @code
/// double db = xrestore::psnr(reference, estimate);          // images in [0,1]
/// @endcode

#include "xrestore/metrics/mse.hpp"

#include <cmath>
#include <limits>

namespace xrestore {

/// PSNR in dB; +infinity when the arrays are equal.
template <class E1, class E2>
double psnr(const E1& reference, const E2& estimate, double data_range = 1.0) {
    require(std::isfinite(data_range) && data_range > 0.0, "psnr", "data_range", "positive",
            data_range);
    const double e = mse(reference, estimate);
    if (e == 0.0) {
        return std::numeric_limits<double>::infinity();
    }
    return 10.0 * std::log10(data_range * data_range / e);
}

} // namespace xrestore
