// GPU benchmark: the CUDA backend against the CPU backend on the same machine, same inputs.
//
//   bench_cuda [--sizes 512,1024] [--pnp-sizes 512,1024] [--pnp-iters 100] [--cpu-pnp-iters 3]
//              [--reps 50] [--weights models/denoiser_unet_c32.pth] [--json out.json]
//              [--dump-inputs DIR]
//
// Workloads, on 3 x N x N crops tiled from the bundled butterfly:
//   blur9      Gaussian 9 x 9 (sigma 1.6), reflect boundary: apply + adjoint
//   blur17     box 17 x 17, zero boundary: apply + adjoint
//   ssim       SSIM with scikit-image's Gaussian preset
//   unet       one forward pass of the shipped U-Net denoiser (residual call)
//   pnp_admm   100 PnP-ADMM iterations (box 13 x 13 blur, eta 1e-4, CG tol 1e-6, the U-Net), at
//              the --pnp-sizes only (default: every size)
// Device times are CUDA-event times over `reps` runs after a warm-up run; CPU times (xrestore's
// CPU backend, OpenMP on every core) are the best of a few runs; the CPU PnP-ADMM is timed over
// --cpu-pnp-iters iterations after one warm-up iteration and scaled to the device's iteration
// count. Prints a markdown table (ratio = CPU time / device time) and writes JSON.
#include <xrestore/cuda.cuh>

#include <xtensor/xmanipulation.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using xrestore::device_array;
using xrestore::image;

struct row {
    std::string name;
    std::size_t size;
    double device_ms;
    double cpu_ms;
    std::string note;
};

struct settings {
    std::vector<std::size_t> sizes{512, 1024};
    std::vector<std::size_t> pnp_sizes; ///< empty: every size
    int pnp_iters = 100;
    int cpu_pnp_iters = 3;
    int reps = 50;
    std::string weights = XRESTORE_MODELS_DIR "/denoiser_unet_c32.pth";
    std::string json = "bench_cuda.json";
    std::string dump_inputs; ///< a directory: write input_<N>.npy there (for the PyTorch side)
};

/// A comma-separated list of image sizes, each a whole number from 16 to 16384.
std::vector<std::size_t> parse_sizes(const std::string& key, const std::string& value) {
    std::vector<std::size_t> sizes;
    std::stringstream in(value);
    std::string part;
    while (std::getline(in, part, ',')) {
        std::size_t used = 0;
        unsigned long n = 0;
        try {
            n = std::stoul(part, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != part.size() || n < 16 || n > 16384) {
            throw std::runtime_error(key + " takes sizes from 16 to 16384, got '" + part + "'");
        }
        sizes.push_back(n);
    }
    if (sizes.empty()) {
        throw std::runtime_error(key + " is empty");
    }
    return sizes;
}

/// A whole number from 1 to `most`.
int parse_count(const std::string& key, const std::string& value, int most) {
    std::size_t used = 0;
    long n = 0;
    try {
        n = std::stol(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || n < 1 || n > most) {
        throw std::runtime_error(key + " takes a whole number from 1 to " + std::to_string(most) +
                                 ", got '" + value + "'");
    }
    return static_cast<int>(n);
}

settings parse(int argc, char** argv) {
    settings s;
    if (argc % 2 == 0) {
        throw std::runtime_error(std::string("option ") + argv[argc - 1] + " needs a value");
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        const std::string value = argv[i + 1];
        if (key == "--sizes") {
            s.sizes = parse_sizes(key, value);
        } else if (key == "--pnp-sizes") {
            s.pnp_sizes = parse_sizes(key, value);
        } else if (key == "--pnp-iters") {
            s.pnp_iters = parse_count(key, value, 100000);
        } else if (key == "--cpu-pnp-iters") {
            s.cpu_pnp_iters = parse_count(key, value, 100000);
        } else if (key == "--reps") {
            s.reps = parse_count(key, value, 100000);
        } else if (key == "--weights") {
            s.weights = value;
        } else if (key == "--json") {
            s.json = value;
        } else if (key == "--dump-inputs") {
            s.dump_inputs = value;
        } else {
            throw std::runtime_error("unknown option " + key);
        }
    }
    for (const std::size_t n : s.pnp_sizes) {
        if (std::find(s.sizes.begin(), s.sizes.end(), n) == s.sizes.end()) {
            throw std::runtime_error("--pnp-sizes: " + std::to_string(n) + " is not among --sizes");
        }
    }
    return s;
}

/// A 3 x n x n image tiled (mirrored) from the bundled butterfly.
image test_image(std::size_t n) {
    const image photo = xrestore::read_image(XRESTORE_DATA_DIR "/images/butterfly_set5.png");
    const std::size_t h = photo.shape()[1];
    const std::size_t w = photo.shape()[2];
    image out({3, n, n});
    for (std::size_t c = 0; c < 3; ++c) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t si = (i / h) % 2 == 0 ? i % h : h - 1 - i % h;
            for (std::size_t j = 0; j < n; ++j) {
                const std::size_t sj = (j / w) % 2 == 0 ? j % w : w - 1 - j % w;
                out(c, i, j) = photo(c, si, sj);
            }
        }
    }
    return out;
}

