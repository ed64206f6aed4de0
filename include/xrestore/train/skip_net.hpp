#pragma once
/// @file skip_net.hpp
/// The encoder-decoder with skip connections of Deep Image Prior (Ulyanov, Vedaldi and
/// Lempitsky's "skip" network), with reverse mode, assembled from train/'s layers. For scale
/// i = 0 .. S-1, from the input z (in_chans channels, H x W) down:
///   skip branch  (skip[i] > 0): 1x1 convolution to skip[i] channels, batch norm, LeakyReLU;
///   down block   3x3 convolution with stride 2 to down[i] channels, batch norm, LeakyReLU,
///                3x3 convolution, batch norm, LeakyReLU (halves H and W);
///   deeper       scale i + 1 on the down block's output (the last scale has none),
///   2x upsampling (bilinear, align_corners=False, or nearest) of what came from below,
///   concatenation [skip | upsampled] and the up block: batch norm, 3x3 convolution to up[i]
///   channels, batch norm, LeakyReLU, 1x1 convolution, batch norm, LeakyReLU.
/// Then a 1x1 convolution to out_chans channels and a sigmoid. Every convolution has a bias and
/// pads by reflection (PyTorch's ReflectionPad2d before Conv2d(padding=0)); LeakyReLU slope 0.2;
/// batch norm always uses the batch statistics (DIP never switches to eval mode; with one image
/// these are per-channel statistics over H x W). H and W must be multiples of 2^S, so every
/// upsampled map has its skip's size (the reference crops the larger one; here the size is
/// required instead).
///
/// Parameters are named by scale: `skip.{i}.conv`, `skip.{i}.bn`, `down.{i}.conv0`,
/// `down.{i}.bn0`, `down.{i}.conv1`, `down.{i}.bn1`, `up.{i}.bn_in`, `up.{i}.conv0`,
/// `up.{i}.bn0`, `up.{i}.conv1`, `up.{i}.bn1`, and `out.conv` (each with `.weight`, `.bias`;
/// batch norms also `.running_mean`, `.running_var`, `.num_batches_tracked`), the names of the
/// PyTorch twin in tools/dev/dip_torch.py, so weights move between the two through
/// `to_state_dict` and write_pth / load_weights.
///
/// @code
/// xrestore::train::skip_net<float> f({.in_chans = 32, .out_chans = 3}, /*seed=*/0);
/// auto x = f.forward(z);                       // 1 x 3 x H x W, in (0, 1)
/// f.backward(dx);                              // gradients of f.parameters()
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/train/activations.hpp"
#include "xrestore/train/batch_norm.hpp"
#include "xrestore/train/batch_norm_leaky_relu.hpp"
#include "xrestore/train/concatenate.hpp"
#include "xrestore/train/conv2d.hpp"
#include "xrestore/train/parameter.hpp"
#include "xrestore/train/state.hpp"
#include "xrestore/train/upsample.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// How skip_net doubles the size of what comes from the scale below.
enum class skip_upsampling {
    bilinear, ///< bilinear, align_corners=False (the study's)
    nearest   ///< nearest neighbour
};

/// Shape of a skip_net. The three channel lists have one entry per scale (same length, >= 1).
struct skip_net_options {
    std::size_t in_chans = 32;                           ///< channels of the input noise z
    std::size_t out_chans = 3;                           ///< channels of the image
    std::vector<std::size_t> down{16, 32, 64, 128, 128}; ///< down block channels per scale
    std::vector<std::size_t> up{16, 32, 64, 128, 128};   ///< up block channels per scale
    std::vector<std::size_t> skip{4, 4, 4, 4, 4};        ///< skip channels per scale (0: none)
    skip_upsampling upsampling = skip_upsampling::bilinear;
    bool sigmoid = true; ///< end with a sigmoid (images in [0, 1])

    /// The study's variant with 128 channels at every scale and skip 4.
    static skip_net_options wide(std::size_t scales = 5) {
        skip_net_options o;
        o.down.assign(scales, 128);
        o.up.assign(scales, 128);
        o.skip.assign(scales, 4);
        return o;
    }
    [[nodiscard]] std::size_t scales() const { return down.size(); }
};

namespace detail {

/// The negative slope of DIP's LeakyReLUs.
template <class T>
inline constexpr T skip_net_slope = T(0.2);

/// convolution, batch norm and LeakyReLU in a row (the unit every block of skip_net repeats;
/// the norm and the activation fused, train/batch_norm_leaky_relu.hpp).
template <class T>
struct conv_bn_act {
    conv2d<T> conv;
    batch_norm_leaky_relu<T> bn;

