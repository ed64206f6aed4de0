#pragma once
/// @file unet.hpp
/// The fastMRI U-Net with reverse mode, assembled from train/'s layers, and the residual call
/// the denoisers are trained through. The architecture is nn/unet_architecture.hpp's table (and
/// nn/unet.hpp's forward): per encoder level a ConvBlock (3x3 convolution without bias, instance
/// norm without affine, LeakyReLU 0.2, twice) whose output is the skip, then 2x2 average
/// pooling; the bottleneck ConvBlock; per decoder step a 2x2 transposed convolution without
/// bias, instance norm and LeakyReLU, reflect padding by one row / column at the bottom / right
/// when the skip is one larger (odd sizes), the concatenation [upsampled | skip] and a
/// ConvBlock; the 1x1 head with bias last. Parameters carry the table's state_dict names, so
/// `to_state_dict` feeds nn::unet::from_state_dict and write_pth directly.
///
/// forward keeps every layer's saved activations (each layer object saves what its backward
/// needs) and backward walks the same steps in reverse, each step beside its forward.
///
/// @code
/// xrestore::train::unet<float> net({.in_chans = 3, .out_chans = 3, .chans = 32,
///                                   .num_pool_layers = 4}, /*seed=*/1);
/// net.backward(xrestore::train::mse_loss(net.forward(x), target).grad); // grads of parameters()
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/unet_architecture.hpp"
#include "xrestore/nn/unet_state_dict.hpp"
#include "xrestore/train/activations.hpp"
#include "xrestore/train/concatenate.hpp"
#include "xrestore/train/conv2d.hpp"
#include "xrestore/train/conv_transpose2d.hpp"
#include "xrestore/train/instance_norm_leaky_relu.hpp"
#include "xrestore/train/parameter.hpp"
#include "xrestore/train/pooling.hpp"
#include "xrestore/train/reflect_pad.hpp"
#include "xrestore/train/state.hpp"

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

namespace detail {

/// The negative slope of the fastMRI U-Net's LeakyReLUs.
template <class T>
inline constexpr T unet_slope = T(0.2);

/// The seed of the layer at index k of the table for a network seed: layers draw from
/// separate streams (weight seed, bias seed + 1).
inline std::uint64_t unet_layer_seed(std::uint64_t seed, std::size_t k) {
    return seed * 256 + 2 * k;
}

/// fastMRI ConvBlock: (3x3 convolution without bias, instance norm, LeakyReLU 0.2) twice,
/// parameters `<name>.layers.0.weight` and `<name>.layers.4.weight`.
template <class T>
struct unet_conv_block {
    conv2d<T> conv0;
    instance_norm_leaky_relu<T> act0; ///< InstanceNorm2d then LeakyReLU(0.2), fused
    conv2d<T> conv1;
    instance_norm_leaky_relu<T> act1;

    /// `first`, `second`: the table's specs of the block's two 3x3 layers (k, k + 1).
    unet_conv_block(const nn::layer_spec& first, const nn::layer_spec& second, std::uint64_t seed0,
                    std::uint64_t seed1)
        : conv0(prefix_of(first.weight), first.in, first.out,
                {.kernel_size = 3, .bias = false, .seed = seed0}),
          act0(first.out, unet_slope<T>), conv1(prefix_of(second.weight), second.in, second.out,
                                                {.kernel_size = 3, .bias = false, .seed = seed1}),
          act1(second.out, unet_slope<T>) {}

    tensor4<T> forward(const tensor4<T>& x) {
        const tensor4<T> mid = act0.forward(conv0.forward(x));
        return act1.forward(conv1.forward(mid));
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        const tensor4<T> dmid = conv1.backward(act1.backward(dy));
        return conv0.backward(act0.backward(dmid));
    }

    /// "a.b.weight" without ".weight".
    static std::string prefix_of(const std::string& weight_name) {
        return weight_name.substr(0, weight_name.size() - std::string(".weight").size());
    }
};

/// One decoder step: transposed convolution, instance norm, LeakyReLU, reflect padding to the
/// skip's size, [upsampled | skip], ConvBlock.
template <class T>
struct unet_up_step {
    conv_transpose2d<T> up;
    instance_norm_leaky_relu<T> act;   ///< InstanceNorm2d then LeakyReLU(0.2), fused
    std::optional<reflect_pad<T>> pad; ///< set by forward when the skip is one row/column larger
    concatenate<T> cat;
    unet_conv_block<T> block;

