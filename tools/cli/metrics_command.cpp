// xrestore metrics --ref REF --img IMG [--mask M] [--json]: every full-reference and no-reference
// metric of IMG against REF; with a mask, the masked MSE/PSNR/SSIM as well.

#include "command.hpp"
#include "iqa/iqa_measures.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/blur_effect.hpp>
#include <xrestore/metrics/estimate_sigma.hpp>
#include <xrestore/metrics/gmsd.hpp>
#include <xrestore/metrics/laplacian_variance.hpp>
#include <xrestore/metrics/masked.hpp>
#include <xrestore/metrics/ms_ssim.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/metrics/total_variation.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace xrestore::cli {

namespace {

struct metrics_args {
    std::string reference;
    std::string estimate;
    std::string mask;
    double data_range = 1.0;
    bool json = false;
    double max_memory = 0.0;
};

/// A metric value, or null when the image does not allow it (e.g. MS-SSIM on a small image).
template <class F>
nlohmann::json try_metric(F&& f, nlohmann::json& notes, const char* name) {
    try {
        const double v = f();
        if (std::isfinite(v)) {
            return v;
        }
        notes[name] = "not finite";
        return nullptr;
    } catch (const value_error& e) {
        notes[name] = e.what();
        return nullptr;
    }
}

int run_metrics(const metrics_args& a) {
    memory_plan memory("metrics", a.max_memory);
    const shape3 ref_shape = memory.input("--ref", a.reference);
    memory.input("--img", a.estimate);
    if (!a.mask.empty()) {
        memory.input("--mask", a.mask);
    }
    memory.add("the metrics' filtered copies (about 24 images)", image_bytes(ref_shape, 24));
    memory.check();
    const image ref =
        during("reading --ref '" + a.reference + "'", [&] { return load_array(a.reference); });
    const image img =
        during("reading --img '" + a.estimate + "'", [&] { return load_array(a.estimate); });
    check_finite(ref, "metrics", "--ref");
    check_finite(img, "metrics", "--img");
    check_shape(img, shape_of<3>(ref), "metrics", "--img");
    nlohmann::json notes = nlohmann::json::object();
    nlohmann::json out;
    const ssim_options study{.gaussian_weights = true,
                             .sigma = 1.5,
                             .use_sample_covariance = false,
                             .data_range = a.data_range};
    out["mse"] = mse(ref, img);
    out["psnr"] = try_metric([&] { return psnr(ref, img, a.data_range); }, notes, "psnr");
    out["ssim"] = try_metric([&] { return ssim(ref, img, study); }, notes, "ssim");
    out["ssim_uniform7"] = try_metric([&] { return ssim(ref, img, {.data_range = a.data_range}); },
                                      notes, "ssim_uniform7");
    out["ms_ssim"] = try_metric([&] { return ms_ssim(ref, img, {.data_range = a.data_range}); },
                                notes, "ms_ssim");
    out["gmsd"] =
        try_metric([&] { return gmsd(ref, img, {.data_range = a.data_range}); }, notes, "gmsd");
    out["blur_effect"] = try_metric([&] { return blur_effect(img); }, notes, "blur_effect");
    out["sigma_est"] = try_metric([&] { return estimate_sigma(img); }, notes, "sigma_est");
    out["total_variation"] =
        try_metric([&] { return total_variation(img); }, notes, "total_variation");
    out["laplacian_variance"] =
        try_metric([&] { return laplacian_variance(img); }, notes, "laplacian_variance");
    if (!a.mask.empty()) {
        const image m = load_mask(a.mask);
        out["mse_masked"] = mse_masked(ref, img, m);
        out["psnr_masked"] = try_metric([&] { return psnr_masked(ref, img, m, a.data_range); },
                                        notes, "psnr_masked");
        out["ssim_masked"] =
            try_metric([&] { return ssim_masked(ref, img, m, study); }, notes, "ssim_masked");
    }
    // the image-quality measures of `xrestore iqa` not listed above (VIFp, FSIM, PSNR-HVS(-M),
    // BRISQUE, NIQE), on the whole image and, with a 1 x H x W mask, on the foreground
    try {
        const iqa_models models = load_iqa_models("metrics");
        const iqa_values whole = compute_iqa_measures(ref, img, models);
        std::optional<iqa_values> fg;
        if (!a.mask.empty()) {
            const image m = load_mask(a.mask);
            fg = compute_iqa_measures(ref, img, models, &m);
        }
        for (const iqa_measure& m : iqa_measures()) {
            if (out.contains(m.name)) {
                continue;
            }
            out[m.name] = whole.values.contains(m.name) ? nlohmann::json(whole.values.at(m.name))
                                                        : nlohmann::json(nullptr);
            if (whole.notes.contains(m.name)) {
                notes[m.name] = whole.notes.at(m.name);
            }
        }
        if (fg) {
            for (const iqa_measure& m : iqa_measures()) {
                const std::string key = m.name + "_masked";
                if (!m.maskable || out.contains(key)) {
                    continue;
                }
                out[key] = fg->values.contains(m.name) ? nlohmann::json(fg->values.at(m.name))
                                                       : nlohmann::json(nullptr);
                if (fg->notes.contains(m.name)) {
                    notes[key] = fg->notes.at(m.name);
                }
            }
        }
    } catch (const io_error& e) {
        notes["iqa_measures"] = e.what();
    }
    if (!notes.empty()) {
        out["notes"] = notes;
    }
    if (a.json) {
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%-20s %s\n", "reference", a.reference.c_str());
    std::printf("%-20s %s (%s)\n", "image", a.estimate.c_str(), shape_string(img.shape()).c_str());
    for (const auto& [key, value] : out.items()) {
        if (key == "notes") {
            continue;
        }
        if (value.is_null()) {
            std::printf("%-20s n/a (%s)\n", key.c_str(),
                        notes.value(key, std::string("unavailable")).c_str());
        } else {
            std::printf("%-20s %.6g\n", key.c_str(), value.get<double>());
        }
    }
    return 0;
}

} // namespace

command metrics_command() {
    auto a = std::make_shared<metrics_args>();
    command c{"metrics", "quality metrics of an image against a reference"};
    c.add("--ref", a->reference, "reference image (PNG/JPEG or .npy)").required();
    c.add("--img", a->estimate, "image to score (same shape)").required();
    c.add("--mask", a->mask, "foreground mask (nonzero = scored), 1 or C channels");
    c.add("--data-range", a->data_range, "data range for PSNR/SSIM").show_default();
    c.add("--json", a->json, "print one JSON object instead of a table");
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_metrics(*a); };
    return c;
}

} // namespace xrestore::cli
