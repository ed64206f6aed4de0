#pragma once
/// @file layer_bodies.hpp
/// The U-Net's element-wise and stencil arithmetic as host-device kernel bodies over planar
/// NCHW float32 buffers, and the forward pass written once against an executor. The CUDA U-Net
/// (backend/cuda/unet.cuh) runs the bodies in grid-stride kernels and its convolutions through
/// cuDNN; a CPU test runs the same bodies and the same pass in plain loops with direct
/// convolutions and compares with nn::unet, so the device arithmetic and the order of the steps
/// are checked without a GPU.
///
/// A "plane" is one H x W slab of one channel of one image: index p = n * C + c, and element i
/// of an N x C x H x W buffer lies in plane i / (H W). Instance normalisation works per plane.
///
/// @code
/// using namespace xrestore::nn::kernels;
/// for (std::size_t i = 0; i < planes * out_h * out_w; ++i)      // 2x2 average pooling
///     avg_pool2_body{in, out, h, w, h / 2, w / 2}(i);
/// @endcode

#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/nn/unet.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

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

// The denoiser's call conventions (denoisers/unet_denoiser.hpp): an image of C channels is
// split into groups of group_channels channels (all C, or one each for a single-channel network
// on a colour image); m_c is channel c's mean, s_g the unbiased standard deviation of group g's
// values, clamped below at 1e-4.

/// For group g: channel_mean[c] = channel_sums[c] / plane for its channels, and group_mean[g] =
/// (sum of those channel sums) / (group_channels plane).
struct group_mean_body {
    const double* channel_sums;
    std::size_t group_channels;
    std::size_t plane;
    double* channel_mean;
    double* group_mean;
    XRESTORE_HD void operator()(std::size_t g) const {
        double total = 0.0;
        for (std::size_t k = 0; k < group_channels; ++k) {
            const std::size_t c = g * group_channels + k;
            channel_mean[c] = channel_sums[c] / static_cast<double>(plane);
            total += channel_sums[c];
        }
        group_mean[g] = total / static_cast<double>(group_channels * plane);
    }
};

/// (x[i] - group_mean[g])^2 in double with g = i / group_size: the term of a group's sum of
/// squared deviations.
struct centred_square_term {
    const float* x;
    const double* group_mean;
    std::size_t group_size;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double d = static_cast<double>(x[i]) - group_mean[i / group_size];
        return d * d;
    }
};

/// scale[g] = max(sqrt(squares[g] / max(count - 1, 1)), floor): the unbiased standard
/// deviation of count values, clamped below.
struct group_scale_body {
    const double* squares;
    double count;
    double floor;
    double* scale;
    XRESTORE_HD void operator()(std::size_t g) const {
        const double dof = count - 1.0 < 1.0 ? 1.0 : count - 1.0;
        const double s = sqrt(squares[g] / dof);
        scale[g] = s < floor ? floor : s;
    }
};

/// out[i] = (y[i] - m_c) / s_g with c = i / plane, g = c / group_channels.
struct normalise_input_body {
    const float* y;
    const double* channel_mean;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        out[i] = static_cast<float>((static_cast<double>(y[i]) - channel_mean[c]) /
                                    scale[c / group_channels]);
    }
};

/// The normalised call's output: out[i] = s_g u[i] + m_c.
struct denormalise_output_body {
    const float* u;
    const double* channel_mean;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        const double v = scale[c / group_channels] * static_cast<double>(u[i]);
        out[i] = static_cast<float>(v + channel_mean[c]);
    }
};

/// The residual call's output: out[i] = y[i] - s_g u[i].
struct residual_output_body {
    const float* y;
    const float* u;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        const double v = scale[c / group_channels] * static_cast<double>(u[i]);
        out[i] = static_cast<float>(static_cast<double>(y[i]) - v);
    }
};

} // namespace kernels

/// What a layer of the planar forward pass computes.
enum class layer_kind {
    conv3x3,           ///< 3x3 convolution, zero padding 1, no bias (PyTorch Conv2d)
    conv_transpose2x2, ///< 2x2 stride-2 transposed convolution, no bias (ConvTranspose2d)
    conv1x1,           ///< 1x1 convolution with bias
};

