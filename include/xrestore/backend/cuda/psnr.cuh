#pragma once
/// @file psnr.cuh
/// PSNR of two device arrays: xrestore::psnr finds the device mse overload (mse.cuh), so this
/// header only brings the two together.
///
/// @code
/// double db = xrestore::psnr(device_reference, device_estimate);   // data_range 1
/// @endcode

#include "xrestore/backend/cuda/mse.cuh"
#include "xrestore/metrics/psnr.hpp"
