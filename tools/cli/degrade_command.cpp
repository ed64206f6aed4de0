// xrestore degrade IN OUT --op ... [--noise S]: apply a forward operator (blur, inpainting mask,
// downsampling) to an image and add seeded Gaussian noise.
// xrestore degrade IN DIR --target-psnr P | --target-ssim S [--kinds a,b]: the equal-quality
// set: each degradation of iqa/degradations.hpp at the strength that hits the target (found by
// bisection), written as DIR/<kind>.png and .npy with DIR/equal_quality.json.

#include "command.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/json.hpp>
#include <xrestore/iqa/equal_quality.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

struct degrade_args {
    std::string input;
    std::string output;
    double noise = 0.0;
    operator_flags op;
    double max_memory = 0.0;
    double target_psnr = std::nan(""); // NaN: not given
    double target_ssim = std::nan("");
    std::string kinds = "all";
};

/// The degradations named by a comma-separated list ("all": every one).
std::vector<degradation> parse_kinds(const std::string& list) {
    if (list == "all") {
        return {all_degradations.begin(), all_degradations.end()};
    }
    std::vector<degradation> kinds;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t end = std::min(list.find(',', start), list.size());
        const std::string name = list.substr(start, end - start);
        degradation d{};
        try {
            d = parse_degradation(name);
        } catch (const value_error&) {
            std::string names;
            for (const degradation k : all_degradations) {
                names += (names.empty() ? "" : ", ") + std::string(degradation_name(k));
            }
            throw value_error("degrade: --kinds: unknown degradation '" + name +
                              "' (known: " + names + ", or all)");
        }
        if (std::find(kinds.begin(), kinds.end(), d) != kinds.end()) {
            throw value_error("degrade: --kinds names '" + name + "' twice");
        }
        kinds.push_back(d);
        start = end + 1;
    }
    return kinds;
}

int run_equal_quality(const degrade_args& a) {
    const std::vector<degradation> kinds = parse_kinds(a.kinds);
    if (a.noise != 0.0) {
        throw value_error("degrade: --noise does not go with --target-psnr/--target-ssim (the "
                          "target set has its own gaussian_noise member)");
    }
    file_plan("degrade")
        .input("IN", a.input)
        .report_folder("OUT", a.output, "equal_quality.json")
        .check();
    memory_plan memory("degrade", a.max_memory);
    const shape3 shape = memory.input("IN", a.input);
    memory.add("the image, the two best candidates, their JPEG decodes and one output per "
               "degradation",
               image_bytes(shape, 6 + kinds.size()));
    memory.check();
    const image x = during("reading IN '" + a.input + "' (" + shape_string(shape) + ")",
                           [&] { return load_array(a.input); });
    check_finite(x, "degrade", "input image");
    const quality_target target = !std::isnan(a.target_psnr)
                                      ? quality_target{quality_measure::psnr, a.target_psnr}
                                      : quality_target{quality_measure::ssim, a.target_ssim};
    if (std::any_of(kinds.begin(), kinds.end(),
                    [](degradation d) { return d == degradation::jpeg; }) &&
        shape[0] != 1 && shape[0] != 3) {
        throw value_error("degrade: jpeg needs a 1- or 3-channel image, got " +
                          shape_string(shape) + "; leave it out with --kinds");
    }
    equal_quality_options options;
    options.seed = a.op.seed;
    std::vector<equal_quality_result> results;
    {
        const activity searching("searching the strengths for " + shape_string(shape));
        for (const degradation d : kinds) {
            results.push_back(match_quality(x, d, target, options));
            const auto& r = results.back();
            std::fprintf(stderr, "degrade: %-20s strength %-10.6g %s %.4f%s (%zu evaluations)\n",
                         std::string(degradation_name(d)).c_str(), r.strength,
                         std::string(quality_measure_name(target.measure)).c_str(), r.value,
                         r.reached ? "" : "  MISSED", r.evaluations);
        }
    }
    nlohmann::ordered_json j;
    j["command"] = "degrade";
    j["input"] = a.input;
    j["shape"] = {shape[0], shape[1], shape[2]};
    j["measure"] = quality_measure_name(target.measure);
    j["target"] = target.value;
    j["tolerance"] =
        target.measure == quality_measure::psnr ? options.psnr_tolerance : options.ssim_tolerance;
    j["seed"] = a.op.seed;
    j["ssim"] = "Gaussian window sigma 1.5, population covariances, data range 1 (scikit-image's "
                "gaussian_weights=True preset)";
    j["results"] = nlohmann::ordered_json::array();
    std::vector<std::string> missed;
    for (const auto& r : results) {
        const std::string name(degradation_name(r.kind));
        nlohmann::ordered_json e;
        e["degradation"] = name;
        e["strength"] = r.strength;
        e["strength_unit"] = degradation_strength_range(r.kind).unit;
        e["value"] = r.value;
        e["reached"] = r.reached;
        e["evaluations"] = r.evaluations;
        e["png"] = name + ".png";
        e["npy"] = name + ".npy";
        j["results"].push_back(e);
        if (!r.reached) {
            missed.push_back(name);
        }
    }
    write_folder_atomically(a.output, [&](const std::filesystem::path& dir) {
        for (const auto& r : results) {
            const std::string name(degradation_name(r.kind));
            write_png(dir / (name + ".png"), r.output);
            write_npy(dir / (name + ".npy"), r.output);
        }
        write_text_file(dir / "equal_quality.json", j.dump(2) + "\n", "degrade");
    });
    std::printf("degrade: %zu images at %s %g in %s\n", results.size(),
                std::string(quality_measure_name(target.measure)).c_str(), target.value,
                a.output.c_str());
    if (!missed.empty()) {
        std::string list;
        for (const auto& m : missed) {
            list += (list.empty() ? "" : ", ") + m;
        }
        std::fprintf(stderr,
                     "degrade: error: the target is out of reach of %s (their strongest or weakest "
                     "setting is written; see equal_quality.json)\n",
                     list.c_str());
        return 1;
    }
    return 0;
}

