#define BOOST_TEST_MODULE cuda_metrics
// The device MSE, PSNR and SSIM against the CPU metrics (scikit-image's definitions) on the
// repository's images and on random ones: relative error <= 1e-6 (MSE and PSNR 1e-12), and the
// same exceptions with the same messages for bad input.
#include "cuda/cuda_test_support.cuh"

#include <xrestore/cuda.cuh>

#include <xtensor/xview.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using xrestore::device_array;
using xrestore::image;
using xrestore::shape3;
using xrestore::ssim_options;
using xrestore::test::uniform_tensor;

namespace {

image read(const std::string& name) {
    return xrestore::read_image(std::string(XRESTORE_DATA_DIR) + "/images/" + name);
}

/// The repository's images: RGB and gray, square and not.
std::vector<image> photos() {
    return {read("butterfly_set5.png"), read("cameraman.png"), read("cat_chelsea.png")};
}

/// A random image and a random image correlated with it (SSIM well inside (0, 1)), odd sizes.
std::pair<image, image> random_pair(const shape3& shape, std::uint64_t seed) {
    const image x = uniform_tensor<3>(shape, seed);
    const image y = xt::eval(0.6f * x + 0.4f * uniform_tensor<3>(shape, seed + 1));
    return {x, y};
}

std::vector<ssim_options> presets() {
    return {{},
            xrestore::gaussian_ssim_options,
            {.win_size = 3, .use_sample_covariance = false},
            {.win_size = 11, .data_range = 255.0},
            {.gaussian_weights = true, .sigma = 0.8, .data_range = 2.0},
            {.gaussian_weights = true, .sigma = 2.5, .k1 = 0.02, .k2 = 0.05}};
}

/// "<exception type>: <message>" of what f throws, or "no exception".
template <class F>
std::string thrown(F&& f) {
    try {
        f();
    } catch (const xrestore::shape_error& e) {
        return std::string("shape_error: ") + e.what();
    } catch (const xrestore::value_error& e) {
        return std::string("value_error: ") + e.what();
    } catch (const xrestore::error& e) {
        return std::string("error: ") + e.what();
    }
    return "no exception";
}

} // namespace

