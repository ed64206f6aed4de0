#include <boost/test/unit_test.hpp>

#include <xrestore/metrics/psnr.hpp>

#include <cmath>

BOOST_AUTO_TEST_SUITE(test_psnr)

using namespace xrestore;

BOOST_AUTO_TEST_CASE(closed_forms) {
    const image a = xt::zeros<float>({3, 8, 9});
    const image b = xt::full_like(a, 0.1f);
    // MSE = 0.01 (in float: 0.1f^2), PSNR = 10 log10(1 / 0.01) = 20 dB
    BOOST_TEST(mse(a, b) == 0.01, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(psnr(a, b) == 20.0, boost::test_tools::tolerance(1e-6));
    // data_range 255 adds 20 log10(255) dB
    BOOST_TEST(psnr(a, b, 255.0) == 20.0 + 20.0 * std::log10(255.0),
               boost::test_tools::tolerance(1e-6));
    BOOST_TEST(std::isinf(psnr(a, a)));
}

BOOST_AUTO_TEST_CASE(errors) {
    const image a = xt::zeros<float>({3, 8, 9});
    const image b = xt::zeros<float>({3, 9, 8});
    BOOST_CHECK_THROW(mse(a, b), shape_error);
    BOOST_CHECK_THROW(psnr(a, a, 0.0), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_psnr
