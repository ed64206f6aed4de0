#pragma once
/// @file unet_denoiser.hpp
/// A fastMRI U-Net as a denoiser, so PnP-ADMM, PnP-PGD, HQS and RED take it directly. Three call
/// conventions (denoisers/unet_call.hpp, shared with the device denoiser), with m_c the mean of
/// channel c over H x W and s the unbiased standard deviation of all C x H x W values (clamped
/// below at 1e-4):
///   raw         D(y) = U(y)
///   normalised  D(y) = s U((y - m_c) / s) + m_c
///   residual    D(y) = y - s U((y - m_c) / s)
/// The convention comes from the weights' metadata (`"call"` in safetensors metadata, in a JSON
/// sidecar beside a .pth, or a string entry of a checkpoint dict) unless the caller chooses one;
/// with neither, loading throws value_error rather than guess (resolve_unet_call).
///
/// @code
/// auto d = xrestore::load_unet_denoiser("models/denoiser_unet_c32.pth");
/// xrestore::image clean = d(noisy);
/// auto x = xrestore::pnp_admm(blur, y, d, {.eta = 1e-4});
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/denoisers/unet_call.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/nn/unet.hpp"

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace xrestore {

/// A U-Net applied with one of the call conventions. Copies share the network.
class unet_denoiser {
public:
    unet_denoiser(std::shared_ptr<const nn::unet> net, unet_call call)
        : net_(std::move(net)), call_(call) {
        if (!net_) {
            throw value_error("unet_denoiser: network must not be null");
        }
        detail::require_denoiser_network(net_->config());
    }

    [[nodiscard]] const nn::unet& network() const { return *net_; }
    [[nodiscard]] unet_call call() const { return call_; }

    /// Throw before any long computation if a C x H x W image does not suit the network.
    void check_image(const shape3& s) const {
        static_cast<void>(detail::unet_call_shape_for(net_->config(), s));
    }

    /// D(y). A single-channel network denoises each channel of a multi-channel image apart (the
    /// channels go through the network as one batch).
    [[nodiscard]] image operator()(const image& y) const {
        const shape3 s = shape_of<3>(y);
        const unet_call_shape shape = detail::unet_call_shape_for(net_->config(), s);
        check_finite(y, "unet denoiser", "input");
        const std::size_t groups = shape.groups();
        std::vector<double> statistics;
        std::vector<float> normalised;
        std::vector<float> network_output;
        if (call_ != unet_call::raw) {
            statistics.resize(unet_call_statistics::size(s[0], groups));
            normalised.resize(shape.size());
            network_output.resize(shape.size());
        }
        const unet_call_scratch scratch{
            {statistics.data(), s[0], groups}, normalised.data(), network_output.data()};
        image out = xt::empty<float>({s[0], s[1], s[2]});
        detail::apply_unet_call(
            detail::host_executor{}, call_, y.data(), shape, scratch,
            [&](const float* in, float* u) { net_->forward(in, groups, s[1], s[2], u); },
            out.data());
        return out;
    }

private:
    std::shared_ptr<const nn::unet> net_;
    unet_call call_;
};

/// Load a U-Net (.pth or .safetensors) as a denoiser; `call` overrides the file's convention,
/// and is needed for a file that declares none (value_error otherwise); `method` as for
/// nn::unet::from_state_dict (the default is the faster, `direct` the smaller in memory).
inline unet_denoiser load_unet_denoiser(const std::filesystem::path& weights,
                                        std::optional<unet_call> call = std::nullopt,
                                        nn::conv3x3_method method = nn::conv3x3_method::automatic) {
    // packed straight from the mapped file: loading holds the packed network and little more
    mapped_weights file(weights);
    auto net = std::make_shared<const nn::unet>(nn::unet::from_mapped_weights(file, method));
    detail::require_denoiser_network(net->config());
    return unet_denoiser(std::move(net), resolve_unet_call(file.dict(), call, weights.string()));
}

} // namespace xrestore
