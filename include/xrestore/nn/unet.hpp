#pragma once
/// @file unet.hpp
/// The fastMRI U-Net forward pass, loaded from a PyTorch state_dict. The architecture (input and
/// output channels, base channels, pool layers) is read from the weight shapes; every tensor's
/// name and shape is checked, and the error names the tensor, the expected and the found shape.
///
/// @code
/// auto net = xrestore::nn::unet::from_state_dict(xrestore::load_weights("denoiser.pth"));
/// xrestore::tensor<4> y = net.forward(x);        // x: N x in_chans x H x W
/// xrestore::image one = net.forward(img);        // img: in_chans x H x W
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/feature_map.hpp"
#include "xrestore/nn/layers.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
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

/// Two 3x3 convolutions, each followed by instance norm and LeakyReLU 0.2 (fastMRI ConvBlock).
struct conv_block {
    conv3x3_weights first;
    conv3x3_weights second;
};

namespace detail {

/// Key prefixes that wrappers add (Lightning modules, DataParallel) and that are stripped when
/// every key carries the same one.
inline constexpr std::array<std::string_view, 3> wrapper_prefixes = {"unet.", "module.", "model."};

inline std::string strip_prefix(const state_dict& sd, std::string_view& prefix_out) {
    for (std::string_view prefix : wrapper_prefixes) {
        const bool all =
            !sd.empty() && std::all_of(sd.entries().begin(), sd.entries().end(),
                                       [&](const auto& e) { return e.first.starts_with(prefix); });
        if (all) {
            prefix_out = prefix;
            return std::string(prefix);
        }
    }
    prefix_out = {};
    return {};
}

} // namespace detail

/// Throw shape_error unless an H x W input suits the pool depth of `config`: every level must
/// keep at least one pixel and the deepest level more than one (instance norm needs two values).
/// Shared by the CPU and the device networks.
inline void check_unet_input_size(const unet_config& config, std::size_t height,
                                  std::size_t width) {
    const std::size_t p = config.num_pool_layers;
    const std::size_t h = height >> p;
    const std::size_t w = width >> p;
    if (h == 0 || w == 0 || h * w < 2) {
        throw shape_error(xrestore::detail::concat(
            "unet: input ", height, " x ", width, " is too small for ", p,
            " pool layers: height and width must be at least ", std::size_t{1} << p, " and the ", p,
            "-times halved size must have more than one pixel"));
    }
}

/// A fastMRI U-Net with its weights, ready to run. `forward` reuses an internal workspace (one
/// allocation per input size); calls on one object are serialised by a mutex, so use one object
/// per thread for parallel inference.
class unet {
public:
    /// Build from a state_dict; infers the configuration and checks every tensor.
    static unet from_state_dict(const state_dict& sd) {
        unet net;
        std::string_view prefix;
        const std::string pre = detail::strip_prefix(sd, prefix);
        std::set<std::string> used;
        auto get = [&](const std::string& name) -> const weight_tensor& {
            used.insert(pre + name);
            const weight_tensor* t = sd.find(pre + name);
            if (t == nullptr) {
                throw io_error(xrestore::detail::concat(
                    "unet: missing tensor '", pre + name, "' (the file has ", sd.size(),
                    " tensors; is it a fastMRI U-Net state_dict?)"));
            }
            return *t;
        };
        // Configuration from the shapes of the first block and the count of encoder blocks.
        const weight_tensor& first = get("down_sample_layers.0.layers.0.weight");
        if (first.shape.size() != 4 || first.shape[2] != 3 || first.shape[3] != 3) {
            throw shape_error(xrestore::detail::concat(
                "tensor '", pre, "down_sample_layers.0.layers.0.weight' must have shape chans x ",
                "in_chans x 3 x 3, got ", shape_string(first.shape)));
        }
        unet_config& cfg = net.config_;
        cfg.chans = first.shape[0];
        cfg.in_chans = first.shape[1];
        while (sd.find(pre + "down_sample_layers." + std::to_string(cfg.num_pool_layers) +
                       ".layers.0.weight") != nullptr) {
            ++cfg.num_pool_layers;
        }
        const std::string last = "up_conv." + std::to_string(cfg.num_pool_layers - 1);
        const weight_tensor& head = get(last + ".1.weight");
        if (head.shape.size() != 4 || head.shape[0] == 0) {
            throw shape_error(xrestore::detail::concat(
                "tensor '", pre, last, ".1.weight' must have shape out_chans x ", cfg.chans,
                " x 1 x 1, got ", shape_string(head.shape)));
        }
        cfg.out_chans = head.shape[0];
        if (cfg.chans == 0 || cfg.in_chans == 0 || cfg.num_pool_layers > 16 ||
            (cfg.chans << cfg.num_pool_layers) > (std::size_t{1} << 20)) {
            throw shape_error(xrestore::detail::concat("unet: implausible architecture: chans ",
                                                       cfg.chans, ", in_chans ", cfg.in_chans,
                                                       ", pool layers ", cfg.num_pool_layers));
        }

        auto block = [&](const std::string& name, std::size_t in, std::size_t out) {
            return conv_block{pack_conv3x3(get(name + ".layers.0.weight"),
                                           pre + name + ".layers.0.weight", in, out),
                              pack_conv3x3(get(name + ".layers.4.weight"),
                                           pre + name + ".layers.4.weight", out, out)};
        };
        std::size_t ch = cfg.chans;
        net.down_.push_back(block("down_sample_layers.0", cfg.in_chans, ch));
        for (std::size_t i = 1; i < cfg.num_pool_layers; ++i) {
            net.down_.push_back(block("down_sample_layers." + std::to_string(i), ch, 2 * ch));
            ch *= 2;
        }
        net.bottleneck_ = block("conv", ch, 2 * ch);
        for (std::size_t i = 0; i < cfg.num_pool_layers; ++i) {
            const std::string t = "up_transpose_conv." + std::to_string(i) + ".layers.0.weight";
            net.up_transpose_.push_back(pack_conv_transpose2x2(get(t), pre + t, 2 * ch, ch));
            const bool final = i + 1 == cfg.num_pool_layers;
            const std::string u = "up_conv." + std::to_string(i);
            net.up_.push_back(block(final ? u + ".0" : u, 2 * ch, ch));
            if (!final) {
                ch /= 2;
            }
        }
        net.head_ = pack_conv1x1(head, pre + last + ".1.weight", get(last + ".1.bias"),
                                 pre + last + ".1.bias", cfg.chans, cfg.out_chans);
        for (const auto& [name, tensor] : sd.entries()) {
            if (used.count(name) == 0) {
                throw io_error(xrestore::detail::concat(
                    "unet: unexpected tensor '", name, "' (shape ", shape_string(tensor.shape),
                    ") for a U-Net with ", cfg.num_pool_layers, " pool layers, chans ", cfg.chans));
            }
        }
        return net;
    }

