#define BOOST_TEST_MODULE cuda_metrics
#include "cuda/cuda_test_support.cuh"

#include <xrestore/backend/cuda/mse.cuh>
#include <xrestore/backend/cuda/psnr.cuh>
#include <xrestore/backend/cuda/ssim.cuh>
#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>

#include <limits>
#include <string>
#include <vector>

using xrestore::device_array;
using xrestore::image;
using xrestore::test::uniform_tensor;

namespace {

image photo() {
    return xrestore::read_image(std::string(XRESTORE_DATA_DIR) + "/images/butterfly_set5.png");
}

} // namespace

BOOST_AUTO_TEST_CASE(mse_and_psnr_match_the_cpu_metrics) {
    const image x = photo();
    const image y = xrestore::add_gaussian_noise(x, 0.05, 2);
    const device_array<3> dx = xrestore::to_device(x);
    const device_array<3> dy = xrestore::to_device(y);
    BOOST_TEST(xrestore::mse(dx, dy) == xrestore::mse(x, y), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(xrestore::psnr(dx, dy) == xrestore::psnr(x, y), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(xrestore::psnr(dx, dy, 2.0) == xrestore::psnr(x, y, 2.0),
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(xrestore::mse(dx, dx) == 0.0);
}

BOOST_AUTO_TEST_CASE(ssim_matches_the_cpu_ssim_for_every_window) {
    const std::vector<xrestore::ssim_options> presets = {
        {}, xrestore::gaussian_ssim_options, {.win_size = 3, .use_sample_covariance = false}};
    const image x = photo();
    const image y = xrestore::add_gaussian_noise(x, 0.1, 3);
    for (const auto& options : presets) {
        BOOST_TEST(xrestore::ssim(xrestore::to_device(x), xrestore::to_device(y), options) ==
                       xrestore::ssim(x, y, options),
                   boost::test_tools::tolerance(1e-6));
        const image a = uniform_tensor<3>({2, 23, 41}, 5);
        const image b = uniform_tensor<3>({2, 23, 41}, 6);
        BOOST_TEST(xrestore::ssim(xrestore::to_device(a), xrestore::to_device(b), options) ==
                       xrestore::ssim(a, b, options),
                   boost::test_tools::tolerance(1e-6));
    }
}

BOOST_AUTO_TEST_CASE(bad_input_gets_the_cpu_errors) {
    const device_array<3> a = xrestore::to_device(uniform_tensor<3>({1, 20, 20}, 1));
    const device_array<3> b = xrestore::to_device(uniform_tensor<3>({1, 20, 21}, 2));
    BOOST_CHECK_THROW(xrestore::mse(a, b), xrestore::shape_error);
    BOOST_CHECK_THROW(xrestore::ssim(a, b), xrestore::shape_error);
    const device_array<3> small = xrestore::to_device(uniform_tensor<3>({1, 5, 5}, 3));
    BOOST_CHECK_THROW(xrestore::ssim(small, small), xrestore::value_error);
    BOOST_CHECK_THROW(xrestore::ssim(a, a, {.data_range = 0.0}), xrestore::value_error);
    image bad = uniform_tensor<3>({1, 20, 20}, 4);
    bad(0, 3, 3) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(xrestore::ssim(a, xrestore::to_device(bad)), xrestore::value_error);
    BOOST_CHECK_THROW(xrestore::psnr(a, a, -1.0), xrestore::value_error);
}
