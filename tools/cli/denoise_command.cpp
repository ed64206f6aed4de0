// xrestore denoise IN OUT --weights W [--sigma S]: run a fastMRI U-Net denoiser on an image; with
// --sigma, first add seeded Gaussian noise and report PSNR/SSIM of the noisy and denoised images.

#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/nn/unet.hpp>

#include <nlohmann/json.hpp>
#include <xtensor/xmath.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace xrestore::cli {

namespace {

struct denoise_args {
    std::string input;
    std::string output;
    std::string weights;
    std::optional<double> sigma;
    std::uint64_t seed = 0;
    std::string call;
    std::string noisy_output;
    bool json = false;
    double max_memory = 0.0;
    std::size_t tile = 0;
    std::string tile_statistics = "whole-image";
};

void save_result(const std::string& path, const image& x) {
    if (path.ends_with(".npy")) {
        save_array(path, x);
    } else {
        save_array(path, image(xt::clip(x, 0.0F, 1.0F)));
    }
}

int run_denoise(const denoise_args& a) {
    file_plan("denoise")
        .input("IN", a.input)
        .input("--weights", a.weights)
        .output("OUT", a.output, {".png", ".npy"})
        .output("--noisy-out", a.noisy_output, {".png", ".npy"})
        .check();
    memory_plan memory("denoise", a.max_memory);
    const shape3 shape = memory.input("IN", a.input);
    memory.add("the noisy, denoised and clipped images (4 images)", image_bytes(shape, 4));
    memory.check();
    const image clean = during("reading IN '" + a.input + "'", [&] { return load_array(a.input); });
    check_finite(clean, "denoise", "IN");
    // the network, loaded and checked against the image; it runs in denoiser_choice.cpp
    nn::unet_tiling tiling;
    tiling.tile = a.tile;
    tiling.statistics = a.tile_statistics == "per-tile" ? nn::tile_statistics::per_tile
                                                        : nn::tile_statistics::whole_image;
    if (a.tile != 0) {
        tiling.max_workspace_bytes = 0; // --tile: always in tiles
    }
    const cli_denoiser net = load_unet(a.weights, a.call, shape_of<3>(clean), "--call", &tiling);
    const unet_denoiser& d = *net.unet;
    memory.add("the U-Net's activations", net.working_bytes(shape));
    memory.check();
    if (a.sigma) {
        require(*a.sigma >= 0.0 && std::isfinite(*a.sigma), "denoise", "--sigma", "finite and >= 0",
                *a.sigma);
    }
    const image noisy = a.sigma ? add_gaussian_noise(clean, *a.sigma, a.seed) : clean;
    const auto t0 = std::chrono::steady_clock::now();
    const image out = during("running the U-Net on a " + shape_string(shape) + " image",
                             [&] { return net(noisy); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    save_result(a.output, out);
    if (!a.noisy_output.empty()) {
        save_result(a.noisy_output, noisy);
    }
    const nn::unet_config& c = d.network().config();
    nlohmann::json summary{{"weights", a.weights},
                           {"call", to_string(d.call())},
                           {"in_chans", c.in_chans},
                           {"chans", c.chans},
                           {"num_pool_layers", c.num_pool_layers},
                           {"shape", shape_string(shape_of<3>(clean))},
                           {"seconds", seconds},
                           {"tiled", d.network().tiles(shape[1], shape[2])},
                           {"tile_statistics", a.tile_statistics},
                           {"output", a.output}};
    if (a.sigma) {
        const ssim_options study = gaussian_ssim_options;
        const image clipped = xt::clip(out, 0.0F, 1.0F);
        const image noisy_clipped = xt::clip(noisy, 0.0F, 1.0F);
        summary["sigma"] = *a.sigma;
        summary["seed"] = a.seed;
        summary["psnr_noisy"] = psnr(clean, noisy_clipped);
        summary["ssim_noisy"] = ssim(clean, noisy_clipped, study);
        summary["psnr"] = psnr(clean, clipped);
        summary["ssim"] = ssim(clean, clipped, study);
    }
    if (a.json) {
        std::printf("%s\n", summary.dump(2).c_str());
        return 0;
    }
    std::printf("denoise: U-Net %zu->%zu channels, chans %zu, %zu pool layers, %s call; %s in "
                "%.2f s -> %s\n",
                c.in_chans, c.out_chans, c.chans, c.num_pool_layers,
                std::string(to_string(d.call())).c_str(), shape_string(shape_of<3>(clean)).c_str(),
                seconds, a.output.c_str());
    if (a.sigma) {
        std::printf("denoise: sigma %g: noisy PSNR %.2f dB SSIM %.4f -> denoised PSNR %.2f dB "
                    "SSIM %.4f\n",
                    *a.sigma, summary["psnr_noisy"].get<double>(),
                    summary["ssim_noisy"].get<double>(), summary["psnr"].get<double>(),
                    summary["ssim"].get<double>());
    }
    return 0;
}

} // namespace

command denoise_command() {
    auto a = std::make_shared<denoise_args>();
    command c{"denoise", "denoise an image with a fastMRI U-Net"};
    c.add("IN", a->input, "image (PNG, or C x H x W .npy)").required();
    c.add("OUT", a->output, "denoised image (.png or .npy; .npy is not clipped)").required();
    c.add("--weights", a->weights, "U-Net weights (.pth or .safetensors)").required();
    c.add("--sigma", a->sigma,
          "add Gaussian noise of this level first and report PSNR/SSIM against IN")
        .in_range(0.0, max_noise_sigma);
    c.add("--seed", a->seed, "noise seed").show_default();
    c.add("--call", a->call,
          "call convention, for weights that declare none (or to override theirs)")
        .one_of({"raw", "normalised", "normalized", "residual"});
    c.add("--noisy-out", a->noisy_output, "also write the noisy image (with --sigma)");
    c.add("--json", a->json, "print a JSON summary");
    c.add("--tile", a->tile,
          "run the network in tiles of this side (plus a 128-pixel halo; rounded up to a multiple "
          "of 16) whatever the image's size; 0: only images whose pass would need more than "
          "4 GiB, in the largest tiles that fit")
        .in_range(0.0, 1e9);
    c.add("--tile-statistics", a->tile_statistics,
          "instance-norm statistics of a tiled pass: whole-image (the untiled result, one pass "
          "over the tiles per normalised layer) or per-tile (one pass, each tile's own)")
        .one_of({"whole-image", "per-tile"});
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_denoise(*a); };
    return c;
}

} // namespace xrestore::cli
