#include <boost/test/unit_test.hpp>

// Closed forms and argument checks of GMSD, the masked MSE/PSNR and the no-reference metrics.
// Agreement with scikit-image and the numpy references is in test_metrics_golden.cpp.

#include <xrestore/metrics/blur_effect.hpp>
#include <xrestore/metrics/estimate_sigma.hpp>
#include <xrestore/metrics/gmsd.hpp>
#include <xrestore/metrics/laplacian_variance.hpp>
#include <xrestore/metrics/masked.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/total_variation.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <random>

BOOST_AUTO_TEST_SUITE(test_metrics_closed_forms)

using namespace xrestore;
namespace tt = boost::test_tools;

namespace {

image random_image(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    image x = image::from_shape({c, h, w});
    for (auto& v : x) {
        v = u(rng);
    }
    return x;
}

image with_nan(image x) {
    x(0, 1, 2) = std::numeric_limits<float>::quiet_NaN();
    return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(gmsd_closed_forms) {
    const image x = random_image(3, 33, 40, 1);
    BOOST_TEST(gmsd(x, x) == 0.0, tt::tolerance(1e-15));
    const image y = random_image(3, 33, 40, 2);
    const double d = gmsd(x, y);
    BOOST_TEST(d > 0.0);
    BOOST_TEST(gmsd(y, x) == d, tt::tolerance(1e-14)); // symmetric
    // scaling the images and data_range by a power of two changes nothing
    const image x4 = x * 4.0f;
    const image y4 = y * 4.0f;
    BOOST_TEST(gmsd(x4, y4, {.data_range = 4.0}) == d, tt::tolerance(1e-13));
    // the deviation of the map, with N - 1
    const matrix q = gms_map(x, y);
    double mean = 0.0;
    for (float v : q) {
        mean += v / static_cast<double>(q.size());
    }
    double ss = 0.0;
    for (float v : q) {
        ss += (v - mean) * (v - mean);
    }
    BOOST_TEST(std::sqrt(ss / static_cast<double>(q.size() - 1)) == d, tt::tolerance(1e-5));
    BOOST_TEST(q.shape()[0] == 17u); // ceil(33 / 2)
    BOOST_TEST(q.shape()[1] == 20u);
    for (float v : q) {
        BOOST_TEST((v > 0.0f && v <= 1.0f));
    }
    // gray replicated into RGB: the luma weights sum to 1
    const image g = random_image(1, 20, 22, 3);
    const image h = random_image(1, 20, 22, 4);
    image g3 = image::from_shape({3, 20, 22});
    image h3 = g3;
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(g3, c) = xt::view(g, 0);
        xt::view(h3, c) = xt::view(h, 0);
    }
    BOOST_TEST(gmsd(g3, h3) == gmsd(g, h), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(masked_mse_psnr_closed_forms) {
    // reference 0; estimate 0.1 where the mask is 1, 0.5 elsewhere
    const image ref = xt::zeros<float>({2, 6, 7});
    image est = xt::full_like(ref, 0.5f);
    image mask = xt::zeros<float>({1, 6, 7});
    for (std::size_t i = 0; i < 6; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            mask(0, i, j) = 2.0f; // any nonzero value selects
            est(0, i, j) = 0.1f;
            est(1, i, j) = 0.1f;
        }
    }
    const double tenth = 0.1f; // the float value, squared in double
    const double e = tenth * tenth;
    BOOST_TEST(mse_masked(ref, est, mask) == e, tt::tolerance(1e-12));
    BOOST_TEST(psnr_masked(ref, est, mask) == 10.0 * std::log10(1.0 / e), tt::tolerance(1e-12));
    BOOST_TEST(psnr_masked(ref, est, mask, 255.0) == 10.0 * std::log10(255.0 * 255.0 / e),
               tt::tolerance(1e-12));
    const image everything = xt::ones<float>({2, 6, 7});
    BOOST_TEST(mse_masked(ref, est, everything) == mse(ref, est), tt::tolerance(1e-14));
    BOOST_TEST(std::isinf(psnr_masked(est, est, mask)));
    // a per-channel mask: channel 0 the 0.1 block, channel 1 the 0.5 block
    image per_channel = xt::zeros<float>({2, 6, 7});
    xt::view(per_channel, 0) = xt::view(mask, 0);
    xt::view(per_channel, 1) = 1.0f - xt::view(mask, 0) / 2.0f;
    const double want = (18 * e + 24 * 0.25) / 42.0;
    BOOST_TEST(mse_masked(ref, est, per_channel) == want, tt::tolerance(1e-7));

    BOOST_CHECK_THROW(mse_masked(ref, est, xt::zeros<float>({1, 6, 7})), value_error);
    BOOST_CHECK_THROW(mse_masked(ref, est, xt::ones<float>({3, 6, 7})), shape_error);
    BOOST_CHECK_THROW(mse_masked(ref, xt::zeros<float>({2, 6, 6}), mask), shape_error);
    BOOST_CHECK_THROW(psnr_masked(ref, est, mask, 0.0), value_error);
    BOOST_CHECK_THROW(psnr_masked(ref, est, with_nan(mask)), value_error);
    BOOST_CHECK_THROW(psnr_masked(ref, with_nan(est), mask), value_error);
}

BOOST_AUTO_TEST_CASE(estimate_sigma_of_pure_noise) {
    for (const double sigma : {0.02, 0.1, 0.3}) {
        std::mt19937 rng(17);
        std::normal_distribution<float> n(0.0f, static_cast<float>(sigma));
        image x = image::from_shape({1, 256, 256});
        for (auto& v : x) {
            v = 0.5f + n(rng);
        }
        BOOST_TEST(estimate_sigma(x) == sigma, tt::tolerance(0.03));
    }
    // channels with 0.05 and 0.15: the mean, 0.1
    std::mt19937 rng(18);
    std::normal_distribution<float> n(0.0f, 1.0f);
    image x = image::from_shape({2, 200, 210});
    for (std::size_t i = 0; i < 200; ++i) {
        for (std::size_t j = 0; j < 210; ++j) {
            x(0, i, j) = 0.05f * n(rng);
            x(1, i, j) = 0.15f * n(rng);
        }
    }
    BOOST_TEST(estimate_sigma(x) == 0.1, tt::tolerance(0.03));
    // no detail at all (zeros): 0
    BOOST_TEST(estimate_sigma(xt::zeros<float>({1, 9, 9})) == 0.0);
    BOOST_CHECK_THROW(estimate_sigma(image::from_shape({1, 0, 4})), value_error);
    BOOST_CHECK_THROW(estimate_sigma(with_nan(random_image(1, 8, 8, 3))), value_error);
}

BOOST_AUTO_TEST_CASE(total_variation_closed_forms) {
    // x = a j: |dx| = a except in the last column, dy = 0
    image ramp = image::from_shape({2, 5, 7});
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < 5; ++i) {
            for (std::size_t j = 0; j < 7; ++j) {
                ramp(c, i, j) = 0.125f * static_cast<float>(j);
            }
        }
    }
    BOOST_TEST(total_variation(ramp) == 2 * 5 * 6 * 0.125, tt::tolerance(1e-14));
    // [[0 1] [1 0]]: sqrt(2) + 1 + 1 + 0
    image checker = xt::zeros<float>({1, 2, 2});
    checker(0, 0, 1) = 1.0f;
    checker(0, 1, 0) = 1.0f;
    BOOST_TEST(total_variation(checker) == 2.0 + std::sqrt(2.0), tt::tolerance(1e-14));
    BOOST_TEST(total_variation(xt::full_like(ramp, 0.3f)) == 0.0);
    BOOST_TEST(total_variation(xt::ones<float>({1, 1, 1})) == 0.0);
    BOOST_CHECK_THROW(total_variation(with_nan(ramp)), value_error);
    BOOST_CHECK_THROW(total_variation(image::from_shape({1, 0, 3})), value_error);
}