    [[nodiscard]] const unet_config& config() const { return config_; }

    /// Throw shape_error unless an H x W input suits the pool depth (check_unet_input_size).
    void check_input_size(std::size_t height, std::size_t width) const {
        check_unet_input_size(config_, height, width);
    }

    /// The network on a batch: x is N x in_chans x H x W, the result N x out_chans x H x W.
    [[nodiscard]] tensor<4> forward(const tensor<4>& x) const {
        const auto s = shape_of<4>(x);
        if (s[0] == 0 || s[1] != config_.in_chans) {
            throw shape_error(
                xrestore::detail::concat("unet: input must have shape N x ", config_.in_chans,
                                         " x H x W with N >= 1, got ", shape_string(s)));
        }
        check_input_size(s[2], s[3]);
        check_finite(x, "unet", "input");
        tensor<4> y = xt::empty<float>({s[0], config_.out_chans, s[2], s[3]});
        const std::size_t in_plane = s[1] * s[2] * s[3];
        const std::size_t out_plane = config_.out_chans * s[2] * s[3];
        std::lock_guard<std::mutex> lock(*mutex_);
        for (std::size_t n = 0; n < s[0]; ++n) {
            run(x.data() + n * in_plane, s[2], s[3], y.data() + n * out_plane);
        }
        return y;
    }

    /// The network on one image (in_chans x H x W).
    [[nodiscard]] image forward(const image& x) const {
        const auto s = shape_of<3>(x);
        tensor<4> batch = xt::empty<float>({std::size_t{1}, s[0], s[1], s[2]});
        std::copy(x.begin(), x.end(), batch.begin());
        tensor<4> y = forward(batch);
        image out = xt::empty<float>({config_.out_chans, s[1], s[2]});
        std::copy(y.begin(), y.end(), out.begin());
        return out;
    }

    /// Floating-point operations of one forward pass on an H x W image (multiply-adds count 2).
    [[nodiscard]] double flops(std::size_t height, std::size_t width) const {
        double total = 0.0;
        auto conv = [&](std::size_t in, std::size_t out, std::size_t k, std::size_t pixels) {
            total += 2.0 * static_cast<double>(in * out * k * k * pixels);
        };
        std::size_t h = height;
        std::size_t w = width;
        std::vector<std::size_t> hs;
        std::vector<std::size_t> ws;
        for (const conv_block& b : down_) {
            conv(b.first.in, b.first.out, 3, h * w);
            conv(b.second.in, b.second.out, 3, h * w);
            hs.push_back(h);
            ws.push_back(w);
            h /= 2;
            w /= 2;
        }
        conv(bottleneck_.first.in, bottleneck_.first.out, 3, h * w);
        conv(bottleneck_.second.in, bottleneck_.second.out, 3, h * w);
        for (std::size_t i = 0; i < up_.size(); ++i) {
            conv(up_transpose_[i].in, up_transpose_[i].out, 2, h * w);
            h = hs[hs.size() - 1 - i];
            w = ws[ws.size() - 1 - i];
            conv(up_[i].first.in, up_[i].first.out, 3, h * w);
            conv(up_[i].second.in, up_[i].second.out, 3, h * w);
        }
        conv(head_.in, head_.out, 1, h * w);
        return total;
    }

private:
    /// Buffers for one input size: per level, [upsampled | skip] side by side; two scratch
    /// areas for block intermediates, pooled maps and the transposed convolution's products.
    struct workspace {
        std::size_t height = 0;
        std::size_t width = 0;
        std::vector<padded_buffer> levels;
        std::vector<float> scratch_a;
        std::vector<float> scratch_b;
        std::vector<float> products;
    };

