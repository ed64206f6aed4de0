#pragma once
/// @file mse.cuh
/// Mean squared error of two device arrays: an overload of xrestore::mse, so generic code (and
/// psnr, which calls mse) works on device arrays unchanged. A deterministic device reduction of
/// kernels::squared_difference_term; only the scalar comes back.
///
/// @code
/// double e = xrestore::mse(device_reference, device_estimate);
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/kernel_bodies.hpp"
#include "xrestore/metrics/mse.hpp"

#include <cmath>
#include <string_view>

namespace xrestore {

namespace cuda::detail {

/// Throw value_error naming `argument` when a device array holds NaN or an infinity (one
/// reduction).
template <std::size_t N>
void require_finite_device(const device_array<N>& a, std::string_view where,
                           std::string_view argument) {
    const double probe = sum_over_indices(a.size(), kernels::nonfinite_probe_term{a.data()});
    if (!std::isfinite(probe)) {
        throw value_error(xrestore::detail::concat(where, ": ", argument,
                                                   " must be finite, got NaN or infinite values"));
    }
}

/// Shapes equal and non-empty, as the CPU metrics check them.
template <std::size_t N>
void check_device_pair(const device_array<N>& reference, const device_array<N>& estimate,
                       std::string_view where, std::string_view second) {
    if (reference.shape() != estimate.shape()) {
        throw shape_error(xrestore::detail::concat(
            where, ": ", second, " must have the reference's shape ",
            shape_string(reference.shape()), ", got ", shape_string(estimate.shape())));
    }
    require(reference.size() > 0, where, "reference", "non-empty", "an empty array");
}

} // namespace cuda::detail

/// (1/n) sum (a - b)^2 over all elements of two device arrays of the same shape, in double.
template <std::size_t N>
double mse(const device_array<N>& reference, const device_array<N>& estimate) {
    cuda::detail::check_device_pair(reference, estimate, "mse", "estimate");
    return cuda::sum_over_indices(
               reference.size(),
               kernels::squared_difference_term{reference.data(), estimate.data()}) /
           static_cast<double>(reference.size());
}

} // namespace xrestore
