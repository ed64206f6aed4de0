// xrestore study [--image IMG] [--weights W] [--out DIR] [--size N] [--seed S]: the reference
// plug-and-play study end to end on one photo (see ../shared/REFERENCE_STUDIES.md, study A):
//   1. PnP-ADMM deblurring (eta 1e-4, U-Net denoiser) for box blur p = 7, 13, 17
//   2. p = 13 with Gaussian noise sigma 0.01 against the noise-free case
//   3. inpainting with 40, 60, 80 % missing pixels (per-channel random mask)
//   4. RED (gradient descent, lambda 0.1, step 1) against PnP-ADMM on the 60 % case, with a
//      measurement of whether x - D(x) can be a gradient (homogeneity, Jacobian symmetry)
//   5. MSE against PnP-ADMM iteration for deblurring and inpainting, and the mitigation of the
//      drift: early stopping with rollback on measurements held out of the data term
//   6. the classical baselines (Tikhonov, FISTA-Haar, TV) on every case
// Every input is checked before the first long computation; the outputs (report.md,
// results.json, CSVs, PNG images and plots) are written by study_report.cpp.

#include "bundled_files.hpp"
#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "output_paths.hpp"
#include "study_progress.hpp"
#include "study_report.hpp"
#include "study_results.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/core/vector_space.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/prox/wavelet_bands.hpp>
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/monitor.hpp>
#include <xrestore/solvers/pnp.hpp>
#include <xrestore/solvers/red.hpp>
#include <xrestore/solvers/tikhonov.hpp>
#include <xrestore/solvers/tv.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

/// The study's defaults, looked up at run time among the bundled files (bundled_files.hpp).
const char* const default_image = "images/butterfly_set5.png";
const char* const default_weights = "denoiser_unet_c32.pth";

using study_operator = std::variant<convolution, inpainting>;

/// One degradation: its description, operator and measurement.
struct study_case {
    study_case_info info;
    study_operator op;
    image y;
};

/// The photo as a 3-channel image: gray copied to RGB, alpha dropped.
image as_rgb(const image& source, const std::string& path) {
    const shape3 s = shape_of<3>(source);
    if (s[0] == 3) {
        return source;
    }
    if (s[0] != 1 && s[0] != 4) {
        throw shape_error("study: --image '" + path + "' must have 1, 3 or 4 channels, got " +
                          shape_string(s));
    }
    image rgb({3, s[1], s[2]});
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(rgb, c) = xt::view(source, s[0] == 1 ? 0 : c);
    }
    return rgb;
}

/// The centre size x size crop.
image centre_crop(const image& x, std::size_t size, const std::string& path) {
    const shape3 s = shape_of<3>(x);
    if (s[1] < size || s[2] < size) {
        throw value_error("study: --image '" + path + "' is " + std::to_string(s[2]) + " x " +
                          std::to_string(s[1]) + " pixels, smaller than --size " +
                          std::to_string(size) + "; pass a smaller --size");
    }
    const std::size_t top = (s[1] - size) / 2;
    const std::size_t left = (s[2] - size) / 2;
    return xt::view(x, xt::all(), xt::range(top, top + size), xt::range(left, left + size));
}

quality measure(const image& truth, const image& x) {
    const image clipped = xt::clip(x, 0.0F, 1.0F);
    const ssim_options study = gaussian_ssim_options;
    return {mse(truth, clipped), psnr(truth, clipped), ssim(truth, clipped, study)};
}

/// The planned work, in units of about one denoiser call.
double planned_units(const study_settings& s) {
    const double baseline = 7.0 * 3.0 * s.baseline_iters / 40.0;
    return 6.0 * s.iters + 2.0 * s.curve_iters + s.red_iters + 8.0 + 2.0 * s.curve_iters + baseline;
}

class study_runner {
public:
    study_runner(study_settings settings, image truth, cli_denoiser d, study_progress& progress)
        : s_(std::move(settings)), truth_(std::move(truth)), d_(std::move(d)), progress_(progress) {
    }