    conv_bn_act(const std::string& conv_name, const std::string& bn_name, std::size_t in,
                std::size_t out, std::size_t k, std::size_t stride, std::uint64_t seed)
        : conv(conv_name, in, out,
               {.kernel_size = k,
                .stride = stride,
                .padding = padding_mode::reflect,
                .bias = true,
                .seed = seed}),
          bn(bn_name, out, skip_net_slope<T>) {}

    tensor4<T> forward(const tensor4<T>& x) { return bn.forward(conv.forward(x)); }
    tensor4<T> backward(const tensor4<T>& dy) { return conv.backward(bn.backward(dy)); }
    void collect(std::vector<parameter<T>*>& out) {
        for (auto* p : {&conv.weight, &conv.bias, &bn.weight, &bn.bias}) {
            out.push_back(p);
        }
    }
    void collect(std::vector<buffer<T>*>& out) {
        for (buffer<T>* b : bn.buffers()) {
            out.push_back(b);
        }
    }
};

/// One scale of skip_net: its skip branch, down block and up block.
template <class T>
struct skip_scale {
    std::optional<conv_bn_act<T>> skip;
    conv_bn_act<T> down0;
    conv_bn_act<T> down1;
    upsample_bilinear2<T> up_bilinear;
    upsample_nearest2<T> up_nearest;
    concatenate<T> cat;
    batch_norm<T> bn_in;
    conv_bn_act<T> up0;
    conv_bn_act<T> up1;

    /// in: channels arriving at this scale; below: channels coming up from the scale below
    /// (up[i + 1], or down[i] at the last scale).
    skip_scale(std::size_t i, std::size_t in, std::size_t below, const skip_net_options& o,
               std::uint64_t seed)
        : down0(name("down", i, "conv0"), name("down", i, "bn0"), in, o.down[i], 3, 2, seed + 2),
          down1(name("down", i, "conv1"), name("down", i, "bn1"), o.down[i], o.down[i], 3, 1,
                seed + 4),
          bn_in(name("up", i, "bn_in"), o.skip[i] + below),
          up0(name("up", i, "conv0"), name("up", i, "bn0"), o.skip[i] + below, o.up[i], 3, 1,
              seed + 6),
          up1(name("up", i, "conv1"), name("up", i, "bn1"), o.up[i], o.up[i], 1, 1, seed + 8) {
        if (o.skip[i] > 0) {
            skip.emplace(name("skip", i, "conv"), name("skip", i, "bn"), in, o.skip[i], 1, 1, seed);
        }
    }

    static std::string name(const char* block, std::size_t i, const char* layer) {
        return std::string(block) + "." + std::to_string(i) + "." + layer;
    }
};

} // namespace detail

/// Deep Image Prior's skip encoder-decoder with explicit forward and backward (see the file
/// comment). Not copyable: the layers keep the activations of the last forward.
template <class T>
class skip_net {
public:
    /// A network with PyTorch's default initialisation, drawn from `seed` (each layer from its
    /// own stream).
    explicit skip_net(skip_net_options options, std::uint64_t seed = 0) : o_(std::move(options)) {
        constexpr const char* where = "skip_net";
        require(o_.in_chans >= 1, where, "in_chans", "at least 1", o_.in_chans);
        require(o_.out_chans >= 1, where, "out_chans", "at least 1", o_.out_chans);
        require(o_.scales() >= 1, where, "the channel lists", "at least one scale", o_.scales());
        if (o_.up.size() != o_.scales() || o_.skip.size() != o_.scales()) {
            throw value_error(xrestore::detail::describe(
                where, "the channel lists down, up, skip", "one entry per scale each",
                std::to_string(o_.down.size()) + ", " + std::to_string(o_.up.size()) + ", " +
                    std::to_string(o_.skip.size()) + " entries"));
        }
        for (std::size_t i = 0; i < o_.scales(); ++i) {
            require(o_.down[i] >= 1, where, "down[" + std::to_string(i) + "]", "at least 1",
                    o_.down[i]);
            require(o_.up[i] >= 1, where, "up[" + std::to_string(i) + "]", "at least 1", o_.up[i]);
        }
        scales_.reserve(o_.scales());
        std::size_t in = o_.in_chans;
        for (std::size_t i = 0; i < o_.scales(); ++i) {
            const std::size_t below = i + 1 < o_.scales() ? o_.up[i + 1] : o_.down[i];
            scales_.emplace_back(i, in, below, o_, seed * 1024 + 16 * i);
            in = o_.down[i];
        }
        head_.emplace("out.conv", o_.up[0], o_.out_chans,
                      conv2d_options{.kernel_size = 1,
                                     .stride = 1,
                                     .padding = padding_mode::reflect,
                                     .bias = true,
                                     .seed = seed * 1024 + 1000});
    }

    skip_net(const skip_net&) = delete;
    skip_net& operator=(const skip_net&) = delete;
    skip_net(skip_net&&) = default;
    skip_net& operator=(skip_net&&) = default;

