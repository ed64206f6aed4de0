#pragma once
/// @file unet.hpp
/// The fastMRI U-Net forward pass on the CPU, loaded from a PyTorch state_dict. The architecture
/// (layers, channels, names, level sizes) is the table of nn/unet_architecture.hpp; the loader
/// (nn/unet_state_dict.hpp) infers the configuration from the weight shapes and checks every
/// tensor's name and shape. The pass reads like the PyTorch module's `forward` and keeps each
/// activation in a named map of a workspace (unet_workspace).
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
#include "xrestore/nn/unet_architecture.hpp"
#include "xrestore/nn/unet_state_dict.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore::nn {

/// Two 3x3 convolutions, each followed by instance norm and LeakyReLU 0.2 (fastMRI ConvBlock).
struct conv_block {
    conv3x3_weights first;
    conv3x3_weights second;
};

/// The activations of a forward pass on one image as feature maps laid over one buffer, named
/// after the steps of the PyTorch forward (unet_activations), with the instance-norm statistics
/// of every normalised layer. With `keep_activations` every map has its own slice, so each
/// activation can still be read after the pass (what a backward pass needs). Without it (the
/// inference layout) maps whose values are dead share memory: block intermediates one scratch,
/// the input, pooled maps and block outputs another; the skips and the upsampled maps always
/// live side by side in one [upsampled | skip] buffer per level, so the concatenation is free.
///
/// @code
/// xrestore::nn::unet_workspace saved(true);
/// xrestore::image y = net.forward(x, saved);
/// const xrestore::nn::feature_map& skip = saved.maps().down[0].out;
/// @endcode
class unet_workspace {
public:
    explicit unet_workspace(bool keep_activations = false) : keep_(keep_activations) {}

    /// Lay the maps out for `arch` on H x W images; nothing happens when they already are.
    void prepare(const unet_architecture& arch, std::size_t height, std::size_t width) {
        if (height == height_ && width == width_ && arch.config() == config_) {
            return;
        }
        lay_out(arch, height, width);
    }

    [[nodiscard]] bool keeps_activations() const { return keep_; }
    [[nodiscard]] const unet_activations<feature_map>& maps() const { return maps_; }
    /// The instance-norm statistics per layer index of the table (unused for the head).
    [[nodiscard]] const std::vector<channel_moments>& moments() const { return moments_; }
    /// Floats of the activation buffer.
    [[nodiscard]] std::size_t size() const { return values_.size(); }

private:
    friend class unet;

    void lay_out(const unet_architecture& arch, std::size_t height, std::size_t width) {
        const unet_level_sizes s = arch.sizes(height, width);
        const std::size_t pools = arch.pools();
        unet_activations<feature_map>& m = maps_;
        m.down.assign(pools, {});
        m.pooled.assign(pools, {});
        m.upsampled.assign(pools, {});
        m.concat.assign(pools, {});
        m.up.assign(pools, {});

        // Maps get their offsets first and their pointers once the buffer exists.
        std::vector<std::pair<feature_map*, std::size_t>> placed;
        std::size_t total = 0;
        auto own = [&](feature_map& map, std::size_t level, std::size_t channels) {
            map = feature_map{nullptr, s.heights[level], s.widths[level], channels, channels, 0};
            placed.emplace_back(&map, total);
            total += padded_size(map.height, map.width, channels);
        };
        // Per decoder step at level l: [upsampled | skip] as one 2 C_l map.
        for (std::size_t i = 0; i < pools; ++i) {
            const std::size_t l = arch.decoder_level(i);
            const std::size_t c = arch.channels(l);
            const std::size_t at = total;
            own(m.concat[i], l, 2 * c);
            m.upsampled[i] = feature_map{nullptr, s.heights[l], s.widths[l], c, 2 * c, 0};
            m.down[l].out = feature_map{nullptr, s.heights[l], s.widths[l], c, 2 * c, c};
            placed.emplace_back(&m.upsampled[i], at);
            placed.emplace_back(&m.down[l].out, at);
        }
        // The rest: own slices, or one of two scratch areas sized by their largest map.
        std::array<std::vector<feature_map*>, 2> shared;
        std::array<std::size_t, 2> shared_size{};
        auto scratch = [&](std::size_t area, feature_map& map, std::size_t level,
                           std::size_t channels) {
            if (keep_) {
                own(map, level, channels);
                return;
            }
            map = feature_map{nullptr, s.heights[level], s.widths[level], channels, channels, 0};
            shared[area].push_back(&map);
            shared_size[area] =
                std::max(shared_size[area], padded_size(map.height, map.width, channels));
        };
        constexpr std::size_t mids = 0;
        constexpr std::size_t outputs = 1;
        scratch(outputs, m.input, 0, arch.config().in_chans);
        for (std::size_t l = 0; l < pools; ++l) {
            scratch(mids, m.down[l].mid, l, arch.channels(l));
            scratch(outputs, m.pooled[l], l + 1, arch.channels(l));
        }
        scratch(mids, m.bottleneck.mid, pools, arch.channels(pools));
        scratch(outputs, m.bottleneck.out, pools, arch.channels(pools));
        for (std::size_t i = 0; i < pools; ++i) {
            const std::size_t l = arch.decoder_level(i);
            scratch(mids, m.up[i].mid, l, arch.channels(l));
            scratch(outputs, m.up[i].out, l, arch.channels(l));
        }
        for (std::size_t area = 0; area < 2; ++area) {
            for (feature_map* map : shared[area]) {
                placed.emplace_back(map, total);
            }
            total += shared_size[area];
        }

        values_.assign(total, 0.0F);
        for (const auto& [map, offset] : placed) {
            map->data = values_.data() + offset;
        }
        moments_.assign(arch.layers().size(), channel_moments{});
        config_ = arch.config();
        height_ = height;
        width_ = width;
    }

