#pragma once
/// @file unet.cuh
/// Moved: the device U-Net is nn/device_unet.cuh (`cuda::unet`, `cuda::load_unet`) and its
/// denoiser denoisers/unet_denoiser.cuh (`cuda::unet_denoiser`, `cuda::load_unet_denoiser`); the
/// cuDNN primitives are backend/cuda/cudnn.cuh. This forwarding header only keeps the old
/// umbrella backend/cuda.cuh building and goes once the umbrella includes the new headers (it is
/// the one backend/cuda/ header that reaches above core/ and backend/cuda/).
///
/// @code
/// #include <xrestore/nn/device_unet.cuh>             // cuda::unet, cuda::load_unet
/// #include <xrestore/denoisers/unet_denoiser.cuh>    // cuda::unet_denoiser
/// @endcode

#include "xrestore/denoisers/unet_denoiser.cuh"
#include "xrestore/nn/device_unet.cuh"
