#pragma once
/// @file cuda.cuh
/// The CUDA backend in one include (for .cu files compiled by nvcc; link xrestore::cuda):
/// device arrays and their vector space, the device operators, metrics and U-Net, plus the
/// whole CPU library (xrestore.hpp), whose solver templates run on device arrays unchanged.
///
/// @code
/// #include <xrestore/backend/cuda.cuh>
/// auto d = xrestore::to_device(xrestore::read_image("photo.png"));
/// xrestore::cuda::convolution blur(xrestore::convolution(xrestore::box_kernel(5), d.shape()));
/// @endcode

#include "xrestore/xrestore.hpp"

#include "xrestore/backend/cuda/convolution.cuh"
#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/device_buffer.cuh"
#include "xrestore/backend/cuda/downsampling.cuh"
#include "xrestore/backend/cuda/gradient.cuh"
#include "xrestore/backend/cuda/haar.cuh"
#include "xrestore/backend/cuda/inpainting.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/mse.cuh"
#include "xrestore/backend/cuda/psnr.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/backend/cuda/ssim.cuh"
#include "xrestore/backend/cuda/tiled.cuh"
#include "xrestore/backend/cuda/unet.cuh"
