#pragma once
/// @file xrestore.hpp
/// Umbrella header: every public xrestore header.
///
/// @code
/// #include <xrestore/xrestore.hpp>
/// xrestore::convolution blur(xrestore::box_kernel(13), {3, 256, 256});
/// @endcode

#include "xrestore/core/denoiser.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/heap_reuse.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/noise.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include "xrestore/io/atomic_file.hpp"
#include "xrestore/io/element_codec.hpp"
#include "xrestore/io/image.hpp"
#include "xrestore/io/kernel_file.hpp"
#include "xrestore/io/npy.hpp"
#include "xrestore/io/pickle.hpp"
#include "xrestore/io/pth.hpp"
#include "xrestore/io/safetensors.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/io/zip_archive.hpp"

#include "xrestore/operators/adjoint_check.hpp"
#include "xrestore/operators/boundary.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/operators/convolution.hpp"
#include "xrestore/operators/downsampling.hpp"
#include "xrestore/operators/gradient.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/operators/inpainting.hpp"
#include "xrestore/operators/kernels.hpp"
#include "xrestore/operators/operator_norm.hpp"

#include "xrestore/prox/haar_l1.hpp"
#include "xrestore/prox/projection.hpp"
#include "xrestore/prox/soft_threshold.hpp"
#include "xrestore/prox/tv.hpp"
#include "xrestore/prox/wavelet_bands.hpp"

#include "xrestore/solvers/admm.hpp"
#include "xrestore/solvers/cg.hpp"
#include "xrestore/solvers/fft.hpp"
#include "xrestore/solvers/fista.hpp"
#include "xrestore/solvers/gradient_descent.hpp"
#include "xrestore/solvers/monitor.hpp"
#include "xrestore/solvers/pnp.hpp"
#include "xrestore/solvers/red.hpp"
#include "xrestore/solvers/richardson_lucy.hpp"
#include "xrestore/solvers/tikhonov.hpp"
#include "xrestore/solvers/tikhonov_fft.hpp"
#include "xrestore/solvers/tv.hpp"

#include "xrestore/denoisers/gaussian_denoiser.hpp"
#include "xrestore/denoisers/haar_denoiser.hpp"
#include "xrestore/denoisers/tv_denoiser.hpp"
#include "xrestore/denoisers/unet_denoiser.hpp"
#include "xrestore/nn/feature_map.hpp"
#include "xrestore/nn/gemm.hpp"
#include "xrestore/nn/layers.hpp"
#include "xrestore/nn/unet.hpp"

#include "xrestore/metrics/blur_effect.hpp"
#include "xrestore/metrics/estimate_sigma.hpp"
#include "xrestore/metrics/gmsd.hpp"
#include "xrestore/metrics/laplacian_variance.hpp"
#include "xrestore/metrics/masked.hpp"
#include "xrestore/metrics/ms_ssim.hpp"
#include "xrestore/metrics/mse.hpp"
#include "xrestore/metrics/psnr.hpp"
#include "xrestore/metrics/ssim.hpp"
#include "xrestore/metrics/total_variation.hpp"
