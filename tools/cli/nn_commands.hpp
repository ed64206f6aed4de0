#pragma once
// xrestore denoise IN OUT --weights W [--sigma S]: run a fastMRI U-Net denoiser on an image; with
// --sigma, first add seeded Gaussian noise and report PSNR/SSIM of the noisy and denoised images.
// xrestore convert IN OUT.safetensors [--fp16|--bf16]: rewrite a weights file as safetensors,
// keeping its metadata (the call convention of a JSON sidecar among it).

#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/xrestore.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

namespace xrestore::cli {

struct denoise_args {
    std::string input;
    std::string output;
    std::string weights;
    std::optional<double> sigma;
    std::uint64_t seed = 0;
    std::string call;
    std::string noisy_output;
    bool json = false;
};

inline void add_denoise_command(CLI::App& app, denoise_args& a, CLI::App*& cmd) {
    cmd = app.add_subcommand("denoise", "denoise an image with a fastMRI U-Net");
    cmd->add_option("IN", a.input, "image (PNG, or C x H x W .npy)")->required();
    cmd->add_option("OUT", a.output, "denoised image (.png or .npy; .npy is not clipped)")
        ->required();
    cmd->add_option("--weights", a.weights, "U-Net weights (.pth or .safetensors)")->required();
    cmd->add_option("--sigma", a.sigma,
                    "add Gaussian noise of this level first and report PSNR/SSIM against IN");
    cmd->add_option("--seed", a.seed, "noise seed")->capture_default_str();
    cmd->add_option("--call", a.call, "call convention, overriding the weights' own")
        ->check(CLI::IsMember({"raw", "normalised", "normalized", "residual"}));
    cmd->add_option("--noisy-out", a.noisy_output, "also write the noisy image (with --sigma)");
    cmd->add_flag("--json", a.json, "print a JSON summary");
}

inline void save_result(const std::string& path, const image& x) {
    if (path.ends_with(".npy")) {
        save_array(path, x);
    } else {
        save_array(path, image(xt::clip(x, 0.0F, 1.0F)));
    }
}

inline int run_denoise(const denoise_args& a) {
    const image clean = load_array(a.input);
    check_finite(clean, "denoise", "IN");
    std::optional<unet_call> call;
    if (!a.call.empty()) {
        call = parse_unet_call(a.call);
    }
    const unet_denoiser d = load_unet_denoiser(a.weights, call);
    d.check_image(shape_of<3>(clean));
    if (a.sigma) {
        require(*a.sigma >= 0.0 && std::isfinite(*a.sigma), "denoise", "--sigma", "finite and >= 0",
                *a.sigma);
    }
    const image noisy = a.sigma ? add_gaussian_noise(clean, *a.sigma, a.seed) : clean;
    const auto t0 = std::chrono::steady_clock::now();
    const image out = d(noisy);
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

struct convert_args {
    std::string input;
    std::string output;
    bool fp16 = false;
    bool bf16 = false;
};

inline void add_convert_command(CLI::App& app, convert_args& a, CLI::App*& cmd) {
    cmd = app.add_subcommand("convert", "rewrite a weights file (.pth or .safetensors) as "
                                        "safetensors");
    cmd->add_option("IN", a.input, "weights (.pth zip state_dict or .safetensors)")->required();
    cmd->add_option("OUT", a.output, "output .safetensors")->required();
    auto* half = cmd->add_flag("--fp16", a.fp16, "store float16");
    cmd->add_flag("--bf16", a.bf16, "store bfloat16")->excludes(half);
}

inline int run_convert(const convert_args& a) {
    state_dict sd = load_weights(a.input);
    std::string architecture = "unknown";
    try {
        const auto net = nn::unet::from_state_dict(sd);
        const nn::unet_config& c = net.config();
        architecture = "fastmri_unet";
        sd.metadata.try_emplace("architecture", architecture);
        sd.metadata.try_emplace("in_chans", std::to_string(c.in_chans));
        sd.metadata.try_emplace("out_chans", std::to_string(c.out_chans));
        sd.metadata.try_emplace("chans", std::to_string(c.chans));
        sd.metadata.try_emplace("num_pool_layers", std::to_string(c.num_pool_layers));
    } catch (const xrestore::error&) {
        // Not a U-Net: convert the tensors as they are.
    }
    const weight_dtype as = a.fp16   ? weight_dtype::float16
                            : a.bf16 ? weight_dtype::bfloat16
                                     : weight_dtype::float32;
    write_safetensors(a.output, sd, as);
    std::size_t parameters = 0;
    for (const auto& [name, t] : sd.entries()) {
        parameters += t.numel();
    }
    std::printf("convert: %zu tensors, %zu parameters (%s) -> %s as %s\n", sd.size(), parameters,
                architecture.c_str(), a.output.c_str(), std::string(to_string(as)).c_str());
    return 0;
}

} // namespace xrestore::cli
