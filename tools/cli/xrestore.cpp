// xrestore: the command-line program. Subcommands:
//   degrade        apply a forward operator (blur, inpainting mask, downsampling) and add noise
//   adjoint-check  print the relative adjoint error of an operator on random inputs
//   metrics        full-reference and no-reference quality metrics
//   restore        restore a degraded image with any solver
//   compare        run a grid of images x degradations x solvers, write CSV and markdown
//   denoise        run a U-Net denoiser on an image
//   convert        rewrite a weights file as safetensors
//   study          the plug-and-play restoration study on a photo, with a report
#include "compare_command.hpp"
#include "metrics_command.hpp"
#include "nn_commands.hpp"
#include "operator_flags.hpp"
#include "restore_command.hpp"
#include "study_command.hpp"

#include <xrestore/xrestore.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace {

using namespace xrestore;

struct degrade_args {
    std::string input;
    std::string output;
    double noise = 0.0;
    cli::operator_flags op;
};

int run_degrade(const degrade_args& a) {
    const image x = load_array(a.input);
    check_finite(x, "degrade", "input image");
    const auto op = cli::make_operator(a.op, shape_of<3>(x));
    image y = std::visit(
        [&](const auto& A) -> image {
            if constexpr (std::is_same_v<range_t<std::decay_t<decltype(A)>>, image>) {
                return A.apply(x);
            } else {
                throw value_error("degrade: --op must be blur, inpaint or downsample, got " +
                                  a.op.op);
            }
        },
        op);
    y = add_gaussian_noise(y, a.noise, a.op.seed + 1);
    save_array(a.output, y);
    std::printf("degrade: %s (%s) -> %s (%s), noise sigma %g\n", a.input.c_str(),
                shape_string(x.shape()).c_str(), a.output.c_str(), shape_string(y.shape()).c_str(),
                a.noise);
    return 0;
}

struct adjoint_args {
    std::vector<std::size_t> shape{3, 37, 45};
    std::string image_path;
    cli::operator_flags op;
    std::uint64_t trials = 3;
};

int run_adjoint_check(const adjoint_args& a) {
    shape3 shape{};
    if (!a.image_path.empty()) {
        shape = shape_of<3>(load_array(a.image_path));
    } else {
        require(a.shape.size() == 3, "adjoint-check", "--shape", "three extents C H W",
                a.shape.size());
        shape = {a.shape[0], a.shape[1], a.shape[2]};
    }
    const auto op = cli::make_operator(a.op, shape);
    double worst = 0.0;
    for (std::uint64_t t = 0; t < a.trials; ++t) {
        const double e =
            std::visit([&](const auto& A) { return adjoint_check(A, a.op.seed + t); }, op);
        worst = std::max(worst, e);
    }
    std::printf("adjoint-check: op %s, shape %s, %llu trials: relative error %.3e (%s)\n",
                a.op.op.c_str(), shape_string(shape).c_str(),
                static_cast<unsigned long long>(a.trials), worst, worst <= 1e-5 ? "pass" : "FAIL");
    return worst <= 1e-5 ? 0 : 2;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"xrestore: image restoration as an inverse problem, y = A x + n"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "xrestore 0.1.0");

    degrade_args degrade;
    auto* degrade_cmd =
        app.add_subcommand("degrade", "apply a forward operator to an image and add noise");
    degrade_cmd->add_option("IN", degrade.input, "input image (PNG/JPEG, or C x H x W .npy)")
        ->required();
    degrade_cmd->add_option("OUT", degrade.output, "output (.png or .npy)")->required();
    degrade_cmd->add_option("--noise", degrade.noise, "Gaussian noise sigma (images in [0,1])")
        ->capture_default_str();
    cli::add_operator_flags(*degrade_cmd, degrade.op);

    adjoint_args adjoint;
    auto* adjoint_cmd = app.add_subcommand(
        "adjoint-check", "relative error |<Ax,y> - <x,A^T y>| / (|Ax| |y|) on random x, y");
    adjoint_cmd->add_option("--shape", adjoint.shape, "domain shape C H W")
        ->expected(3)
        ->capture_default_str();
    adjoint_cmd->add_option("--image", adjoint.image_path, "take the domain shape from an image");
    adjoint_cmd->add_option("--trials", adjoint.trials, "random pairs tried (worst reported)")
        ->capture_default_str();
    cli::add_operator_flags(*adjoint_cmd, adjoint.op);

    cli::metrics_args metrics;
    CLI::App* metrics_cmd = nullptr;
    cli::add_metrics_command(app, metrics, metrics_cmd);

    cli::restore_args restore;
    CLI::App* restore_cmd = nullptr;
    cli::add_restore_command(app, restore, restore_cmd);

    cli::compare_args compare;
    CLI::App* compare_cmd = nullptr;
    cli::add_compare_command(app, compare, compare_cmd);

    cli::denoise_args denoise;
    CLI::App* denoise_cmd = nullptr;
    cli::add_denoise_command(app, denoise, denoise_cmd);

    cli::convert_args convert;
    CLI::App* convert_cmd = nullptr;
    cli::add_convert_command(app, convert, convert_cmd);

    cli::study_settings study;
    CLI::App* study_cmd = nullptr;
    cli::add_study_command(app, study, study_cmd);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (*degrade_cmd) {
            return run_degrade(degrade);
        }
        if (*compare_cmd) {
            return cli::run_compare(compare);
        }
        if (*restore_cmd) {
            return cli::run_restore(restore);
        }
        if (*denoise_cmd) {
            return cli::run_denoise(denoise);
        }
        if (*convert_cmd) {
            return cli::run_convert(convert);
        }
        if (*study_cmd) {
            return cli::run_study(study);
        }
        if (*metrics_cmd) {
            return cli::run_metrics(metrics);
        }
        return run_adjoint_check(adjoint);
    } catch (const xrestore::error& e) {
        std::fprintf(stderr, "xrestore: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xrestore: unexpected error: %s\n", e.what());
        return 1;
    }
}
