// On device arrays the metrics (metrics/mse.hpp, ssim.hpp) run these bodies in device kernels
// and reductions; here they run in plain loops on the CPU backend against the CPU metrics
// (scikit-image's definitions): the whole arithmetic of the device metrics, without a device.
#include "test_support.hpp"

#include <xrestore/core/cpu_backend.hpp>
#include <xrestore/core/kernel_bodies.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_metric_bodies)

using namespace xrestore;
using cpu = backend_kernels<cpu_tag>;
using test::uniform_tensor;

namespace {

/// The device SSIM's passes, run with the CPU backend: the horizontally filtered moments.
struct body_ssim {
    detail::ssim_window win;
    std::size_t channels;
    std::size_t height;
    std::size_t width;
    std::vector<double> moments;

    body_ssim(const image& x, const image& y, const ssim_options& options)
        : win(detail::make_ssim_window(options, "test")), channels(x.shape()[0]),
          height(x.shape()[1]), width(x.shape()[2]),
          moments(detail::ssim_moments * channels * height * out_width(),
                  std::numeric_limits<double>::quiet_NaN()) {
        cpu::for_each_index(channels * height * out_width(),
                            kernels::ssim_horizontal_body{x.data(), y.data(), win.taps.data(),
                                                          moments.data(), channels, height, width,
                                                          win.radius});
    }
    std::size_t out_width() const { return width - 2 * win.radius; }
    std::size_t out_height() const { return height - 2 * win.radius; }
    std::size_t count() const { return channels * out_height() * out_width(); }
    kernels::ssim_map_term map_term() const {
        const double scale =
            win.box ? 1.0 / (static_cast<double>(win.size()) * static_cast<double>(win.size()))
                    : 1.0;
        return {moments.data(), win.taps.data(),
                channels,       height,
                width,          win.radius,
                scale,          detail::ssim_pixel{win.c1, win.c2, win.cov_norm}};
    }
    /// mean SSIM as the device computes it: one reduction of the map terms
    double mean() const {
        return cpu::sum_over_indices(count(), map_term()) / static_cast<double>(count());
    }
};

double ssim_through_bodies(const image& x, const image& y, const ssim_options& options) {
    return body_ssim(x, y, options).mean();
}

/// The presets the body tests sweep: both windows, odd box sizes, sample and population
/// covariances, other data ranges and constants.
std::vector<ssim_options> presets() {
    return {{},
            gaussian_ssim_options,
            {.win_size = 3, .use_sample_covariance = false},
            {.win_size = 11, .data_range = 255.0},
            {.gaussian_weights = true, .sigma = 0.8, .data_range = 2.0},
            {.gaussian_weights = true, .sigma = 2.5, .k1 = 0.02, .k2 = 0.05}};
}

std::string context(const ssim_options& o, const shape3& shape) {
    return detail::concat("gaussian ", o.gaussian_weights, ", sigma ", o.sigma, ", win ",
                          o.win_size, ", data_range ", o.data_range, ", shape ",
                          shape_string(shape));
}

} // namespace

BOOST_AUTO_TEST_CASE(ssim_bodies_match_the_cpu_ssim) {
    const image photo = test::butterfly_crop(64);
    const image noisy = add_gaussian_noise(photo, 0.1, 4);
    const image gray = test::crop("cameraman.png", 100, 90, 45);
    const image gray_noisy = add_gaussian_noise(gray, 0.05, 5);
    for (const auto& options : presets()) {
        const std::size_t window = detail::make_ssim_window(options, "test").size();
        const std::vector<shape3> shapes = {
            {1, 23, 37}, {2, 31, 19}, {5, 27, 29}, {3, window, window + 2}, {1, window, window}};
        for (const shape3& shape : shapes) {
            BOOST_TEST_CONTEXT(context(options, shape)) {
                const image x = uniform_tensor<3>(shape, shape[1] * 100 + shape[2]);
                image y = uniform_tensor<3>(shape, shape[1] * 100 + shape[2] + 1);
                y = xt::eval(0.5f * x + 0.5f * y); // correlated with x, SSIM well inside (0, 1)
                BOOST_TEST(ssim_through_bodies(x, y, options) == ssim(x, y, options),
                           boost::test_tools::tolerance(1e-9));
                BOOST_TEST(ssim_through_bodies(x, x, options) == 1.0,
                           boost::test_tools::tolerance(1e-12));
            }
        }
        BOOST_TEST_CONTEXT(context(options, photo.shape()) << " (butterfly)") {
            BOOST_TEST(ssim_through_bodies(photo, noisy, options) == ssim(photo, noisy, options),
                       boost::test_tools::tolerance(1e-9));
        }
        BOOST_TEST_CONTEXT(context(options, gray.shape()) << " (cameraman)") {
            BOOST_TEST(ssim_through_bodies(gray, gray_noisy, options) ==
                           ssim(gray, gray_noisy, options),
                       boost::test_tools::tolerance(1e-9));
        }
    }
}

