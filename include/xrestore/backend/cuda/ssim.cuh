#pragma once
/// @file ssim.cuh
/// SSIM of two C x H x W device images: an overload of xrestore::ssim with the same options,
/// checks and definition (scikit-image's structural_similarity, mean over channels of the
/// cropped mean). Two passes over the "valid" region (the cropped map's windows never leave the
/// image): kernels::ssim_horizontal_body writes the four horizontally filtered moments, then
/// kernels::ssim_map_term filters them vertically and evaluates S per pixel inside a
/// deterministic reduction. Only the scalar comes back.
///
/// @code
/// double s = xrestore::ssim(device_reference, device_estimate, xrestore::gaussian_ssim_options);
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/mse.cuh"
#include "xrestore/metrics/ssim.hpp"

namespace xrestore {

/// Mean SSIM of two C x H x W device images (see metrics/ssim.hpp). Throws shape_error for
/// different shapes, value_error for images smaller than the window, non-finite values or
/// invalid options.
inline double ssim(const device_array<3>& reference, const device_array<3>& estimate,
                   const ssim_options& options = {}) {
    constexpr std::string_view where = "ssim";
    cuda::detail::check_device_pair(reference, estimate, where, "image");
    const detail::ssim_window win = detail::make_ssim_window(options, where);
    const shape3 shape = reference.shape();
    detail::check_ssim_extent(shape[1], shape[2], win, where, shape);
    cuda::detail::require_finite_device(reference, where, "reference");
    cuda::detail::require_finite_device(estimate, where, "image");
    const std::size_t channels = shape[0];
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const std::size_t r = win.radius;
    const std::size_t out_width = width - 2 * r;
    const std::size_t out_height = height - 2 * r;
    const device_buffer<double> taps(win.taps);
    device_buffer<double> moments(4 * channels * height * out_width);
    cuda::for_each_index(channels * height * out_width,
                         kernels::ssim_horizontal_body{reference.data(), estimate.data(),
                                                       taps.data(), moments.data(), channels,
                                                       height, width, r});
    const double scale =
        win.box ? 1.0 / (static_cast<double>(win.size()) * static_cast<double>(win.size())) : 1.0;
    const std::size_t count = channels * out_height * out_width;
    const double total = cuda::sum_over_indices(
        count, kernels::ssim_map_term{moments.data(), taps.data(), channels, height, width, r,
                                      scale, detail::ssim_pixel{win.c1, win.c2, win.cov_norm}});
    // equal counts per channel: the mean over channels of channel means is the overall mean
    return total / static_cast<double>(count);
}

} // namespace xrestore