/// ||a - b|| / ||b|| in double.
double relative_l2_error(const image& a, const image& b) {
    if (a.shape() != b.shape()) {
        throw std::runtime_error("results of different shapes");
    }
    double difference = 0.0;
    double reference = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i]);
        difference += d * d;
        reference += static_cast<double>(b.data()[i]) * static_cast<double>(b.data()[i]);
    }
    return std::sqrt(difference / std::max(reference, 1e-300));
}

/// Milliseconds per call of f on the device (CUDA events, after one warm-up call).
double device_ms(int reps, const std::function<void()>& f) {
    f();
    xrestore::cuda::synchronize();
    cudaEvent_t start;
    cudaEvent_t stop;
    xrestore::cuda::check(cudaEventCreate(&start), "bench: event");
    xrestore::cuda::check(cudaEventCreate(&stop), "bench: event");
    xrestore::cuda::check(cudaEventRecord(start, xrestore::cuda::current_stream()), "bench");
    for (int r = 0; r < reps; ++r) {
        f();
    }
    xrestore::cuda::check(cudaEventRecord(stop, xrestore::cuda::current_stream()), "bench");
    xrestore::cuda::check(cudaEventSynchronize(stop), "bench");
    float ms = 0.0f;
    xrestore::cuda::check(cudaEventElapsedTime(&ms, start, stop), "bench");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return static_cast<double>(ms) / reps;
}

/// Best wall-clock milliseconds of `reps` calls of f on the host (after one warm-up call).
double host_ms(int reps, const std::function<void()>& f) {
    f();
    double best = 1e300;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    return best;
}

void print_and_save(const std::vector<row>& rows, const settings& s, const std::string& device) {
    std::printf("\n| workload | size | device ms | CPU ms | CPU / device | note |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const auto& r : rows) {
        std::printf("| %s | 3 x %zu x %zu | %.3f | %.1f | %.1fx | %s |\n", r.name.c_str(), r.size,
                    r.size, r.device_ms, r.cpu_ms, r.cpu_ms / r.device_ms, r.note.c_str());
    }
    // atomically: a temporary file beside the target, then a rename
    const std::string temporary = s.json + ".tmp";
    {
        std::ofstream out(temporary);
        out << "{\"device\": \"" << device << "\", \"rows\": [";
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& r = rows[i];
            out << (i ? ", " : "") << "{\"name\": \"" << r.name << "\", \"size\": " << r.size
                << ", \"device_ms\": " << r.device_ms << ", \"cpu_ms\": " << r.cpu_ms
                << ", \"note\": \"" << r.note << "\"}";
        }
        out << "]}\n";
        if (!out.flush()) {
            throw std::runtime_error("could not write " + temporary);
        }
    }
    std::filesystem::rename(temporary, s.json);
    std::printf("\nwrote %s\n", s.json.c_str());
}

} // namespace