/// One layer with weights: its kind, channels and state_dict names (without wrapper prefix).
/// Weights are in PyTorch's layout: Conv2d [out, in, kh, kw], ConvTranspose2d [in, out, 2, 2].
struct layer_spec {
    layer_kind kind = layer_kind::conv3x3;
    std::size_t in = 0;
    std::size_t out = 0;
    std::string weight;
    std::string bias; ///< empty when the layer has none
};

/// The layers of a fastMRI U-Net in the order the forward pass runs them: per encoder level l
/// two 3x3 layers (indices 2 l, 2 l + 1), the bottleneck's two (2 P, 2 P + 1), per decoder
/// step i the transposed convolution and two 3x3 layers (2 P + 2 + 3 i ...), the 1x1 head (5 P
/// + 2), with P the pool layers. The pass names a layer by this index.
inline std::vector<layer_spec> unet_layer_specs(const unet_config& config) {
    const std::size_t pools = config.num_pool_layers;
    std::vector<layer_spec> specs;
    auto block = [&](const std::string& name, std::size_t in, std::size_t out) {
        specs.push_back({layer_kind::conv3x3, in, out, name + ".layers.0.weight", {}});
        specs.push_back({layer_kind::conv3x3, out, out, name + ".layers.4.weight", {}});
    };
    std::size_t ch = config.chans;
    block("down_sample_layers.0", config.in_chans, ch);
    for (std::size_t l = 1; l < pools; ++l) {
        block("down_sample_layers." + std::to_string(l), ch, 2 * ch);
        ch *= 2;
    }
    block("conv", ch, 2 * ch);
    for (std::size_t i = 0; i < pools; ++i) {
        const std::string index = std::to_string(i);
        specs.push_back({layer_kind::conv_transpose2x2,
                         2 * ch,
                         ch,
                         "up_transpose_conv." + index + ".layers.0.weight",
                         {}});
        const bool final = i + 1 == pools;
        block(final ? "up_conv." + index + ".0" : "up_conv." + index, 2 * ch, ch);
        if (!final) {
            ch /= 2;
        }
    }
    const std::string head = "up_conv." + std::to_string(pools - 1) + ".1";
    specs.push_back(
        {layer_kind::conv1x1, config.chans, config.out_chans, head + ".weight", head + ".bias"});
    return specs;
}

/// One convolution the pass asks its executor for: layer `layer` of unet_layer_specs on `in`
/// (batch x spec.in x height x width) into `out` (batch x spec.out x height x width, or 2
/// height x 2 width for the transposed convolution). The 1x1 layer's bias is added by the pass.
struct conv_call {
    std::size_t layer = 0;
    const float* in = nullptr;
    float* out = nullptr;
    std::size_t batch = 0;
    std::size_t height = 0;
    std::size_t width = 0;
};

/// Where a forward pass over N x H x W keeps its activations: offsets (in floats) into one
/// float scratch, and the per-plane statistics (doubles).
struct planar_unet_layout {
    std::vector<std::size_t> heights; ///< H_l per encoder level, then the bottleneck's
    std::vector<std::size_t> widths;
    std::vector<std::size_t> skip_offsets; ///< encoder level l's output, kept for the decoder
    std::size_t work_a = 0;                ///< block intermediates, transposed conv outputs
    std::size_t work_b = 0;                ///< pooled maps, block outputs
    std::size_t concat = 0;                ///< [upsampled | skip] of a decoder level
    std::size_t coefficients = 0;          ///< scale and shift per plane
    std::size_t max_planes = 0;            ///< most planes one instance norm sees
    std::size_t floats = 0;                ///< float scratch size
    std::size_t doubles = 0;               ///< double scratch size (sum, sum_sq per plane)
};