    bool keep_ = false;
    unet_config config_;
    std::size_t height_ = 0;
    std::size_t width_ = 0;
    std::vector<float> values_;
    unet_activations<feature_map> maps_;
    std::vector<channel_moments> moments_;
    std::vector<float> products_; ///< matrix products of the head
};

/// A fastMRI U-Net with its weights, ready to run. `forward` reuses an internal workspace (one
/// allocation per input size); calls on one object are serialised by a mutex, so use one object
/// per thread for parallel inference, or pass a workspace of your own.
class unet {
public:
    /// Build from a state_dict; infers the configuration and checks every tensor. `method`
    /// chooses how the 3x3 convolutions run (layers.hpp): the default, Winograd for layers of 16
    /// or more input channels, is about twice as fast as the direct method and holds those
    /// layers' weights in 16/9 of the memory (the transform domain); `conv3x3_method::direct`
    /// keeps the network's memory at the size of its weights.
    static unet from_state_dict(const state_dict& sd,
                                conv3x3_method method = conv3x3_method::automatic) {
        return build(
            read_unet_tensors(sd), false, [](std::size_t) {}, [](std::span<const float>) {},
            method);
    }

    /// from_state_dict, freeing the values of each of the network's tensors in `sd` once they are
    /// packed, so the weights are held once rather than twice while loading. Same checks and
    /// errors; the names, shapes, metadata and notes stay in `sd`.
    static unet from_state_dict_releasing(state_dict& sd,
                                          conv3x3_method method = conv3x3_method::automatic) {
        return build_releasing(
            sd, [](weight_tensor& w) { std::vector<float>().swap(w.values); },
            [](std::span<const float>) {}, method);
    }

    /// from_state_dict_releasing on a memory-mapped weights file (`mapped_weights` of
    /// io/weights.hpp): its float32 tensors are packed straight from the file's pages, which are
    /// dropped from the process once packed, so loading holds the packed network and little
    /// more. Same checks and errors.
    /// @code
    /// xrestore::mapped_weights w("denoiser.pth");
    /// auto net = xrestore::nn::unet::from_mapped_weights(w);
    /// @endcode
    template <class Mapped>
    requires requires(Mapped& m, weight_tensor& w) {
        { m.dict() } -> std::same_as<state_dict&>;
        m.release(w);
        m.release(std::span<const float>());
    }
    static unet from_mapped_weights(Mapped& weights,
                                    conv3x3_method method = conv3x3_method::automatic) {
        return build_releasing(
            weights.dict(), [&](weight_tensor& w) { weights.release(w); },
            [&](std::span<const float> part) { weights.release(part); }, method);
    }

    [[nodiscard]] const unet_config& config() const { return arch_.config(); }
    /// The layer table the network was built from.
    [[nodiscard]] const unet_architecture& architecture() const { return arch_; }
    /// What loading left out of the state_dict (integer buffers), one sentence each.
    [[nodiscard]] const std::vector<std::string>& load_notes() const { return load_notes_; }

    /// Throw shape_error unless an H x W input suits the pool depth (check_unet_input_size).
    void check_input_size(std::size_t height, std::size_t width) const {
        check_unet_input_size(config(), height, width);
    }

    /// The network on a batch: x is N x in_chans x H x W, the result N x out_chans x H x W.
    [[nodiscard]] tensor<4> forward(const tensor<4>& x) const {
        const auto s = shape_of<4>(x);
        check_batch(s);
        check_finite(x, "unet", "input");
        tensor<4> y = xt::empty<float>({s[0], config().out_chans, s[2], s[3]});
        run_batch(x.data(), s[0], s[2], s[3], y.data());
        return y;
    }

