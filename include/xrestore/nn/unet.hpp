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
#include "xrestore/io/prefault.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/feature_map.hpp"
#include "xrestore/nn/layers.hpp"
#include "xrestore/nn/unet_architecture.hpp"
#include "xrestore/nn/unet_state_dict.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
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

    /// Bytes of the activation buffer for `arch` on H x W images (check_unet_input_size is the
    /// caller's).
    [[nodiscard]] static std::size_t bytes_for(const unet_architecture& arch, std::size_t height,
                                               std::size_t width, bool keep_activations = false) {
        unet_activations<feature_map> maps;
        std::vector<std::pair<feature_map*, std::size_t>> placed;
        return plan(arch, height, width, keep_activations, maps, placed) * sizeof(float);
    }

private:
    friend class unet;

    /// Place every map of a pass on H x W images in one buffer: the buffer's size in floats,
    /// each map with its offset in `placed` (pointers are set once the buffer exists).
    static std::size_t plan(const unet_architecture& arch, std::size_t height, std::size_t width,
                            bool keep, unet_activations<feature_map>& m,
                            std::vector<std::pair<feature_map*, std::size_t>>& placed) {
        const unet_level_sizes s = arch.sizes(height, width);
        const std::size_t pools = arch.pools();
        m.down.assign(pools, {});
        m.pooled.assign(pools, {});
        m.upsampled.assign(pools, {});
        m.concat.assign(pools, {});
        m.up.assign(pools, {});

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
            if (keep) {
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
        return total;
    }

    void lay_out(const unet_architecture& arch, std::size_t height, std::size_t width) {
        std::vector<std::pair<feature_map*, std::size_t>> placed;
        const std::size_t total = plan(arch, height, width, keep_, maps_, placed);
        // Every layer writes all of its output map, border included, so a buffer that is large
        // enough is kept (tiles of a few sizes in turn) unless it is more than twice the size.
        if (values_.size() < total || values_.size() > 2 * total) {
            values_.assign(total, 0.0F);
        }
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

/// Which instance-norm statistics a tiled pass uses.
enum class tile_statistics {
    whole_image, ///< the whole image's, as the untiled pass: exact, one pass over the tiles per
                 ///< normalised layer (each pass stops at the layer whose statistics it sums)
    per_tile     ///< each tile's own: one pass, not the untiled result (see benchmarks/README.md)
};

/// How `unet::forward` runs an image whose pass would need more memory than
/// `max_workspace_bytes`: in square tiles, each a core plus a halo of context on every side,
/// the cores' outputs put together. The halo covers the network's receptive field (what one
/// output depends on), so a core's outputs equal the untiled pass's when its instance norms use
/// the whole image's statistics. Those are sums over the cores, layer by layer: the statistics
/// of layer k need the outputs of layer k for the whole image, which need those of layer k - 1,
/// so `whole_image` runs one pass over the tiles per normalised layer, each stopping at the
/// layer it sums (about 11 untiled passes' arithmetic for 4 pools), then the pass that writes
/// the output; `per_tile` runs one pass with each tile's own statistics.
struct unet_tiling {
    /// Activation memory above which a pass runs in tiles (4 GiB; 0: always tile).
    std::size_t max_workspace_bytes = std::size_t{4} << 30;
    /// Side of a core (0: the largest whose pass fits max_workspace_bytes); rounded up to a
    /// multiple of 2^pools.
    std::size_t tile = 0;
    /// Context on each side of a core (0: 8 2^pools, the receptive field's radius rounded up:
    /// 128 for 4 pools); rounded up to a multiple of 2^pools.
    std::size_t halo = 0;
    tile_statistics statistics = tile_statistics::whole_image;
};

/// A fastMRI U-Net with its weights, ready to run. `forward` reuses an internal workspace (one
/// allocation per input size); calls on one object are serialised by a mutex, so use one object
/// per thread for parallel inference, or pass a workspace of your own. Images whose pass would
/// need more memory than the tiling's limit run in tiles (unet_tiling).
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

    /// How large images are split (unet_tiling); set_tiling changes it for later calls.
    [[nodiscard]] const unet_tiling& tiling() const { return tiling_; }
    void set_tiling(const unet_tiling& tiling) { tiling_ = tiling; }

    /// Whether forward runs an H x W image in tiles.
    [[nodiscard]] bool tiles(std::size_t height, std::size_t width) const {
        return unet_workspace::bytes_for(arch_, height, width) > tiling_.max_workspace_bytes;
    }

    /// Bytes a forward pass on one H x W image holds besides its input and output: the
    /// activations (of one tile when it tiles), the head's products, and the tiles' copies.
    [[nodiscard]] std::size_t working_bytes(std::size_t height, std::size_t width) const {
        auto pass = [&](std::size_t h, std::size_t w) {
            return unet_workspace::bytes_for(arch_, h, w) +
                   h * (w + 2) * config().out_chans * sizeof(float);
        };
        if (!tiles(height, width)) {
            return pass(height, width);
        }
        const auto [core, halo] = tile_geometry(tiling_, height, width);
        const std::size_t h = std::min(height, core + 2 * halo);
        const std::size_t w = std::min(width, core + 2 * halo);
        return pass(h, w) + (config().in_chans + config().out_chans) * h * w * sizeof(float);
    }

    /// The network on one planar image (in_chans x H x W floats at x, out_chans x H x W written
    /// to y) in tiles as `tiling` says, whatever its size (see unet_tiling).
    void forward_tiled(const float* x, std::size_t height, std::size_t width, float* y,
                       const unet_tiling& tiling) const {
        check_batch({1, config().in_chans, height, width});
        std::lock_guard<std::mutex> lock(*mutex_);
        run_tiled(x, height, width, y, tiling, *workspace_);
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
        // a mapped weight's pages in one call before the check or the packing reads them
        auto prefault = [&](std::size_t k) { xrestore::detail::prefault(t.weights[k]->floats()); };
        auto check_bias = [&](std::size_t k) {
            if (check_values && t.biases[k] != nullptr) {
                detail::require_finite(*t.biases[k], t.prefix + layers[k].bias);
            }
        };
        auto check = [&](std::size_t k) {
            prefault(k);
            if (check_values) {
                detail::require_finite(*t.weights[k], t.prefix + layers[k].weight);
            }
            check_bias(k);
        };
        // the 3x3 weights (nearly all the values) are checked while they are packed, in the same
        // pass over them
        auto conv3x3_at = [&](std::size_t k) {
            prefault(k);
            check_bias(k);
            bool finite = true;
            conv3x3_weights w =
                detail::pack_conv3x3_checked(*t.weights[k], layers[k].in, layers[k].out,
                                             packed_part, method, check_values ? &finite : nullptr);
            if (!finite) {
                detail::throw_not_finite(t.prefix + layers[k].weight);
            }
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
        if (tiles(height, width)) {
            for (std::size_t n = 0; n < batch; ++n) {
                run_tiled(x + n * in_plane, height, width, y + n * out_plane, tiling_, *workspace_);
            }
            return;
        }
        workspace_->prepare(arch_, height, width);
        for (std::size_t n = 0; n < batch; ++n) {
            run(x + n * in_plane, y + n * out_plane, *workspace_);
        }
    }

    /// The core side and halo of `tiling` for this network (both multiples of 2^pools).
    [[nodiscard]] std::pair<std::size_t, std::size_t>
    tile_geometry(const unet_tiling& tiling, std::size_t height, std::size_t width) const {
        const std::size_t align = std::size_t{1} << arch_.pools();
        auto round_up = [&](std::size_t v) {
            return std::max(align, (v + align - 1) / align * align);
        };
        const std::size_t halo = round_up(tiling.halo == 0 ? 8 * align : tiling.halo);
        if (tiling.tile != 0) {
            return {round_up(tiling.tile), halo};
        }
        // the largest core whose pass fits the limit (at least one alignment step), no larger
        // than the image
        std::size_t core = align;
        const std::size_t most = round_up(std::max(height, width));
        while (core < most &&
               unet_workspace::bytes_for(arch_, core + align + 2 * halo, core + align + 2 * halo) <=
                   tiling.max_workspace_bytes) {
            core += align;
        }
        return {core, halo};
    }

    /// The statistics rule of a tiled pass: each norm whose whole-image statistics are known
    /// normalises by them; the first one whose are not adds its map's core to `summed` and ends
    /// the pass. With `per_tile`, every norm uses the tile's own.
    struct tile_norm {
        std::size_t core_y0; ///< the core's first row in the tile (a multiple of 2^pools)
        std::size_t core_x0; ///< its first column
        std::size_t core_y1; ///< its end row in the tile; SIZE_MAX: the tile's end
        std::size_t core_x1; ///< its end column; SIZE_MAX: the tile's end
        const std::vector<bool>* known;
        const std::vector<channel_moments>* whole;
        std::vector<channel_moments>* summed;
        bool per_tile = false;
        bool stop = false;

        const channel_moments& operator()(std::size_t layer, std::size_t level,
                                          const feature_map& pre, std::size_t h, std::size_t w,
                                          const channel_moments& own) {
            if (per_tile) {
                return own;
            }
            if ((*known)[layer]) {
                return (*whole)[layer];
            }
            const std::size_t y0 = core_y0 >> level;
            const std::size_t x0 = core_x0 >> level;
            const std::size_t y1 = core_y1 == SIZE_MAX ? h : std::min(h, core_y1 >> level);
            const std::size_t x1 = core_x1 == SIZE_MAX ? w : std::min(w, core_x1 >> level);
            channel_moments& into = (*summed)[layer];
            if (into.sum.empty()) {
                into.sum.assign(pre.channels, 0.0);
                into.sum_sq.assign(pre.channels, 0.0);
            }
            if (y1 > y0 && x1 > x0) {
                const channel_moments part = compute_moments(pre, y0, x0, y1 - y0, x1 - x0);
                for (std::size_t c = 0; c < pre.channels; ++c) {
                    into.sum[c] += part.sum[c];
                    into.sum_sq[c] += part.sum_sq[c];
                }
                into.count += part.count;
            }
            stop = true;
            return own;
        }
        [[nodiscard]] bool stopped() const { return stop; }
    };

    /// run() over tiles (unet_tiling): x is one in_chans x H x W image, y its output.
    void run_tiled(const float* x, std::size_t height, std::size_t width, float* y,
                   const unet_tiling& tiling, unet_workspace& ws) const {
        const auto [core, halo] = tile_geometry(tiling, height, width);
        const std::size_t layers = arch_.layers().size();
        const std::size_t in_chans = config().in_chans;
        const std::size_t out_chans = config().out_chans;
        const bool per_tile = tiling.statistics == tile_statistics::per_tile;
        // the head is the one layer without a norm: it counts as known
        std::vector<bool> known(layers, false);
        for (std::size_t k = 0; k < layers; ++k) {
            known[k] = arch_.layers()[k].kind == layer_kind::conv1x1;
        }
        std::vector<channel_moments> whole(layers);
        std::vector<float> tile_in;
        std::vector<float> tile_out;
        // Each pass sums the statistics of the first normalised layer not yet known and stops
        // there; the pass with all of them known writes the output.
        while (true) {
            const bool last =
                per_tile || std::all_of(known.begin(), known.end(), [](bool k) { return k; });
            for (std::size_t ty0 = 0; ty0 < height; ty0 += core) {
                for (std::size_t tx0 = 0; tx0 < width; tx0 += core) {
                    const std::size_t ty1 = std::min(height, ty0 + core);
                    const std::size_t tx1 = std::min(width, tx0 + core);
                    const std::size_t ey0 = ty0 > halo ? ty0 - halo : 0;
                    const std::size_t ex0 = tx0 > halo ? tx0 - halo : 0;
                    const std::size_t eh = std::min(height, ty1 + halo) - ey0;
                    const std::size_t ew = std::min(width, tx1 + halo) - ex0;
                    check_unet_input_size(config(), eh, ew);
                    tile_in.resize(in_chans * eh * ew);
                    tile_out.resize(out_chans * eh * ew);
                    for (std::size_t c = 0; c < in_chans; ++c) {
                        for (std::size_t r = 0; r < eh; ++r) {
                            std::copy_n(x + (c * height + ey0 + r) * width + ex0, ew,
                                        tile_in.data() + (c * eh + r) * ew);
                        }
                    }
                    tile_norm norm{ty0 - ey0,
                                   tx0 - ex0,
                                   ty1 == height ? SIZE_MAX : ty1 - ey0,
                                   tx1 == width ? SIZE_MAX : tx1 - ex0,
                                   &known,
                                   &whole,
                                   &whole,
                                   per_tile};
                    ws.prepare(arch_, eh, ew);
                    run(tile_in.data(), tile_out.data(), ws, norm);
                    if (last) {
                        for (std::size_t c = 0; c < out_chans; ++c) {
                            for (std::size_t r = ty0; r < ty1; ++r) {
                                std::copy_n(tile_out.data() + (c * eh + r - ey0) * ew + (tx0 - ex0),
                                            tx1 - tx0, y + (c * height + r) * width + tx0);
                            }
                        }
                    }
                }
            }
            if (last) {
                return;
            }
            for (std::size_t k = 0; k < layers; ++k) {
                known[k] = known[k] || !whole[k].sum.empty();
            }
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

    /// The statistics each instance norm uses: the map's own (`own`, as the module computes
    /// them). A tiled pass substitutes its own rule (run_tiled).
    struct own_statistics {
        const channel_moments& operator()(std::size_t /*layer*/, std::size_t /*level*/,
                                          const feature_map& /*pre_norm*/, std::size_t /*h*/,
                                          std::size_t /*w*/, const channel_moments& own) const {
            return own;
        }
        /// True when the pass should end after this norm.
        [[nodiscard]] bool stopped() const { return false; }
    };

    /// ConvBlock: out = LeakyReLU(IN(conv(LeakyReLU(IN(conv(in)))))) through `maps.mid`; the
    /// statistics of its two instance norms (layers `layer` and `layer` + 1, at `level`) go to
    /// moments[0] and moments[1], and `norm` says which statistics normalise.
    template <class Norm>
    static void conv_block_forward(const conv_block& b, const feature_map& in,
                                   const unet_activations<feature_map>::conv_block& maps,
                                   channel_moments* moments, std::size_t layer, std::size_t level,
                                   Norm& norm) {
        conv3x3(in, b.first, maps.mid, &moments[0]);
        normalise_leaky_relu(
            maps.mid, maps.mid.height, maps.mid.width,
            norm(layer, level, maps.mid, maps.mid.height, maps.mid.width, moments[0]));
        if (norm.stopped()) {
            return;
        }
        conv3x3(maps.mid, b.second, maps.out, &moments[1]);
        normalise_leaky_relu(
            maps.out, maps.out.height, maps.out.width,
            norm(layer + 1, level, maps.out, maps.out.height, maps.out.width, moments[1]));
    }

    void run(const float* x, float* y, unet_workspace& ws) const {
        own_statistics norm;
        run(x, y, ws, norm);
    }

    /// y (out_chans x H x W, planar) = U(x) for one planar image, in the workspace's maps; each
    /// instance norm uses the statistics `norm` gives.
    template <class Norm>
    void run(const float* x, float* y, unet_workspace& ws, Norm& norm) const {
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
            conv_block_forward(down_[l], *output, a.down[l], moments + arch.down(l), arch.down(l),
                               l, norm);
            if (norm.stopped()) {
                return;
            }
            expect_map(a.down[l].out, arch.channels(l), sizes, l, "down block output");
            avg_pool2(a.down[l].out, a.pooled[l]);
            output = &a.pooled[l];
        }
        // output = conv(output)
        conv_block_forward(bottleneck_, *output, a.bottleneck, moments + arch.bottleneck(),
                           arch.bottleneck(), pools, norm);
        if (norm.stopped()) {
            return;
        }
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
            normalise_leaky_relu(up, h, w, norm(arch.up_transpose(i), l, up, h, w, m));
            if (norm.stopped()) {
                return;
            }
            reflect_pad_to(up, h, w);
            zero_border(up);
            // up and the skip down[l].out are the two halves of concat[i]
            conv_block_forward(up_[i], a.concat[i], a.up[i], moments + arch.up(i), arch.up(i), l,
                               norm);
            if (norm.stopped()) {
                return;
            }
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
    unet_tiling tiling_;
    std::shared_ptr<unet_workspace> workspace_ = std::make_shared<unet_workspace>();
    std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
};

} // namespace xrestore::nn
