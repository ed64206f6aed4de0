#pragma once
/// @file ssim.cuh
/// SSIM of two C x H x W device images: an overload of xrestore::ssim (also spelled
/// xrestore::cuda::ssim) with the same options, checks, error messages and definition
/// (scikit-image's structural_similarity: mean over channels of the mean of the SSIM map cropped
/// by (window - 1) / 2). Two passes over the "valid" region only, since the cropped map's windows
/// never leave the image and the reflected border never enters the mean:
/// kernels::ssim_horizontal_body writes the four horizontally filtered moments, then
/// kernels::ssim_map_term filters them vertically and evaluates S per pixel inside a
/// deterministic reduction. Both bodies live in metrics/ssim.hpp and are CPU-tested there
/// (test_metric_bodies). Only scalars come back to the host.
///
/// @code
/// const xrestore::device_array<3> a = xrestore::to_device(reference), b = xrestore::to_device(x);
/// double s = xrestore::ssim(a, b);                                      // uniform 7 x 7
/// double g = xrestore::cuda::ssim(a, b, xrestore::gaussian_ssim_options); // Wang et al.
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/metrics/ssim.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

namespace xrestore {

namespace cuda::detail {

/// The CPU's require_finite on a device array: value_error naming the first NaN or infinity
/// ("<where>: <argument> must contain only finite values, got nan at flat index 63"). One
/// reduction when every entry is finite; otherwise a bisection of reductions finds the entry,
/// and its 4 bytes are read back for the message.
template <std::size_t N>
void require_finite(const device_array<N>& a, std::string_view where, std::string_view argument) {
    const float* x = a.data();
    const auto has_nonfinite = [x](std::size_t first, std::size_t count) {
        // sum of (v - v): NaN exactly when the range holds a NaN or an infinity
        return std::isnan(sum_over_indices(count, kernels::nonfinite_probe_term{x + first}));
    };
    const std::size_t index = xrestore::detail::first_nonfinite_index(a.size(), has_nonfinite);
    if (index == a.size()) {
        return;
    }
    // the entry itself, bit for bit (a device sum would not keep a NaN's sign)
    float value = 0.0f;
    const std::string reading =
        xrestore::detail::concat(where, ": reading ", argument, "[", index, "]");
    check(
        cudaMemcpyAsync(&value, x + index, sizeof value, cudaMemcpyDeviceToHost, current_stream()),
        reading);
    check(cudaStreamSynchronize(current_stream()), reading);
    throw value_error(xrestore::detail::concat(where, ": ", argument,
                                               " must contain only finite values, got ", value,
                                               " at flat index ", index));
}

/// xrestore::detail::check_pair on device images: same shape, non-empty, finite.
inline void check_pair(const device_array<3>& reference, const device_array<3>& estimate,
                       std::string_view where) {
    if (reference.shape() != estimate.shape()) {
        throw shape_error(xrestore::detail::concat(
            where, ": image must have the reference's shape ", shape_string(reference.shape()),
            ", got ", shape_string(estimate.shape())));
    }
    if (reference.size() == 0) {
        throw value_error(xrestore::detail::concat(where, ": images must be non-empty, got ",
                                                   shape_string(reference.shape())));
    }
    require_finite(reference, where, "reference");
    require_finite(estimate, where, "image");
}

} // namespace cuda::detail

/// Mean SSIM of two C x H x W device images (see metrics/ssim.hpp). Throws shape_error for
/// different shapes, value_error for empty images, images smaller than the window, non-finite
/// values or invalid options, with the CPU ssim's messages and in the same order.
inline double ssim(const device_array<3>& reference, const device_array<3>& estimate,
                   const ssim_options& options = {}) {
    constexpr std::string_view where = "ssim";
    cuda::detail::check_pair(reference, estimate, where);
    const detail::ssim_window win = detail::make_ssim_window(options, where);
    const shape3 shape = reference.shape();
    detail::check_ssim_extent(shape[1], shape[2], win, where, shape);
    const std::size_t channels = shape[0];
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const std::size_t r = win.radius;
    const std::size_t out_width = width - 2 * r;
    const std::size_t out_height = height - 2 * r;
    const device_buffer<double> taps(win.taps);
    // H_m(c, i, j) = sum_t taps[t] m(c, i, j + t), m = x, y, x^2 + y^2, xy
    device_buffer<double> moments(detail::ssim_moments * channels * height * out_width);
    cuda::for_each_index(channels * height * out_width,
                         kernels::ssim_horizontal_body{reference.data(), estimate.data(),
                                                       taps.data(), moments.data(), channels,
                                                       height, width, r});
    // the box's taps are plain sums: scale the window moments by 1 / size^2
    const double scale =
        win.box ? 1.0 / (static_cast<double>(win.size()) * static_cast<double>(win.size())) : 1.0;
    const std::size_t count = channels * out_height * out_width;
    const double total = cuda::sum_over_indices(
        count, kernels::ssim_map_term{moments.data(), taps.data(), channels, height, width, r,
                                      scale, detail::ssim_pixel{win.c1, win.c2, win.cov_norm}});
    // equal counts per channel: the mean over channels of channel means is the overall mean
    return total / static_cast<double>(count);
}

namespace cuda {
/// xrestore::ssim, host and device overloads, under the backend's namespace too.
using xrestore::ssim;
} // namespace cuda

} // namespace xrestore