    unet_up_step(const nn::layer_spec& transposed, const nn::layer_spec& first,
                 const nn::layer_spec& second, std::uint64_t seed, std::uint64_t seed0,
                 std::uint64_t seed1)
        : up(unet_conv_block<T>::prefix_of(transposed.weight), transposed.in, transposed.out,
             {.bias = false, .seed = seed}),
          act(transposed.out, unet_slope<T>), block(first, second, seed0, seed1) {}

    /// The step on the deeper level's output `x` with the skip of its level; returns the
    /// block's output.
    tensor4<T> forward(const tensor4<T>& x, const tensor4<T>& skip) {
        tensor4<T> upsampled = act.forward(up.forward(x));
        // F.pad(output, [0, right, 0, bottom], "reflect") when the skip is larger (odd sizes)
        const std::size_t bottom = skip.shape(2) - upsampled.shape(2);
        const std::size_t right = skip.shape(3) - upsampled.shape(3);
        pad.reset();
        if (bottom != 0 || right != 0) {
            pad.emplace(reflect_pad_sizes{.left = 0, .right = right, .top = 0, .bottom = bottom});
            upsampled = pad->forward(upsampled);
        }
        return block.forward(cat.forward(upsampled, skip));
    }
    /// dL/dx of the deeper level's output and dL/dskip, from dL/d(block output).
    std::pair<tensor4<T>, tensor4<T>> backward(const tensor4<T>& dy) {
        auto [dupsampled, dskip] = cat.backward(block.backward(dy));
        if (pad) {
            dupsampled = pad->backward(dupsampled);
        }
        return {up.backward(act.backward(dupsampled)), std::move(dskip)};
    }
};

} // namespace detail

/// The trainable fastMRI U-Net (see the file comment). Layers are class templates over T: float
/// to train, double for gradient checks.
template <class T>
class unet {
public:
    /// A network of `config` with PyTorch's default initialisation (uniform in
    /// +-1/sqrt(fan_in)) drawn from `seed`; value_error for a configuration the table refuses.
    explicit unet(const nn::unet_config& config, std::uint64_t seed = 0)
        : arch_(config), bottleneck_(make_block(arch_.bottleneck(), seed)),
          head_(detail::unet_conv_block<T>::prefix_of(arch_.layers()[arch_.head()].weight),
                config.chans, config.out_chans,
                {.kernel_size = 1,
                 .bias = true,
                 .seed = detail::unet_layer_seed(seed, arch_.head())}) {
        for (std::size_t l = 0; l < arch_.pools(); ++l) {
            down_.push_back(make_block(arch_.down(l), seed));
            pool_.emplace_back();
        }
        const std::vector<nn::layer_spec>& layers = arch_.layers();
        for (std::size_t i = 0; i < arch_.pools(); ++i) {
            const std::size_t k = arch_.up_transpose(i);
            const std::size_t b = arch_.up(i);
            up_.emplace_back(layers[k], layers[b], layers[b + 1], detail::unet_layer_seed(seed, k),
                             detail::unet_layer_seed(seed, b),
                             detail::unet_layer_seed(seed, b + 1));
        }
    }

    /// A network with the weights of a U-Net state_dict (a wrapper prefix is stripped, the
    /// configuration inferred and every tensor checked as nn::unet::from_state_dict does).
    static unet from_state_dict(const state_dict& sd) {
        const nn::unet_tensors t = nn::read_unet_tensors(sd);
        unet net(t.config);
        state_dict named; // the tensors under the table's names, without the prefix
        const std::vector<nn::layer_spec>& layers = net.arch_.layers();
        for (std::size_t k = 0; k < layers.size(); ++k) {
            named.insert(layers[k].weight, *t.weights[k]);
            if (!layers[k].bias.empty()) {
                named.insert(layers[k].bias, *t.biases[k]);
            }
        }
        load_state_dict(net.parameters(), named);
        return net;
    }

    [[nodiscard]] const nn::unet_config& config() const { return arch_.config(); }
    [[nodiscard]] const nn::unet_architecture& architecture() const { return arch_; }

