// xrestore restore Y OUT --op ... --solver ... : restore a degraded image with any solver of the
// solver table. With --ref it records MSE/PSNR/SSIM per iteration (CSV with --history), shows a
// progress bar with the current PSNR when stderr is a terminal, and reports the final numbers
// (JSON with --json).

#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"
#include "solver_table.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/linear_operator.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <nlohmann/json.hpp>
#include <xtensor/xmath.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

struct restore_args {
    std::string measured;
    std::string output;
    operator_flags op;
    std::string solver = "pnp-admm";
    std::string denoiser_name = "tv";
    double denoiser_strength = 0.0; // 0: the denoiser's own default
    std::string denoiser_call;      // unet: override the weights' call convention
    // the solver parameters, one flag per key of the solver table; unset: not given
    std::map<std::string, std::optional<int>> integers;
    std::map<std::string, std::optional<double>> reals;
    std::string reference;
    std::string history;
    bool json = false;
    bool verbose = false;
    double max_memory = 0.0;
};

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
            r.ssim = xrestore::ssim(*reference_, clipped, gaussian_ssim_options);
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

/// "" for a denoiser name (is_denoiser_name), else the error.
std::string check_denoiser_name(std::string& name) {
    if (is_denoiser_name(name)) {
        return {};
    }
    return "denoiser must be " + denoiser_names() + ", got '" + name + "'";
}

void add_flags(command& c, restore_args& a) {
    c.add("Y", a.measured, "measured image (PNG or .npy), as written by degrade").required();
    c.add("OUT", a.output, "restored image (.png or .npy)").required();
    add_operator_flags(c, a.op);
    c.add("--solver", a.solver, solver_help()).one_of(solver_names()).show_default();
    std::string denoisers;
    for (const auto& d : classical_denoisers()) {
        denoisers += d.name + "|";
    }
    c.add("--denoiser", a.denoiser_name,
          "denoiser of pnp-*/red*: gaussian, tv, haar or unet:WEIGHTS (.pth or .safetensors of a "
          "fastMRI U-Net)")
        .validated(check_denoiser_name, denoisers + "unet:WEIGHTS")
        .show_default();
    c.add("--denoiser-call", a.denoiser_call,
          "unet call convention, overriding the weights' own: raw, normalised, residual")
        .one_of({"raw", "normalised", "normalized", "residual"});
    c.add("--denoiser-strength", a.denoiser_strength, denoiser_strength_help()).at_least(0.0);
    // One flag per parameter of the solver table, with what it sets for each solver.
    for (const solver_parameter& p : solver_keys()) {
        if (p.integer) {
            c.add(flag_of(p.key), a.integers[p.key], parameter_help(p.key));
        } else {
            c.add(flag_of(p.key), a.reals[p.key], parameter_help(p.key));
        }
    }
    c.add("--ref", a.reference, "ground truth: record MSE/PSNR/SSIM per iteration");
    c.add("--history", a.history, "write the per-iteration history to this CSV");
    c.add("--json", a.json, "print a JSON summary");
    c.add("--verbose", a.verbose, "progress even when stderr is not a terminal");
    add_memory_flag(c, a.max_memory);
}

/// The solver parameters given as flags.
solver_settings given_settings(const restore_args& a) {
    solver_settings given;
    for (const auto& [key, value] : a.integers) {
        if (value) {
            given[key] = *value;
        }
    }
    for (const auto& [key, value] : a.reals) {
        if (value) {
            given[key] = *value;
        }
    }
    return given;
}

/// Throws value_error when a flag was given that `solver` does not read.
void check_flags_read(const solver_entry& solver, const solver_settings& given) {
    for (const auto& [key, value] : given) {
        if (solver.parameter(key) == nullptr) {
            std::string reads;
            for (const auto& p : solver.parameters) {
                reads += (reads.empty() ? "" : ", ") + flag_of(p.key);
            }
            throw value_error("restore: " + flag_of(key) + " is not a parameter of --solver " +
                              solver.name + " (it reads " + reads + ")");
        }
    }
}

