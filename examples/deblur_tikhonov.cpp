// Deblur a photo with Tikhonov regularisation: blur it (box 13, the study's kernel), add Gaussian
// noise, then solve the normal equations (A^T A + eta I) x = A^T y with conjugate gradient.
// Prints PSNR before and after and writes ground truth, degraded and restored PNGs.
//
// usage: deblur_tikhonov [IMAGE] [OUT_DIR] [--kernel SPEC] [--noise SIGMA] [--eta ETA]
#include <xrestore/xrestore.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::string image_path = XRESTORE_DATA_DIR "/images/butterfly_set5.png";
    std::string out_dir = "out";
    std::string kernel_spec = "box:13";
    double noise = 0.01;
    double eta = 2e-3;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--kernel" && i + 1 < argc) {
            kernel_spec = argv[++i];
        } else if (arg == "--noise" && i + 1 < argc) {
            noise = std::atof(argv[++i]);
        } else if (arg == "--eta" && i + 1 < argc) {
            eta = std::atof(argv[++i]);
        } else if (arg == "--help" || arg == "-h") {
            std::printf("usage: %s [IMAGE] [OUT_DIR] [--kernel SPEC] [--noise SIGMA] [--eta ETA]\n",
                        argv[0]);
            return 0;
        } else if (positional == 0) {
            image_path = arg;
            ++positional;
        } else {
            out_dir = arg;
            ++positional;
        }
    }
    try {
        using namespace xrestore;
        const image truth = read_image(image_path);
        const convolution blur(parse_kernel_spec(kernel_spec, read_kernel_file), shape_of<3>(truth),
                               {.boundary = boundary::zero});
        // y = A x + n
        const image y = add_gaussian_noise(blur.apply(truth), noise, 1);

        // (A^T A + eta I) x = A^T y, solved by CG from x0 = y
        const auto system = shifted_normal(blur, eta);
        const image rhs = blur.adjoint(y);
        const auto result = conjugate_gradient(system, rhs, y, {.max_iter = 200, .tol = 1e-6});
        image x = result.x;
        x = xt::clip(x, 0.0f, 1.0f);

        fs::create_directories(out_dir);
        write_png(fs::path(out_dir) / "ground_truth.png", truth);
        write_png(fs::path(out_dir) / "degraded.png", xt::eval(xt::clip(y, 0.0f, 1.0f)));
        write_png(fs::path(out_dir) / "restored.png", x);
        std::printf("image      %s (%s)\n", image_path.c_str(),
                    shape_string(truth.shape()).c_str());
        std::printf("degradation %s blur, zero boundary, Gaussian noise sigma %.3g\n",
                    kernel_spec.c_str(), noise);
        std::printf("solver     CG on (A^T A + %.1e I) x = A^T y: %d iterations (%s), "
                    "relative residual %.2e\n",
                    eta, result.iterations, to_string(result.stop), result.residual_history.back());
        std::printf("PSNR       degraded %.2f dB -> restored %.2f dB\n", psnr(truth, y),
                    psnr(truth, x));
        std::printf("wrote      %s/{ground_truth,degraded,restored}.png\n", out_dir.c_str());
        return 0;
    } catch (const xrestore::error& e) {
        std::fprintf(stderr, "deblur_tikhonov: error: %s\n", e.what());
        return 1;
    }
}
