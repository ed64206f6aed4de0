// Solver-loop timings: a fixed number of iterations of each solver on the 3 x 256 x 256
// butterfly (data/images/butterfly_set5.png), blurred by a 13 x 13 box with zero boundary plus
// Gaussian noise of sigma 0.01 (seed 1), and PnP-ADMM on 60 % inpainting (random_mask keep 0.4,
// seed 2). Every case records the PSNR of its result against the photo as the counter "psnr".
// Names are solver/<name>/<iterations>. benchmarks/compare_solvers_pytorch.py runs this binary
// and the same loops written in PyTorch on the same data.
//
//   ./bench_solvers --benchmark_filter='solver/pnp_admm.*'
//   ./bench_solvers --dump_dir=DIR   # writes the problem data as .npy files to DIR, then exits

#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/denoisers/gaussian_denoiser.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/solvers/cg.hpp>
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/gradient_descent.hpp>
#include <xrestore/solvers/pnp.hpp>
#include <xrestore/solvers/red.hpp>
#include <xrestore/solvers/richardson_lucy.hpp>
#include <xrestore/solvers/tv.hpp>

#include <benchmark/benchmark.h>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The parameters, shared with compare_solvers_pytorch.py (which reads them from the dump).
constexpr int iterations = 20; // outer iterations of every solver
constexpr int inner_cg = 10;   // CG iterations per PnP-ADMM x-update (tol 0: all of them)
constexpr double eta = 1e-4;   // CG shift and PnP-ADMM penalty
constexpr double step = 1.0;   // Landweber / FISTA step: ||A|| <= 1 for a box blur
constexpr double fista_lambda = 2e-4;
constexpr double tv_lambda = 2e-3;
constexpr double tv_tau = 10.0 / 3.0;              // 10 / ||K||, ||K||^2 <= 1 + 8
constexpr double tv_sigma = 0.99 / (tv_tau * 9.0); // 0.99 / (tau ||K||^2)
constexpr double red_lambda = 0.1;
constexpr double denoiser_sigma = 1.0;

struct problem {
    xrestore::image truth;
    xrestore::image y_blur;    // A x + n, A the zero-boundary box-13 blur
    xrestore::image y_rl;      // max(y_blur, 0): Richardson-Lucy needs non-negative data
    xrestore::image mask;      // keep 0.4
    xrestore::image y_inpaint; // m .* (x + n)
};

const problem& data() {
    static const problem p = [] {
        problem q;
        const xrestore::image photo =
            xrestore::read_image(std::string(XRESTORE_DATA_DIR) + "/images/butterfly_set5.png");
        q.truth = xt::view(photo, xt::range(0, 3), xt::range(0, 256), xt::range(0, 256));
        const xrestore::shape3 shape = xrestore::shape_of<3>(q.truth);
        const xrestore::convolution blur(xrestore::box_kernel(13), shape);
        q.y_blur = xrestore::add_gaussian_noise(blur.apply(q.truth), 0.01, 1);
        q.y_rl = xt::maximum(q.y_blur, 0.0f);
        q.mask = xrestore::random_mask(shape, 0.4, 2);
        q.y_inpaint = q.mask * xrestore::add_gaussian_noise(q.truth, 0.01, 3);
        return q;
    }();
    return p;
}

xrestore::convolution blur_operator() {
    return xrestore::convolution(xrestore::box_kernel(13), xrestore::shape_of<3>(data().truth));
}

const xrestore::gaussian_denoiser denoiser{.sigma = denoiser_sigma};

// One case: `run` solves once and returns the estimate.
void run_case(benchmark::State& state, const std::function<xrestore::image()>& run) {
    xrestore::image x;
    for (auto _ : state) {
        x = run();
        benchmark::DoNotOptimize(x.data());
        benchmark::ClobberMemory();
    }
    state.counters["psnr"] = xrestore::psnr(data().truth, x);
    state.counters["iterations"] = iterations;
}

