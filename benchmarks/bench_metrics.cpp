// Image-quality metrics at 256 x 256 and 512 x 512 RGB: SSIM (uniform 7 x 7 and the Gaussian
// study preset), MS-SSIM, GMSD and PSNR. benchmarks/compare_metrics_skimage.py runs this with
// --benchmark_format=json and times scikit-image on the same sizes.

#include <xrestore/metrics/gmsd.hpp>
#include <xrestore/metrics/ms_ssim.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <utility>

namespace {

// A smooth image plus its noisy version (the content does not change the cost).
std::pair<xrestore::image, xrestore::image> image_pair(std::size_t side) {
    xrestore::image x = xrestore::image::from_shape({3, side, side});
    std::mt19937 rng(42);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (std::size_t c = 0; c < 3; ++c) {
        for (std::size_t i = 0; i < side; ++i) {
            for (std::size_t j = 0; j < side; ++j) {
                const double u = static_cast<double>(i) / static_cast<double>(side);
                const double v = static_cast<double>(j) / static_cast<double>(side);
                x(c, i, j) = static_cast<float>(
                    0.5 + 0.25 * std::sin(9.0 * u + 3.0 * static_cast<double>(c)) *
                              std::cos(13.0 * v - 2.0 * u));
            }
        }
    }
    xrestore::image y = x;
    for (auto& value : y) {
        value += noise(rng);
    }
    return {std::move(x), std::move(y)};
}

template <class Metric>
void run(benchmark::State& state, Metric metric) {
    const auto side = static_cast<std::size_t>(state.range(0));
    const auto [x, y] = image_pair(side);
    for (auto _ : state) {
        benchmark::DoNotOptimize(metric(x, y));
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.size()));
}

void ssim_uniform(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::ssim(x, y); });
}

void ssim_gaussian(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) {
        return xrestore::ssim(x, y, {.gaussian_weights = true, .use_sample_covariance = false});
    });
}

void ms_ssim(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::ms_ssim(x, y); });
}

void gmsd(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::gmsd(x, y); });
}

void psnr(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::psnr(x, y); });
}

} // namespace

BENCHMARK(ssim_uniform)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ssim_gaussian)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ms_ssim)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(gmsd)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(psnr)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