/// The scratch layout of a forward pass of `config` over batch x height x width inputs (sizes
/// checked by the caller, see unet::check_input_size).
inline planar_unet_layout planar_unet_plan(const unet_config& config, std::size_t batch,
                                           std::size_t height, std::size_t width) {
    planar_unet_layout out;
    const std::size_t pools = config.num_pool_layers;
    std::size_t h = height;
    std::size_t w = width;
    std::size_t ch = config.chans;
    std::size_t skips = 0;
    std::size_t work = 0;
    std::size_t concat = 0;
    std::size_t planes = 0;
    for (std::size_t l = 0; l < pools; ++l) {
        out.heights.push_back(h);
        out.widths.push_back(w);
        out.skip_offsets.push_back(skips);
        skips += batch * ch * h * w;
        // mid and skip (ch x h x w), pooled (ch x h/2 x w/2)
        work = std::max(work, batch * ch * h * w);
        // decoder at this level: transposed output (ch x 2(h/2) x 2(w/2)), concat (2ch x h x w)
        concat = std::max(concat, batch * 2 * ch * h * w);
        planes = std::max(planes, batch * ch);
        h /= 2;
        w /= 2;
        if (l + 1 < pools) {
            ch *= 2;
        }
    }
    out.heights.push_back(h);
    out.widths.push_back(w);
    // bottleneck: ch -> 2 ch at the deepest size
    work = std::max(work, batch * 2 * ch * h * w);
    planes = std::max(planes, batch * 2 * ch);
    out.work_a = skips;
    out.work_b = out.work_a + work;
    out.concat = out.work_b + work;
    out.coefficients = out.concat + concat;
    out.max_planes = planes;
    out.floats = out.coefficients + 2 * planes;
    out.doubles = 2 * planes;
    return out;
}

/// The fastMRI U-Net's forward pass on x (batch x in_chans x height x width, planar) into y
/// (batch x out_chans x height x width), step for step as nn::unet runs it. `floats` and
/// `doubles` hold planar_unet_plan(...).floats and .doubles values. The executor provides
///   ex.convolve(const conv_call&)                   the convolution of one layer
///   ex.bias(layer) -> const float*                  the 1x1 layer's bias
///   ex.for_each_index(n, body)                      body(i) for i < n
///   ex.segment_sums(segments, length, term, out)    out[s] = sum of term(s length + i), i < length
/// and must run them in the order they are called (a CUDA stream does).
template <class Executor>
void planar_unet_forward(Executor& ex, const unet_config& config, const float* x, std::size_t batch,
                         std::size_t height, std::size_t width, float* y, float* floats,
                         double* doubles, float eps = 1e-5F, float slope = 0.2F) {
    const planar_unet_layout plan = planar_unet_plan(config, batch, height, width);
    const std::size_t pools = config.num_pool_layers;
    float* a = floats + plan.work_a;
    float* b = floats + plan.work_b;
    float* concat = floats + plan.concat;
    float* coefficients = floats + plan.coefficients;

    // In place on `planes` planes of `plane` values: instance norm, then LeakyReLU.
    auto norm = [&](float* v, std::size_t planes, std::size_t plane) {
        ex.segment_sums(planes, plane, xrestore::kernels::value_term{v}, doubles);
        ex.segment_sums(planes, plane, kernels::square_term{v}, doubles + planes);
        ex.for_each_index(planes, kernels::instance_norm_coefficients_body{
                                      doubles, doubles + planes, static_cast<double>(plane), eps,
                                      coefficients, coefficients + planes});
        ex.for_each_index(planes * plane,
                          kernels::normalise_leaky_relu_body{v, coefficients, coefficients + planes,
                                                             plane, slope});
    };
    // out = ConvBlock(in) through `mid`: (conv3x3, instance norm, LeakyReLU) twice.
    auto block = [&](std::size_t layer, const float* in, float* mid, float* out, std::size_t h,
                     std::size_t w, std::size_t channels) {
        ex.convolve(conv_call{layer, in, mid, batch, h, w});
        norm(mid, batch * channels, h * w);
        ex.convolve(conv_call{layer + 1, mid, out, batch, h, w});
        norm(out, batch * channels, h * w);
    };

    // Encoder: level l's block output is kept as the skip; its pooled copy feeds level l + 1.
    const float* input = x;
    std::size_t ch = config.chans;
    for (std::size_t l = 0; l < pools; ++l) {
        const std::size_t h = plan.heights[l];
        const std::size_t w = plan.widths[l];
        float* skip = floats + plan.skip_offsets[l];
        block(2 * l, input, a, skip, h, w, ch);
        const std::size_t ph = plan.heights[l + 1];
        const std::size_t pw = plan.widths[l + 1];
        ex.for_each_index(batch * ch * ph * pw, kernels::avg_pool2_body{skip, b, h, w, ph, pw});
        input = b;
        if (l + 1 < pools) {
            ch *= 2;
        }
    }
    // Bottleneck: ch -> 2 ch. Its first convolution reads `b` and writes `a`, so the second
    // may write `b`.
    block(2 * pools, b, a, b, plan.heights[pools], plan.widths[pools], 2 * ch);
    // Decoder: upsample (2 ch -> ch) into `a`, instance norm + LeakyReLU at 2 h' x 2 w', then
    // [reflect-padded upsampled | skip] into `concat`, and the block 2 ch -> ch into `b`.
    for (std::size_t i = 0; i < pools; ++i) {
        const std::size_t l = pools - 1 - i;
        const std::size_t h = plan.heights[l];
        const std::size_t w = plan.widths[l];
        const std::size_t uh = 2 * plan.heights[l + 1];
        const std::size_t uw = 2 * plan.widths[l + 1];
        const std::size_t transpose = 2 * pools + 2 + 3 * i;
        ex.convolve(conv_call{transpose, b, a, batch, plan.heights[l + 1], plan.widths[l + 1]});
        norm(a, batch * ch, uh * uw);
        ex.for_each_index(batch * ch * h * w,
                          kernels::reflect_pad_concat_body{a, ch, uh, uw, concat, 2 * ch, 0, h, w});
        ex.for_each_index(batch * ch * h * w,
                          kernels::reflect_pad_concat_body{floats + plan.skip_offsets[l], ch, h, w,
                                                           concat, 2 * ch, ch, h, w});
        block(transpose + 1, concat, a, b, h, w, ch);
        if (l > 0) {
            ch /= 2;
        }
    }
    // Head: 1x1 convolution chans -> out_chans, plus bias.
    const std::size_t head = 5 * pools + 2;
    ex.convolve(conv_call{head, b, y, batch, height, width});
    ex.for_each_index(batch * config.out_chans * height * width,
                      kernels::bias_add_body{y, ex.bias(head), config.out_chans, height * width});
}