    study_results run(study_results results) {
        results_ = std::move(results);
        build_cases();
        timed("1. deblurring", [&] {
            pnp("deblur_p7", s_.iters, 0);
            pnp("deblur_p13", s_.curve_iters, s_.iters); // also experiment 5's deblurring curve
            pnp("deblur_p17", s_.iters, 0);
        });
        timed("2. noise", [&] {
            pnp("deblur_p13_noise", s_.iters, 0);
            pnp("deblur_p13_noise", s_.iters, 0, s_.noisy_eta, "pnp_admm_larger_eta");
        });
        timed("3. inpainting", [&] {
            pnp("inpaint_40", s_.iters, 0);
            pnp("inpaint_60", s_.curve_iters, s_.iters); // also experiment 5's inpainting curve
            pnp("inpaint_80", s_.iters, 0);
        });
        timed("4. RED", [&] {
            red("inpaint_60");
            check_denoiser();
        });
        timed("5. early stopping", [&] {
            early_stopping("deblur_p13");
            early_stopping("inpaint_60");
        });
        timed("6. baselines", [&] {
            for (const auto& c : cases_) {
                baselines(c);
            }
        });
        results_.images = std::move(images_);
        return std::move(results_);
    }

private:
    template <class F>
    void timed(const std::string& part, F&& f) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        results_.timing.emplace_back(
            part, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }

    study_case& find(const std::string& id) {
        for (auto& c : cases_) {
            if (c.info.id == id) {
                return c;
            }
        }
        throw value_error("study: no case " + id);
    }

    void add_case(study_case_info info, study_operator op, double noise, std::uint64_t seed) {
        image y = std::visit([&](const auto& A) { return A.apply(truth_); }, op);
        if (noise > 0.0) {
            y = add_gaussian_noise(y, noise, seed);
        }
        info.input = measure(truth_, y);
        images_[info.id + "/input"] = y;
        results_.cases.push_back(info);
        cases_.push_back({std::move(info), std::move(op), std::move(y)});
    }

    static study_case_info describe(std::string id, std::string title, std::string kind, int p,
                                    double missing, double noise) {
        study_case_info info;
        info.id = std::move(id);
        info.title = std::move(title);
        info.kind = std::move(kind);
        info.p = p;
        info.missing = missing;
        info.noise = noise;
        return info;
    }

    void build_cases() {
        const shape3 shape = shape_of<3>(truth_);
        images_["truth"] = truth_;
        for (int p : {7, 13, 17}) {
            add_case(describe("deblur_p" + std::to_string(p), "box blur p = " + std::to_string(p),
                              "blur", p, 0.0, 0.0),
                     convolution(box_kernel(static_cast<std::size_t>(p)), shape,
                                 {.boundary = boundary::zero}),
                     0.0, 0);
        }
        add_case(describe("deblur_p13_noise",
                          "box blur p = 13, noise sigma = " + format_number(s_.noise_sigma), "blur",
                          13, 0.0, s_.noise_sigma),
                 convolution(box_kernel(13), shape, {.boundary = boundary::zero}), s_.noise_sigma,
                 s_.seed + 1);
        std::uint64_t k = 0;
        for (int missing : {40, 60, 80}) {
            const double keep = 1.0 - missing / 100.0;
            // mask = rand(1, C, H, W) < keep, one mask per channel as in the study
            inpainting op(random_mask(shape, keep, s_.seed + 10 + k++));
            study_case_info info = describe("inpaint_" + std::to_string(missing),
                                            std::to_string(missing) + " % missing pixels",
                                            "inpaint", 0, missing / 100.0, 0.0);
            info.missing_fraction = 1.0 - static_cast<double>(xt::mean(op.mask())());
            add_case(std::move(info), std::move(op), 0.0, 0);
        }
    }

    /// MSE of the clipped iterate after every iteration, with the progress bar.
    struct curve_monitor {
        const image& truth;
        study_progress& progress;
        int snapshot_at;
        std::vector<double> mse;
        std::optional<image> snapshot;
        void operator()(int k, const image& x) {
            const image clipped = xt::clip(x, 0.0F, 1.0F);
            mse.push_back(xrestore::mse(truth, clipped));
            if (k == snapshot_at) {
                snapshot = clipped;
            }
            progress.advance(k);
        }
    };

    static double mean_of(const std::vector<int>& v) {
        double sum = 0.0;
        for (int x : v) {
            sum += x;
        }
        return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    }

