#pragma once
/// @file unet_denoiser.cuh
/// A device U-Net (nn/device_unet.cuh) as a denoiser on C x H x W device arrays, with the call
/// conventions of the CPU denoiser (raw, normalised, residual; denoisers/unet_call.hpp), so
/// device PnP-ADMM calls d(z) without host round trips. The per-channel means and the standard
/// deviation are device reductions that stay on the device.
///
/// @code
/// auto d = xrestore::cuda::load_unet_denoiser("models/denoiser_unet_c32.pth");
/// xrestore::device_array<3> clean = d(noisy_on_device);                  // residual call
/// auto x = xrestore::pnp_admm(blur, y_on_device, d, {.eta = 1e-4});
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/denoisers/unet_call.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/nn/device_unet.cuh"

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

namespace xrestore::cuda {

/// A device U-Net applied with one of the call conventions of xrestore::unet_denoiser. Copies
/// share the network.
class unet_denoiser {
public:
    unet_denoiser(std::shared_ptr<const unet> net, unet_call call)
        : net_(std::move(net)), call_(call) {
        if (!net_) {
            throw value_error("unet_denoiser: network must not be null");
        }
        xrestore::detail::require_denoiser_network(net_->config());
    }

    [[nodiscard]] const unet& network() const { return *net_; }
    [[nodiscard]] unet_call call() const { return call_; }

    /// Throw before any device work if a C x H x W image does not suit the network.
    void check_image(const shape3& s) const {
        static_cast<void>(xrestore::detail::unet_call_shape_for(net_->config(), s));
    }

    /// D(y). A single-channel network denoises each channel of a multi-channel image apart (the
    /// channels go through the network as one batch).
    [[nodiscard]] device_array<3> operator()(const device_array<3>& y) const {
        const shape3 s = y.shape();
        const unet_call_shape shape = xrestore::detail::unet_call_shape_for(net_->config(), s);
        const std::size_t groups = shape.groups();
        device_buffer<double> statistics;
        device_array<3> normalised;
        device_array<3> network_output;
        if (call_ != unet_call::raw) {
            statistics = device_buffer<double>(unet_call_statistics::size(s[0], groups));
            normalised = device_array<3>(s);
            network_output = device_array<3>(s);
        }
        const unet_call_scratch scratch{
            {statistics.data(), s[0], groups}, normalised.data(), network_output.data()};
        device_array<3> out(s);
        xrestore::detail::apply_unet_call(
            detail::element_executor{}, call_, y.data(), shape, scratch,
            [&](const float* in, float* u) { net_->forward(in, groups, s[1], s[2], u); },
            out.data());
        return out;
    }

private:
    std::shared_ptr<const unet> net_;
    unet_call call_;
};

/// Load a U-Net (.pth or .safetensors) onto the device as a denoiser; `call` overrides the
/// file's convention (metadata "call", a JSON sidecar or a checkpoint's string entry), and is
/// needed for a file that declares none (value_error otherwise, as on the CPU).
inline unet_denoiser load_unet_denoiser(const std::filesystem::path& weights,
                                        std::optional<unet_call> call = std::nullopt,
                                        const unet_options& options = {}) {
    const state_dict sd = load_weights(weights);
    auto net = std::make_shared<const unet>(unet::from_state_dict(sd, options));
    xrestore::detail::require_denoiser_network(net->config());
    return unet_denoiser(std::move(net), resolve_unet_call(sd, call, weights.string()));
}

} // namespace xrestore::cuda