BOOST_AUTO_TEST_CASE(ssim_map_term_is_the_cpu_map_at_every_interior_pixel) {
    const image x = test::butterfly_crop(40, 30, 50);
    const image y = add_gaussian_noise(x, 0.08, 6);
    for (const auto& options : presets()) {
        BOOST_TEST_CONTEXT(context(options, x.shape())) {
            const body_ssim bodies(x, y, options);
            const image map = ssim_map(x, y, options); // float, full size
            const kernels::ssim_map_term term = bodies.map_term();
            const std::size_t r = bodies.win.radius;
            double worst = 0.0;
            for (std::size_t p = 0; p < bodies.count(); ++p) {
                const std::size_t j = p % bodies.out_width();
                const std::size_t i = (p / bodies.out_width()) % bodies.out_height();
                const std::size_t c = p / (bodies.out_width() * bodies.out_height());
                worst =
                    std::max(worst, std::abs(term(p) - static_cast<double>(map(c, i + r, j + r))));
            }
            BOOST_TEST(worst <= 1e-6); // the CPU map is stored in float
        }
    }
}

BOOST_AUTO_TEST_CASE(squared_difference_term_is_the_cpu_mse) {
    for (const shape3& shape :
         {shape3{3, 17, 19}, shape3{1, 1, 1}, shape3{4, 9, 33}, shape3{2, 255, 131}}) {
        BOOST_TEST_CONTEXT(shape_string(shape)) {
            const image x = uniform_tensor<3>(shape, shape[2]);
            const image y = uniform_tensor<3>(shape, shape[2] + 7);
            const double sum = cpu::sum_over_indices(
                x.size(), kernels::squared_difference_term{x.data(), y.data()});
            BOOST_TEST(sum / static_cast<double>(x.size()) == mse(x, y),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(cpu::sum_over_indices(
                           x.size(), kernels::squared_difference_term{x.data(), x.data()}) == 0.0);
        }
    }
    // other ranks: the device mse is a template over the rank
    const tensor<2> a = uniform_tensor<2>({13, 29}, 1);
    const tensor<2> b = uniform_tensor<2>({13, 29}, 2);
    BOOST_TEST(
        cpu::sum_over_indices(a.size(), kernels::squared_difference_term{a.data(), b.data()}) /
                static_cast<double>(a.size()) ==
            mse(a, b),
        boost::test_tools::tolerance(1e-12));
    const tensor<4> c = uniform_tensor<4>({2, 3, 7, 5}, 3);
    const tensor<4> d = uniform_tensor<4>({2, 3, 7, 5}, 4);
    BOOST_TEST(
        cpu::sum_over_indices(c.size(), kernels::squared_difference_term{c.data(), d.data()}) /
                static_cast<double>(c.size()) ==
            mse(c, d),
        boost::test_tools::tolerance(1e-12));
}

/// The device SSIM's finiteness check, with the CPU backend's reductions: the same index, value
/// and message as the CPU check, by bisection over reductions of nonfinite_probe_term.
BOOST_AUTO_TEST_CASE(first_nonfinite_index_gives_the_cpu_message) {
    const image x = uniform_tensor<3>({3, 17, 19}, 1);
    std::size_t calls = 0;
    const auto probe_of = [&calls](const image& z) {
        return [&calls, p = z.data()](std::size_t first, std::size_t count) {
            ++calls;
            return std::isnan(
                cpu::sum_over_indices(count, kernels::nonfinite_probe_term{p + first}));
        };
    };
    BOOST_TEST(detail::first_nonfinite_index(x.size(), probe_of(x)) == x.size());
    BOOST_TEST(calls == 1u); // all finite: a single reduction
    BOOST_TEST(detail::first_nonfinite_index(0, probe_of(x)) == 0u);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<std::vector<std::pair<std::size_t, float>>> cases = {
        {{0, nan}},
        {{x.size() - 1, inf}},
        {{500, -inf}},
        {{77, nan}, {300, inf}},
        {{967, -nan}, {968, nan}}}; // 968 is the last entry of 3 x 17 x 19
    for (const auto& bad : cases) {
        image z = x;
        for (const auto& [index, value] : bad) {
            z.data()[index] = value;
        }
        calls = 0;
        const std::size_t found = detail::first_nonfinite_index(z.size(), probe_of(z));
        BOOST_TEST(found == bad.front().first);
        BOOST_TEST(calls <= 2u + static_cast<std::size_t>(std::log2(z.size())));
        // the message the device builds from the index and the entry it reads back
        const float value = z.data()[found];
        const std::string device_message = detail::concat(
            "ssim: image must contain only finite values, got ", value, " at flat index ", found);
        std::string cpu_message;
        try {
            (void)ssim(x, z);
        } catch (const value_error& e) {
            cpu_message = e.what();
        }
        BOOST_TEST(device_message == cpu_message);
    }
}

BOOST_AUTO_TEST_CASE(nonfinite_probe_term) {
    const image x = uniform_tensor<3>({3, 17, 19}, 1);
    BOOST_TEST(cpu::sum_over_indices(x.size(), kernels::nonfinite_probe_term{x.data()}) == 0.0);
    for (const float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity()}) {
        image z = x;
        z(1, 5, 7) = bad;
        BOOST_TEST(
            std::isnan(cpu::sum_over_indices(z.size(), kernels::nonfinite_probe_term{z.data()})));
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_metric_bodies
