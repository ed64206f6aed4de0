#pragma once
/// @file planar_unet.hpp
/// The fastMRI U-Net's forward pass over planar N x C x H x W float32 buffers, written once
/// against an executor and read from the architecture table: the device U-Net
/// (nn/device_unet.cuh) runs it with cuDNN convolutions and CUDA kernels, a CPU test with direct
/// convolutions and plain loops against nn::unet, so the order of the device's steps is checked
/// without a GPU. Its activations are named slices of one float scratch (planar_unet_layout).
///
/// @code
/// const xrestore::nn::unet_architecture arch(config);
/// const auto layout = xrestore::nn::planar_unet_plan(arch, batch, height, width);
/// xrestore::nn::planar_unet_forward(ex, arch, layout, x, y, floats, doubles);
/// @endcode

#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/nn/layer_bodies.hpp"
#include "xrestore/nn/unet_architecture.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace xrestore::nn {

/// One convolution the pass asks its executor for: layer `layer` of the architecture table on
/// `in` (batch x spec.in x height x width) into `out` (batch x spec.out x height x width, or 2
/// height x 2 width for the transposed convolution). The 1x1 layer's bias is added by the pass.
struct conv_call {
    std::size_t layer = 0;
    const float* in = nullptr;
    float* out = nullptr;
    std::size_t batch = 0;
    std::size_t height = 0;
    std::size_t width = 0;
};

/// A planar activation: batch x channels x height x width floats from `offset` in the scratch.
struct planar_map {
    std::size_t offset = 0;
    std::size_t channels = 0;
    std::size_t height = 0;
    std::size_t width = 0;
};

/// Where a forward pass over batch x H x W inputs keeps its activations: offsets (in floats)
/// into one float scratch, named as in unet_activations, and per layer the instance norm's
/// scale and shift per plane; the per-plane sums go to a double scratch.
struct planar_unet_layout {
    std::size_t batch = 0;
    unet_level_sizes sizes;
    /// `maps.input` is not in the scratch: the pass reads the caller's x.
    unet_activations<planar_map> maps;
    /// Per layer index: the offset of its scale (then its shift) per plane; unused for the head.
    std::vector<std::size_t> coefficients;
    std::size_t floats = 0;  ///< float scratch size
    std::size_t doubles = 0; ///< double scratch size (sum, sum_sq per plane of the largest norm)
};

/// The scratch layout of a pass of `arch` over batch x height x width inputs (sizes checked by
/// the caller, see check_unet_input_size). With `keep_activations` every activation and every
/// layer's norm coefficients have their own slice (what a backward pass reads); without, the
/// skips are kept and the rest share three areas: block intermediates and upsampled maps,
/// pooled maps and block outputs, the decoder's concatenations.
inline planar_unet_layout planar_unet_plan(const unet_architecture& arch, std::size_t batch,
                                           std::size_t height, std::size_t width,
                                           bool keep_activations = false) {
    planar_unet_layout out;
    out.batch = batch;
    out.sizes = arch.sizes(height, width);
    const unet_level_sizes& s = out.sizes;
    const std::size_t pools = arch.pools();
    unet_activations<planar_map>& m = out.maps;
    m.input = planar_map{0, arch.config().in_chans, height, width};
    m.down.assign(pools, {});
    m.pooled.assign(pools, {});
    m.upsampled.assign(pools, {});
    m.concat.assign(pools, {});
    m.up.assign(pools, {});

    std::size_t total = 0;
    auto own = [&](planar_map& map) {
        map.offset = total;
        total += batch * map.channels * map.height * map.width;
    };
    // Shared areas: the maps of each, placed once the largest is known.
    constexpr std::size_t mids = 0;
    constexpr std::size_t outputs = 1;
    constexpr std::size_t concats = 2;
    std::vector<planar_map*> shared[3];
    std::size_t shared_size[3] = {0, 0, 0};
    auto place = [&](std::size_t area, planar_map& map, std::size_t channels, std::size_t h,
                     std::size_t w) {
        map = planar_map{0, channels, h, w};
        if (keep_activations) {
            own(map);
            return;
        }
        shared[area].push_back(&map);
        shared_size[area] = std::max(shared_size[area], batch * channels * h * w);
    };
    auto at_level = [&](std::size_t area, planar_map& map, std::size_t channels, std::size_t l) {
        place(area, map, channels, s.heights[l], s.widths[l]);
    };
    // Encoder level l's output is the skip of decoder level l: always kept.
    for (std::size_t l = 0; l < pools; ++l) {
        m.down[l].out = planar_map{0, arch.channels(l), s.heights[l], s.widths[l]};
        own(m.down[l].out);
    }
    for (std::size_t l = 0; l < pools; ++l) {
        at_level(mids, m.down[l].mid, arch.channels(l), l);
        at_level(outputs, m.pooled[l], arch.channels(l), l + 1);
    }
    at_level(mids, m.bottleneck.mid, arch.channels(pools), pools);
    at_level(outputs, m.bottleneck.out, arch.channels(pools), pools);
    for (std::size_t i = 0; i < pools; ++i) {
        const std::size_t l = arch.decoder_level(i);
        const std::size_t c = arch.channels(l);
        place(mids, m.upsampled[i], c, 2 * s.heights[l + 1], 2 * s.widths[l + 1]);
        at_level(concats, m.concat[i], 2 * c, l);
        at_level(mids, m.up[i].mid, c, l);
        at_level(outputs, m.up[i].out, c, l);
    }
    for (std::size_t area = 0; area < 3; ++area) {
        for (planar_map* map : shared[area]) {
            map->offset = total;
        }
        total += shared_size[area];
    }
    // Norm coefficients: 2 planes floats per normalised layer (all but the head), one area
    // when not kept.
    const std::size_t normalised = arch.layers().size() - 1;
    std::size_t planes = 0;
    for (std::size_t k = 0; k < normalised; ++k) {
        planes = std::max(planes, batch * arch.layers()[k].out);
    }
    out.coefficients.assign(arch.layers().size(), total);
    if (keep_activations) {
        for (std::size_t k = 0; k < normalised; ++k) {
            out.coefficients[k] = total;
            total += 2 * batch * arch.layers()[k].out;
        }
    } else {
        total += 2 * planes;
    }
    out.floats = total;
    out.doubles = 2 * planes;
    return out;
}

