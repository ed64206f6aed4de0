#pragma once
/// @file unet_architecture.hpp
/// The fastMRI U-Net's architecture as one table: every layer with weights (kind, channels,
/// state_dict names, level) in the order the forward pass runs them, the size of every level for
/// an input size, the FLOP count, and the names of the activations a pass keeps. The CPU network
/// (nn/unet.hpp), the planar pass of the device network (nn/planar_unet.hpp), the loader
/// (nn/unet_state_dict.hpp) and the random networks of the tests all read it.
///
/// @code
/// const xrestore::nn::unet_architecture arch({.in_chans = 3, .out_chans = 3, .chans = 32,
///                                              .num_pool_layers = 4});
/// for (const xrestore::nn::layer_spec& l : arch.layers()) std::cout << l.weight << '\n';
/// const double gflop = arch.flops(256, 256) * 1e-9; // 24.15
/// @endcode
///
/// The PyTorch module `Unet(in_chans, out_chans, chans, num_pool_layers)` with P pool layers and
/// C_l = chans 2^l channels at level l (the input is level 0, the bottleneck level P):
///   down_sample_layers.l   ConvBlock C_{l-1} -> C_l at level l (in_chans -> chans for l = 0),
///                          its output kept as the skip of level l, then 2x2 average pooling
///   conv                   ConvBlock C_{P-1} -> C_P at level P (the bottleneck)
///   up_transpose_conv.i    ConvTranspose2d C_{l+1} -> C_l from level l + 1 to level l, instance
///                          norm, LeakyReLU, reflect padding to the skip's size (l = P - 1 - i)
///   up_conv.i              ConvBlock 2 C_l -> C_l on [upsampled | skip] at level l; the last is
///                          up_conv.(P-1).0 followed by the 1x1 head up_conv.(P-1).1 chans ->
///                          out_chans with bias
/// A ConvBlock is (3x3 convolution, instance norm, LeakyReLU 0.2) twice: `<block>.layers.0` and
/// `<block>.layers.4`.

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::nn {

/// The hyper-parameters of a fastMRI U-Net (`Unet(in_chans, out_chans, chans, num_pool_layers)`).
struct unet_config {
    std::size_t in_chans = 0;
    std::size_t out_chans = 0;
    std::size_t chans = 0;
    std::size_t num_pool_layers = 0;

    friend bool operator==(const unet_config&, const unet_config&) = default;
};

/// Throw shape_error unless an H x W input suits the pool depth of `config`: every level must
/// keep at least one pixel and the deepest level more than one (instance norm needs two values).
/// So with P pool layers each side must be at least 2^P and one of them at least 2 x 2^P: the
/// smallest square input is 2^(P+1) x 2^(P+1) (32 x 32 for 4 pools), the smallest of all
/// 2^P x 2^(P+1). Shared by the CPU and the device networks.
inline void check_unet_input_size(const unet_config& config, std::size_t height,
                                  std::size_t width) {
    const std::size_t p = config.num_pool_layers;
    const std::size_t h = height >> p;
    const std::size_t w = width >> p;
    if (h == 0 || w == 0 || h * w < 2) {
        const std::size_t side = std::size_t{1} << p;
        throw shape_error(xrestore::detail::concat(
            "unet: input ", height, " x ", width, " is too small for ", p,
            " pool layers: the smallest square input is ", 2 * side, " x ", 2 * side,
            " (each side at least 2^", p, " = ", side, " and one of them at least 2 x 2^", p, " = ",
            2 * side, ", so that the ", p, "-times halved image, ", h, " x ", w,
            " here, keeps the 2 pixels instance norm needs)"));
    }
}

/// Throw shape_error unless an N x C x H x W batch suits a network of `config`: N >= 1, C =
/// in_chans, and H x W as check_unet_input_size asks. Shared by the CPU and the device networks.
inline void check_unet_batch(const unet_config& config, const std::array<std::size_t, 4>& shape) {
    if (shape[0] == 0 || shape[1] != config.in_chans) {
        throw shape_error(xrestore::detail::concat("unet: input must have shape N x ",
                                                   config.in_chans, " x H x W with N >= 1, got ",
                                                   shape_string(shape)));
    }
    check_unet_input_size(config, shape[2], shape[3]);
}

/// What a layer with weights computes.
enum class layer_kind {
    conv3x3,           ///< 3x3 convolution, zero padding 1, no bias (PyTorch Conv2d)
    conv_transpose2x2, ///< 2x2 stride-2 transposed convolution, no bias (ConvTranspose2d)
    conv1x1,           ///< 1x1 convolution with bias
};

/// Side of the square kernel of a layer kind: 3, 2 or 1.
inline std::size_t kernel_size(layer_kind kind) {
    switch (kind) {
    case layer_kind::conv3x3:
        return 3;
    case layer_kind::conv_transpose2x2:
        return 2;
    case layer_kind::conv1x1:
        return 1;
    }
    return 0;
}

/// One layer with weights: its kind, channels, state_dict names (without wrapper prefix) and the
/// level of its output. Weights are in PyTorch's layout: Conv2d [out, in, k, k],
/// ConvTranspose2d [in, out, 2, 2].
struct layer_spec {
    layer_kind kind = layer_kind::conv3x3;
    std::size_t in = 0;
    std::size_t out = 0;
    std::string weight;
    std::string bias;      ///< empty when the layer has none
    std::size_t level = 0; ///< the level of the output; the input is one deeper when transposed

    /// The level whose size the layer's input has.
    [[nodiscard]] std::size_t input_level() const {
        return kind == layer_kind::conv_transpose2x2 ? level + 1 : level;
    }
    /// The PyTorch shape of the weight tensor.
    [[nodiscard]] std::vector<std::size_t> weight_shape() const {
        const std::size_t k = kernel_size(kind);
        if (kind == layer_kind::conv_transpose2x2) {
            return {in, out, k, k};
        }
        return {out, in, k, k};
    }
    /// Inputs that feed one output value (PyTorch's fan_in of the weight).
    [[nodiscard]] std::size_t fan_in() const {
        const std::size_t k = kernel_size(kind);
        return kind == layer_kind::conv_transpose2x2 ? out * k * k : in * k * k;
    }
};

/// Height and width of every level for one input: level 0 is the input, level l + 1 halves
/// level l (rounded down), level P is the bottleneck.
struct unet_level_sizes {
    std::vector<std::size_t> heights;
    std::vector<std::size_t> widths;

    [[nodiscard]] std::size_t pixels(std::size_t level) const {
        return heights.at(level) * widths.at(level);
    }
};

/// The activations of one forward pass, named after the steps of the PyTorch module's forward.
/// `Map` says where each lives (a feature map on the CPU, an offset into the device scratch).
template <class Map>
struct unet_activations {
    /// A ConvBlock's two normalised outputs: after its first and after its second convolution.
    struct conv_block {
        Map mid;
        Map out;
    };
    Map input;                    ///< the image at level 0
    std::vector<conv_block> down; ///< down[l]: level l's block; down[l].out is its skip
    std::vector<Map> pooled;      ///< pooled[l]: down[l].out pooled, the input of level l + 1
    conv_block bottleneck;        ///< the block at level P
    std::vector<Map> upsampled;   ///< per decoder step i: transposed conv, norm, LeakyReLU
    std::vector<Map> concat;      ///< per decoder step i: [padded upsampled | skip]
    std::vector<conv_block> up;   ///< per decoder step i: the block on concat[i]
};

/// The layer table of one configuration. Layer indices follow the forward pass: per encoder
/// level l two 3x3 layers (down(l), down(l) + 1), the bottleneck's two, per decoder step i the
/// transposed convolution up_transpose(i) and the block's two 3x3 layers up(i), up(i) + 1, and
/// the 1x1 head last.
class unet_architecture {
public:
    /// The most pool layers a network may have.
    static constexpr std::size_t max_pools = 16;

    unet_architecture() = default;

    /// The table of `config`; value_error unless it has 1 to 16 pool layers and no zero channels.
    explicit unet_architecture(const unet_config& config) : config_(config) {
        const std::size_t pools = config.num_pool_layers;
        require(pools >= 1 && pools <= max_pools, "unet_architecture", "num_pool_layers",
                "in [1, 16]", pools);
        require(
            config.in_chans > 0 && config.out_chans > 0 && config.chans > 0, "unet_architecture",
            "in_chans, out_chans and chans", "positive",
            xrestore::detail::concat(config.in_chans, ", ", config.out_chans, ", ", config.chans));
        auto conv_block = [&](const std::string& name, std::size_t in, std::size_t out,
                              std::size_t level) {
            layers_.push_back({layer_kind::conv3x3, in, out, name + ".layers.0.weight", {}, level});
            layers_.push_back(
                {layer_kind::conv3x3, out, out, name + ".layers.4.weight", {}, level});
        };
        for (std::size_t l = 0; l < pools; ++l) {
            conv_block("down_sample_layers." + std::to_string(l),
                       l == 0 ? config.in_chans : channels(l - 1), channels(l), l);
        }
        conv_block("conv", channels(pools - 1), channels(pools), pools);
        for (std::size_t i = 0; i < pools; ++i) {
            const std::size_t l = decoder_level(i);
            const std::string index = std::to_string(i);
            layers_.push_back({layer_kind::conv_transpose2x2,
                               channels(l + 1),
                               channels(l),
                               "up_transpose_conv." + index + ".layers.0.weight",
                               {},
                               l});
            conv_block(i + 1 == pools ? "up_conv." + index + ".0" : "up_conv." + index,
                       2 * channels(l), channels(l), l);
        }
        const std::string head = "up_conv." + std::to_string(pools - 1) + ".1";
        layers_.push_back({layer_kind::conv1x1, config.chans, config.out_chans, head + ".weight",
                           head + ".bias", 0});
    }

    [[nodiscard]] const unet_config& config() const { return config_; }
    [[nodiscard]] std::size_t pools() const { return config_.num_pool_layers; }
    /// Every layer with weights, in the order the forward pass runs them.
    [[nodiscard]] const std::vector<layer_spec>& layers() const { return layers_; }

    /// Channels of the feature maps at level l: chans 2^l (level P: the bottleneck's output).
    [[nodiscard]] std::size_t channels(std::size_t level) const { return config_.chans << level; }
    /// The level that decoder step i (up_transpose_conv.i, up_conv.i) works at: P - 1 - i.
    [[nodiscard]] std::size_t decoder_level(std::size_t step) const { return pools() - 1 - step; }

    /// Index of the first 3x3 layer of encoder level l's block.
    [[nodiscard]] std::size_t down(std::size_t level) const { return 2 * level; }
    /// Index of the bottleneck block's first 3x3 layer.
    [[nodiscard]] std::size_t bottleneck() const { return 2 * pools(); }
    /// Index of decoder step i's transposed convolution.
    [[nodiscard]] std::size_t up_transpose(std::size_t step) const {
        return 2 * pools() + 2 + 3 * step;
    }
    /// Index of the first 3x3 layer of decoder step i's block.
    [[nodiscard]] std::size_t up(std::size_t step) const { return up_transpose(step) + 1; }
    /// Index of the 1x1 head.
    [[nodiscard]] std::size_t head() const { return 5 * pools() + 2; }

    /// The size of every level for an H x W input (check_unet_input_size is the caller's).
    [[nodiscard]] unet_level_sizes sizes(std::size_t height, std::size_t width) const {
        unet_level_sizes s;
        for (std::size_t l = 0; l <= pools(); ++l) {
            s.heights.push_back(height >> l);
            s.widths.push_back(width >> l);
        }
        return s;
    }

    /// Floating-point operations of one forward pass on an H x W image (multiply-adds count 2):
    /// 2 in out k^2 per pixel of each layer's input.
    [[nodiscard]] double flops(std::size_t height, std::size_t width) const {
        const unet_level_sizes s = sizes(height, width);
        double total = 0.0;
        for (const layer_spec& layer : layers_) {
            const std::size_t k = kernel_size(layer.kind);
            total += 2.0 * static_cast<double>(layer.in * layer.out * k * k *
                                               s.pixels(layer.input_level()));
        }
        return total;
    }

private:
    unet_config config_;
    std::vector<layer_spec> layers_;
};

} // namespace xrestore::nn
