#pragma once
// Operator flags shared by the subcommands that build a forward operator (degrade, adjoint-check,
// and later restore): --op blur|inpaint|downsample|gradient|haar and each operator's settings.

#include <xrestore/xrestore.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace xrestore::cli {

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

inline void add_operator_flags(CLI::App& app, operator_flags& f) {
    app.add_option("--op", f.op, "forward operator")
        ->check(CLI::IsMember({"blur", "inpaint", "downsample", "gradient", "haar"}))
        ->capture_default_str();
    app.add_option("--kernel", f.kernel,
                   "blur kernel: box:P | motion:SIZE,ANGLE | gaussian:SIGMA,SIZE | disk:DIAMETER | "
                   "file:K.npy|K.png")
        ->capture_default_str();
    app.add_option("--boundary", f.boundary, "blur boundary mode")
        ->check(CLI::IsMember({"zero", "circular", "reflect", "replicate", "mean"}))
        ->capture_default_str();
    app.add_flag("--flip-kernel", f.flip_kernel,
                 "true convolution with the PSF (default: cross-correlation, as PyTorch conv2d)");
    app.add_option("--missing", f.missing, "inpaint: fraction of missing pixels in [0,1]")
        ->capture_default_str();
    app.add_option("--mask-sharing", f.mask_sharing, "inpaint: one mask per channel or shared")
        ->check(CLI::IsMember({"per-channel", "shared"}))
        ->capture_default_str();
    app.add_option("--mask", f.mask_in, "inpaint: read the mask (1 = kept) from a PNG or .npy");
    app.add_option("--mask-out", f.mask_out, "inpaint: write the mask used to this .npy/.png");
    app.add_option("--factor", f.factor, "downsample: integer factor")->capture_default_str();
    app.add_flag("--antialias", f.antialias, "downsample: Gaussian anti-alias blur first");
    app.add_option("--levels", f.levels, "haar: number of levels")->capture_default_str();
    app.add_option("--seed", f.seed, "seed of the random mask and noise")->capture_default_str();
}

/// The operators the CLI can build; all take an image.
using cli_operator = std::variant<convolution, inpainting, downsampling, gradient, haar_wavelet>;

inline cli_operator make_operator(const operator_flags& f, const shape3& shape) {
    if (f.op == "blur") {
        return convolution(parse_kernel_spec(f.kernel, read_kernel_file), shape,
                           {.boundary = parse_boundary(f.boundary), .flip_kernel = f.flip_kernel});
    }
    if (f.op == "inpaint") {
        if (!f.mask_in.empty()) {
            return inpainting(mask_from_image(load_array(f.mask_in), shape));
        }
        require(f.missing >= 0.0 && f.missing <= 1.0, "--missing", "missing", "in [0, 1]",
                f.missing);
        const auto sharing =
            f.mask_sharing == "shared" ? mask_sharing::shared : mask_sharing::per_channel;
        inpainting op(random_mask(shape, 1.0 - f.missing, f.seed, sharing));
        if (!f.mask_out.empty()) {
            save_array(f.mask_out, op.mask());
        }
        return op;
    }
    if (f.op == "downsample") {
        return downsampling(shape, f.factor, {.antialias = f.antialias});
    }
    if (f.op == "gradient") {
        return gradient(shape);
    }
    return haar_wavelet(shape, f.levels);
}

} // namespace xrestore::cli
