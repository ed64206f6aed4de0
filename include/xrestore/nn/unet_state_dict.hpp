#pragma once
/// @file unet_state_dict.hpp
/// A fastMRI U-Net's tensors read from a PyTorch state_dict against the architecture table: the
/// prefix wrappers add to every name (module., _orig_mod., model., net., unet., nested) is
/// stripped, the configuration (input and output channels, base channels, pool layers) comes
/// from the weight shapes, then every layer's tensors are looked up by the table's names and
/// checked (shape and finite values), floating-point tensors the table does not name are
/// refused and integer buffers left out with a note. Each error names the tensor, the expected
/// and the found shape, or some of the file's keys. The CPU and the device networks load
/// through this.
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
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::nn {

namespace detail {

/// The first layer's weight, which every fastMRI U-Net has: the key from which the wrapper
/// prefix and the configuration are found.
inline constexpr std::string_view unet_anchor = "down_sample_layers.0.layers.0.weight";

/// "'a', 'b', ... (9 tensors)": up to `shown` of `names`, quoted, and how many there are.
inline std::string some_names(const std::vector<std::string>& names, std::size_t shown = 6) {
    std::string text;
    for (std::size_t k = 0; k < names.size() && k < shown; ++k) {
        text += xrestore::detail::concat(k == 0 ? "'" : ", '", names[k], "'");
    }
    if (names.size() > shown) {
        text += ", ...";
    }
    return xrestore::detail::concat(text.empty() ? std::string("none") : text, " (", names.size(),
                                    names.size() == 1 ? " tensor)" : " tensors)");
}

/// Every name of `sd`, in file order.
inline std::vector<std::string> names_of(const state_dict& sd) {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : sd.entries()) {
        names.push_back(name);
    }
    return names;
}

/// The prefix wrappers put before every name: "" for a bare U-Net, "module." (DataParallel),
/// "_orig_mod." (torch.compile), "model.", "net.", "unet." (training modules), or several nested
/// ("module._orig_mod."); found as what precedes the anchor. io_error when no name ends in the
/// anchor (naming the architecture by some of its keys) or several do.
inline std::string find_unet_prefix(const state_dict& sd) {
    std::vector<std::string> prefixes;
    for (const auto& [name, tensor] : sd.entries()) {
        if (name.ends_with(unet_anchor)) {
            const std::string prefix = name.substr(0, name.size() - unet_anchor.size());
            if (prefix.empty() || prefix.back() == '.') {
                prefixes.push_back(prefix);
            }
        }
    }
    if (prefixes.empty()) {
        throw io_error(xrestore::detail::concat(
            "unet: this is not a fastMRI U-Net (it has no tensor '", unet_anchor,
            "', under any prefix): it has keys like ", some_names(names_of(sd))));
    }
    if (prefixes.size() > 1) {
        std::vector<std::string> quoted;
        for (const std::string& p : prefixes) {
            quoted.push_back(p.empty() ? "(no prefix)" : p);
        }
        throw io_error(xrestore::detail::concat("unet: the file holds ", prefixes.size(),
                                                " U-Nets, under the prefixes ", some_names(quoted),
                                                "; save the one to use alone"));
    }
    return prefixes.front();
}

} // namespace detail

/// The checked tensors of a U-Net state_dict, per layer of unet_architecture(config).layers().
/// The pointers point into the state_dict read, which must outlive them.
struct unet_tensors {
    unet_config config;
    std::string prefix; ///< the wrapper prefix stripped from every name ("" for none)
    std::vector<const weight_tensor*> weights;
    std::vector<const weight_tensor*> biases; ///< nullptr for a layer without bias
    std::vector<std::string> notes;           ///< what was left out (integer buffers)
};