    /// The smallest side the network takes, and the multiple every side must be: 2^scales.
    [[nodiscard]] std::size_t size_multiple() const { return std::size_t{1} << o_.scales(); }

    /// f(z): N x out_chans x H x W; keeps what the backward needs.
    tensor4<T> forward(const tensor4<T>& z) {
        constexpr const char* where = "skip_net::forward";
        if (z.shape(1) != o_.in_chans) {
            throw shape_error(xrestore::detail::describe(
                where, "z", "N x " + std::to_string(o_.in_chans) + " x H x W",
                shape_string(z.shape())));
        }
        const std::size_t m = size_multiple();
        if (z.shape(0) < 1 || z.shape(2) < m || z.shape(3) < m || z.shape(2) % m != 0 ||
            z.shape(3) % m != 0) {
            throw shape_error(xrestore::detail::describe(
                where, "z's height and width",
                "positive multiples of 2^" + std::to_string(o_.scales()) + " = " +
                    std::to_string(m) + " (one halving per scale)",
                shape_string(z.shape())));
        }
        tensor4<T> h = forward_scale(0, z);
        tensor4<T> y = head_->forward(h);
        if (o_.sigmoid) {
            y = sigmoid_.forward(y);
        }
        forward_done_ = true;
        return y;
    }

    /// dL/dz from dL/df; adds to the parameters' gradients.
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(forward_done_, "skip_net::backward");
        tensor4<T> d = o_.sigmoid ? sigmoid_.backward(dy) : dy;
        return backward_scale(0, head_->backward(d));
    }

    /// Every trained tensor, in a fixed order (scale by scale, then the head).
    std::vector<parameter<T>*> parameters() {
        std::vector<parameter<T>*> out;
        for (auto& s : scales_) {
            if (s.skip) {
                s.skip->collect(out);
            }
            s.down0.collect(out);
            s.down1.collect(out);
            out.push_back(&s.bn_in.weight);
            out.push_back(&s.bn_in.bias);
            s.up0.collect(out);
            s.up1.collect(out);
        }
        out.push_back(&head_->weight);
        out.push_back(&head_->bias);
        return out;
    }

    /// The batch norms' running statistics (updated by every forward, never used: DIP stays in
    /// training mode; kept so the state matches PyTorch's).
    std::vector<buffer<T>*> buffers() {
        std::vector<buffer<T>*> out;
        for (auto& s : scales_) {
            if (s.skip) {
                s.skip->collect(out);
            }
            s.down0.collect(out);
            s.down1.collect(out);
            for (buffer<T>* b : s.bn_in.buffers()) {
                out.push_back(b);
            }
            s.up0.collect(out);
            s.up1.collect(out);
        }
        return out;
    }

    [[nodiscard]] const skip_net_options& options() const { return o_; }

private:
    tensor4<T> forward_scale(std::size_t i, const tensor4<T>& x) {
        auto& s = scales_[i];
        std::optional<tensor4<T>> skipped;
        if (s.skip) {
            skipped = s.skip->forward(x);
        }
        tensor4<T> d = s.down1.forward(s.down0.forward(x));
        if (i + 1 < scales_.size()) {
            d = forward_scale(i + 1, d);
        }
        tensor4<T> u = o_.upsampling == skip_upsampling::bilinear ? s.up_bilinear.forward(d)
                                                                  : s.up_nearest.forward(d);
        tensor4<T> c = skipped ? s.cat.forward(*skipped, u) : std::move(u);
        return s.up1.forward(s.up0.forward(s.bn_in.forward(c)));
    }

    tensor4<T> backward_scale(std::size_t i, const tensor4<T>& dy) {
        auto& s = scales_[i];
        tensor4<T> dc = s.bn_in.backward(s.up0.backward(s.up1.backward(dy)));
        tensor4<T> du;
        std::optional<tensor4<T>> dskip;
        if (s.skip) {
            auto [a, b] = s.cat.backward(dc);
            dskip = std::move(a);
            du = std::move(b);
        } else {
            du = std::move(dc);
        }
        tensor4<T> dd = o_.upsampling == skip_upsampling::bilinear ? s.up_bilinear.backward(du)
                                                                   : s.up_nearest.backward(du);
        if (i + 1 < scales_.size()) {
            dd = backward_scale(i + 1, dd);
        }
        tensor4<T> dx = s.down0.backward(s.down1.backward(dd));
        if (dskip) {
            dx += s.skip->backward(*dskip);
        }
        return dx;
    }

    skip_net_options o_;
    std::vector<detail::skip_scale<T>> scales_;
    std::optional<conv2d<T>> head_;
    sigmoid<T> sigmoid_;
    bool forward_done_ = false;
};

} // namespace xrestore::train
