#pragma once
/// @file layer_bodies.hpp
/// The U-Net's element-wise and stencil arithmetic as host-device kernel bodies over planar
/// NCHW float32 buffers: instance norm (per-plane sums, coefficients, normalise + LeakyReLU),
/// 2x2 average pooling, reflect padding with channel concatenation, the head's bias. The planar
/// pass (nn/planar_unet.hpp) runs them; the device U-Net (nn/device_unet.cuh) in grid-stride
/// kernels, a CPU test in plain loops against the CPU layers, so the device arithmetic is
/// checked without a GPU.
///
/// A "plane" is one H x W slab of one channel of one image: index p = n * C + c, and element i
/// of an N x C x H x W buffer lies in plane i / (H W). Instance normalisation works per plane.
///
/// @code
/// using namespace xrestore::nn::kernels;
/// for (std::size_t i = 0; i < planes * out_h * out_w; ++i)      // 2x2 average pooling
///     avg_pool2_body{in, out, h, w, h / 2, w / 2}(i);
/// @endcode

#include "xrestore/core/host_device.hpp"

#include <cmath>
#include <cstddef>

namespace xrestore::nn {

namespace kernels {

/// x[i]^2 in double: the term of a plane's sum of squares (its sum uses xrestore::kernels::
/// value_term).
struct square_term {
    const float* x;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double v = static_cast<double>(x[i]);
        return v * v;
    }
};

/// Instance-norm coefficients of plane p from its sums over `count` values, as nn::layers
/// computes them: mean m = sum / count, biased variance v = max(0, sum_sq / count - m^2),
/// inverse standard deviation scale = 1 / sqrt(v + eps), shift = -m * scale, so that the
/// normalised value is x * scale + shift = (x - m) / sqrt(v + eps).
struct instance_norm_coefficients_body {
    const double* sum;
    const double* sum_sq;
    double count;
    float eps;
    float* scale;
    float* shift;
    XRESTORE_HD void operator()(std::size_t p) const {
        const double mean = sum[p] / count;
        double variance = sum_sq[p] / count - mean * mean;
        variance = variance < 0.0 ? 0.0 : variance;
        const auto s = static_cast<float>(1.0 / sqrt(variance + static_cast<double>(eps)));
        scale[p] = s;
        shift[p] = static_cast<float>(-mean) * s;
    }
};

/// In place: x[i] = LeakyReLU(x[i] * scale[p] + shift[p]) with p = i / plane, negative slope
/// `slope` in [0, 1] (so LeakyReLU(v) = max(v, slope v)).
struct normalise_leaky_relu_body {
    float* x;
    const float* scale;
    const float* shift;
    std::size_t plane;
    float slope;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t p = i / plane;
        const float v = x[i] * scale[p] + shift[p];
        const float leak = v * slope;
        x[i] = v < leak ? leak : v;
    }
};

/// 2x2 average pooling, stride 2, per plane: out (out_height x out_width, the halved sizes
/// rounded down) from in (in_height x in_width). Index i runs over planes x out_height x
/// out_width; the four values are added in nn::avg_pool2's order.
struct avg_pool2_body {
    const float* in;
    float* out;
    std::size_t in_height;
    std::size_t in_width;
    std::size_t out_height;
    std::size_t out_width;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t x = i % out_width;
        const std::size_t rest = i / out_width;
        const std::size_t y = rest % out_height;
        const std::size_t p = rest / out_height;
        const float* a = in + (p * in_height + 2 * y) * in_width + 2 * x;
        const float* c = a + in_width;
        out[i] = ((a[0] + a[1]) + (c[0] + c[1])) * 0.25F;
    }
};

/// Channel concatenation with reflect padding: src (N x src_channels x src_height x
/// src_width) goes to channels [channel_offset, channel_offset + src_channels) of dst (N x
/// dst_channels x dst_height x dst_width). Rows and columns past the source's are mirrored
/// about its last one (row src_height takes row src_height - 2), as nn::reflect_pad_to and
/// PyTorch's F.pad(..., "reflect") do; the caller guarantees dst_height <= 2 src_height - 1
/// (and the same for widths). With equal sizes this is a plain channel copy. Index i runs over
/// N x src_channels x dst_height x dst_width.
struct reflect_pad_concat_body {
    const float* src;
    std::size_t src_channels;
    std::size_t src_height;
    std::size_t src_width;
    float* dst;
    std::size_t dst_channels;
    std::size_t channel_offset;
    std::size_t dst_height;
    std::size_t dst_width;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t x = i % dst_width;
        std::size_t rest = i / dst_width;
        const std::size_t y = rest % dst_height;
        rest /= dst_height;
        const std::size_t c = rest % src_channels;
        const std::size_t n = rest / src_channels;
        const std::size_t sy = y < src_height ? y : 2 * src_height - 2 - y;
        const std::size_t sx = x < src_width ? x : 2 * src_width - 2 - x;
        dst[((n * dst_channels + channel_offset + c) * dst_height + y) * dst_width + x] =
            src[((n * src_channels + c) * src_height + sy) * src_width + sx];
    }
};

/// In place: x[i] += bias[c] with c = (i / plane) % channels (an N x channels x H x W map).
struct bias_add_body {
    float* x;
    const float* bias;
    std::size_t channels;
    std::size_t plane;
    XRESTORE_HD void operator()(std::size_t i) const { x[i] += bias[(i / plane) % channels]; }
};

} // namespace kernels

} // namespace xrestore::nn
