// The denoisers of the command line (see denoiser_choice.hpp).
#include "denoiser_choice.hpp"

#include <xrestore/denoisers/gaussian_denoiser.hpp>
#include <xrestore/denoisers/haar_denoiser.hpp>
#include <xrestore/denoisers/tv_denoiser.hpp>
#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace xrestore::cli {

const std::vector<classical_denoiser>& classical_denoisers() {
    static const std::vector<classical_denoiser> table{
        {"gaussian", "sigma of the Gaussian kernel in pixels", gaussian_denoiser{}.sigma,
         [](const image& x, double s) { return gaussian_denoiser{.sigma = s}(x); }},
        {"tv", "weight of TV", tv_denoiser{}.weight,
         [](const image& x, double s) { return tv_denoiser{.weight = s}(x); }},
        {"haar", "soft threshold of the Haar detail coefficients", haar_denoiser{}.threshold,
         [](const image& x, double s) { return haar_denoiser{.threshold = s}(x); }},
    };
    return table;
}

bool is_denoiser_name(const std::string& name) {
    for (const auto& d : classical_denoisers()) {
        if (name == d.name) {
            return true;
        }
    }
    return name.starts_with("unet:") && name.size() > 5;
}

std::string denoiser_names() {
    std::string text;
    for (const auto& d : classical_denoisers()) {
        text += d.name + ", ";
    }
    text.resize(text.size() - 2);
    return text + " or unet:WEIGHTS";
}

std::string denoiser_strength_help() {
    std::string text;
    for (const auto& d : classical_denoisers()) {
        char value[32];
        std::snprintf(value, sizeof value, "%g", d.default_strength);
        text +=
            (text.empty() ? "" : "; ") + d.name + ": " + d.strength + " (default " + value + ")";
    }
    return text + "; 0: the default";
}

image cli_denoiser::operator()(const image& x) const {
    if (unet) {
        return (*unet)(x);
    }
    for (const auto& d : classical_denoisers()) {
        if (name == d.name) {
            return d.run(x, strength > 0 ? strength : d.default_strength);
        }
    }
    throw value_error("denoiser must be " + denoiser_names() + ", got '" + name + "'");
}

double cli_denoiser::working_bytes(const shape3& x_shape) const {
    const double image_floats = static_cast<double>(x_shape[0] * x_shape[1] * x_shape[2]);
    if (!unet) {
        return 4.0 * 4.0 * image_floats;
    }
    // the normalised input, output and the call's copies, and the network's own working set
    // (its activations, of one tile when the image is too large for one pass: nn::unet_tiling)
    return 4.0 * 4.0 * image_floats +
           static_cast<double>(unet->network().working_bytes(x_shape[1], x_shape[2]));
}

cli_denoiser make_cli_denoiser(const std::string& name, double strength, const std::string& call,
                               const shape3& x_shape, const std::string& call_flag) {
    if (name.starts_with("unet:")) {
        return load_unet(name.substr(5), call, x_shape, call_flag);
    }
    return {name, strength, nullptr};
}

cli_denoiser load_unet(const std::string& weights, const std::string& call, const shape3& x_shape,
                       const std::string& call_flag, const nn::unet_tiling* tiling) {
    std::optional<unet_call> convention;
    if (!call.empty()) {
        convention = parse_unet_call(call);
    }
    // packed straight from the mapped file, each tensor's pages dropped once packed: the weights
    // are not held twice
    mapped_weights file(weights);
    const state_dict& sd = file.dict();
    nn::unet loaded = nn::unet::from_mapped_weights(file);
    if (tiling != nullptr) {
        loaded.set_tiling(*tiling);
    }
    auto net = std::make_shared<const nn::unet>(std::move(loaded));
    detail::require_denoiser_network(net->config());
    static_cast<void>(detail::unet_call_shape_for(net->config(), x_shape));
    const unet_call chosen = resolve_unet_call(
        sd, convention, weights, "choose one with " + call_flag + " raw, normalised or residual");
    for (const std::vector<std::string>* notes : {&std::as_const(sd.notes), &net->load_notes()}) {
        for (const std::string& note : *notes) {
            std::fprintf(stderr, "xrestore: note: '%s': %s\n", weights.c_str(), note.c_str());
        }
    }
    return {"unet:" + weights, 0.0, std::make_shared<const unet_denoiser>(std::move(net), chosen)};
}

} // namespace xrestore::cli