    /// The network on one image (in_chans x H x W).
    [[nodiscard]] image forward(const image& x) const {
        const auto s = shape_of<3>(x);
        check_batch({1, s[0], s[1], s[2]});
        check_finite(x, "unet", "input");
        image y = xt::empty<float>({config().out_chans, s[1], s[2]});
        run_batch(x.data(), 1, s[1], s[2], y.data());
        return y;
    }

    /// The network on one image with the caller's workspace (no lock): one made with
    /// keep_activations holds every activation of this pass afterwards.
    [[nodiscard]] image forward(const image& x, unet_workspace& workspace) const {
        const auto s = shape_of<3>(x);
        check_batch({1, s[0], s[1], s[2]});
        check_finite(x, "unet", "input");
        image y = xt::empty<float>({config().out_chans, s[1], s[2]});
        workspace.prepare(arch_, s[1], s[2]);
        run(x.data(), y.data(), workspace);
        return y;
    }

    /// y = U(x) on `batch` planar images: x holds batch x in_chans x H x W floats, y receives
    /// batch x out_chans x H x W. The values of x are not scanned for non-finite entries.
    void forward(const float* x, std::size_t batch, std::size_t height, std::size_t width,
                 float* y) const {
        check_batch({batch, config().in_chans, height, width});
        run_batch(x, batch, height, width, y);
    }

    /// Floating-point operations of one forward pass on an H x W image (multiply-adds count 2).
    [[nodiscard]] double flops(std::size_t height, std::size_t width) const {
        return arch_.flops(height, width);
    }

private:
    unet() = default;

    /// The network of `sd`, calling `release(tensor)` on each of its tensors once packed and
    /// `release_part(values)` on parts of large ones as they are packed.
    template <class Release, class ReleasePart>
    static unet build_releasing(state_dict& sd, Release&& release, ReleasePart&& release_part,
                                conv3x3_method method) {
        // each tensor's values are checked just before it is packed (then dropped), so the
        // pages of a mapped file are read while they are mapped anyway, never all at once
        const unet_tensors t = read_unet_tensors(sd, false);
        const unet_architecture arch(t.config);
        const std::vector<layer_spec>& layers = arch.layers();
        return build(
            t, true,
            [&](std::size_t k) {
                for (const std::string* name : {&layers[k].weight, &layers[k].bias}) {
                    if (weight_tensor* w = name->empty() ? nullptr : sd.find(t.prefix + *name)) {
                        release(*w);
                    }
                }
            },
            release_part, method);
    }

    /// The network of the tensors `t` (names and shapes checked; with `check_values`, each
    /// layer's values are checked just before it is packed), calling `packed(k)` once layer k
    /// of the table is packed (its tensors are no longer read), and `packed_part(values)` with
    /// parts of a 3x3 convolution's weight as they are packed; 3x3 layers are packed for `method`.
    template <class Packed, class PackedPart>
    static unet build(const unet_tensors& t, bool check_values, Packed&& packed,
                      PackedPart&& packed_part, conv3x3_method method) {
        unet net;
        net.arch_ = unet_architecture(t.config);
        const std::vector<layer_spec>& layers = net.arch_.layers();
        auto check = [&](std::size_t k) {
            if (check_values) {
                detail::require_finite(*t.weights[k], t.prefix + layers[k].weight);
                if (t.biases[k] != nullptr) {
                    detail::require_finite(*t.biases[k], t.prefix + layers[k].bias);
                }
            }
        };
        auto conv3x3_at = [&](std::size_t k) {
            check(k);
            conv3x3_weights w = detail::pack_conv3x3_checked(*t.weights[k], layers[k].in,
                                                             layers[k].out, packed_part, method);
            packed(k);
            return w;
        };
        auto block_at = [&](std::size_t k) {
            conv3x3_weights first = conv3x3_at(k);
            return conv_block{std::move(first), conv3x3_at(k + 1)};
        };
        const unet_architecture& arch = net.arch_;
        for (std::size_t l = 0; l < arch.pools(); ++l) {
            net.down_.push_back(block_at(arch.down(l)));
        }
        net.bottleneck_ = block_at(arch.bottleneck());
        for (std::size_t i = 0; i < arch.pools(); ++i) {
            const std::size_t k = arch.up_transpose(i);
            check(k);
            net.up_transpose_.push_back(
                detail::pack_conv_transpose2x2_checked(*t.weights[k], layers[k].in, layers[k].out));
            packed(k);
            net.up_.push_back(block_at(arch.up(i)));
        }
        const std::size_t k = arch.head();
        check(k);
        net.head_ =
            detail::pack_conv1x1_checked(*t.weights[k], *t.biases[k], layers[k].in, layers[k].out);
        packed(k);
        net.load_notes_ = t.notes;
        return net;
    }

