#pragma once
/// @file mse.cuh
/// Mean squared error of two device arrays: an overload of xrestore::mse, so generic code (psnr,
/// which calls mse; the solvers' reference monitor) works on device arrays unchanged, and the
/// same function as xrestore::cuda::mse. A deterministic device reduction of
/// kernels::squared_difference_term in double; only the scalar comes back. Checks and messages
/// are the CPU mse's.
///
/// @code
/// const xrestore::device_array<3> a = xrestore::to_device(reference), b = xrestore::to_device(x);
/// double e = xrestore::mse(a, b);                         // or xrestore::cuda::mse(a, b)
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/metrics/mse.hpp"

#include <cstddef>

namespace xrestore {

/// (1/n) sum (a - b)^2 over all elements of two device arrays of the same shape, in double.
/// Throws shape_error for different shapes, value_error for empty arrays.
template <std::size_t N>
double mse(const device_array<N>& reference, const device_array<N>& estimate) {
    if (reference.shape() != estimate.shape()) {
        throw shape_error(detail::concat("mse: estimate must have the reference's shape ",
                                         shape_string(reference.shape()), ", got ",
                                         shape_string(estimate.shape())));
    }
    require(reference.size() > 0, "mse", "reference", "non-empty", "an empty array");
    // sum_i (a_i - b_i)^2 / n
    return cuda::sum_over_indices(
               reference.size(),
               kernels::squared_difference_term{reference.data(), estimate.data()}) /
           static_cast<double>(reference.size());
}

namespace cuda {
/// xrestore::mse, host and device overloads, under the backend's namespace too.
using xrestore::mse;
} // namespace cuda

} // namespace xrestore
