#pragma once
// The denoiser of the plug-and-play and RED solvers, as chosen by --denoiser (restore) or the
// "denoiser" key (compare): a classical one by name, with its struct's default strength, or a
// fastMRI U-Net loaded from unet:WEIGHTS (also the denoiser of denoise and study).

#include <xrestore/core/tensor.hpp>

#include <memory>
#include <string>
#include <vector>

namespace xrestore {
class unet_denoiser;
} // namespace xrestore

namespace xrestore::nn {
struct unet_tiling;
} // namespace xrestore::nn

namespace xrestore::cli {

/// A classical denoiser the CLI offers: its name, what --denoiser-strength sets and its default
/// (the denoiser struct's own), and the call.
struct classical_denoiser {
    std::string name;
    std::string strength;
    double default_strength;
    image (*run)(const image& x, double strength);
};

/// gaussian, tv, haar.
const std::vector<classical_denoiser>& classical_denoisers();

/// Whether `name` is a classical denoiser's name or unet:WEIGHTS.
bool is_denoiser_name(const std::string& name);

/// "gaussian, tv, haar or unet:WEIGHTS", for messages.
std::string denoiser_names();

/// The --denoiser-strength help: what it sets for each classical denoiser, and the default.
std::string denoiser_strength_help();

/// A denoiser chosen on the command line: a classical one by name, or a loaded U-Net.
struct cli_denoiser {
    std::string name;
    double strength = 0.0; ///< 0: the denoiser's own default
    std::shared_ptr<const unet_denoiser> unet;
    image operator()(const image& x) const;
    /// Bytes a call on an image of `x_shape` allocates beyond its input: the U-Net's activations
    /// (from its layer table) and the call convention's copies; a classical denoiser's few
    /// images.
    [[nodiscard]] double working_bytes(const shape3& x_shape) const;
};

/// The denoiser `name` with `strength` (0: its default); a U-Net is loaded with the call
/// convention `call` (empty: the weights' own; `call_flag` names how the command sets it, for
/// the error when the weights declare none) and checked against images of shape `x_shape` here,
/// before any iteration runs.
cli_denoiser make_cli_denoiser(const std::string& name, double strength, const std::string& call,
                               const shape3& x_shape, const std::string& call_flag);

/// The U-Net of `weights` as make_cli_denoiser loads it (for unet:WEIGHTS): the network, then
/// whether images of shape `x_shape` suit it, then the call convention (`call`, else the
/// weights' own, else an error naming `call_flag`); the loader's notes (float64 tensors
/// converted, integer buffers left out) go to stderr; large images run in tiles as `tiling`
/// says (nullptr: the network's default). Its calls run in denoiser_choice.cpp, so that the
/// network's code is compiled once for all commands.
cli_denoiser load_unet(const std::string& weights, const std::string& call, const shape3& x_shape,
                       const std::string& call_flag, const nn::unet_tiling* tiling = nullptr);

} // namespace xrestore::cli