/// The per-call statistics of the normalised and residual conventions, carved from
/// 2 channels + 3 groups doubles.
struct denoiser_statistics {
    double* base = nullptr;
    std::size_t channels = 0;
    std::size_t groups = 0;

    static std::size_t size(std::size_t channels, std::size_t groups) {
        return 2 * channels + 3 * groups;
    }
    [[nodiscard]] double* channel_sums() const { return base; }
    [[nodiscard]] double* channel_mean() const { return base + channels; }
    [[nodiscard]] double* group_mean() const { return base + 2 * channels; }
    [[nodiscard]] double* squares() const { return base + 2 * channels + groups; }
    [[nodiscard]] double* scale() const { return base + 2 * channels + 2 * groups; }
};

/// out = (y - m_c) / s_g for a C x plane image y in groups of `group_channels` channels; the
/// statistics stay in `stats` for denoiser_output.
template <class Executor>
void denoiser_normalise(Executor& ex, const float* y, std::size_t group_channels, std::size_t plane,
                        const denoiser_statistics& stats, float* out) {
    const std::size_t channels = stats.channels;
    const std::size_t groups = stats.groups;
    const std::size_t group_size = group_channels * plane;
    ex.segment_sums(channels, plane, xrestore::kernels::value_term{y}, stats.channel_sums());
    ex.for_each_index(groups, kernels::group_mean_body{stats.channel_sums(), group_channels, plane,
                                                       stats.channel_mean(), stats.group_mean()});
    ex.segment_sums(groups, group_size,
                    kernels::centred_square_term{y, stats.group_mean(), group_size},
                    stats.squares());
    ex.for_each_index(groups,
                      kernels::group_scale_body{stats.squares(), static_cast<double>(group_size),
                                                1e-4, stats.scale()});
    ex.for_each_index(channels * plane,
                      kernels::normalise_input_body{y, stats.channel_mean(), stats.scale(), plane,
                                                    group_channels, out});
}

/// The normalised (residual == false) or residual call's output from the network's output u.
template <class Executor>
void denoiser_output(Executor& ex, bool residual, const float* y, const float* u,
                     std::size_t group_channels, std::size_t plane,
                     const denoiser_statistics& stats, float* out) {
    const std::size_t count = stats.channels * plane;
    if (residual) {
        ex.for_each_index(
            count, kernels::residual_output_body{y, u, stats.scale(), plane, group_channels, out});
    } else {
        ex.for_each_index(count,
                          kernels::denormalise_output_body{u, stats.channel_mean(), stats.scale(),
                                                           plane, group_channels, out});
    }
}

} // namespace xrestore::nn