    void record(const study_case& c, const std::string& method, const std::string& settings,
                const image& x, int iterations, solver_stop stop, double seconds, double cg = 0.0) {
        study_run r;
        r.case_id = c.info.id;
        r.method = method;
        r.settings = settings;
        r.result = measure(truth_, x);
        r.iterations = iterations;
        r.stop = to_string(stop);
        r.seconds = seconds;
        r.mean_cg_iterations = cg;
        r.image_file = c.info.id + "_" + method + ".png";
        images_[c.info.id + "/" + method] = xt::clip(x, 0.0F, 1.0F);
        results_.runs.push_back(std::move(r));
    }

    static study_curve make_curve(const std::string& id, const std::string& method,
                                  const std::vector<double>& mse) {
        study_curve curve;
        curve.case_id = id;
        curve.method = method;
        curve.mse = mse;
        for (std::size_t i = 0; i < mse.size(); ++i) {
            if (i == 0 || mse[i] < curve.best_mse) {
                curve.best_mse = mse[i];
                curve.best_iteration = static_cast<int>(i) + 1;
            }
        }
        curve.final_mse = mse.empty() ? 0.0 : mse.back();
        return curve;
    }

    /// PnP-ADMM with the study's settings for `iterations`; with a snapshot at `report_at` the
    /// run is also the curve of experiment 5 and the reported result is its iterate there.
    void pnp(const std::string& id, int iterations, int report_at) {
        pnp(id, iterations, report_at, s_.eta, "pnp_admm");
    }

    void pnp(const std::string& id, int iterations, int report_at, double eta,
             const std::string& method) {
        const study_case& c = find(id);
        progress_.begin("PnP-ADMM " + c.info.id, iterations, iterations);
        curve_monitor watch{truth_, progress_, report_at, {}, std::nullopt};
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = std::visit(
            [&](const auto& A) {
                return pnp_admm(A, c.y, d_, {.eta = eta, .max_iter = iterations}, std::ref(watch));
            },
            c.op);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cg = mean_of(result.inner_iterations);
        const std::string settings = "eta = " + format_number(eta);
        if (report_at > 0) {
            // The study's result at `report_at` iterations; the long run is the curve.
            const double share = seconds * report_at / std::max(result.iterations, 1);
            record(c, "pnp_admm", settings, watch.snapshot.value_or(result.x), report_at,
                   solver_stop::max_iterations, share, cg);
            record(c, "pnp_admm_long", settings, result.x, result.iterations, result.stop, seconds,
                   cg);
            results_.curves.push_back(make_curve(id, "pnp_admm", watch.mse));
        } else {
            record(c, method, settings, result.x, result.iterations, result.stop, seconds, cg);
            if (c.info.noise > 0.0 && method == "pnp_admm") {
                // experiment 2 reads how the noisy run's error evolved
                results_.curves.push_back(make_curve(id, method, watch.mse));
            }
        }
        progress_.end(summary(results_.runs.back()));
    }

    /// Experiment 5's mitigation, early stopping with rollback that needs no ground truth: a
    /// random `holdout` fraction of the measurements is left out of the data term (A_t = (1 - h)
    /// A), PnP-ADMM runs on the rest, and after each iteration the held-out measurements are
    /// predicted, e_k = ||h (A x_k - y)||^2 / |h|. The iterate with the least e_k is returned;
    /// the run stops `patience` iterations after it (or at curve_iters).
    void early_stopping(const std::string& id) {
        const study_case& c = find(id);
        progress_.begin("PnP-ADMM early stopping " + id, s_.curve_iters, s_.curve_iters);
        const auto t0 = std::chrono::steady_clock::now();
        const shape3 range = shape_of<3>(c.y);
        // h: 1 on the held-out measurements (among the measured ones for a mask)
        image held = random_mask(range, s_.holdout, s_.seed + 50);
        if (const auto* mask = std::get_if<inpainting>(&c.op)) {
            held = held * mask->mask();
        }
        const double held_count = std::max(static_cast<double>(xt::sum(held)()), 1.0);
        const image kept = 1.0F - held;
        const image y_train = kept * c.y;
        std::vector<double> mse;
        std::vector<double> held_error;
        double best_error = std::numeric_limits<double>::infinity();
        int best_k = 0;
        image best_x;
        auto run = [&](const auto& A_full, const auto& A_train) {
            auto monitor = [&](int k, const image& x) {
                const image clipped = xt::clip(x, 0.0F, 1.0F);
                mse.push_back(xrestore::mse(truth_, clipped));
                const image residual = held * (A_full.apply(x) - c.y);
                const double e = xrestore::dot(residual, residual) / held_count;
                held_error.push_back(e);
                if (e < best_error) {
                    best_error = e;
                    best_k = k;
                    best_x = clipped;
                }
                progress_.advance(k);
                return k - best_k >= s_.patience;
            };
            return pnp_admm(A_train, y_train, d_, {.eta = s_.eta, .max_iter = s_.curve_iters},
                            monitor);
        };
        const auto result = std::visit(
            [&](const auto& A) {
                using Op = std::decay_t<decltype(A)>;
                if constexpr (std::is_same_v<Op, inpainting>) {
                    return run(A, inpainting(image(A.mask() * kept)));
                } else {
                    return run(A, compose(inpainting(kept), A));
                }
            },
            c.op);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        record(c, "pnp_admm_early_stop",
               "eta = " + format_number(s_.eta) + ", " + format_number(100.0 * s_.holdout) +
                   " % of the measurements held out, patience " + std::to_string(s_.patience),
               best_x, best_k, result.stop, seconds, mean_of(result.inner_iterations));
        study_curve curve = make_curve(id, "pnp_admm_early_stop", mse);
        curve.holdout_error = held_error;
        curve.selected_iteration = best_k;
        curve.selected_mse = mse.at(static_cast<std::size_t>(best_k - 1));
        results_.curves.push_back(std::move(curve));
        progress_.end(summary(results_.runs.back()) + ", ran " + std::to_string(result.iterations));
    }