    void prepare(std::size_t height, std::size_t width) const {
        workspace& ws = *workspace_;
        if (ws.height == height && ws.width == width) {
            return;
        }
        ws = workspace{};
        std::size_t need = 0;
        std::size_t h = height;
        std::size_t w = width;
        std::size_t ch = config_.chans;
        for (std::size_t l = 0; l < config_.num_pool_layers; ++l) {
            ws.levels.emplace_back(h, w, 2 * ch);
            need = std::max(need, padded_size(h, w, std::max(ch, l == 0 ? config_.in_chans : ch)));
            need = std::max(need, padded_size(h / 2, w / 2, ch));
            h /= 2;
            w /= 2;
            ch *= 2;
        }
        need = std::max(need, padded_size(h, w, ch));
        ws.scratch_a.assign(need, 0.0F);
        ws.scratch_b.assign(need, 0.0F);
        ws.height = height;
        ws.width = width;
    }

    /// out = block(in) via the intermediate map `mid`.
    static void run_block(const conv_block& b, const feature_map& in, const feature_map& mid,
                          const feature_map& out) {
        channel_moments moments;
        conv3x3(in, b.first, mid, &moments);
        normalise_leaky_relu(mid, mid.height, mid.width, moments);
        conv3x3(mid, b.second, out, &moments);
        normalise_leaky_relu(out, out.height, out.width, moments);
    }

    void run(const float* x, std::size_t height, std::size_t width, float* y) const {
        prepare(height, width);
        workspace& ws = *workspace_;
        const std::size_t pools = config_.num_pool_layers;

        // Encoder: block l writes the skip half of level l; its pooled copy feeds level l + 1.
        feature_map input = scratch_map(ws.scratch_b, height, width, config_.in_chans);
        load_planar(x, input);
        std::size_t ch = config_.chans;
        for (std::size_t l = 0; l < pools; ++l) {
            feature_map skip = ws.levels[l].map(ch, ch);
            feature_map mid = scratch_map(ws.scratch_a, skip.height, skip.width, ch);
            run_block(down_[l], input, mid, skip);
            input = scratch_map(ws.scratch_b, skip.height / 2, skip.width / 2, ch);
            avg_pool2(skip, input);
            if (l + 1 < pools) {
                ch *= 2;
            }
        }
        // Bottleneck: ch -> 2 ch at the deepest size.
        feature_map mid = scratch_map(ws.scratch_a, input.height, input.width, 2 * ch);
        feature_map deep = scratch_map(ws.scratch_b, input.height, input.width, 2 * ch);
        // `deep` overlaps `input` (both in scratch_b); the block reads `input` only in its
        // first convolution, which writes `mid`, so the second may overwrite it.
        run_block(bottleneck_, input, mid, deep);
        // Decoder: upsample into the first half of level l, pad to the skip's size, then the
        // block reads [upsampled | skip] as one 2 ch map.
        for (std::size_t i = 0; i < pools; ++i) {
            const std::size_t l = pools - 1 - i;
            feature_map up = ws.levels[l].map(0, ch);
            conv_transpose2x2(deep, up_transpose_[i], up, ws.products);
            instance_norm_leaky_relu(up, 2 * deep.height, 2 * deep.width);
            reflect_pad_to(up, 2 * deep.height, 2 * deep.width);
            zero_border(up);
            feature_map both = ws.levels[l].map();
            mid = scratch_map(ws.scratch_a, both.height, both.width, ch);
            deep = scratch_map(ws.scratch_b, both.height, both.width, ch);
            run_block(up_[i], both, mid, deep);
            if (l > 0) {
                ch /= 2;
            }
        }
        conv1x1(deep, head_, y, ws.products);
    }

    unet() = default;

    unet_config config_;
    std::vector<conv_block> down_;
    conv_block bottleneck_;
    std::vector<conv_transpose2x2_weights> up_transpose_;
    std::vector<conv_block> up_;
    conv1x1_weights head_;
    std::shared_ptr<workspace> workspace_ = std::make_shared<workspace>();
    std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
};

} // namespace xrestore::nn