/// Read a fastMRI U-Net from `sd`: strip the wrappers' prefix, infer the configuration, check
/// every tensor the table names (io_error when one is missing, listing the file's tensors such a
/// U-Net does not have; shape_error for a wrong shape or an integer tensor, value_error for
/// non-finite values) and refuse any other floating-point tensor (io_error). Integer tensors
/// (num_batches_tracked, an averaged model's n_averaged) are of no use to the network: they are
/// left out with a note. A state_dict of another architecture is named as such, with some of
/// its keys. With `check_values` false the values are not read (the caller checks each tensor
/// before using it, as the CPU U-Net's loader does while packing a mapped file).
inline unet_tensors read_unet_tensors(const state_dict& sd, bool check_values = true) {
    unet_tensors out;
    out.prefix = detail::find_unet_prefix(sd);
    const std::string& pre = out.prefix;
    std::set<std::string> used;
    std::vector<std::string> expected; // the table's names, once the configuration is known
    auto get = [&](const std::string& name) -> const weight_tensor& {
        used.insert(pre + name);
        const weight_tensor* t = sd.find(pre + name);
        if (t == nullptr) {
            std::vector<std::string> others;
            for (const auto& [key, tensor] : sd.entries()) {
                const bool named =
                    key.starts_with(pre) && std::find(expected.begin(), expected.end(),
                                                      key.substr(pre.size())) != expected.end();
                if (!named && !tensor.is_integer()) {
                    others.push_back(key);
                }
            }
            throw io_error(xrestore::detail::concat(
                "unet: missing tensor '", pre + name, "' for a fastMRI U-Net with ",
                out.config.num_pool_layers, " pool layers, chans ", out.config.chans,
                "; of the file's ", sd.size(), " tensors, such a U-Net has no ",
                detail::some_names(others)));
        }
        if (t->is_integer()) {
            throw shape_error(xrestore::detail::concat("tensor '", pre + name,
                                                       "' must hold floating-point values, got ",
                                                       to_string(t->stored_as)));
        }
        return *t;
    };
    // Configuration from the shapes of the first block and the count of encoder blocks.
    const weight_tensor& first = get(std::string(detail::unet_anchor));
    if (first.shape.size() != 4 || first.shape[2] != 3 || first.shape[3] != 3) {
        throw shape_error(xrestore::detail::concat(
            "tensor '", pre, detail::unet_anchor, "' must have shape chans x ",
            "in_chans x 3 x 3, got ", shape_string(first.shape)));
    }
    unet_config& cfg = out.config;
    cfg.chans = first.shape[0];
    cfg.in_chans = first.shape[1];
    while (sd.find(pre + "down_sample_layers." + std::to_string(cfg.num_pool_layers) +
                   ".layers.0.weight") != nullptr) {
        ++cfg.num_pool_layers;
    }
    if (cfg.chans == 0 || cfg.in_chans == 0 || cfg.num_pool_layers > unet_architecture::max_pools ||
        (cfg.chans << cfg.num_pool_layers) > (std::size_t{1} << 20)) {
        throw shape_error(xrestore::detail::concat("unet: implausible architecture: chans ",
                                                   cfg.chans, ", in_chans ", cfg.in_chans,
                                                   ", pool layers ", cfg.num_pool_layers));
    }
    // the names do not depend on the output channels, read from the head next
    const unet_architecture names({cfg.in_chans, 1, cfg.chans, cfg.num_pool_layers});
    for (const layer_spec& layer : names.layers()) {
        expected.push_back(layer.weight);
        if (!layer.bias.empty()) {
            expected.push_back(layer.bias);
        }
    }
    const std::string last = "up_conv." + std::to_string(cfg.num_pool_layers - 1);
    const weight_tensor& head = get(last + ".1.weight");
    if (head.shape.size() != 4 || head.shape[0] == 0) {
        throw shape_error(xrestore::detail::concat(
            "tensor '", pre, last, ".1.weight' must have shape out_chans x ", cfg.chans,
            " x 1 x 1, got ", shape_string(head.shape)));
    }
    cfg.out_chans = head.shape[0];

    // Every layer of the table, in the order the forward pass runs them.
    const unet_architecture arch(cfg);
    for (const layer_spec& layer : arch.layers()) {
        const weight_tensor& weight = get(layer.weight);
        const weight_tensor* bias = layer.bias.empty() ? nullptr : &get(layer.bias);
        detail::require_shape(weight, pre + layer.weight, layer.weight_shape(), check_values);
        if (bias != nullptr) {
            detail::require_shape(*bias, pre + layer.bias, {layer.out}, check_values);
        }
        out.weights.push_back(&weight);
        out.biases.push_back(bias);
    }
    std::vector<std::string> ignored;
    for (const auto& [name, tensor] : sd.entries()) {
        if (used.count(name) != 0) {
            continue;
        }
        if (tensor.is_integer()) {
            ignored.push_back(xrestore::detail::concat(
                name, "' (", to_string(tensor.stored_as),
                tensor.shape.empty() ? std::string(" scalar")
                                     : ", shape " + shape_string(tensor.shape),
                ")"));
            continue;
        }
        throw io_error(xrestore::detail::concat(
            "unet: unexpected tensor '", name, "' (shape ", shape_string(tensor.shape),
            ") for a U-Net with ", cfg.num_pool_layers, " pool layers, chans ", cfg.chans,
            pre.empty() ? std::string() : "; its tensors are under the prefix '" + pre + "'"));
    }
    if (!ignored.empty()) {
        std::string list;
        for (const std::string& item : ignored) {
            list += (list.empty() ? "'" : ", '") + item;
        }
        out.notes.push_back(xrestore::detail::concat("left out ", ignored.size(), " integer tensor",
                                                     ignored.size() == 1 ? "" : "s",
                                                     " a fastMRI U-Net has no use for: ", list));
    }
    return out;
}

} // namespace xrestore::nn
