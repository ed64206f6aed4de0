#pragma once
/// @file unet_denoiser.hpp
/// A fastMRI U-Net as a denoiser, so PnP-ADMM, PnP-PGD, HQS and RED take it directly. Three call
/// conventions, with m_c the mean of channel c over H x W and s the unbiased standard deviation
/// of all C x H x W values (clamped below at 1e-4):
///   raw         D(y) = U(y)
///   normalised  D(y) = s U((y - m_c) / s) + m_c
///   residual    D(y) = y - s U((y - m_c) / s)
/// The convention comes from the weights' metadata (`"call"` in safetensors metadata or in a
/// JSON sidecar beside a .pth) unless the caller overrides it; without either it is raw.
///
/// @code
/// auto d = xrestore::load_unet_denoiser("models/denoiser_unet_c32.pth");
/// xrestore::image clean = d(noisy);
/// auto x = xrestore::pnp_admm(blur, y, d, {.eta = 1e-4});
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/nn/unet.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace xrestore {

/// How the network is applied to a noisy image (see the file comment).
enum class unet_call { raw, normalised, residual };

/// "raw", "normalised", "residual".
inline std::string_view to_string(unet_call c) {
    switch (c) {
    case unet_call::raw:
        return "raw";
    case unet_call::normalised:
        return "normalised";
    case unet_call::residual:
        return "residual";
    }
    return "unknown";
}

/// Parse "raw", "normalised" (or "normalized"), "residual"; value_error otherwise.
inline unet_call parse_unet_call(std::string_view text) {
    if (text == "raw") {
        return unet_call::raw;
    }
    if (text == "normalised" || text == "normalized") {
        return unet_call::normalised;
    }
    if (text == "residual") {
        return unet_call::residual;
    }
    throw value_error(detail::describe("unet denoiser", "call convention",
                                       "one of raw, normalised, residual",
                                       std::string("'") + std::string(text) + "'"));
}

/// A U-Net applied with one of the call conventions. Copies share the network.
class unet_denoiser {
public:
    unet_denoiser(std::shared_ptr<const nn::unet> net, unet_call call)
        : net_(std::move(net)), call_(call) {
        if (!net_) {
            throw value_error("unet_denoiser: network must not be null");
        }
        const nn::unet_config& c = net_->config();
        if (c.in_chans != c.out_chans) {
            throw shape_error(detail::concat("unet_denoiser: a denoiser needs as many output as ",
                                             "input channels, the network maps ", c.in_chans,
                                             " to ", c.out_chans));
        }
    }

    [[nodiscard]] const nn::unet& network() const { return *net_; }
    [[nodiscard]] unet_call call() const { return call_; }

    /// Throw before any long computation if a C x H x W image does not suit the network.
    void check_image(const shape3& s) const {
        const std::size_t in = net_->config().in_chans;
        if (s[0] != in && in != 1) {
            throw shape_error(detail::concat("unet denoiser: the network takes ", in,
                                             "-channel images, got ", shape_string(s)));
        }
        net_->check_input_size(s[1], s[2]);
    }

    /// D(y). A single-channel network denoises each channel of a multi-channel image apart.
    [[nodiscard]] image operator()(const image& y) const {
        const shape3 s = shape_of<3>(y);
        check_image(s);
        check_finite(y, "unet denoiser", "input");
        const std::size_t groups = net_->config().in_chans == s[0] ? 1 : s[0];
        const std::size_t group_channels = s[0] / groups;
        const std::size_t group_size = group_channels * s[1] * s[2];
        const std::size_t plane = s[1] * s[2];

        tensor<4> batch = xt::empty<float>({groups, group_channels, s[1], s[2]});
        std::vector<double> mean(s[0], 0.0);
        std::vector<double> scale(groups, 1.0);
        const float* src = y.data();
        for (std::size_t g = 0; g < groups; ++g) {
            const float* values = src + g * group_size;
            if (call_ != unet_call::raw) {
                double total = 0.0;
                for (std::size_t c = 0; c < group_channels; ++c) {
                    double sum = 0.0;
                    for (std::size_t i = 0; i < plane; ++i) {
                        sum += values[c * plane + i];
                    }
                    mean[g * group_channels + c] = sum / static_cast<double>(plane);
                    total += sum;
                }
                // s: unbiased standard deviation over the whole group, clamped at 1e-4.
                const double overall = total / static_cast<double>(group_size);
                double squares = 0.0;
                for (std::size_t i = 0; i < group_size; ++i) {
                    const double d = values[i] - overall;
                    squares += d * d;
                }
                const double n = static_cast<double>(group_size);
                scale[g] = std::max(std::sqrt(squares / std::max(n - 1.0, 1.0)), 1e-4);
            }
            float* dst = batch.data() + g * group_size;
            for (std::size_t c = 0; c < group_channels; ++c) {
                const double m = mean[g * group_channels + c];
                for (std::size_t i = 0; i < plane; ++i) {
                    dst[c * plane + i] = static_cast<float>((values[c * plane + i] - m) / scale[g]);
                }
            }
        }
        const tensor<4> u = net_->forward(batch);

        image out = xt::empty<float>({s[0], s[1], s[2]});
        for (std::size_t g = 0; g < groups; ++g) {
            for (std::size_t c = 0; c < group_channels; ++c) {
                const std::size_t channel = g * group_channels + c;
                const double m = mean[channel];
                const float* uc = u.data() + channel * plane;
                const float* yc = src + channel * plane;
                float* oc = out.data() + channel * plane;
                for (std::size_t i = 0; i < plane; ++i) {
                    const double v = scale[g] * uc[i];
                    switch (call_) {
                    case unet_call::raw:
                        oc[i] = uc[i];
                        break;
                    case unet_call::normalised:
                        oc[i] = static_cast<float>(v + m);
                        break;
                    case unet_call::residual:
                        oc[i] = static_cast<float>(yc[i] - v);
                        break;
                    }
                }
            }
        }
        return out;
    }

private:
    std::shared_ptr<const nn::unet> net_;
    unet_call call_;
};

/// The call convention a weights file declares (metadata key "call"), if any.
inline std::optional<unet_call> declared_unet_call(const state_dict& sd) {
    auto it = sd.metadata.find("call");
    if (it == sd.metadata.end()) {
        return std::nullopt;
    }
    std::string text = it->second;
    // A JSON sidecar stores strings as JSON; accept them quoted.
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        text = text.substr(1, text.size() - 2);
    }
    return parse_unet_call(text);
}

/// Load a U-Net (.pth or .safetensors) as a denoiser; `call` overrides the file's convention.
inline unet_denoiser load_unet_denoiser(const std::filesystem::path& weights,
                                        std::optional<unet_call> call = std::nullopt) {
    const state_dict sd = load_weights(weights);
    auto net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(sd));
    const unet_call chosen = call ? *call : declared_unet_call(sd).value_or(unet_call::raw);
    return unet_denoiser(std::move(net), chosen);
}

} // namespace xrestore