    void red(const std::string& id) {
        const study_case& c = find(id);
        progress_.begin("RED " + id, s_.red_iters, s_.red_iters);
        curve_monitor watch{truth_, progress_, 0, {}, std::nullopt};
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = std::visit(
            [&](const auto& A) {
                return red_gradient_descent(
                    A, c.y, d_,
                    {.lambda = s_.red_lambda, .step = s_.red_step, .max_iter = s_.red_iters},
                    std::ref(watch));
            },
            c.op);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        record(c, "red",
               "lambda = " + format_number(s_.red_lambda) +
                   ", step = " + format_number(s_.red_step),
               result.x, result.iterations, result.stop, seconds);
        results_.curves.push_back(make_curve(id, "red", watch.mse));
        progress_.end(summary(results_.runs.back()));
    }

    /// At the PnP-ADMM result x of the 60 % inpainting case: local homogeneity
    /// ||D(a x) - a D(x)|| / ||a D(x)|| and the symmetry of the Jacobian of g(x) = x - D(x),
    /// from finite differences J u ~ (g(x + eps u) - g(x)) / eps on Gaussian probes u, v:
    /// E (v'Ju - u'Jv)^2 = ||J - J'||_F^2 and E (v'Ju)^2 = ||J||_F^2.
    void check_denoiser() {
        const int pairs = 3;
        progress_.begin("denoiser checks", 8, 2 + 2 * pairs);
        const image& x = images_.at("inpaint_60/pnp_admm");
        const auto t0 = std::chrono::steady_clock::now();
        const image dx = d_(x);
        const double a = 1.1;
        const image scaled_x = a * x;
        const image d_scaled = d_(scaled_x);
        const image a_dx = a * dx;
        results_.checks.scale = a;
        results_.checks.homogeneity_error =
            norm(image(d_scaled - a_dx)) / std::max(norm(a_dx), 1e-30);
        progress_.advance(2);
        const double eps = 1e-2;
        auto g_jacobian = [&](const image& u) {
            // J u ~ (g(x + eps u) - g(x)) / eps with g(x) = x - D(x)
            const image shifted = x + static_cast<float>(eps) * u;
            const image d = d_(shifted);
            return image(u - (d - dx) / static_cast<float>(eps));
        };
        double asym = 0.0;
        double total = 0.0;
        const image zero = xt::zeros<float>(x.shape());
        for (int i = 0; i < pairs; ++i) {
            const image u = add_gaussian_noise(zero, 1.0, s_.seed + 100 + 2 * i);
            const image v = add_gaussian_noise(zero, 1.0, s_.seed + 101 + 2 * i);
            const double vju = dot(v, g_jacobian(u));
            const double ujv = dot(u, g_jacobian(v));
            asym += (vju - ujv) * (vju - ujv);
            total += 0.5 * (vju * vju + ujv * ujv);
            progress_.advance(4 + 2 * i);
        }
        results_.checks.symmetry_error = std::sqrt(asym / std::max(total, 1e-300));
        results_.checks.probes = pairs;
        results_.checks.epsilon = eps;
        results_.checks.seconds_per_call =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
            (2 + 2 * pairs);
        progress_.end("homogeneity error " + format_number(results_.checks.homogeneity_error) +
                      ", Jacobian asymmetry " + format_number(results_.checks.symmetry_error));
    }