    void check_batch(const std::array<std::size_t, 4>& s) const {
        nn::check_unet_batch(config(), s);
    }

    void run_batch(const float* x, std::size_t batch, std::size_t height, std::size_t width,
                   float* y) const {
        const std::size_t in_plane = config().in_chans * height * width;
        const std::size_t out_plane = config().out_chans * height * width;
        std::lock_guard<std::mutex> lock(*mutex_);
        workspace_->prepare(arch_, height, width);
        for (std::size_t n = 0; n < batch; ++n) {
            run(x + n * in_plane, y + n * out_plane, *workspace_);
        }
    }

    /// Throw shape_error unless `m` is a `channels` x H x W map at `level` (a check that each
    /// block's result has the shape the table gives).
    static void expect_map(const feature_map& m, std::size_t channels,
                           const unet_level_sizes& sizes, std::size_t level,
                           std::string_view what) {
        if (m.channels != channels || m.height != sizes.heights[level] ||
            m.width != sizes.widths[level]) {
            throw shape_error(xrestore::detail::concat(
                "unet: ", what, " is ", m.channels, " x ", m.height, " x ", m.width, ", expected ",
                channels, " x ", sizes.heights[level], " x ", sizes.widths[level]));
        }
    }

    /// ConvBlock: out = LeakyReLU(IN(conv(LeakyReLU(IN(conv(in)))))) through `maps.mid`; the
    /// statistics of its two instance norms go to moments[0] and moments[1].
    static void conv_block_forward(const conv_block& b, const feature_map& in,
                                   const unet_activations<feature_map>::conv_block& maps,
                                   channel_moments* moments) {
        conv3x3(in, b.first, maps.mid, &moments[0]);
        normalise_leaky_relu(maps.mid, maps.mid.height, maps.mid.width, moments[0]);
        conv3x3(maps.mid, b.second, maps.out, &moments[1]);
        normalise_leaky_relu(maps.out, maps.out.height, maps.out.width, moments[1]);
    }

    /// y (out_chans x H x W, planar) = U(x) for one planar image, in the workspace's maps.
    void run(const float* x, float* y, unet_workspace& ws) const {
        const unet_architecture& arch = arch_;
        const unet_level_sizes sizes = arch.sizes(ws.height_, ws.width_);
        const unet_activations<feature_map>& a = ws.maps_;
        channel_moments* moments = ws.moments_.data();
        const std::size_t pools = arch.pools();

        load_planar(x, a.input);
        // for layer in down_sample_layers: output = layer(output); stack.append(output);
        //                                   output = avg_pool2d(output, 2)
        const feature_map* output = &a.input;
        for (std::size_t l = 0; l < pools; ++l) {
            conv_block_forward(down_[l], *output, a.down[l], moments + arch.down(l));
            expect_map(a.down[l].out, arch.channels(l), sizes, l, "down block output");
            avg_pool2(a.down[l].out, a.pooled[l]);
            output = &a.pooled[l];
        }
        // output = conv(output)
        conv_block_forward(bottleneck_, *output, a.bottleneck, moments + arch.bottleneck());
        expect_map(a.bottleneck.out, arch.channels(pools), sizes, pools, "bottleneck output");
        output = &a.bottleneck.out;
        // for transpose_conv, conv in zip(up_transpose_conv, up_conv): output =
        //     transpose_conv(output) (with instance norm, LeakyReLU), reflect-padded to the
        //     skip's size, cat([output, skip]), conv(...)
        for (std::size_t i = 0; i < pools; ++i) {
            const std::size_t l = arch.decoder_level(i);
            const feature_map& up = a.upsampled[i];
            const std::size_t h = 2 * output->height;
            const std::size_t w = 2 * output->width;
            conv_transpose2x2(*output, up_transpose_[i], up);
            channel_moments& m = moments[arch.up_transpose(i)];
            m = compute_moments(up, h, w);
            normalise_leaky_relu(up, h, w, m);
            reflect_pad_to(up, h, w);
            zero_border(up);
            // up and the skip down[l].out are the two halves of concat[i]
            conv_block_forward(up_[i], a.concat[i], a.up[i], moments + arch.up(i));
            expect_map(a.up[i].out, arch.channels(l), sizes, l, "up block output");
            output = &a.up[i].out;
        }
        // the 1x1 head (up_conv.(P-1).1), planar into y
        conv1x1(*output, head_, y, ws.products_);
    }

    unet_architecture arch_;
    std::vector<std::string> load_notes_;
    std::vector<conv_block> down_;
    conv_block bottleneck_;
    std::vector<conv_transpose2x2_weights> up_transpose_;
    std::vector<conv_block> up_;
    conv1x1_weights head_;
    std::shared_ptr<unet_workspace> workspace_ = std::make_shared<unet_workspace>();
    std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
};

} // namespace xrestore::nn
