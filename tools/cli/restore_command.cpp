// xrestore restore Y OUT --op ... --solver ... : restore a degraded image with any solver of the
// solver table. --history writes the solver's record of each iteration (seconds, objective,
// relative change) and, with --ref, MSE/PSNR/SSIM per iteration as CSV; a progress bar with the
// current PSNR shows when stderr is a terminal; the final numbers are reported (JSON with
// --json). A run that diverges exits with status 3 and a message naming the solver and what
// diverged, and writes OUT (its last good iterate) only with --write-diverged.

#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"
#include "run_history.hpp"
#include "solver_table.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/linear_operator.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/solvers/monitor.hpp>

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
    bool write_diverged = false;
    bool json = false;
    bool verbose = false;
    double max_memory = 0.0;
};

/// The progress display of restore: a bar with the iteration, the PSNR (with --ref) and the ETA.
class restore_progress {
public:
    restore_progress(int total, bool show) : total_(total), show_(show) {}

    void draw(const history_row& r) const {
        if (!show_) {
            return;
        }
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
    void finish() const {
        if (show_) {
            std::fputc('\n', stderr);
        }
    }

private:
    int total_;
    bool show_;
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
          "unet call convention, for weights that declare none (or to override theirs): raw, "
          "normalised, residual")
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
    c.add("--history", a.history,
          "write the per-iteration history to this CSV: iteration, seconds (since the solver "
          "started, without the time of these metrics), objective (where the solver has one), "
          "change (relative change of x), mse, psnr, ssim (with --ref, of x clipped to [0, 1]); "
          "empty where not defined. Written also for a diverged run");
    c.add("--write-diverged", a.write_diverged,
          "when the solver diverges, still write OUT: its last good iterate (the run exits with "
          "status 3 either way)");
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
        solver.uses_denoiser ? make_cli_denoiser(a.denoiser_name, a.denoiser_strength,
                                                 a.denoiser_call, domain, "--denoiser-call")
                             : cli_denoiser{a.denoiser_name, 0.0, nullptr};
    if (denoiser.unet) {
        memory.add("the U-Net's activations", denoiser.working_bytes(domain));
        memory.check();
    }
    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    history_recorder recorder(reference);
    const restore_progress progress(iters, show);
    const iteration_monitor monitor = [&](int k, const image& x, const iteration_record& r) {
        recorder(k, x, r);
        progress.draw(recorder.rows().back());
    };
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
    const auto t0 = std::chrono::steady_clock::now();
    const solver_result<image> result =
        during("running " + solver.name + " on a " + shape_string(domain) + " image",
               [&] { return solver.run(given, A, y, monitor, denoiser); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.finish();
    const bool diverged = result.stop == solver_stop::diverged;
    image x = xt::clip(result.x, 0.0f, 1.0f);
    const bool write_output = !diverged || a.write_diverged;
    if (write_output) {
        save_array(a.output, x);
    }
    if (!a.history.empty()) {
        write_history_csv(a.history, recorder.rows());
    }
    nlohmann::json summary{{"solver", a.solver},
                           {"operator", a.op.op},
                           {"iterations", result.iterations},
                           {"stop", to_string(result.stop)},
                           {"seconds", seconds}};
    if (write_output) {
        summary["output"] = a.output;
    }
    if (diverged) {
        summary["stop_detail"] = result.stop_detail;
    }
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
                    result.iterations, to_string(result.stop), seconds,
                    write_output ? a.output.c_str() : "(not written)");
        if (reference) {
            std::printf("restore: PSNR %.2f dB, SSIM %.4f, MSE %.3e\n",
                        summary["psnr"].get<double>(), summary["ssim"].get<double>(),
                        summary["mse"].get<double>());
        }
    }
    if (diverged) {
        const std::string written =
            write_output ? "its last good iterate (iteration " + std::to_string(result.iterations) +
                               ") was written to " + a.output
                         : "OUT was not written (--write-diverged writes the last good iterate)";
        std::fprintf(stderr, "xrestore: error: restore: solver %s diverged (%s); %s\n",
                     a.solver.c_str(), result.stop_detail.c_str(), written.c_str());
        return diverged_status;
    }
    return 0;
}

} // namespace

command restore_command() {
    auto args = std::make_shared<restore_args>();
    command c{"restore", "restore a degraded image y = A x + n"};
    add_flags(c, *args);
    c.footer = "Exit status: 0 on success; 3 when the solver diverged (non-finite values, or the "
               "objective or the iterate growing by orders of magnitude: the message names the "
               "solver and what diverged, and OUT is written only with --write-diverged); 1 on "
               "any other error.";
    c.run = [args] { return run_restore(*args); };
    return c;
}

} // namespace xrestore::cli
