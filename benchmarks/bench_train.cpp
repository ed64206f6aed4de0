// One native training iteration of the default denoiser's recipe, the twin of
// train_step_pytorch.py (compare_train_pytorch.py runs both side by side):
//
//     build/benchmarks/bench_train [--iters 20] [--warmup 3] [--batch 8] [--patch 96]
//                                  [--chans 32] [--pools 4] [--channels 3] [--seed 0]
//
// An iteration: zero the gradients, the residual call D(y) = y - s U((y - m_c) / s), MSE against
// the clean batch, backward, Adam step (lr 1e-3), on one fixed batch made beforehand (smooth
// random clean patches, per-patch noise levels in [0, 0.2]). Threads: OMP_NUM_THREADS. It prints
// one line in the format of train_step_pytorch.py:
//
//     train_step_native median_ms=... min_ms=... mean_ms=... peak_rss_mb=... rss_before_mb=...
//         increment_mb=... iters=N warmup=W batch=8 channels=3 patch=96 chans=32 pools=4
//         call=residual threads=T loss_first=... loss_last=...
//
// peak_rss_mb is VmHWM of this process, rss_before_mb VmRSS once the network, optimiser and batch
// exist.

#include "bench_support.hpp"

#include <xrestore/train/adam.hpp>
#include <xrestore/train/losses.hpp>
#include <xrestore/train/unet.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

using xrestore::bench::option;
using xrestore::bench::status_mb;

int main(int argc, char** argv) {
    using namespace xrestore;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::puts("bench_train [--iters 20] [--warmup 3] [--batch 8] [--patch 96] "
                      "[--chans 32] [--pools 4] [--channels 3] [--seed 0]");
            return 0;
        }
    }
    const std::size_t iters = std::max<std::size_t>(1, option(argc, argv, "--iters", 20));
    const std::size_t warmup = option(argc, argv, "--warmup", 3);
    const std::size_t batch = option(argc, argv, "--batch", 8);
    const std::size_t patch = option(argc, argv, "--patch", 96);
    const std::size_t chans = option(argc, argv, "--chans", 32);
    const std::size_t pools = option(argc, argv, "--pools", 4);
    const std::size_t channels = option(argc, argv, "--channels", 3);
    const std::size_t seed = option(argc, argv, "--seed", 0);
    try {
        train::unet<float> net({channels, channels, chans, pools}, seed);
        train::residual_call<float> denoise(net);
        train::adam<float> optimiser(net.parameters(), {.lr = 1e-3});

        // one fixed batch: 3 x 3 box-smoothed uniform noise, plus noise of sigma ~ U[0, 0.2]
        std::mt19937_64 engine(seed + 1);
        std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
        std::normal_distribution<float> gauss(0.0F, 1.0F);
        train::tensor4<float> raw =
            train::tensor4<float>::from_shape({batch, channels, patch, patch});
        for (float& v : raw) {
            v = uniform(engine);
        }
        train::tensor4<float> clean = train::tensor4<float>::from_shape(raw.shape());
        const auto side = static_cast<std::ptrdiff_t>(patch);
        for (std::size_t p = 0; p < batch * channels; ++p) {
            const float* in = raw.data() + p * patch * patch;
            float* out = clean.data() + p * patch * patch;
            for (std::ptrdiff_t r = 0; r < side; ++r) {
                for (std::ptrdiff_t c = 0; c < side; ++c) {
                    float sum = 0.0F;
                    for (std::ptrdiff_t dr = -1; dr <= 1; ++dr) {
                        for (std::ptrdiff_t dc = -1; dc <= 1; ++dc) {
                            const std::ptrdiff_t rr = r + dr;
                            const std::ptrdiff_t cc = c + dc;
                            if (rr >= 0 && rr < side && cc >= 0 && cc < side) {
                                sum += in[rr * side + cc];
                            }
                        }
                    }
                    out[r * side + c] = sum / 9.0F;
                }
            }
        }
        train::tensor4<float> noisy = clean;
        const std::size_t sample = channels * patch * patch;
        for (std::size_t n = 0; n < batch; ++n) {
            const float sigma = 0.2F * uniform(engine);
            for (std::size_t q = 0; q < sample; ++q) {
                noisy.data()[n * sample + q] += sigma * gauss(engine);
            }
        }

        auto step = [&]() {
            train::zero_grad(net.parameters());
            const train::loss_result<float> l = train::mse_loss(denoise.forward(noisy), clean);
            denoise.backward(l.grad);
            optimiser.step();
            return static_cast<double>(l.value);
        };
        const double rss_before = status_mb("VmRSS");
        std::vector<double> losses;
        for (std::size_t i = 0; i < warmup; ++i) {
            losses.push_back(step());
        }
        std::vector<double> times;
        for (std::size_t i = 0; i < iters; ++i) {
            const auto start = std::chrono::steady_clock::now();
            losses.push_back(step());
            times.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
        }
        const double peak = status_mb("VmHWM");
        std::vector<double> sorted = times;
        std::sort(sorted.begin(), sorted.end());
        const std::size_t h = sorted.size() / 2;
        const double median =
            sorted.size() % 2 == 1 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
        const double mean =
            std::accumulate(times.begin(), times.end(), 0.0) / static_cast<double>(times.size());
        int threads = 1;
#if defined(_OPENMP)
        threads = omp_get_max_threads();
#endif
        std::printf("train_step_native median_ms=%.3f min_ms=%.3f mean_ms=%.3f peak_rss_mb=%.1f "
                    "rss_before_mb=%.1f increment_mb=%.1f iters=%zu warmup=%zu batch=%zu "
                    "channels=%zu patch=%zu chans=%zu pools=%zu call=residual threads=%d "
                    "loss_first=%.6g loss_last=%.6g\n",
                    median, sorted.front(), mean, peak, rss_before, peak - rss_before, iters,
                    warmup, batch, channels, patch, chans, pools, threads, losses.front(),
                    losses.back());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: %s\n", e.what());
        return 1;
    }
    return 0;
}
