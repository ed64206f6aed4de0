#include <boost/test/unit_test.hpp>

#include <xrestore/core/noise.hpp>

#include <cmath>

BOOST_AUTO_TEST_SUITE(test_noise)

using namespace xrestore;

BOOST_AUTO_TEST_CASE(gaussian_noise_has_the_requested_moments) {
    const image x = xt::zeros<float>({3, 200, 200});
    const image y = add_gaussian_noise(x, 0.05, 7);
    const double n = static_cast<double>(y.size());
    double sum = 0.0, sq = 0.0;
    for (float v : y) {
        sum += v;
        sq += static_cast<double>(v) * v;
    }
    const double mean = sum / n;
    const double sd = std::sqrt(sq / n - mean * mean);
    // Standard errors: sigma / sqrt(n) = 1.4e-4 for the mean, sigma / sqrt(2n) for the std.
    BOOST_TEST(std::abs(mean) < 5 * 0.05 / std::sqrt(n));
    BOOST_TEST(std::abs(sd - 0.05) < 5 * 0.05 / std::sqrt(2 * n));
}

BOOST_AUTO_TEST_CASE(noise_is_reproducible_and_seed_dependent) {
    const image x = xt::ones<float>({1, 16, 16});
    BOOST_TEST(add_gaussian_noise(x, 0.1, 3) == add_gaussian_noise(x, 0.1, 3));
    BOOST_TEST(add_gaussian_noise(x, 0.1, 3) != add_gaussian_noise(x, 0.1, 4));
    BOOST_TEST(add_gaussian_noise(x, 0.0, 3) == x);
}

BOOST_AUTO_TEST_CASE(invalid_sigma_is_refused) {
    const image x = xt::ones<float>({1, 4, 4});
    BOOST_CHECK_THROW(add_gaussian_noise(x, -0.1, 0), value_error);
    BOOST_CHECK_THROW(add_gaussian_noise(x, std::nan(""), 0), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_noise