    /// y = U(x): x is N x in_chans x H x W, y N x out_chans x H x W. Saves the activations.
    tensor4<T> forward(const tensor4<T>& x) {
        nn::check_unet_batch(config(), {x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
        // for layer in down_sample_layers: output = layer(output); stack.append(output);
        //                                   output = avg_pool2d(output, 2)
        std::vector<tensor4<T>> skips;
        tensor4<T> output = x;
        for (std::size_t l = 0; l < arch_.pools(); ++l) {
            skips.push_back(down_[l].forward(output));
            output = pool_[l].forward(skips.back());
        }
        // output = conv(output)
        output = bottleneck_.forward(output);
        // per decoder step: transpose_conv, pad to the skip, cat([output, skip]), conv
        for (std::size_t i = 0; i < arch_.pools(); ++i) {
            output = up_[i].forward(output, skips[arch_.decoder_level(i)]);
        }
        // the 1x1 head
        output = head_.forward(output);
        forward_done_ = true;
        return output;
    }

    /// dL/dx from dL/dy (N x out_chans x H x W); adds dL/dtheta to every parameter's grad.
    tensor4<T> backward(const tensor4<T>& dy) {
        train::detail::require_forward(forward_done_, "unet::backward");
        tensor4<T> doutput = head_.backward(dy);
        // decoder steps in reverse; each hands its skip's gradient to its level
        std::vector<tensor4<T>> dskips(arch_.pools());
        for (std::size_t i = arch_.pools(); i-- > 0;) {
            auto [ddeeper, dskip] = up_[i].backward(doutput);
            doutput = std::move(ddeeper);
            dskips[arch_.decoder_level(i)] = std::move(dskip);
        }
        doutput = bottleneck_.backward(doutput);
        // encoder levels in reverse: the skip's output feeds both the pooling and the decoder
        for (std::size_t l = arch_.pools(); l-- > 0;) {
            tensor4<T> dblock = pool_[l].backward(doutput);
            dblock += dskips[l];
            doutput = down_[l].backward(dblock);
        }
        return doutput;
    }

    /// Every parameter, in the table's (state_dict) order: weights, and the head's bias after
    /// its weight.
    std::vector<parameter<T>*> parameters() { return collect(*this); }

    /// The weights as float32 tensors under the table's names (for nn::unet::from_state_dict,
    /// write_pth, write_safetensors).
    [[nodiscard]] state_dict to_state_dict() const {
        state_dict sd;
        for (const parameter<T>* p : collect(*this)) {
            sd.insert(p->name, detail::to_weight_tensor(p->value));
        }
        return sd;
    }

private:
    detail::unet_conv_block<T> make_block(std::size_t k, std::uint64_t seed) const {
        return detail::unet_conv_block<T>(arch_.layers()[k], arch_.layers()[k + 1],
                                          detail::unet_layer_seed(seed, k),
                                          detail::unet_layer_seed(seed, k + 1));
    }

    /// The parameters of `self` (const or not) in table order.
    template <class Self>
    static auto collect(Self& self) {
        using pointer = decltype(&self.head_.weight);
        std::vector<pointer> all;
        auto block = [&](auto& b) {
            all.push_back(&b.conv0.weight);
            all.push_back(&b.conv1.weight);
        };
        for (auto& b : self.down_) {
            block(b);
        }
        block(self.bottleneck_);
        for (auto& step : self.up_) {
            all.push_back(&step.up.weight);
            block(step.block);
        }
        all.push_back(&self.head_.weight);
        all.push_back(&self.head_.bias);
        return all;
    }

    nn::unet_architecture arch_;
    std::vector<detail::unet_conv_block<T>> down_;
    std::vector<avg_pool2<T>> pool_;
    detail::unet_conv_block<T> bottleneck_;
    std::vector<detail::unet_up_step<T>> up_;
    conv2d<T> head_;
    bool forward_done_ = false;
};

namespace kernels {

/// z[i] = (y[i] - m[n, c]) / s[n] over an N x C x H x W batch (plane = H W).
template <class T>
struct residual_normalise_body {
    const T* y;
    const double* channel_mean;
    const double* scale;
    std::size_t channels, plane;
    T* z;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t nc = i / plane;
        z[i] =
            static_cast<T>((static_cast<double>(y[i]) - channel_mean[nc]) / scale[nc / channels]);
    }
};

/// d[i] = y[i] - s[n] u[i]: the residual call's output.
template <class T>
struct residual_output_body {
    const T* y;
    const T* u;
    const double* scale;
    std::size_t sample_size;
    T* d;
    XRESTORE_HD void operator()(std::size_t i) const {
        d[i] = static_cast<T>(static_cast<double>(y[i]) -
                              scale[i / sample_size] * static_cast<double>(u[i]));
    }
};

/// du[i] = -s[n] g[i]: the gradient reaching the network's output.
template <class T>
struct residual_network_grad_body {
    const T* g;
    const double* scale;
    std::size_t sample_size;
    T* du;
    XRESTORE_HD void operator()(std::size_t i) const {
        du[i] = static_cast<T>(-scale[i / sample_size] * static_cast<double>(g[i]));
    }
};

/// dy[i] = g[i] + dz[i] / s[n] + dm[n, c] / (H W) + k[n] (y[i] - mu[n]): the direct path, the
/// path through z, through the channel mean and through the scale (k[n] = dL/ds[n] / ((M - 1)
/// s[n]) with M = C H W, 0 where the clamp holds s).
template <class T>
struct residual_input_grad_body {
    const T* g;
    const T* dz;
    const T* y;
    const double* scale;
    const double* channel_mean_grad;
    const double* sample_mean;
    const double* scale_coefficient;
    std::size_t channels, plane;
    T* dy;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t nc = i / plane;
        const std::size_t n = nc / channels;
        dy[i] = static_cast<T>(static_cast<double>(g[i]) + static_cast<double>(dz[i]) / scale[n] +
                               channel_mean_grad[nc] / static_cast<double>(plane) +
                               scale_coefficient[n] * (static_cast<double>(y[i]) - sample_mean[n]));
    }
};

} // namespace kernels

