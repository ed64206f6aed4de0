#pragma once
/// @file masked.hpp
/// MSE, PSNR and SSIM restricted to the pixels a mask selects (for inpainting: score only the
/// missing pixels, or only the observed ones).
///
/// @code
/// double e = xrestore::mse_masked(reference, estimate, mask);   // mask 1 x H x W or C x H x W
/// double s = xrestore::ssim_masked(reference, estimate, mask, {.gaussian_weights = true});
/// @endcode
///
/// A mask entry selects its pixel when it is nonzero. A 1 x H x W mask applies to every
/// channel; a C x H x W mask selects per channel. The means run over all selected
/// (channel, pixel) entries:
///   mse_masked  = sum_sel (a - b)^2 / #sel
///   psnr_masked = 10 log10(data_range^2 / mse_masked)
///   ssim_masked = sum_sel S / #sel over the SSIM map S of ssim_map(), restricted like skimage's
///                 mean to the interior that excludes (window - 1) / 2 pixels on every side.
/// With a 1 x H x W mask ssim_masked is the mean over channels of the per-channel masked means,
/// like ssim(); with an all-ones mask it equals ssim(). Selecting nothing is a value_error.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"
#include "xrestore/metrics/ssim.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <string_view>

namespace xrestore {

namespace detail {

/// Validates the triple and returns the mask's channel stride (0 when shared).
inline std::size_t prepare_masked(const image& reference, const image& estimate, const image& mask,
                                  std::string_view where) {
    check_pair(reference, estimate, where);
    const shape3 shape = shape_of<3>(reference);
    const bool shared = check_mask(mask, shape, where);
    return shared ? 0 : shape[1] * shape[2];
}

} // namespace detail

namespace detail {

inline double mse_masked(const image& reference, const image& estimate, const image& mask,
                         std::string_view where) {
    const std::size_t stride = prepare_masked(reference, estimate, mask, where);
    const std::size_t channels = reference.shape()[0];
    const std::size_t n = reference.shape()[1] * reference.shape()[2];
    double total = 0.0;
    double count = 0.0;
    for (std::size_t c = 0; c < channels; ++c) {
        const float* a = reference.data() + c * n;
        const float* b = estimate.data() + c * n;
        const float* m = mask.data() + c * stride;
        for (std::size_t i = 0; i < n; ++i) {
            if (m[i] != 0.0f) {
                const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
                total += d * d;
                count += 1.0;
            }
        }
    }
    if (count == 0.0) {
        throw value_error(concat(where, ": mask must select at least one pixel, got none"));
    }
    return total / count;
}

} // namespace detail

/// Mean of (reference - estimate)^2 over the entries the mask selects.
inline double mse_masked(const image& reference, const image& estimate, const image& mask) {
    return detail::mse_masked(reference, estimate, mask, "mse_masked");
}

/// 10 log10(data_range^2 / mse_masked); +infinity when the selected entries are equal.
inline double psnr_masked(const image& reference, const image& estimate, const image& mask,
                          double data_range = 1.0) {
    require(std::isfinite(data_range) && data_range > 0.0, "psnr_masked", "data_range",
            "positive and finite", data_range);
    const double e = detail::mse_masked(reference, estimate, mask, "psnr_masked");
    if (e == 0.0) {
        return std::numeric_limits<double>::infinity();
    }
    return 10.0 * std::log10(data_range * data_range / e);
}

/// Mean of the SSIM map over the selected entries of its cropped interior.
inline double ssim_masked(const image& reference, const image& estimate, const image& mask,
                          const ssim_options& options = {}) {
    constexpr std::string_view where = "ssim_masked";
    const std::size_t stride = detail::prepare_masked(reference, estimate, mask, where);
    const detail::ssim_window win = detail::make_ssim_window(options, where);
    const shape3 shape = shape_of<3>(reference);
    detail::check_ssim_extent(shape[1], shape[2], win, where, shape);
    const auto sums =
        detail::ssim_channel_sums(reference.data(), estimate.data(), shape[0], shape[1], shape[2],
                                  win, nullptr, false, mask.data(), stride);
    double total = 0.0;
    double count = 0.0;
    for (std::size_t c = 0; c < shape[0]; ++c) {
        total += sums.ssim[c];
        count += sums.count[c];
    }
    if (count == 0.0) {
        throw value_error(
            detail::concat(where, ": mask must select at least one pixel of the interior ",
                           "that excludes ", win.crop, " pixels on every side, got none"));
    }
    return total / count;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double mse_masked(const R&, const E&, const M&) {
    detail::reject_arrays<image, R, E, M>();
    return 0.0;
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double psnr_masked(const R&, const E&, const M&, double = 1.0) {
    detail::reject_arrays<image, R, E, M>();
    return 0.0;
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double ssim_masked(const R&, const E&, const M&, const ssim_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return 0.0;
}

} // namespace xrestore
