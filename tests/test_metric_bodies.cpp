#define BOOST_TEST_MODULE metric_bodies
// The CUDA metrics run these bodies in device kernels and reductions; here they run in plain
// loops on the CPU against the CPU metrics (scikit-image's definitions).
#include "test_support.hpp"

#include <xrestore/backend/cpu.hpp>
#include <xrestore/backend/kernel_bodies.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace xrestore;

namespace {

image uniform_image(shape3 shape, std::uint64_t seed) {
    image out(shape);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (auto& v : out) {
        v = uniform(rng);
    }
    return out;
}

/// The device SSIM's two passes, run with the CPU backend.
double ssim_through_bodies(const image& x, const image& y, const ssim_options& options) {
    const detail::ssim_window win = detail::make_ssim_window(options, "test");
    const std::size_t channels = x.shape()[0];
    const std::size_t height = x.shape()[1];
    const std::size_t width = x.shape()[2];
    const std::size_t r = win.radius;
    const std::size_t out_width = width - 2 * r;
    std::vector<double> moments(4 * channels * height * out_width,
                                std::numeric_limits<double>::quiet_NaN());
    backend_kernels<cpu_tag>::for_each_index(
        channels * height * out_width,
        kernels::ssim_horizontal_body{x.data(), y.data(), win.taps.data(), moments.data(), channels,
                                      height, width, r});
    const double scale =
        win.box ? 1.0 / (static_cast<double>(win.size()) * static_cast<double>(win.size())) : 1.0;
    const std::size_t count = channels * (height - 2 * r) * out_width;
    const double total = backend_kernels<cpu_tag>::sum_over_indices(
        count, kernels::ssim_map_term{moments.data(), win.taps.data(), channels, height, width, r,
                                      scale, detail::ssim_pixel{win.c1, win.c2, win.cov_norm}});
    return total / static_cast<double>(count);
}

} // namespace

BOOST_AUTO_TEST_CASE(ssim_bodies_match_the_cpu_ssim) {
    const image photo = test::butterfly_crop(64);
    const std::vector<ssim_options> presets = {
        {},
        gaussian_ssim_options,
        {.win_size = 3, .use_sample_covariance = false},
        {.gaussian_weights = true, .sigma = 0.8, .data_range = 2.0}};
    for (const auto& options : presets) {
        for (const shape3 shape : {shape3{3, 64, 64}, shape3{1, 23, 37}, shape3{2, 11, 12}}) {
            BOOST_TEST_CONTEXT("gaussian " << options.gaussian_weights << ", win "
                                           << options.win_size << ", shape "
                                           << shape_string(shape)) {
                const image x = shape[1] == 64 ? photo : uniform_image(shape, shape[2]);
                const image y = shape[1] == 64 ? add_gaussian_noise(photo, 0.1, 4)
                                               : uniform_image(shape, shape[2] + 1);
                const double expected = ssim(x, y, options);
                BOOST_TEST(ssim_through_bodies(x, y, options) == expected,
                           boost::test_tools::tolerance(1e-9));
                BOOST_TEST(ssim_through_bodies(x, x, options) == 1.0,
                           boost::test_tools::tolerance(1e-12));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(squared_difference_and_finiteness_terms) {
    const image x = uniform_image({3, 17, 19}, 1);
    const image y = uniform_image({3, 17, 19}, 2);
    const double sum = backend_kernels<cpu_tag>::sum_over_indices(
        x.size(), kernels::squared_difference_term{x.data(), y.data()});
    BOOST_TEST(sum / static_cast<double>(x.size()) == mse(x, y),
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(backend_kernels<cpu_tag>::sum_over_indices(
                   x.size(), kernels::nonfinite_probe_term{x.data()}) == 0.0);
    for (const float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity()}) {
        image z = x;
        z(1, 5, 7) = bad;
        BOOST_TEST(std::isnan(backend_kernels<cpu_tag>::sum_over_indices(
            z.size(), kernels::nonfinite_probe_term{z.data()})));
    }
}
