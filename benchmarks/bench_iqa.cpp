// The newer image-quality measures on one 3 x 512 x 512 pair: BRISQUE and NIQE (no reference:
// they score the distorted image), FSIMc, VIFp and PSNR-HVS / PSNR-HVS-M (both from one call).
// benchmarks/compare_iqa.py runs this with --benchmark_format=json and times the reference
// implementations (OpenCV, piq, psnr_hvsm, the numpy NIQE of tools/dev) on the same pixels.
//
// The pair: reference.npy and distorted.npy (float32 3 x H x W in [0,1]) in the folder named by
// the environment variable XRESTORE_IQA_BENCH_DIR (compare_iqa.py writes them there). Without it,
// the bench makes its own pair the same way (data/images/squirrel.png cut and mirrored to
// 512 x 512, plus Gaussian noise of sigma 0.05, clipped), with other noise samples than numpy's.
// Each case reports the value it computed as the counter "value" (PSNR-HVS-M as "value_m").

#include <xrestore/io/image.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/metrics/brisque.hpp>
#include <xrestore/metrics/fsim.hpp>
#include <xrestore/metrics/niqe.hpp>
#include <xrestore/metrics/psnr_hvs.hpp>
#include <xrestore/metrics/vif.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <utility>

namespace {

constexpr std::size_t side = 512;

// Index i of a length-n axis mirrored into [0, n) (edge sample repeated, numpy's 'symmetric').
std::size_t mirror(std::ptrdiff_t i, std::size_t n) {
    const auto period = static_cast<std::ptrdiff_t>(2 * n);
    std::ptrdiff_t k = i % period;
    if (k < 0) {
        k += period;
    }
    return static_cast<std::size_t>(k < static_cast<std::ptrdiff_t>(n) ? k : period - 1 - k);
}

// The bench's own pair when XRESTORE_IQA_BENCH_DIR is unset: squirrel.png (535 x 426) centred
// on a 512 x 512 canvas, columns cropped, rows mirrored; then noise of sigma 0.05, clipped.
std::pair<xrestore::image, xrestore::image> own_pair() {
    const xrestore::image photo =
        xrestore::read_image(std::filesystem::path(XRESTORE_DATA_DIR) / "images" / "squirrel.png");
    const std::size_t h = photo.shape()[1];
    const std::size_t w = photo.shape()[2];
    const auto top = (static_cast<std::ptrdiff_t>(side) - static_cast<std::ptrdiff_t>(h)) / 2;
    const auto left = (static_cast<std::ptrdiff_t>(side) - static_cast<std::ptrdiff_t>(w)) / 2;
    xrestore::image x = xrestore::image::from_shape({3, side, side});
    for (std::size_t c = 0; c < 3; ++c) {
        for (std::size_t i = 0; i < side; ++i) {
            for (std::size_t j = 0; j < side; ++j) {
                x(c, i, j) = photo(c, mirror(static_cast<std::ptrdiff_t>(i) - top, h),
                                   mirror(static_cast<std::ptrdiff_t>(j) - left, w));
            }
        }
    }
    xrestore::image y = x;
    std::mt19937 rng(0);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (auto& value : y) {
        value = std::clamp(value + noise(rng), 0.0f, 1.0f);
    }
    return {std::move(x), std::move(y)};
}

// The reference and the distorted image, read once.
const std::pair<xrestore::image, xrestore::image>& images() {
    static const std::pair<xrestore::image, xrestore::image> pair = [] {
        if (const char* dir = std::getenv("XRESTORE_IQA_BENCH_DIR"); dir != nullptr && *dir) {
            const std::filesystem::path folder(dir);
            return std::pair<xrestore::image, xrestore::image>(
                xrestore::read_npy<3>(folder / "reference.npy"),
                xrestore::read_npy<3>(folder / "distorted.npy"));
        }
        return own_pair();
    }();
    return pair;
}

const std::filesystem::path iqa_dir = std::filesystem::path(XRESTORE_DATA_DIR) / "iqa";

template <class Metric>
void run(benchmark::State& state, Metric metric) {
    const auto& [x, y] = images();
    double value = 0.0;
    for (auto _ : state) {
        value = metric(x, y);
        benchmark::DoNotOptimize(value);
    }
    state.counters["value"] = value;
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.size()));
}

void brisque(benchmark::State& state) {
    const auto model = xrestore::brisque_model::load(iqa_dir / "brisque_model_live.yml",
                                                     iqa_dir / "brisque_range_live.yml");
    run(state, [&](const auto&, const auto& y) { return xrestore::brisque(y, model); });
}

void niqe(benchmark::State& state) {
    const auto model = xrestore::niqe_model::load(iqa_dir);
    run(state, [&](const auto&, const auto& y) { return xrestore::niqe(y, {.model = &model}); });
}

void fsim(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::fsim(x, y); });
}

void vif_p(benchmark::State& state) {
    run(state, [](const auto& x, const auto& y) { return xrestore::vif_p(x, y); });
}

void psnr_hvs_both(benchmark::State& state) {
    const auto& [x, y] = images();
    xrestore::psnr_hvs_result result;
    for (auto _ : state) {
        result = xrestore::psnr_hvs_both(x, y);
        benchmark::DoNotOptimize(result);
    }
    state.counters["value"] = result.psnr_hvs;
    state.counters["value_m"] = result.psnr_hvs_m;
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.size()));
}

} // namespace

BENCHMARK(brisque)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(niqe)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(fsim)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vif_p)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(psnr_hvs_both)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
