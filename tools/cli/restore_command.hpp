#pragma once
// xrestore restore Y OUT --op ... --solver ... : restore a degraded image with any solver. With
// --ref it records MSE/PSNR/SSIM per iteration (CSV with --history), shows a progress bar with
// the current PSNR when stderr is a terminal, and reports the final numbers (JSON with --json).

#include "operator_flags.hpp"

#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/xrestore.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace xrestore::cli {

struct restore_args {
    std::string measured;
    std::string output;
    operator_flags op;
    std::string solver = "pnp-admm";
    std::string denoiser_name = "tv";
    double denoiser_strength = 0.0; // 0: the denoiser's own default
    std::string denoiser_call;      // unet: override the weights' call convention
    int iters = 100;
    std::optional<double> eta;
    std::optional<double> lambda;
    std::optional<double> step;
    double eta_growth = 1.0;
    std::optional<double> eta_max;
    std::string reference;
    std::string history;
    bool json = false;
    bool verbose = false;
};

/// Accepts gaussian, tv, haar and unet:PATH.
inline CLI::Validator denoiser_validator() {
    return CLI::Validator(
        [](std::string& v) -> std::string {
            if (v == "gaussian" || v == "tv" || v == "haar" ||
                (v.starts_with("unet:") && v.size() > 5)) {
                return {};
            }
            return "denoiser must be gaussian, tv, haar or unet:WEIGHTS, got '" + v + "'";
        },
        "gaussian|tv|haar|unet:WEIGHTS");
}

inline void add_restore_command(CLI::App& app, restore_args& a, CLI::App*& cmd) {
    cmd = app.add_subcommand("restore", "restore a degraded image y = A x + n");
    cmd->add_option("Y", a.measured, "measured image (PNG or .npy), as written by degrade")
        ->required();
    cmd->add_option("OUT", a.output, "restored image (.png or .npy)")->required();
    add_operator_flags(*cmd, a.op);
    cmd->add_option("--solver", a.solver, "solver")
        ->check(CLI::IsMember({"least-squares", "cg-tikhonov", "cg-tikhonov-grad", "landweber",
                               "fista-haar", "fista-l1", "tv", "tv-haar", "admm-tv", "pnp-admm",
                               "pnp-pgd", "pnp-hqs", "red", "red-fp", "rl", "rl-tv"}))
        ->capture_default_str();
    cmd->add_option("--denoiser", a.denoiser_name,
                    "denoiser of pnp-*/red*: gaussian, tv, haar or unet:WEIGHTS (.pth or "
                    ".safetensors of a fastMRI U-Net)")
        ->check(denoiser_validator())
        ->capture_default_str();
    cmd->add_option("--denoiser-call", a.denoiser_call,
                    "unet call convention, overriding the weights' own: raw, normalised, residual")
        ->check(CLI::IsMember({"raw", "normalised", "normalized", "residual"}));
    cmd->add_option("--denoiser-strength", a.denoiser_strength,
                    "gaussian: sigma in pixels; tv: weight; haar: threshold (0: default)");
    cmd->add_option("--iters", a.iters, "iterations")->capture_default_str();
    cmd->add_option("--eta", a.eta, "ADMM penalty (pnp-admm default 1e-4, as the study)");
    cmd->add_option("--eta-growth", a.eta_growth,
                    "pnp-admm/admm-tv continuation: eta grows by this factor per iteration")
        ->capture_default_str();
    cmd->add_option("--eta-max", a.eta_max, "cap of the continuation (default: none)");
    cmd->add_option("--lambda", a.lambda, "regularisation weight of the solver");
    cmd->add_option("--step", a.step, "gradient step (landweber, pnp-pgd, red)");
    cmd->add_option("--ref", a.reference, "ground truth: record MSE/PSNR/SSIM per iteration");
    cmd->add_option("--history", a.history, "write the per-iteration history to this CSV");
    cmd->add_flag("--json", a.json, "print a JSON summary");
    cmd->add_flag("--verbose", a.verbose, "progress even when stderr is not a terminal");
}

/// Per-iteration record and progress display; the monitor every solver is given.
class restore_recorder {
public:
    restore_recorder(std::optional<image> reference, int total, bool show_progress)
        : reference_(std::move(reference)), total_(total), show_(show_progress),
          start_(std::chrono::steady_clock::now()) {}