    /// Regularisation weights of the classical solvers per kind of case, chosen once on the
    /// bundled photo from a grid of powers of sqrt(10) (see the report).
    struct baseline_weights {
        double tikhonov;
        double fista;
        double tv;
    };
    static baseline_weights weights_for(const study_case_info& c) {
        // PSNR-best on the bundled photo at 150 iterations (blur p = 13 with and without noise,
        // 60 % inpainting) over lambda = 1e-7, 3e-7, 1e-6, ..., 0.1
        if (c.kind == "inpaint") {
            return {1e-4, 3e-2, 1e-2};
        }
        if (c.noise > 0.0) {
            return {3e-3, 3e-4, 1e-3};
        }
        return {3e-7, 1e-5, 3e-4};
    }

    template <class Run>
    void baseline(const study_case& c, const std::string& method, const std::string& label,
                  double lambda, Run&& run) {
        progress_.begin(label + " " + c.info.id, s_.baseline_iters / 40.0, 1);
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = std::visit([&](const auto& A) { return run(A); }, c.op);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        record(c, method, "lambda = " + format_number(lambda), result.x, result.iterations,
               result.stop, seconds);
        progress_.end(summary(results_.runs.back()));
    }

    void baselines(const study_case& c) {
        const baseline_weights w = weights_for(c.info);
        const int n = s_.baseline_iters;
        baseline(c, "tikhonov", "Tikhonov", w.tikhonov, [&](const auto& A) {
            return tikhonov(A, c.y,
                            {.lambda = w.tikhonov,
                             .regularizer = tikhonov_regularizer::gradient,
                             .cg = {.max_iter = n, .tol = 1e-7}});
        });
        baseline(c, "fista_haar", "FISTA-Haar", w.fista, [&](const auto& A) {
            return fista(A, c.y,
                         {.lambda = w.fista, .bands = wavelet_bands::details, .max_iter = n});
        });
        baseline(c, "tv", "TV", w.tv, [&](const auto& A) {
            return tv_primal_dual(A, c.y, {.lambda = w.tv, .max_iter = n});
        });
    }

    static std::string summary(const study_run& r) {
        char text[160];
        std::snprintf(text, sizeof text, "%s: PSNR %.2f dB, SSIM %.4f after %d iterations (%.1f s)",
                      r.method.c_str(), r.result.psnr, r.result.ssim, r.iterations, r.seconds);
        return text;
    }

    study_settings s_;
    image truth_;
    cli_denoiser d_; ///< the U-Net
    study_progress& progress_;
    study_results results_;
    std::vector<study_case> cases_;
    std::map<std::string, image> images_;
};