/// The residual call of models/TRAINING.md around a train::unet, with the layer shape:
///   D(y) = y - s U((y - m_c) / s)
/// with m_c the mean of channel c of sample n over H x W and s the unbiased standard deviation
/// of all C x H x W values of sample n, clamped below at `std_clamp` (tools/dev/unet_torch.py's
/// `call(model, y, "residual")`). backward differentiates through m_c and s too (s not where the
/// clamp holds it, as torch's clamp) and adds the network's parameter gradients.
///
/// @code
/// xrestore::train::residual_call<float> denoise(net);  // net: train::unet<float>
/// auto l = xrestore::train::mse_loss(denoise.forward(noisy), clean);
/// denoise.backward(l.grad);                             // into net.parameters()' grads
/// @endcode
template <class T>
class residual_call {
public:
    explicit residual_call(unet<T>& net, double std_clamp = 1e-4)
        : net_(&net), std_clamp_(std_clamp) {
        require(std_clamp > 0.0, "residual_call", "std_clamp", "positive", std_clamp);
    }

    /// D(y) for an N x C x H x W batch (C = the network's in_chans = out_chans).
    tensor4<T> forward(const tensor4<T>& y) {
        constexpr const char* where = "residual_call";
        if (net_->config().in_chans != net_->config().out_chans) {
            throw shape_error(xrestore::detail::describe(
                where, "the network's out_chans",
                "its in_chans " + std::to_string(net_->config().in_chans),
                net_->config().out_chans));
        }
        train::detail::require_input_channels(y, net_->config().in_chans, where);
        const auto [n, c, plane, m] = layout_of(y);
        // m_c = mean over H x W; mu = mean over C x H x W; s = max(sqrt(sum (y - mu)^2 / (M - 1)),
        // clamp)
        channel_mean_.assign(n * c, 0.0);
        sample_mean_.assign(n, 0.0);
        scale_.assign(n, 0.0);
        clamped_.assign(n, false);
        for (std::size_t s = 0; s < n; ++s) {
            double total = 0.0;
            for (std::size_t k = 0; k < c; ++k) {
                double sum = 0.0;
                for (std::size_t q = 0; q < plane; ++q) {
                    sum += static_cast<double>(y.data()[(s * c + k) * plane + q]);
                }
                channel_mean_[s * c + k] = sum / static_cast<double>(plane);
                total += sum;
            }
            sample_mean_[s] = total / static_cast<double>(m);
            double squares = 0.0;
            for (std::size_t q = 0; q < m; ++q) {
                const double d = static_cast<double>(y.data()[s * m + q]) - sample_mean_[s];
                squares += d * d;
            }
            const double sd =
                std::sqrt(squares / static_cast<double>(std::max<std::size_t>(m - 1, 1)));
            clamped_[s] = sd < std_clamp_;
            scale_[s] = std::max(sd, std_clamp_);
        }
        // z = (y - m_c) / s, u = U(z), D = y - s u
        z_ = tensor4<T>(y.shape());
        cpu_backend::for_each_index(
            z_.size(), kernels::residual_normalise_body<T>{y.data(), channel_mean_.data(),
                                                           scale_.data(), c, plane, z_.data()});
        u_ = net_->forward(z_);
        y_ = y;
        tensor4<T> d(y.shape());
        cpu_backend::for_each_index(d.size(), kernels::residual_output_body<T>{
                                                  y.data(), u_.data(), scale_.data(), m, d.data()});
        forward_done_ = true;
        return d;
    }