BOOST_AUTO_TEST_CASE(mse_and_psnr_match_the_cpu_metrics_on_the_images) {
    for (const image& x : photos()) {
        BOOST_TEST_CONTEXT(xrestore::shape_string(x.shape())) {
            const image y = xrestore::add_gaussian_noise(x, 0.05, 2);
            const device_array<3> dx = xrestore::to_device(x);
            const device_array<3> dy = xrestore::to_device(y);
            BOOST_TEST(xrestore::mse(dx, dy) == xrestore::mse(x, y),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(xrestore::cuda::mse(dx, dy) == xrestore::mse(x, y),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(xrestore::psnr(dx, dy) == xrestore::psnr(x, y),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(xrestore::cuda::psnr(dx, dy, 2.0) == xrestore::psnr(x, y, 2.0),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(xrestore::mse(dx, dx) == 0.0);
            BOOST_TEST(std::isinf(xrestore::psnr(dx, dx)));
        }
    }
}

BOOST_AUTO_TEST_CASE(mse_and_psnr_match_the_cpu_metrics_on_random_arrays) {
    for (const shape3& shape :
         {shape3{1, 1, 1}, shape3{3, 37, 41}, shape3{5, 129, 63}, shape3{2, 1001, 517}}) {
        BOOST_TEST_CONTEXT(xrestore::shape_string(shape)) {
            const auto [x, y] = random_pair(shape, shape[1]);
            const device_array<3> dx = xrestore::to_device(x);
            const device_array<3> dy = xrestore::to_device(y);
            BOOST_TEST(xrestore::mse(dx, dy) == xrestore::mse(x, y),
                       boost::test_tools::tolerance(1e-12));
            BOOST_TEST(xrestore::psnr(dx, dy, 0.5) == xrestore::psnr(x, y, 0.5),
                       boost::test_tools::tolerance(1e-12));
        }
    }
    // other ranks
    const auto a = uniform_tensor<2>({31, 17}, 1);
    const auto b = uniform_tensor<2>({31, 17}, 2);
    BOOST_TEST(xrestore::mse(xrestore::to_device(a), xrestore::to_device(b)) == xrestore::mse(a, b),
               boost::test_tools::tolerance(1e-12));
    const auto c = uniform_tensor<4>({2, 3, 9, 11}, 3);
    const auto d = uniform_tensor<4>({2, 3, 9, 11}, 4);
    BOOST_TEST(xrestore::mse(xrestore::to_device(c), xrestore::to_device(d)) == xrestore::mse(c, d),
               boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ssim_matches_the_cpu_ssim_on_the_images) {
    for (const image& x : photos()) {
        const image y = xrestore::add_gaussian_noise(x, 0.1, 3);
        const device_array<3> dx = xrestore::to_device(x);
        const device_array<3> dy = xrestore::to_device(y);
        for (const auto& options : presets()) {
            BOOST_TEST_CONTEXT(xrestore::shape_string(x.shape())
                               << ", gaussian " << options.gaussian_weights << ", sigma "
                               << options.sigma << ", win " << options.win_size) {
                BOOST_TEST(xrestore::ssim(dx, dy, options) == xrestore::ssim(x, y, options),
                           boost::test_tools::tolerance(1e-6));
                BOOST_TEST(xrestore::cuda::ssim(dx, dx, options) == 1.0,
                           boost::test_tools::tolerance(1e-12));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(ssim_matches_the_cpu_ssim_on_random_images) {
    for (const auto& options : presets()) {
        const std::size_t window =
            xrestore::detail::make_ssim_window(options, "test").size(); // 2 r + 1
        for (const shape3& shape : {shape3{1, 23, 41}, shape3{2, 41, 23}, shape3{5, 67, 129},
                                    shape3{3, window, window + 4}, shape3{1, window, window}}) {
            BOOST_TEST_CONTEXT(xrestore::shape_string(shape)
                               << ", gaussian " << options.gaussian_weights << ", sigma "
                               << options.sigma << ", win " << options.win_size) {
                const auto [x, y] = random_pair(shape, shape[1] * 1000 + shape[2]);
                BOOST_TEST(xrestore::ssim(xrestore::to_device(x), xrestore::to_device(y),
                                          options) == xrestore::ssim(x, y, options),
                           boost::test_tools::tolerance(1e-6));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_input_gets_the_cpu_exceptions_and_messages) {
    const image a = uniform_tensor<3>({1, 20, 20}, 1);
    const image b = uniform_tensor<3>({1, 20, 21}, 2);
    const image empty = image::from_shape({0, 20, 20});
    const image small = uniform_tensor<3>({1, 5, 5}, 3);
    const auto da = xrestore::to_device(a);
    const auto db = xrestore::to_device(b);
    const auto dempty = xrestore::to_device(empty);
    const auto dsmall = xrestore::to_device(small);
    // each pair: the CPU call, the device call with the same arguments
    const auto same = [](auto cpu, auto device) {
        const std::string expected = thrown(cpu);
        BOOST_TEST(expected != "no exception");
        BOOST_TEST(thrown(device) == expected);
    };
    same([&] { (void)xrestore::mse(a, b); }, [&] { (void)xrestore::mse(da, db); });
    same([&] { (void)xrestore::mse(empty, empty); }, [&] { (void)xrestore::mse(dempty, dempty); });
    same([&] { (void)xrestore::psnr(a, b); }, [&] { (void)xrestore::psnr(da, db); });
    for (const double range : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity()}) {
        same([&] { (void)xrestore::psnr(a, a, range); },
             [&] { (void)xrestore::psnr(da, da, range); });
        same([&] { (void)xrestore::ssim(a, a, {.data_range = range}); },
             [&] { (void)xrestore::ssim(da, da, {.data_range = range}); });
    }
    same([&] { (void)xrestore::ssim(a, b); }, [&] { (void)xrestore::ssim(da, db); });
    same([&] { (void)xrestore::ssim(empty, empty); },
         [&] { (void)xrestore::ssim(dempty, dempty); });
    same([&] { (void)xrestore::ssim(small, small); },
         [&] { (void)xrestore::ssim(dsmall, dsmall); });
    for (const ssim_options& bad :
         {ssim_options{.win_size = 4}, ssim_options{.win_size = 1},
          ssim_options{.gaussian_weights = true, .sigma = -1.0}, ssim_options{.k1 = -0.01},
          ssim_options{.gaussian_weights = true, .sigma = 3.0}}) { // 3: a 23 x 23 window
        same([&] { (void)xrestore::ssim(a, a, bad); }, [&] { (void)xrestore::ssim(da, da, bad); });
    }
    // non-finite values: the first one by flat index, reference before image, before the
    // options and the size
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<std::vector<std::pair<std::size_t, float>>> cases = {
        {{0, nan}}, {{399, inf}}, {{123, -inf}, {300, nan}}, {{211, -nan}}};
    for (const auto& entries : cases) {
        image bad = a;
        for (const auto& [index, value] : entries) {
            bad.data()[index] = value;
        }
        const auto dbad = xrestore::to_device(bad);
        same([&] { (void)xrestore::ssim(a, bad); }, [&] { (void)xrestore::ssim(da, dbad); });
        same([&] { (void)xrestore::ssim(bad, a); }, [&] { (void)xrestore::ssim(dbad, da); });
        same([&] { (void)xrestore::ssim(bad, bad, {.data_range = 0.0}); },
             [&] { (void)xrestore::ssim(dbad, dbad, {.data_range = 0.0}); });
        const image tiny = xt::eval(xt::view(bad, xt::all(), xt::range(0, 5), xt::all()));
        const auto dtiny = xrestore::to_device(tiny);
        same([&] { (void)xrestore::ssim(tiny, tiny); },
             [&] { (void)xrestore::ssim(dtiny, dtiny); });
    }
}
