// The classic deconvolution comparison: blur a photo (box 13, zero boundary), add Gaussian noise
// (sigma 0.01), then restore it with six methods and print PSNR / SSIM and iteration counts:
//   least squares        CG on A^T A x = A^T y, stopped early (it semi-converges: the error
//                        falls, then noise amplification takes over)
//   Tikhonov ||u||^2     CG on (A^T A + lambda I) x = A^T y
//   Tikhonov ||grad u||^2 CG on (A^T A + lambda D^T D) x = A^T y
//   FISTA Haar-L1        min 1/2 ||A x - y||^2 + lambda ||W x||_1
//   TV                   min 1/2 ||A x - y||^2 + lambda TV(x)            (Chambolle-Pock)
//   TV + Haar-L1         min 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_w ||W x||_1
// The parameters below were picked by a coarse sweep (factors of about 2) on the default
// 128 x 128 butterfly crop, so every method is shown near its best on this image; they are
// sensible starting points for similar photos at this noise level, not universal values.
// Scores are computed on the estimate clipped to [0, 1]; SSIM uses the study preset (Gaussian
// window sigma 1.5, population covariance), PSNR data range 1.
//
// usage: deconvolution_comparison [IMAGE] [--size N] [--noise SIGMA]
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/tv.hpp>
#include <xrestore/xrestore.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct row {
    std::string method;
    std::string parameters;
    int iterations;
    double psnr;
    double ssim;
};

} // namespace

int main(int argc, char** argv) {
    std::string image_path = XRESTORE_DATA_DIR "/images/butterfly_set5.png";
    std::size_t size = 128;
    double noise = 0.01;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--size" && i + 1 < argc) {
            size = static_cast<std::size_t>(std::atol(argv[++i]));
        } else if (arg == "--noise" && i + 1 < argc) {
            noise = std::atof(argv[++i]);
        } else if (arg == "--help" || arg == "-h") {
            std::printf("usage: %s [IMAGE] [--size N] [--noise SIGMA]\n", argv[0]);
            return 0;
        } else {
            image_path = arg;
        }
    }
    try {
        using namespace xrestore;
        const image photo = read_image(image_path);
        // the central size x size crop (the whole image when it is smaller)
        const std::size_t h = std::min(size, photo.shape()[1]);
        const std::size_t w = std::min(size, photo.shape()[2]);
        const std::size_t top = (photo.shape()[1] - h) / 2;
        const std::size_t left = (photo.shape()[2] - w) / 2;
        const image truth = xt::eval(
            xt::view(photo, xt::all(), xt::range(top, top + h), xt::range(left, left + w)));
        const shape3 shape = shape_of<3>(truth);

        // y = A x + n, A the 13 x 13 box blur with zero boundary
        const convolution a(box_kernel(13), shape, {.boundary = boundary::zero});
        const image y = add_gaussian_noise(a.apply(truth), noise, 1);
        const image rhs = a.adjoint(y); // A^T y

        const ssim_options preset{
            .gaussian_weights = true, .sigma = 1.5, .use_sample_covariance = false};
        std::vector<row> rows;
        auto score = [&](std::string method, std::string parameters, int iterations,
                         const image& estimate) {
            const image clipped = xt::clip(estimate, 0.0f, 1.0f);
            rows.push_back({std::move(method), std::move(parameters), iterations,
                            psnr(truth, clipped), ssim(truth, clipped, preset)});
        };
        score("degraded (y)", "", 0, y);

        // least squares: CG on A^T A x = A^T y from 0, stopped after 20 iterations
        const auto ls =
            conjugate_gradient(normal(a), rhs, zeros_like(rhs), {.max_iter = 20, .tol = 0.0});
        score("least squares (CG)", "20 iterations", ls.iterations, ls.x);

        // Tikhonov: (A^T A + lambda I) x = A^T y
        const double lambda_identity = 2e-3;
        const auto tik = conjugate_gradient(shifted_normal(a, lambda_identity), rhs,
                                            zeros_like(rhs), {.max_iter = 500, .tol = 1e-6});
        score("Tikhonov ||u||^2", "lambda 2e-3", tik.iterations, tik.x);

        // Tikhonov on the gradient: (A^T A + lambda D^T D) x = A^T y
        const double lambda_gradient = 3e-3;
        const auto smooth = add(normal(a), scale(lambda_gradient, normal(gradient(shape))));
        const auto tikg =
            conjugate_gradient(smooth, rhs, zeros_like(rhs), {.max_iter = 500, .tol = 1e-6});
        score("Tikhonov ||grad u||^2", "lambda 3e-3", tikg.iterations, tikg.x);

        // FISTA with Haar-L1 (4 levels, every coefficient)
        const auto haar = fista(a, y, {.lambda = 6e-4, .levels = 4, .max_iter = 200});
        score("FISTA Haar-L1", "lambda 6e-4, 4 levels", haar.iterations, haar.x);

        // TV by Chambolle-Pock
        const auto tv = tv_primal_dual(a, y, {.lambda = 1e-3, .max_iter = 300});
        score("TV (Chambolle-Pock)", "lambda 1e-3", tv.iterations, tv.x);

        // TV + Haar-L1 by Chambolle-Pock with K = [A; D; W]
        const auto tvh = tv_haar_primal_dual(
            a, y, {.lambda_tv = 1e-3, .lambda_wavelet = 5e-5, .levels = 4, .max_iter = 300});
        score("TV + Haar-L1", "1e-3 / 5e-5, 4 levels", tvh.iterations, tvh.x);

        std::printf("image        %s, central crop %s\n", image_path.c_str(),
                    shape_string(shape).c_str());
        std::printf("degradation  box 13 blur (zero boundary), Gaussian noise sigma %.3g\n\n",
                    noise);
        std::printf("%-24s %-24s %10s %9s %7s\n", "method", "parameters", "iterations", "PSNR dB",
                    "SSIM");
        for (const auto& r : rows) {
            std::printf("%-24s %-24s %10d %9.2f %7.4f\n", r.method.c_str(), r.parameters.c_str(),
                        r.iterations, r.psnr, r.ssim);
        }
        const auto best = std::max_element(
            rows.begin(), rows.end(), [](const row& p, const row& q) { return p.psnr < q.psnr; });
        std::printf("\nbest PSNR: %s (%.2f dB, +%.2f dB over the degraded image)\n",
                    best->method.c_str(), best->psnr, best->psnr - rows.front().psnr);
        return 0;
    } catch (const xrestore::error& e) {
        std::fprintf(stderr, "deconvolution_comparison: error: %s\n", e.what());
        return 1;
    }
}