int run_restore(const restore_args& a) {
    const solver_entry& solver = *find_solver(a.solver);
    const solver_settings given = given_settings(a);
    if (const auto it = given.find("iters"); it != given.end()) {
        const int iters = static_cast<int>(it->second);
        require(iters > 0, "restore", "--iters", "positive", iters);
    }
    check_flags_read(solver, given);
    const int iters = static_cast<int>(solver.value(given, "iters"));
    file_plan("restore")
        .input("Y", a.measured)
        .input("--ref", a.reference)
        .input("--mask", a.op.mask_in)
        .input("--denoiser", a.denoiser_name.starts_with("unet:") ? a.denoiser_name.substr(5) : "")
        .output("OUT", a.output, {".png", ".npy"})
        .output("--history", a.history, {})
        .output("--mask-out", a.op.mask_out, {".png", ".npy"})
        .check();
    memory_plan memory("restore", a.max_memory);
    const shape3 y_shape = memory.input("Y", a.measured);
    shape3 x_shape = a.reference.empty() ? y_shape : memory.input("--ref", a.reference);
    if (a.reference.empty() && a.op.op == "downsample") {
        x_shape = {y_shape[0], y_shape[1] * a.op.factor, y_shape[2] * a.op.factor};
    }
    memory.add(solver.name + "'s working set (about 16 images)", image_bytes(x_shape, 16));
    memory.check();
    const image y =
        during("reading Y '" + a.measured + "'", [&] { return load_array(a.measured); });
    check_finite(y, "restore", "Y");
    std::optional<image> reference;
    if (!a.reference.empty()) {
        reference =
            during("reading --ref '" + a.reference + "'", [&] { return load_array(a.reference); });
        check_finite(*reference, "restore", "--ref");
    }
    // The operator's domain is the reference's shape, or y's shape for shape-preserving operators.
    shape3 domain = shape_of<3>(y);
    if (reference) {
        domain = shape_of<3>(*reference);
    } else if (a.op.op == "downsample") {
        domain = {domain[0], domain[1] * a.op.factor, domain[2] * a.op.factor};
    }
    cli_operator op = make_operator(a.op, domain);
    const cli_denoiser denoiser =
        solver.uses_denoiser
            ? make_cli_denoiser(a.denoiser_name, a.denoiser_strength, a.denoiser_call, domain)
            : cli_denoiser{a.denoiser_name, 0.0, nullptr};
    if (denoiser.unet) {
        memory.add("the U-Net's activations", denoiser.working_bytes(domain));
        memory.check();
    }
    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    restore_recorder recorder(reference, iters, show);
    const iteration_monitor monitor = [&recorder](int k, const image& x) { recorder(k, x); };
    const image_operator A = as_image_operator(
        std::move(op), "restore: --op must be blur, inpaint or downsample, got " + a.op.op);
    std::visit(
        [&](const auto& forward) {
            if (reference && shape_of<3>(y) != forward.range_shape()) {
                // the operator was built on the --ref's shape: say which two files disagree
                throw shape_error(
                    "restore: --ref '" + a.reference + "' (" +
                    shape_string(shape_of<3>(*reference)) + ") must be the image Y '" + a.measured +
                    "' was degraded from: --op " + a.op.op + " maps " + shape_string(domain) +
                    " to " + shape_string(forward.range_shape()) + ", but Y is " +
                    shape_string(shape_of<3>(y)));
            }
            check_shape(y, forward.range_shape(), "restore", "Y (for this operator)");
        },
        A);
    const solver_result<image> result =
        during("running " + solver.name + " on a " + shape_string(domain) + " image",
               [&] { return solver.run(given, A, y, monitor, denoiser); });
    recorder.finish();
    image x = xt::clip(result.x, 0.0f, 1.0f);
    save_array(a.output, x);

    if (!a.history.empty()) {
        std::ostringstream csv;
        csv << "iteration,seconds,mse,psnr,ssim,change\n";
        for (const auto& r : recorder.rows()) {
            const auto k = static_cast<std::size_t>(r.iteration);
            const double change = k >= 1 && k <= result.change.size() ? result.change[k - 1] : NAN;
            csv << r.iteration << ',' << r.seconds << ',' << r.mse << ',' << r.psnr << ',' << r.ssim
                << ',' << change << '\n';
        }
        write_text_file(a.history, csv.str(), "restore: --history");
    }
    nlohmann::json summary{{"solver", a.solver},
                           {"operator", a.op.op},
                           {"iterations", result.iterations},
                           {"stop", to_string(result.stop)},
                           {"seconds", recorder.seconds()},
                           {"output", a.output}};
    if (solver.uses_denoiser) {
        summary["denoiser"] = a.denoiser_name;
    }
    if (!result.inner_iterations.empty()) {
        summary["cg_iterations"] = result.inner_iterations;
    }
    if (reference) {
        summary["mse"] = mse(*reference, x);
        summary["psnr"] = psnr(*reference, x);
        summary["ssim"] = ssim(*reference, x, gaussian_ssim_options);
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

} // namespace

command restore_command() {
    auto args = std::make_shared<restore_args>();
    command c{"restore", "restore a degraded image y = A x + n"};
    add_flags(c, *args);
    c.run = [args] { return run_restore(*args); };
    return c;
}

} // namespace xrestore::cli