int run_degrade(const degrade_args& a) {
    if (!std::isnan(a.target_psnr) || !std::isnan(a.target_ssim)) {
        return run_equal_quality(a);
    }
    file_plan("degrade")
        .input("IN", a.input)
        .input("--mask", a.op.mask_in)
        .output("OUT", a.output, {".png", ".npy"})
        .output("--mask-out", a.op.mask_out, {".png", ".npy"})
        .check();
    memory_plan memory("degrade", a.max_memory);
    const shape3 shape = memory.input("IN", a.input);
    memory.add("the image, its degraded copy, the noise and the output (4 images)",
               image_bytes(shape, 4));
    memory.check();
    const image x = during("reading IN '" + a.input + "' (" + shape_string(shape) + ")",
                           [&] { return load_array(a.input); });
    check_finite(x, "degrade", "input image");
    const activity degrading("degrading a " + shape_string(shape) + " image");
    const image_operator op =
        as_image_operator(make_operator(a.op, shape_of<3>(x)),
                          "degrade: --op must be blur, inpaint or downsample, got " + a.op.op);
    image y = std::visit([&](const auto& A) -> image { return A.apply(x); }, op);
    y = add_gaussian_noise(y, a.noise, a.op.seed + 1);
    save_array(a.output, y);
    std::printf("degrade: %s (%s) -> %s (%s), noise sigma %g\n", a.input.c_str(),
                shape_string(x.shape()).c_str(), a.output.c_str(), shape_string(y.shape()).c_str(),
                a.noise);
    return 0;
}

} // namespace

command degrade_command() {
    auto a = std::make_shared<degrade_args>();
    command c{"degrade", "apply a forward operator to an image and add noise"};
    c.add("IN", a->input, "input image (PNG/JPEG, or C x H x W .npy)").required();
    c.add("OUT", a->output, "output (.png or .npy); with a target, an output folder").required();
    c.add("--noise", a->noise, "Gaussian noise sigma (images in [0,1])")
        .in_range(0.0, max_noise_sigma)
        .show_default();
    add_operator_flags(c, a->op);
    c.add("--target-psnr", a->target_psnr,
          "instead of --op: write the equal-PSNR set to OUT (a folder): every degradation of "
          "--kinds at the strength whose PSNR is this (dB, within 0.01)")
        .in_range(1e-6, 100.0)
        .excludes("--op");
    c.add("--target-ssim", a->target_ssim,
          "instead of --op: the equal-SSIM set (Gaussian-window SSIM, within 0.001)")
        .in_range(-0.999, 0.999)
        .excludes("--target-psnr");
    c.add("--kinds", a->kinds,
          "degradations of the set, comma-separated: gaussian_noise, salt_and_pepper, "
          "gaussian_blur, jpeg, contrast_stretch, mean_shift, translation, colour_quantisation, "
          "or all")
        .show_default();
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_degrade(*a); };
    return c;
}

} // namespace xrestore::cli
