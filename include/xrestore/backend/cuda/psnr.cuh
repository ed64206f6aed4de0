#pragma once
/// @file psnr.cuh
/// PSNR of two device arrays: xrestore::psnr finds the device mse overload (mse.cuh) by
/// argument-dependent lookup, so its checks, messages and formula are the CPU ones and only the
/// MSE runs on the device; also spelled xrestore::cuda::psnr.
///
/// @code
/// double db = xrestore::psnr(device_reference, device_estimate);      // data_range 1
/// double d2 = xrestore::cuda::psnr(device_reference, device_estimate, 2.0);
/// @endcode

#include "xrestore/backend/cuda/mse.cuh"
#include "xrestore/metrics/psnr.hpp"

namespace xrestore::cuda {
/// xrestore::psnr (10 log10(data_range^2 / mse)) under the backend's namespace too.
using xrestore::psnr;
} // namespace xrestore::cuda