/// The fastMRI U-Net's forward pass on x (batch x in_chans x H x W, planar) into y (batch x
/// out_chans x H x W) in `layout`, step for step as nn::unet runs it. `floats` and `doubles`
/// hold layout.floats and layout.doubles values. The executor provides
///   ex.convolve(const conv_call&)                   the convolution of one layer
///   ex.bias(layer) -> const float*                  the 1x1 layer's bias
///   ex.for_each_index(n, body)                      body(i) for i < n
///   ex.segment_sums(segments, length, term, out)    out[s] = sum of term(s length + i), i < length
/// and must run them in the order they are called (a CUDA stream does).
template <class Executor>
void planar_unet_forward(Executor& ex, const unet_architecture& arch,
                         const planar_unet_layout& layout, const float* x, float* y, float* floats,
                         double* doubles, float eps = 1e-5F, float slope = 0.2F) {
    const std::size_t batch = layout.batch;
    const std::size_t pools = arch.pools();
    const unet_activations<planar_map>& a = layout.maps;
    auto at = [&](const planar_map& m) { return floats + m.offset; };

    // In place on map m: instance norm (coefficients of layer `layer`), then LeakyReLU.
    auto norm = [&](std::size_t layer, const planar_map& m) {
        const std::size_t planes = batch * m.channels;
        const std::size_t plane = m.height * m.width;
        float* v = at(m);
        float* scale = floats + layout.coefficients[layer];
        ex.segment_sums(planes, plane, xrestore::kernels::value_term{v}, doubles);
        ex.segment_sums(planes, plane, kernels::square_term{v}, doubles + planes);
        ex.for_each_index(planes, kernels::instance_norm_coefficients_body{
                                      doubles, doubles + planes, static_cast<double>(plane), eps,
                                      scale, scale + planes});
        ex.for_each_index(planes * plane, kernels::normalise_leaky_relu_body{
                                              v, scale, scale + planes, plane, slope});
    };
    // ConvBlock from layer `layer` on `in`: (conv3x3, instance norm, LeakyReLU) twice.
    auto conv_block = [&](std::size_t layer, const float* in,
                          const unet_activations<planar_map>::conv_block& maps) {
        const std::size_t h = maps.mid.height;
        const std::size_t w = maps.mid.width;
        ex.convolve(conv_call{layer, in, at(maps.mid), batch, h, w});
        norm(layer, maps.mid);
        ex.convolve(conv_call{layer + 1, at(maps.mid), at(maps.out), batch, h, w});
        norm(layer + 1, maps.out);
    };

    // for layer in down_sample_layers: output = layer(output); stack.append(output);
    //                                   output = avg_pool2d(output, 2)
    const float* output = x;
    for (std::size_t l = 0; l < pools; ++l) {
        const unet_activations<planar_map>::conv_block& block = a.down[l];
        conv_block(arch.down(l), output, block);
        const planar_map& pooled = a.pooled[l];
        ex.for_each_index(batch * pooled.channels * pooled.height * pooled.width,
                          kernels::avg_pool2_body{at(block.out), at(pooled), block.out.height,
                                                  block.out.width, pooled.height, pooled.width});
        output = at(pooled);
    }
    // output = conv(output); in the shared layout its output overwrites its input, which only
    // its first convolution reads
    conv_block(arch.bottleneck(), output, a.bottleneck);
    const planar_map* deep = &a.bottleneck.out;
    // for transpose_conv, conv in zip(up_transpose_conv, up_conv): output =
    //     transpose_conv(output) (with instance norm, LeakyReLU), then [reflect-padded output |
    //     skip] into concat, conv(concat)
    for (std::size_t i = 0; i < pools; ++i) {
        const std::size_t l = arch.decoder_level(i);
        const planar_map& up = a.upsampled[i];
        const planar_map& skip = a.down[l].out;
        const planar_map& concat = a.concat[i];
        const std::size_t transpose = arch.up_transpose(i);
        ex.convolve(conv_call{transpose, at(*deep), at(up), batch, deep->height, deep->width});
        norm(transpose, up);
        const std::size_t c = skip.channels;
        const std::size_t h = skip.height;
        const std::size_t w = skip.width;
        ex.for_each_index(batch * c * h * w,
                          kernels::reflect_pad_concat_body{at(up), c, up.height, up.width,
                                                           at(concat), 2 * c, 0, h, w});
        ex.for_each_index(batch * c * h * w, kernels::reflect_pad_concat_body{
                                                 at(skip), c, h, w, at(concat), 2 * c, c, h, w});
        conv_block(arch.up(i), at(concat), a.up[i]);
        deep = &a.up[i].out;
    }
    // the 1x1 head (up_conv.(P-1).1) chans -> out_chans, plus bias
    const std::size_t head = arch.head();
    const std::size_t out_chans = arch.config().out_chans;
    ex.convolve(conv_call{head, at(*deep), y, batch, deep->height, deep->width});
    ex.for_each_index(
        batch * out_chans * deep->height * deep->width,
        kernels::bias_add_body{y, ex.bias(head), out_chans, deep->height * deep->width});
}

} // namespace xrestore::nn
