#pragma once
/// @file cuda.cuh
/// The CUDA backend in one include (for .cu files compiled by nvcc; link xrestore::cuda): the
/// whole CPU library (xrestore.hpp), whose operator, metric and solver templates run on device
/// arrays unchanged, the backend's primitives (device arrays and buffers, launches, reductions,
/// tiles, cuDNN), the device U-Net and its denoiser, and the device spellings: `cuda::convolution`
/// is `basic_convolution<device_array<3>>`, and so on for every operator; `cuda::mse`,
/// `cuda::psnr`, `cuda::ssim`, `cuda::divergence` are the generic functions.
///
/// @code
/// #include <xrestore/cuda.cuh>
/// auto d = xrestore::to_device(xrestore::read_image("photo.png"));
/// xrestore::cuda::convolution blur(xrestore::convolution(xrestore::box_kernel(5), d.shape()));
/// @endcode

#include "xrestore/xrestore.hpp"

#include "xrestore/backend/cuda/cudnn.cuh"
#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/device_buffer.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/backend/cuda/scratch_block.cuh"
#include "xrestore/backend/cuda/tiled.cuh"
#include "xrestore/denoisers/unet_denoiser.cuh"
#include "xrestore/nn/device_unet.cuh"

namespace xrestore::cuda {

/// The blur (every boundary mode, exact adjoint; shared-memory tiles up to 32 x 32 kernels).
using convolution = basic_convolution<device_array<3>>;
/// The inpainting mask A x = m .* x.
using inpainting = basic_inpainting<device_array<3>>;
/// Decimation by an integer factor.
using decimation = basic_decimation<device_array<3>>;
/// Downsampling with optional anti-aliasing (its blur a device convolution).
using downsampling = basic_downsampling<device_array<3>>;
/// Forward differences, C x H x W -> 2 x C x H x W.
using gradient = basic_gradient<device_array<3>>;
/// The multi-level orthonormal Haar transform.
using haar_wavelet = basic_haar_wavelet<device_array<3>>;

using xrestore::divergence;
using xrestore::mse;
using xrestore::psnr;
using xrestore::ssim;

} // namespace xrestore::cuda