int main(int argc, char** argv) {
    try {
        const settings s = parse(argc, argv);
        // the output path first, before any work
        {
            std::ofstream probe(s.json + ".tmp");
            if (!probe) {
                throw std::runtime_error("cannot write " + s.json + ".tmp");
            }
        }
        std::filesystem::remove(s.json + ".tmp");
        if (const auto why = xrestore::cuda::device_unavailable_reason(); !why.empty()) {
            std::printf("bench_cuda: no usable CUDA device (%s)\n", why.c_str());
            return 77;
        }
        cudaDeviceProp prop{};
        xrestore::cuda::check(cudaGetDeviceProperties(&prop, 0), "bench: device properties");
        std::printf("device: %s, %d SMs, %.0f GiB\n", prop.name, prop.multiProcessorCount,
                    static_cast<double>(prop.totalGlobalMem) / (1u << 30));
        std::vector<row> rows;
        for (const std::size_t n : s.sizes) {
            const image x = test_image(n);
            const xrestore::shape3 shape{3, n, n};
            const device_array<3> dx = xrestore::to_device(x);
            // blur: apply + adjoint
            for (const bool box : {false, true}) {
                const xrestore::convolution host(
                    box ? xrestore::box_kernel(17) : xrestore::gaussian_kernel(1.6, 9), shape,
                    {.boundary = box ? xrestore::boundary::zero : xrestore::boundary::reflect});
                const xrestore::cuda::convolution device(host);
                image hy(shape);
                image hz(shape);
                device_array<3> dy(shape);
                device_array<3> dz(shape);
                const double d = device_ms(s.reps, [&] {
                    device.apply_into(dx, dy);
                    device.adjoint_into(dy, dz);
                });
                const double c = host_ms(3, [&] {
                    host.apply_into(x, hy);
                    host.adjoint_into(hy, hz);
                });
                rows.push_back(
                    {box ? "blur17 box zero" : "blur9 gauss reflect", n, d, c, "apply + adjoint"});
                std::printf("%s %zu: device %.3f ms, cpu %.1f ms\n", rows.back().name.c_str(), n, d,
                            c);
            }
            // SSIM, scikit-image's Gaussian preset, against a mirrored copy
            {
                const image other = xt::eval(xt::flip(x, 2));
                const device_array<3> dother = xrestore::to_device(other);
                const auto options = xrestore::gaussian_ssim_options;
                double sink = 0.0;
                const double d =
                    device_ms(s.reps, [&] { sink += xrestore::ssim(dx, dother, options); });
                const double c = host_ms(3, [&] { sink += xrestore::ssim(x, other, options); });
                rows.push_back({"ssim", n, d, c, "Gaussian preset"});
                std::printf("ssim %zu: device %.3f ms, cpu %.1f ms (%g)\n", n, d, c, sink);
            }
            // the U-Net denoiser, one call: float32 FMA math (the default), then with cuDNN's
            // TF32 tensor cores allowed (PyTorch's default for convolutions)
            const auto host_denoiser = xrestore::load_unet_denoiser(s.weights);
            const auto device_denoiser = xrestore::cuda::load_unet_denoiser(s.weights);
            {
                device_array<3> out;
                const double d =
                    device_ms(std::max(3, s.reps / 10), [&] { out = device_denoiser(dx); });
                image host_out;
                const double c = host_ms(1, [&] { host_out = host_denoiser(x); });
                const double error = relative_l2_error(xrestore::to_host(out), host_out);
                rows.push_back({"unet", n, d, c,
                                xrestore::detail::concat("residual call, FMA math, relative "
                                                         "error to the CPU ",
                                                         error)});
                const auto tf32_denoiser = xrestore::cuda::load_unet_denoiser(
                    s.weights, std::nullopt, {.allow_tf32 = true});
                const double t =
                    device_ms(std::max(3, s.reps / 10), [&] { out = tf32_denoiser(dx); });
                const double tf32_error = relative_l2_error(xrestore::to_host(out), host_out);
                rows.push_back({"unet tf32", n, t, c,
                                xrestore::detail::concat("residual call, TF32 allowed, relative "
                                                         "error to the CPU ",
                                                         tf32_error)});
                std::printf("unet %zu: device %.3f ms (TF32 %.3f ms), cpu %.1f ms, relative "
                            "error %.2g (TF32 %.2g)\n",
                            n, d, t, c, error, tf32_error);
            }
            // PnP-ADMM: box 13 x 13, zero boundary, no noise, eta 1e-4, the U-Net
            if (s.pnp_sizes.empty() ||
                std::find(s.pnp_sizes.begin(), s.pnp_sizes.end(), n) != s.pnp_sizes.end()) {
                const xrestore::convolution host(xrestore::box_kernel(13), shape);
                const xrestore::cuda::convolution device(host);
                const image y = host.apply(x);
                const device_array<3> dy = xrestore::to_device(y);
                const xrestore::pnp_admm_options options{.eta = 1e-4, .max_iter = s.pnp_iters};
                xrestore::solver_result<device_array<3>> result;
                const double d = device_ms(
                    1, [&] { result = xrestore::pnp_admm(device, dy, device_denoiser, options); });
                const double device_psnr = xrestore::psnr(x, xrestore::to_host(result.x));
                // the CPU: one warm-up iteration, then cpu_pnp_iters more, scaled per iteration
                const auto t0 = std::chrono::steady_clock::now();
                std::vector<double> marks;
                auto monitor = [&](int, const image&) {
                    marks.push_back(std::chrono::duration<double, std::milli>(
                                        std::chrono::steady_clock::now() - t0)
                                        .count());
                };
                const auto cpu =
                    xrestore::pnp_admm(host, y, host_denoiser,
                                       {.eta = 1e-4, .max_iter = 1 + s.cpu_pnp_iters}, monitor);
                const double per_iteration = (marks.back() - marks.front()) / s.cpu_pnp_iters;
                rows.push_back({"pnp_admm", n, d, per_iteration * s.pnp_iters,
                                xrestore::detail::concat(
                                    s.pnp_iters, " iterations (CPU: ", s.cpu_pnp_iters,
                                    " timed and scaled), device PSNR ", device_psnr, " dB")});
                std::printf("pnp_admm %zu: device %.1f ms, cpu %.1f ms per iteration (%d it)\n", n,
                            d, per_iteration, cpu.iterations);
            }
            if (!s.dump_inputs.empty()) {
                xrestore::write_npy(xrestore::detail::concat(s.dump_inputs, "/input_", n, ".npy"),
                                    x);
            }
        }
        print_and_save(rows, s, prop.name);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cuda: %s\n", e.what());
        return 1;
    }
}