int run_study(const study_settings& s) {
    const auto t0 = std::chrono::steady_clock::now();
    // Every check that can fail comes first.
    require(s.size >= 32, "study", "--size", ">= 32 (the largest blur is 17 x 17)", s.size);
    require(s.iters > 0, "study", "--iters", "positive", s.iters);
    require(s.curve_iters >= s.iters, "study", "--curve-iters", ">= --iters", s.curve_iters);
    require(s.red_iters > 0, "study", "--red-iters", "positive", s.red_iters);
    require(s.baseline_iters > 0, "study", "--baseline-iters", "positive", s.baseline_iters);
    require(s.holdout > 0.0 && s.holdout < 0.5, "study", "--holdout", "in (0, 0.5)", s.holdout);
    require(s.patience > 0, "study", "--patience", "positive", s.patience);
    if (s.image_path.empty()) {
        throw io_error("study: no --image given, and " +
                       bundled_not_found(bundle::data,
                                         std::string("the bundled photo ") + default_image,
                                         find_bundled(bundle::data, default_image)) +
                       "; or pass --image");
    }
    if (s.weights_path.empty()) {
        throw io_error("study: no --weights given, and " +
                       bundled_not_found(bundle::models,
                                         std::string("the default model ") + default_weights,
                                         find_bundled(bundle::models, default_weights)) +
                       "; or pass --weights");
    }
    // the report folder is replaced as a whole at the end: it must not hold the inputs
    file_plan("study")
        .input("--image", s.image_path)
        .input("--weights", s.weights_path)
        .report_folder("--out", s.out_dir, "report.md")
        .check();
    memory_plan memory("study", s.max_memory);
    memory.input("--image", s.image_path);
    const shape3 crop{3, s.size, s.size};
    memory.add("the study's images and iterates (about 100 crops)", image_bytes(crop, 100));
    memory.check();
    const image source =
        during("reading --image '" + s.image_path + "'", [&] { return read_image(s.image_path); });
    check_finite(source, "study", "--image");
    const image truth = centre_crop(as_rgb(source, s.image_path), s.size, s.image_path);
    // the U-Net, checked against the crop; it runs in denoiser_choice.cpp
    const cli_denoiser d = load_unet(s.weights_path, s.call, shape_of<3>(truth), "--call");
    memory.add("the U-Net's activations", d.working_bytes(crop));
    memory.check();

    study_results results;
    results.settings = s;
    results.image_name = std::filesystem::path(s.image_path).filename().string();
    const shape3 source_shape = shape_of<3>(source);
    results.source_channels = source_shape[0];
    results.source_height = source_shape[1];
    results.source_width = source_shape[2];
    const nn::unet_config& c = d.unet->network().config();
    results.denoiser_description =
        "fastMRI U-Net (" + std::to_string(c.in_chans) + " -> " + std::to_string(c.out_chans) +
        " channels, chans " + std::to_string(c.chans) + ", " + std::to_string(c.num_pool_layers) +
        " pool layers), " + std::string(to_string(d.unet->call())) + " call, from " +
        std::filesystem::path(s.weights_path).filename().string();

    const bool terminal = isatty(fileno(stderr)) != 0;
    study_progress progress(planned_units(s), terminal    ? study_progress::mode::bar
                                              : s.verbose ? study_progress::mode::lines
                                                          : study_progress::mode::quiet);
    study_runner runner(s, truth, d, progress);
    results = runner.run(std::move(results));
    progress.finish();
    results.seconds_total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // into a fresh folder that replaces --out once every file is written
    write_folder_atomically(s.out_dir,
                            [&](const std::filesystem::path& dir) { write_study(results, dir); });
    print_study_summary(results);
    return 0;
}

} // namespace

command study_command() {
    auto s = std::make_shared<study_settings>();
    s->image_path = find_bundled(bundle::data, default_image).path;
    s->weights_path = find_bundled(bundle::models, default_weights).path;
    command c{"study", "run the plug-and-play restoration study on a photo and "
                       "write a report with images, plots, CSVs and JSON"};
    c.add("--image", s->image_path, "ground-truth photo (PNG/JPEG/BMP)").show_default();
    c.add("--weights", s->weights_path, "U-Net denoiser weights (.pth or .safetensors)")
        .show_default();
    c.add("--call", s->call,
          "the U-Net's call convention, for weights that declare none (or to override theirs)")
        .one_of({"raw", "normalised", "normalized", "residual"});
    c.add("--out", s->out_dir,
          "output folder (created; an earlier report there is replaced as a whole)")
        .show_default();
    c.add("--size", s->size, "side of the centre crop studied (pixels)").show_default();
    c.add("--seed", s->seed, "seed of the noise, the masks and the probes").show_default();
    c.add("--iters", s->iters, "PnP-ADMM iterations of experiments 1-3 and 6").show_default();
    c.add("--curve-iters", s->curve_iters,
          "PnP-ADMM iterations of the MSE-against-iteration curves (experiment 5)")
        .show_default();
    c.add("--red-iters", s->red_iters, "RED iterations (experiment 4)").show_default();
    c.add("--baseline-iters", s->baseline_iters, "iterations of the classical solvers")
        .show_default();
    c.add("--holdout", s->holdout,
          "the mitigation of experiment 5: fraction of measurements held out to pick "
          "the iteration")
        .show_default();
    c.add("--patience", s->patience,
          "stop once the held-out error has not improved for this many iterations")
        .show_default();
    c.add("--verbose", s->verbose, "report each step on stderr even when not a terminal");
    add_memory_flag(c, s->max_memory);
    c.run = [s] { return run_study(*s); };
    return c;
}

} // namespace xrestore::cli
