#pragma once
/// @file unet_state_dict.hpp
/// A fastMRI U-Net's tensors read from a PyTorch state_dict against the architecture table: the
/// configuration (input and output channels, base channels, pool layers) comes from the weight
/// shapes, then every layer's tensors are looked up by the table's names and checked (shape and
/// finite values), and tensors the table does not name are refused. Each error names the tensor,
/// the expected and the found shape. The CPU and the device networks load through this.
///
/// @code
/// const xrestore::state_dict sd = xrestore::load_weights("denoiser.pth");
/// const xrestore::nn::unet_tensors t = xrestore::nn::read_unet_tensors(sd);
/// const xrestore::weight_tensor& head = *t.weights.back();   // up_conv.3.1.weight for 4 pools
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/unet_architecture.hpp"
#include "xrestore/nn/weight_checks.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::nn {

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

/// The checked tensors of a U-Net state_dict, per layer of unet_architecture(config).layers().
/// The pointers point into the state_dict read, which must outlive them.
struct unet_tensors {
    unet_config config;
    std::string prefix; ///< the wrapper prefix stripped from every name ("" for none)
    std::vector<const weight_tensor*> weights;
    std::vector<const weight_tensor*> biases; ///< nullptr for a layer without bias
};

/// Read a fastMRI U-Net from `sd`: infer the configuration, check every tensor the table names
/// (io_error when one is missing, shape_error for a wrong shape, value_error for non-finite
/// values) and refuse any other tensor (io_error).
inline unet_tensors read_unet_tensors(const state_dict& sd) {
    unet_tensors out;
    std::string_view stripped;
    out.prefix = detail::strip_prefix(sd, stripped);
    const std::string& pre = out.prefix;
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
    unet_config& cfg = out.config;
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
    if (cfg.chans == 0 || cfg.in_chans == 0 || cfg.num_pool_layers > unet_architecture::max_pools ||
        (cfg.chans << cfg.num_pool_layers) > (std::size_t{1} << 20)) {
        throw shape_error(xrestore::detail::concat("unet: implausible architecture: chans ",
                                                   cfg.chans, ", in_chans ", cfg.in_chans,
                                                   ", pool layers ", cfg.num_pool_layers));
    }

    // Every layer of the table, in the order the forward pass runs them.
    const unet_architecture arch(cfg);
    for (const layer_spec& layer : arch.layers()) {
        const weight_tensor& weight = get(layer.weight);
        const weight_tensor* bias = layer.bias.empty() ? nullptr : &get(layer.bias);
        detail::require_shape(weight, pre + layer.weight, layer.weight_shape());
        if (bias != nullptr) {
            detail::require_shape(*bias, pre + layer.bias, {layer.out});
        }
        out.weights.push_back(&weight);
        out.biases.push_back(bias);
    }
    for (const auto& [name, tensor] : sd.entries()) {
        if (used.count(name) == 0) {
            throw io_error(xrestore::detail::concat(
                "unet: unexpected tensor '", name, "' (shape ", shape_string(tensor.shape),
                ") for a U-Net with ", cfg.num_pool_layers, " pool layers, chans ", cfg.chans));
        }
    }
    return out;
}

} // namespace xrestore::nn
