#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/pnp.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/metrics/estimate_sigma.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

BOOST_AUTO_TEST_SUITE(test_pnp_eta)

using namespace xrestore;
using namespace xrestore::test;

BOOST_AUTO_TEST_CASE(eta_for_noise_is_100_sigma_squared_above_the_default) {
    BOOST_TEST(pnp_admm_options::eta_for_noise(0.0) == 1e-4);
    BOOST_TEST(pnp_admm_options::eta_for_noise(0.001) == 1e-4); // 1e-4 exactly: the default
    BOOST_TEST(pnp_admm_options::eta_for_noise(0.01) == 1e-2, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pnp_admm_options::eta_for_noise(0.02) == 4e-2, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pnp_admm_options{}.eta == 1e-4); // the default itself is the study's
    BOOST_CHECK_THROW(pnp_admm_options::eta_for_noise(-0.01), value_error);
    BOOST_CHECK_THROW(pnp_admm_options::eta_for_noise(std::numeric_limits<double>::quiet_NaN()),
                      value_error);
    BOOST_CHECK_THROW(pnp_admm_options::eta_for_noise(std::numeric_limits<double>::infinity()),
                      value_error);
}

BOOST_AUTO_TEST_CASE(eta_for_noise_rescues_the_studys_noisy_deblurring) {
    // The study's noisy case on the centre 96 x 96 of the photo (as CI's study run): box blur
    // p = 13, zero boundary, noise sigma = 0.01 (seed 1), the shipped U-Net, 40 iterations.
    // Measured: input 15.15 dB, eta = 1e-4 17.41 dB, eta = 1.03e-2 (the rule) 25.78 dB.
    const auto weights =
        std::filesystem::path(XRESTORE_TEST_DIR) / ".." / "models" / "denoiser_unet_c32.pth";
    BOOST_REQUIRE(std::filesystem::exists(weights));
    const auto d = load_unet_denoiser(weights);
    const image truth = butterfly_crop(96, 80, 80);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 1);
    const double sigma = estimate_sigma(y);
    BOOST_TEST(sigma == 0.01, boost::test_tools::tolerance(0.05));
    const double eta = pnp_admm_options::eta_for_noise(sigma);
    const double rule = psnr(truth, pnp_admm(A, y, d, {.eta = eta, .max_iter = 40}).x);
    const double fixed = psnr(truth, pnp_admm(A, y, d, {.max_iter = 40}).x);
    BOOST_TEST_MESSAGE("eta_for_noise(" << sigma << ") = " << eta << ": " << rule
                                        << " dB; eta = 1e-4: " << fixed << " dB");
    BOOST_TEST(fixed < 18.5);
    BOOST_TEST(rule > 25.0);
    BOOST_TEST(rule - fixed > 7.0);
    // noise-free data keeps the default, so the result is the default's to the bit
    const image clean = A.apply(truth);
    BOOST_TEST(pnp_admm_options::eta_for_noise(estimate_sigma(clean)) == 1e-4);
}

BOOST_AUTO_TEST_SUITE_END() // test_pnp_eta
