#pragma once
// What `xrestore study` measures, as plain data: the settings, one record per restoration run,
// the iteration curves and the denoiser checks. study_command.hpp fills it; study_report.hpp
// writes it out as results.json, CSVs, plots and report.md.

#include <xrestore/core/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::cli {

/// A setting as text: "0.0001" -> "1e-04" style only for very small or large values.
inline std::string format_number(double v) {
    char text[32];
    if (v != 0.0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5)) {
        std::snprintf(text, sizeof text, "%.3g", v);
    } else {
        std::snprintf(text, sizeof text, "%.4g", v);
    }
    return text;
}

/// The settings of a study run (the defaults are the reference study's where it fixes them).
struct study_settings {
    std::string image_path;
    std::string weights_path;
    std::string call; ///< the U-Net's call convention ("": the weights' own)
    std::string out_dir = "study";
    std::size_t size = 256;
    std::uint64_t seed = 0;
    int iters = 40;           ///< PnP-ADMM iterations of experiments 1-3 and 6
    int curve_iters = 300;    ///< PnP-ADMM iterations of the MSE-against-iteration curves
    int red_iters = 80;       ///< RED gradient-descent iterations
    int baseline_iters = 150; ///< iterations of the classical solvers
    double eta = 1e-4;        ///< PnP-ADMM penalty (the study's)
    /// The mitigation of experiment 5: this fraction of the measurements is held out of the data
    /// term, and the iterate that predicts them best is kept (early stopping with rollback).
    double holdout = 0.05;
    int patience = 30;         ///< ... stop once the held-out error has not improved this long
    double noise_sigma = 0.01; ///< experiment 2
    double noisy_eta = 1e-2;   ///< experiment 2 also runs the noisy case with this eta
    double red_lambda = 0.1;   ///< experiment 4 (the study's)
    double red_step = 1.0;
    bool verbose = false;
    double max_memory = 0.0; ///< GB (--max-memory)
};

/// Quality of one image against the ground truth (clipped to [0,1] first).
struct quality {
    double mse = 0.0;
    double psnr = 0.0;
    double ssim = 0.0;
};

/// One degradation of the ground truth.
struct study_case_info {
    std::string id;    ///< file-name stem: deblur_p13, deblur_p13_noise, inpaint_60
    std::string title; ///< "box blur p = 13"
    std::string kind;  ///< "blur" or "inpaint"
    int p = 0;         ///< blur size (blur)
    double missing = 0.0;
    double noise = 0.0;
    quality input; ///< the degraded image y against the truth
    double missing_fraction = 0.0;
};

/// One restoration run.
struct study_run {
    std::string case_id;
    std::string method; ///< pnp_admm, pnp_admm_continuation, red, tv, fista_haar, tikhonov
    std::string settings;
    quality result;
    int iterations = 0;
    std::string stop;
    double seconds = 0.0;
    double mean_cg_iterations = 0.0; ///< PnP-ADMM: CG iterations per outer iteration
    std::string image_file;
};

/// MSE of the clipped iterate after each iteration of one run.
struct study_curve {
    std::string case_id;
    std::string method;
    std::vector<double> mse;
    int best_iteration = 0;
    double best_mse = 0.0;
    double final_mse = 0.0;
    /// early stopping on held-out measurements: their error per iteration and the iterate kept
    std::vector<double> holdout_error;
    int selected_iteration = 0;
    double selected_mse = 0.0;
};

/// Whether x - D(x) can be a gradient: local homogeneity and Jacobian symmetry of D at a point.
struct denoiser_checks {
    double homogeneity_error = 0.0; ///< ||D(a x) - a D(x)|| / ||a D(x)||, a = 1.1
    double scale = 1.1;
    double symmetry_error = 0.0; ///< sqrt(sum (v'Ju - u'Jv)^2 / sum ((v'Ju)^2 + (u'Jv)^2) / 2)
    int probes = 0;
    double epsilon = 0.0;
    double seconds_per_call = 0.0;
};

struct study_results {
    study_settings settings;
    std::string image_name;
    std::size_t source_height = 0;
    std::size_t source_width = 0;
    std::size_t source_channels = 0;
    std::string denoiser_description;
    std::vector<study_case_info> cases;
    std::vector<study_run> runs;
    std::vector<study_curve> curves;
    denoiser_checks checks;
    std::vector<std::pair<std::string, double>> timing; ///< seconds per part
    double seconds_total = 0.0;
    /// Result images by "case/method" ("case/input" the degraded image, "truth").
    std::map<std::string, image> images;

    const study_case_info& find_case(const std::string& id) const {
        for (const auto& c : cases) {
            if (c.id == id) {
                return c;
            }
        }
        throw std::out_of_range("study: no case " + id);
    }
    const study_run* find_run(const std::string& case_id, const std::string& method) const {
        for (const auto& r : runs) {
            if (r.case_id == case_id && r.method == method) {
                return &r;
            }
        }
        return nullptr;
    }
    const study_curve* find_curve(const std::string& case_id, const std::string& method) const {
        for (const auto& c : curves) {
            if (c.case_id == case_id && c.method == method) {
                return &c;
            }
        }
        return nullptr;
    }
};

} // namespace xrestore::cli