    void operator()(int k, const image& x) {
        row r{k, seconds(), NAN, NAN, NAN};
        if (reference_) {
            const image clipped = xt::clip(x, 0.0f, 1.0f);
            r.mse = xrestore::mse(*reference_, clipped);
            r.psnr = 10.0 * std::log10(1.0 / std::max(r.mse, 1e-30));
            r.ssim = xrestore::ssim(*reference_, clipped, study_ssim());
        }
        rows_.push_back(r);
        if (show_) {
            draw(r);
        }
    }
    void finish() const {
        if (show_) {
            std::fputc('\n', stderr);
        }
    }
    static ssim_options study_ssim() { return gaussian_ssim_options; }
    struct row {
        int iteration;
        double seconds;
        double mse;
        double psnr;
        double ssim;
    };
    const std::vector<row>& rows() const { return rows_; }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    void draw(const row& r) const {
        const int width = 30;
        const double fraction = total_ > 0 ? std::min(1.0, double(r.iteration) / total_) : 1.0;
        const int filled = static_cast<int>(fraction * width);
        const double eta = r.iteration > 0 ? r.seconds / r.iteration * (total_ - r.iteration) : 0;
        std::fprintf(stderr, "\r[%.*s%*s] %d/%d", filled,
                     "==============================", width - filled, "", r.iteration, total_);
        if (std::isfinite(r.psnr)) {
            std::fprintf(stderr, "  PSNR %.2f dB", r.psnr);
        }
        std::fprintf(stderr, "  ETA %.0fs   ", std::max(0.0, eta));
        std::fflush(stderr);
    }

    std::optional<image> reference_;
    int total_;
    bool show_;
    std::chrono::steady_clock::time_point start_;
    std::vector<row> rows_;
};

/// A denoiser chosen on the command line: a classical one by name, or a loaded U-Net.
struct cli_denoiser {
    std::string name;
    double strength = 0.0;
    std::shared_ptr<const unet_denoiser> unet;
    image operator()(const image& x) const {
        if (unet) {
            return (*unet)(x);
        }
        if (name == "gaussian") {
            return gaussian_denoiser{.sigma = strength > 0 ? strength : 1.0}(x);
        }
        if (name == "haar") {
            return haar_denoiser{.threshold = strength > 0 ? strength : 0.05}(x);
        }
        return tv_denoiser{.weight = strength > 0 ? strength : 0.05}(x);
    }
};

/// The denoiser `a` names; a U-Net is loaded and checked against an image of shape `x_shape`
/// here, before any iteration runs.
inline cli_denoiser make_cli_denoiser(const restore_args& a, const shape3& x_shape) {
    cli_denoiser d{a.denoiser_name, a.denoiser_strength, nullptr};
    if (a.denoiser_name.starts_with("unet:")) {
        std::optional<unet_call> call;
        if (!a.denoiser_call.empty()) {
            call = parse_unet_call(a.denoiser_call);
        }
        auto net = std::make_shared<const unet_denoiser>(
            load_unet_denoiser(a.denoiser_name.substr(5), call));
        net->check_image(x_shape);
        d.unet = std::move(net);
    }
    return d;
}

template <class Op, class Monitor>
solver_result<image> run_solver(const restore_args& a, const Op& A, const image& y,
                                Monitor& monitor, const cli_denoiser& d) {
    const std::string& s = a.solver;
    auto lambda_or = [&](double fallback) { return a.lambda.value_or(fallback); };
    if (s == "least-squares") {
        return least_squares(A, y, {.cg = {.max_iter = a.iters, .tol = 1e-7}}, monitor);
    }
    if (s == "cg-tikhonov" || s == "cg-tikhonov-grad") {
        return tikhonov(A, y,
                        {.lambda = lambda_or(2e-3),
                         .regularizer = s == "cg-tikhonov" ? tikhonov_regularizer::identity
                                                           : tikhonov_regularizer::gradient,
                         .cg = {.max_iter = a.iters, .tol = 1e-7}},
                        monitor);
    }
    if (s == "landweber") {
        return gradient_descent(A, y, {.max_iter = a.iters, .step = a.step.value_or(0.0)}, monitor);
    }
    if (s == "fista-haar") {
        return fista(A, y, {.lambda = lambda_or(1e-3), .max_iter = a.iters}, monitor);
    }
    if (s == "fista-l1") {
        return fista(A, y, identity(A.domain_shape()),
                     {.lambda = lambda_or(1e-3), .max_iter = a.iters}, monitor);
    }
    if (s == "tv") {
        return tv_primal_dual(A, y, {.lambda = lambda_or(2e-3), .max_iter = a.iters}, monitor);
    }
    if (s == "tv-haar") {
        return tv_haar_primal_dual(A, y,
                                   {.lambda_tv = lambda_or(2e-3),
                                    .lambda_wavelet = lambda_or(2e-3) / 2,
                                    .max_iter = a.iters},
                                   monitor);
    }
    if (s == "admm-tv") {
        const double mu = lambda_or(2e-3);
        auto prox = [mu](const image& z, double step) { return tv_prox(z, mu * step); };
        return admm(A, y, prox,
                    {.eta = a.eta.value_or(1e-2),
                     .max_iter = a.iters,
                     .eta_growth = a.eta_growth,
                     .eta_max = a.eta_max.value_or(std::numeric_limits<double>::infinity())},
                    monitor);
    }
    if (s == "pnp-admm") {
        return pnp_admm(A, y, d,
                        {.eta = a.eta.value_or(1e-4),
                         .max_iter = a.iters,
                         .eta_growth = a.eta_growth,
                         .eta_max = a.eta_max.value_or(std::numeric_limits<double>::infinity())},
                        monitor);
    }
    if (s == "pnp-pgd") {
        return pnp_pgd(A, y, d, {.step = a.step.value_or(1.0), .max_iter = a.iters}, monitor);
    }
    if (s == "pnp-hqs") {
        return pnp_hqs(A, y, d, {.mu = a.eta.value_or(1e-2), .max_iter = a.iters}, monitor);
    }
    if (s == "red") {
        return red_gradient_descent(
            A, y, d, {.lambda = lambda_or(0.1), .step = a.step.value_or(1.0), .max_iter = a.iters},
            monitor);
    }
    if (s == "red-fp") {
        return red_fixed_point(A, y, d, {.lambda = lambda_or(0.1), .max_iter = a.iters}, monitor);
    }
    return richardson_lucy(
        A, y, {.max_iter = a.iters, .tv_lambda = s == "rl-tv" ? lambda_or(2e-3) : 0.0}, monitor);
}