    /// dL/dy from dL/dD; adds the network's parameter gradients.
    tensor4<T> backward(const tensor4<T>& g) {
        constexpr const char* where = "residual_call::backward";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(g, y_.shape(), where);
        const auto [n, c, plane, m] = layout_of(y_);
        // D = y - s u: du = -s g, ds = -sum(g u)
        tensor4<T> du(g.shape());
        cpu_backend::for_each_index(du.size(), kernels::residual_network_grad_body<T>{
                                                   g.data(), scale_.data(), m, du.data()});
        const tensor4<T> dz = net_->backward(du);
        // z = (y - m_c) / s: dm_c = -sum_{HW} dz / s, ds += -sum(dz z) / s
        std::vector<double> channel_mean_grad(n * c, 0.0);
        std::vector<double> scale_coefficient(n, 0.0);
        for (std::size_t s = 0; s < n; ++s) {
            double ds = 0.0;
            for (std::size_t k = 0; k < c; ++k) {
                double sum = 0.0;
                for (std::size_t q = 0; q < plane; ++q) {
                    const std::size_t i = (s * c + k) * plane + q;
                    sum += static_cast<double>(dz.data()[i]);
                    ds -= static_cast<double>(g.data()[i]) * static_cast<double>(u_.data()[i]) +
                          static_cast<double>(dz.data()[i]) * static_cast<double>(z_.data()[i]) /
                              scale_[s];
                }
                channel_mean_grad[s * c + k] = -sum / scale_[s];
            }
            // s = sqrt(sum (y - mu)^2 / (M - 1)): ds/dy = (y - mu) / ((M - 1) s)
            if (!clamped_[s]) {
                scale_coefficient[s] =
                    ds / (static_cast<double>(std::max<std::size_t>(m - 1, 1)) * scale_[s]);
            }
        }
        tensor4<T> dy(y_.shape());
        cpu_backend::for_each_index(dy.size(), kernels::residual_input_grad_body<T>{
                                                   g.data(), dz.data(), y_.data(), scale_.data(),
                                                   channel_mean_grad.data(), sample_mean_.data(),
                                                   scale_coefficient.data(), c, plane, dy.data()});
        return dy;
    }

    /// The network's parameters.
    std::vector<parameter<T>*> parameters() { return net_->parameters(); }
    /// s of each sample in the last forward pass.
    [[nodiscard]] const std::vector<double>& scales() const { return scale_; }

private:
    /// N, C, H W and M = C H W of a batch.
    struct batch_layout {
        std::size_t n, c, plane, m;
    };
    static batch_layout layout_of(const tensor4<T>& y) {
        const std::size_t plane = y.shape(2) * y.shape(3);
        return {y.shape(0), y.shape(1), plane, y.shape(1) * plane};
    }

    unet<T>* net_;
    double std_clamp_;
    tensor4<T> y_;
    tensor4<T> z_;
    tensor4<T> u_;
    std::vector<double> channel_mean_;
    std::vector<double> sample_mean_;
    std::vector<double> scale_;
    std::vector<bool> clamped_;
    bool forward_done_ = false;
};

} // namespace xrestore::train
