#pragma once
// Operator flags shared by the subcommands that build a forward operator (degrade, adjoint-check,
// restore; compare reads the same settings from its grid): --op blur|inpaint|downsample|gradient|
// haar and each operator's settings, and the operator they describe.

#include "command.hpp"

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

namespace xrestore::cli {

/// The largest noise sigma the commands accept: images are in [0, 1], so anything near this is
/// a mistake (and from about 1e37 on, float noise overflows to infinity).
inline constexpr double max_noise_sigma = 1e6;

/// The settings of --op and its operator.
struct operator_flags {
    std::string op = "blur";
    std::string kernel = "box:13";
    std::string boundary = "zero";
    bool flip_kernel = false;
    double missing = 0.6;
    std::string mask_sharing = "per-channel";
    std::string mask_in;
    std::string mask_out;
    std::size_t factor = 2;
    bool antialias = false;
    std::size_t levels = 3;
    std::uint64_t seed = 0;
};

/// Declares --op and every operator's settings on `c`, bound to `f`.
void add_operator_flags(command& c, operator_flags& f);

/// The operators the CLI can build; all take an image.
using cli_operator = std::variant<convolution, inpainting, downsampling, gradient, haar_wavelet>;

/// The operators whose range is an image too (every one but the gradient): the forward models of
/// degrade, restore and compare.
using image_operator = std::variant<convolution, inpainting, downsampling, haar_wavelet>;

/// The operator `f` describes on images of `shape` (an inpainting mask is drawn, or read, here).
cli_operator make_operator(const operator_flags& f, const shape3& shape);

/// A mask file (1 = kept): a PNG, or a .npy of any dtype read as it is (0/1 integers, bool or
/// floats), unlike load_array, which takes images only.
image load_mask(const std::string& path);

/// `op` as a forward model; throws value_error(`message`) for an operator whose range is not an
/// image (the gradient).
image_operator as_image_operator(cli_operator op, const std::string& message);

} // namespace xrestore::cli