BOOST_AUTO_TEST_CASE(laplacian_variance_closed_forms) {
    // linear and quadratic images have a constant Laplacian: variance 0
    image quad = image::from_shape({1, 9, 11});
    for (std::size_t i = 0; i < 9; ++i) {
        for (std::size_t j = 0; j < 11; ++j) {
            quad(0, i, j) = 0.01f * static_cast<float>(j * j) + 0.02f * static_cast<float>(i);
        }
    }
    BOOST_TEST(laplacian_variance(quad) == 0.0, tt::tolerance(1e-10));
    // checkerboard of 0/1: the Laplacian is +-4 in equal numbers, variance 16
    image checker = image::from_shape({1, 10, 12});
    for (std::size_t i = 0; i < 10; ++i) {
        for (std::size_t j = 0; j < 12; ++j) {
            checker(0, i, j) = static_cast<float>((i + j) % 2);
        }
    }
    BOOST_TEST(laplacian_variance(checker) == 16.0, tt::tolerance(1e-14));
    image rgb = image::from_shape({3, 10, 12});
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(rgb, c) = xt::view(checker, 0);
    }
    BOOST_TEST(laplacian_variance(rgb) == 16.0, tt::tolerance(1e-12));
    BOOST_CHECK_THROW(laplacian_variance(random_image(1, 2, 9, 1)), value_error);
    BOOST_CHECK_THROW(laplacian_variance(random_image(2, 9, 9, 1)), shape_error);
    BOOST_CHECK_THROW(laplacian_variance(with_nan(random_image(1, 9, 9, 1))), value_error);
}