inline int run_restore(const restore_args& a) {
    require(a.iters > 0, "restore", "--iters", "positive", a.iters);
    const image y = load_array(a.measured);
    check_finite(y, "restore", "Y");
    std::optional<image> reference;
    if (!a.reference.empty()) {
        reference = load_array(a.reference);
        check_finite(*reference, "restore", "--ref");
    }
    // The operator's domain is the reference's shape, or y's shape for shape-preserving operators.
    shape3 domain = shape_of<3>(y);
    if (reference) {
        domain = shape_of<3>(*reference);
    } else if (a.op.op == "downsample") {
        domain = {domain[0], domain[1] * a.op.factor, domain[2] * a.op.factor};
    }
    const auto op = make_operator(a.op, domain);
    const bool uses_denoiser = a.solver.starts_with("pnp") || a.solver.starts_with("red");
    const cli_denoiser denoiser =
        uses_denoiser ? make_cli_denoiser(a, domain) : cli_denoiser{a.denoiser_name, 0.0, nullptr};
    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    restore_recorder recorder(reference, a.iters, show);
    auto monitor = [&recorder](int k, const image& x) { recorder(k, x); };
    const auto result = std::visit(
        [&](const auto& A) -> solver_result<image> {
            using Op = std::decay_t<decltype(A)>;
            if constexpr (std::is_same_v<range_t<Op>, image>) {
                check_shape(y, A.range_shape(), "restore", "Y (for this operator)");
                return run_solver(a, A, y, monitor, denoiser);
            } else {
                throw value_error("restore: --op must be blur, inpaint or downsample, got " +
                                  a.op.op);
            }
        },
        op);
    recorder.finish();
    image x = xt::clip(result.x, 0.0f, 1.0f);
    save_array(a.output, x);

    if (!a.history.empty()) {
        std::ofstream csv(a.history);
        if (!csv) {
            throw io_error("restore: cannot open --history file '" + a.history + "' for writing");
        }
        csv << "iteration,seconds,mse,psnr,ssim,change\n";
        for (const auto& r : recorder.rows()) {
            const auto k = static_cast<std::size_t>(r.iteration);
            const double change = k >= 1 && k <= result.change.size() ? result.change[k - 1] : NAN;
            csv << r.iteration << ',' << r.seconds << ',' << r.mse << ',' << r.psnr << ',' << r.ssim
                << ',' << change << '\n';
        }
    }
    nlohmann::json summary{{"solver", a.solver},
                           {"operator", a.op.op},
                           {"iterations", result.iterations},
                           {"stop", to_string(result.stop)},
                           {"seconds", recorder.seconds()},
                           {"output", a.output}};
    if (a.solver.starts_with("pnp") || a.solver.starts_with("red")) {
        summary["denoiser"] = a.denoiser_name;
    }
    if (!result.inner_iterations.empty()) {
        summary["cg_iterations"] = result.inner_iterations;
    }
    if (reference) {
        summary["mse"] = mse(*reference, x);
        summary["psnr"] = psnr(*reference, x);
        summary["ssim"] = ssim(*reference, x, restore_recorder::study_ssim());
        if (shape_of<3>(y) == shape_of<3>(*reference)) {
            summary["psnr_input"] = psnr(*reference, y);
        }
    }
    if (a.json) {
        std::printf("%s\n", summary.dump(2).c_str());
    } else {
        std::printf("restore: %s, %d iterations (%s) in %.2f s -> %s\n", a.solver.c_str(),
                    result.iterations, to_string(result.stop), recorder.seconds(),
                    a.output.c_str());
        if (reference) {
            std::printf("restore: PSNR %.2f dB, SSIM %.4f, MSE %.3e\n",
                        summary["psnr"].get<double>(), summary["ssim"].get<double>(),
                        summary["mse"].get<double>());
        }
    }
    return 0;
}

} // namespace xrestore::cli
