// PnP-ADMM deblurring on a GPU with the shipped U-Net: the whole loop on the device.
//
//   deblur_pnp_cuda [photo.png] [output_dir] [--iters 40]
//
// The photo is blurred with a 9 x 9 box (reflect boundary), noise of sigma 0.01 is added, and
// PnP-ADMM (eta 1e-2) restores it with the U-Net on the device: the solver template is the CPU
// one, the operator is the CPU blur's template on device arrays (cuda::convolution), the denoiser
// the device U-Net. Without a usable GPU it says why and exits with 77.
#include <xrestore/cuda.cuh>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    using namespace xrestore;
    try {
        const std::string photo =
            argc > 1 ? argv[1] : XRESTORE_DATA_DIR "/images/butterfly_set5.png";
        const std::string out_dir = argc > 2 ? argv[2] : ".";
        const int iters = argc > 4 && std::string(argv[3]) == "--iters" ? std::stoi(argv[4]) : 40;
        if (const auto why = cuda::device_unavailable_reason(); !why.empty()) {
            std::printf("deblur_pnp_cuda: no usable CUDA device (%s)\n", why.c_str());
            return 77;
        }
        const image x = read_image(photo);
        const convolution blur(box_kernel(9), shape_of<3>(x), {.boundary = boundary::reflect});
        const image y = add_gaussian_noise(blur.apply(x), 0.01, 1);

        // the device: operator, measurement and denoiser uploaded once
        const cuda::convolution device_blur(blur);
        const device_array<3> device_y = to_device(y);
        const auto denoiser =
            cuda::load_unet_denoiser(XRESTORE_MODELS_DIR "/denoiser_unet_c32.pth");
        const auto start = std::chrono::steady_clock::now();
        const auto r = pnp_admm(device_blur, device_y, denoiser, {.eta = 1e-2, .max_iter = iters});
        const image restored = to_host(r.x);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("blurred %.2f dB -> PnP-ADMM on the GPU %.2f dB (%d iterations, %.2f s)\n",
                    psnr(x, y), psnr(x, restored), r.iterations, seconds);
        write_png(out_dir + "/deblur_pnp_cuda.png", restored);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "deblur_pnp_cuda: %s\n", e.what());
        return 1;
    }
}