BOOST_AUTO_TEST_CASE(blur_effect_properties) {
    const image x = random_image(1, 48, 52, 5);
    // a 5 x 5 box blur of the same image scores higher
    image blurred = x;
    for (std::size_t i = 0; i < 48; ++i) {
        for (std::size_t j = 0; j < 52; ++j) {
            double s = 0.0;
            for (int a = -2; a <= 2; ++a) {
                for (int b = -2; b <= 2; ++b) {
                    const auto ii = std::clamp<long>(static_cast<long>(i) + a, 0, 47);
                    const auto jj = std::clamp<long>(static_cast<long>(j) + b, 0, 51);
                    s += x(0, static_cast<std::size_t>(ii), static_cast<std::size_t>(jj));
                }
            }
            blurred(0, i, j) = static_cast<float>(s / 25.0);
        }
    }
    const double sharp = blur_effect(x);
    const double soft = blur_effect(blurred);
    BOOST_TEST((sharp >= 0.0 && sharp < soft && soft <= 1.0));
    // RGB with three equal channels: rgb2gray's weights sum to 1
    image rgb = image::from_shape({3, 48, 52});
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(rgb, c) = xt::view(x, 0);
    }
    BOOST_TEST(blur_effect(rgb) == sharp, tt::tolerance(1e-12));
    BOOST_CHECK_THROW(blur_effect(random_image(1, 3, 9, 1)), value_error);
    BOOST_CHECK_THROW(blur_effect(random_image(2, 9, 9, 1)), shape_error);
    BOOST_CHECK_THROW(blur_effect(x, 0), value_error);
    BOOST_CHECK_THROW(blur_effect(xt::full_like(x, 0.5f)), value_error); // no gradient
    BOOST_CHECK_THROW(blur_effect(with_nan(x)), value_error);
}

BOOST_AUTO_TEST_CASE(gmsd_errors) {
    const image x = random_image(3, 10, 10, 6);
    BOOST_CHECK_THROW(gmsd(x, random_image(3, 10, 11, 1)), shape_error);
    BOOST_CHECK_THROW(gmsd(random_image(2, 10, 10, 1), random_image(2, 10, 10, 2)), shape_error);
    BOOST_CHECK_THROW(gmsd(random_image(1, 2, 2, 1), random_image(1, 2, 2, 2)), value_error);
    BOOST_CHECK_NO_THROW(gmsd(random_image(1, 3, 1, 1), random_image(1, 3, 1, 2)));
    BOOST_CHECK_THROW(gmsd(x, with_nan(x)), value_error);
    BOOST_CHECK_THROW(gmsd(x, x, {.data_range = 0.0}), value_error);
    BOOST_CHECK_THROW(gmsd(x, x, {.c = -1.0}), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_closed_forms