void register_cases() {
    const auto& d = data();
    auto add = [](const std::string& name, std::function<xrestore::image()> run) {
        const std::string full = "solver/" + name + "/" + std::to_string(iterations);
        benchmark::RegisterBenchmark(full.c_str(), [run](benchmark::State& s) { run_case(s, run); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    };
    add("cg", [&d] {
        // (A^T A + eta I) x = A^T y from x = 0
        const auto a = blur_operator();
        const xrestore::image b = a.adjoint(d.y_blur);
        xrestore::image ax = xrestore::zeros_like(b);
        auto apply_c = [&a, &ax](const xrestore::image& in, xrestore::image& out) {
            a.apply_into(in, ax);
            a.adjoint_into(ax, out);
            xrestore::axpy(static_cast<float>(eta), in, out);
        };
        return xrestore::conjugate_gradient<xrestore::image>(apply_c, b, xrestore::zeros_like(b),
                                                             {.max_iter = iterations, .tol = 0.0})
            .x;
    });
    add("landweber", [&d] {
        return xrestore::gradient_descent(blur_operator(), d.y_blur,
                                          {.max_iter = iterations, .step = step})
            .x;
    });
    add("fista_l1_pixel", [&d] {
        const auto a = blur_operator();
        return xrestore::fista(a, d.y_blur, xrestore::identity(a.domain_shape()),
                               {.lambda = fista_lambda, .max_iter = iterations, .step = step})
            .x;
    });
    add("fista_haar", [&d] {
        return xrestore::fista(
                   blur_operator(), d.y_blur,
                   {.lambda = fista_lambda, .levels = 3, .max_iter = iterations, .step = step})
            .x;
    });
    add("tv_primal_dual", [&d] {
        return xrestore::tv_primal_dual(
                   blur_operator(), d.y_blur,
                   {.lambda = tv_lambda, .max_iter = iterations, .tau = tv_tau, .sigma = tv_sigma})
            .x;
    });
    add("pnp_admm", [&d] {
        return xrestore::pnp_admm(
                   blur_operator(), d.y_blur, denoiser,
                   {.eta = eta, .max_iter = iterations, .cg = {.max_iter = inner_cg, .tol = 0.0}})
            .x;
    });
    add("red_gradient_descent", [&d] {
        return xrestore::red_gradient_descent(
                   blur_operator(), d.y_blur, denoiser,
                   {.lambda = red_lambda, .step = step, .max_iter = iterations})
            .x;
    });
    add("richardson_lucy", [&d] {
        return xrestore::richardson_lucy(blur_operator(), d.y_rl, {.max_iter = iterations}).x;
    });
    add("pnp_admm_inpainting", [&d] {
        return xrestore::pnp_admm(
                   xrestore::inpainting(d.mask), d.y_inpaint, denoiser,
                   {.eta = eta, .max_iter = iterations, .cg = {.max_iter = inner_cg, .tol = 0.0}})
            .x;
    });
}

// Writes the problem and its parameters for the PyTorch twins.
void dump(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const auto& d = data();
    xrestore::write_npy(dir / "truth.npy", d.truth);
    xrestore::write_npy(dir / "y_blur.npy", d.y_blur);
    xrestore::write_npy(dir / "y_rl.npy", d.y_rl);
    xrestore::write_npy(dir / "mask.npy", d.mask);
    xrestore::write_npy(dir / "y_inpaint.npy", d.y_inpaint);
    xrestore::write_npy(dir / "box13.npy", xrestore::box_kernel(13));
    xrestore::write_npy(dir / "gaussian.npy",
                        xrestore::gaussian_kernel(denoiser_sigma, denoiser.kernel_size()));
}

} // namespace

int main(int argc, char** argv) {
    // --dump_dir=DIR is ours; everything else goes to Google Benchmark.
    constexpr std::string_view dump_flag = "--dump_dir=";
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.substr(0, dump_flag.size()) == dump_flag) {
            dump(std::filesystem::path(std::string(arg.substr(dump_flag.size()))));
            std::cout << "iterations " << iterations << " inner_cg " << inner_cg << " eta " << eta
                      << " step " << step << " fista_lambda " << fista_lambda << " tv_lambda "
                      << tv_lambda << " tv_tau " << tv_tau << " tv_sigma " << tv_sigma
                      << " red_lambda " << red_lambda << '\n';
            return 0;
        }
        args.push_back(argv[i]);
    }
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());
    if (benchmark::ReportUnrecognizedArguments(count, args.data())) {
        return 1;
    }
    register_cases();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
