#include <boost/test/unit_test.hpp>

// Closed forms, invariances and argument checks of ssim, ssim_map, ms_ssim and ssim_masked.
// The agreement with scikit-image itself is in test_metrics_golden.cpp.

#include <xrestore/metrics/masked.hpp>
#include <xrestore/metrics/ms_ssim.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_ssim)

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

image noisy(const image& x, float sigma, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, sigma);
    image y = x;
    for (auto& v : y) {
        v += n(rng);
    }
    return y;
}

const ssim_options study{.gaussian_weights = true, .use_sample_covariance = false};

template <class F>
void check_message(F&& f, const std::string& fragment) {
    try {
        f();
        BOOST_ERROR("no exception; expected one mentioning '" << fragment << "'");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos,
                   "message '" << e.what() << "' lacks '" << fragment << "'");
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(identical_images_score_one) {
    const image x = random_image(3, 40, 33, 1);
    BOOST_TEST(ssim(x, x) == 1.0, tt::tolerance(1e-14));
    BOOST_TEST(ssim(x, x, study) == 1.0, tt::tolerance(1e-14));
    const image big = random_image(2, 180, 190, 2);
    BOOST_TEST(ms_ssim(big, big) == 1.0, tt::tolerance(1e-14));
    const image ones = xt::ones<float>({1, 40, 33});
    BOOST_TEST(ssim_masked(x, x, ones, study) == 1.0, tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(constant_images_closed_form) {
    // No variance anywhere: S = (2 a b + C1) / (a^2 + b^2 + C1) * (C2 / C2) at every pixel.
    const double a = 0.25;
    const double b = 0.75;
    const image x = xt::full_like(image::from_shape({2, 20, 24}), static_cast<float>(a));
    const image y = xt::full_like(x, static_cast<float>(b));
    for (const ssim_options& o : {ssim_options{}, study, ssim_options{.win_size = 3}}) {
        const double c1 = (o.k1 * o.data_range) * (o.k1 * o.data_range);
        const double want = (2 * a * b + c1) / (a * a + b * b + c1);
        BOOST_TEST(ssim(x, y, o) == want, tt::tolerance(1e-12));
        const image map = ssim_map(x, y, o);
        for (float v : map) {
            BOOST_TEST(v == want, tt::tolerance(1e-6));
        }
    }
}

BOOST_AUTO_TEST_CASE(invariances) {
    const image x = random_image(3, 37, 45, 3);
    const image y = noisy(x, 0.1f, 4);
    for (const ssim_options& o : {ssim_options{}, study}) {
        const double s = ssim(x, y, o);
        BOOST_TEST((s > 0.5 && s < 0.99));
        BOOST_TEST(ssim(y, x, o) == s, tt::tolerance(1e-14)); // symmetric
        // scaling images and data_range by a power of two changes nothing
        ssim_options scaled = o;
        scaled.data_range = 4.0;
        const image x4 = x * 4.0f;
        const image y4 = y * 4.0f;
        BOOST_TEST(ssim(x4, y4, scaled) == s, tt::tolerance(1e-13));
        // the mean over channels of single-channel SSIMs
        double mean = 0.0;
        for (std::size_t c = 0; c < 3; ++c) {
            const image xc = xt::view(x, xt::range(c, c + 1), xt::all(), xt::all());
            const image yc = xt::view(y, xt::range(c, c + 1), xt::all(), xt::all());
            mean += ssim(xc, yc, o) / 3.0;
        }
        BOOST_TEST(mean == s, tt::tolerance(1e-14));
    }
    // a larger window averages more: the default box SSIM grows from 3 x 3 to 15 x 15 on noise
    BOOST_TEST(ssim(x, y, {.win_size = 15}) > ssim(x, y, {.win_size = 3}));
}

BOOST_AUTO_TEST_CASE(map_interior_mean_is_ssim) {
    const image x = random_image(2, 30, 41, 5);
    const image y = noisy(x, 0.05f, 6);
    for (const ssim_options& o : {ssim_options{}, study, ssim_options{.win_size = 19}}) {
        const image map = ssim_map(x, y, o);
        BOOST_TEST(map.shape() == x.shape(), tt::per_element());
        const std::size_t pad = o.gaussian_weights ? 5 : (o.win_size - 1) / 2;
        double sum = 0.0;
        std::size_t n = 0;
        for (std::size_t c = 0; c < 2; ++c) {
            for (std::size_t i = pad; i < 30 - pad; ++i) {
                for (std::size_t j = pad; j < 41 - pad; ++j) {
                    sum += map(c, i, j);
                    ++n;
                }
            }
        }
        BOOST_TEST(sum / static_cast<double>(n) == ssim(x, y, o), tt::tolerance(1e-6));
    }
}

BOOST_AUTO_TEST_CASE(window_as_large_as_the_image) {
    // A 7 x 7 image with a 7 x 7 window: the cropped map is the single centre pixel.
    const image x = random_image(1, 7, 7, 7);
    const image y = noisy(x, 0.1f, 8);
    const image map = ssim_map(x, y);
    BOOST_TEST(ssim(x, y) == static_cast<double>(map(0, 3, 3)), tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(independent_of_the_thread_count) {
#if defined(_OPENMP)
    const image x = random_image(3, 200, 180, 9);
    const image y = noisy(x, 0.1f, 10);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const double one_uniform = ssim(x, y);
    const double one_gauss = ssim(x, y, study);
    const double one_ms = ms_ssim(x, y);
    omp_set_num_threads(3);
    BOOST_TEST(ssim(x, y) == one_uniform); // bit for bit
    BOOST_TEST(ssim(x, y, study) == one_gauss);
    BOOST_TEST(ms_ssim(x, y) == one_ms);
    omp_set_num_threads(saved);
#else
    BOOST_TEST_MESSAGE("built without OpenMP");
#endif
}

BOOST_AUTO_TEST_CASE(ms_ssim_single_scale_is_the_study_ssim) {
    const image x = random_image(2, 64, 50, 11);
    const image y = noisy(x, 0.05f, 12);
    const double s = ssim(x, y, study);
    BOOST_TEST(s > 0.0);
    BOOST_TEST(ms_ssim(x, y, {.weights = {1.0}}) == s, tt::tolerance(1e-14));
    // the per-scale exponents: weights {0, 1} keep only the pooled-scale SSIM
    const double two = ms_ssim(x, y, {.weights = {0.0, 1.0}});
    BOOST_TEST(two > s); // pooling averages the noise away
    BOOST_TEST(two <= 1.0);
}

BOOST_AUTO_TEST_CASE(masked_ssim) {
    const image x = random_image(3, 40, 36, 13);
    const image y = noisy(x, 0.1f, 14);
    const image ones = xt::ones<float>({1, 40, 36});
    BOOST_TEST(ssim_masked(x, y, ones) == ssim(x, y), tt::tolerance(1e-14));
    BOOST_TEST(ssim_masked(x, y, ones, study) == ssim(x, y, study), tt::tolerance(1e-14));
    const image ones3 = xt::ones<float>({3, 40, 36});
    BOOST_TEST(ssim_masked(x, y, ones3, study) == ssim(x, y, study), tt::tolerance(1e-14));
    // the noise only in the left half: selecting the right half scores 1
    image half = x;
    xt::view(half, xt::all(), xt::all(), xt::range(0, 18)) =
        xt::view(y, xt::all(), xt::all(), xt::range(0, 18));
    image right = xt::zeros<float>({1, 40, 36});
    xt::view(right, xt::all(), xt::all(), xt::range(21, 36)) = 1.0f; // 3 + window radius
    BOOST_TEST(ssim_masked(x, half, right) == 1.0, tt::tolerance(1e-14));
    BOOST_TEST(ssim_masked(x, half, 1.0f - right) < 0.99);
}

BOOST_AUTO_TEST_CASE(errors) {
    const image x = random_image(3, 20, 20, 15);
    const image nan_image = [&] {
        image z = x;
        z(1, 4, 5) = std::numeric_limits<float>::quiet_NaN();
        return z;
    }();
    const image inf_image = [&] {
        image z = x;
        z(2, 19, 19) = std::numeric_limits<float>::infinity();
        return z;
    }();
    BOOST_CHECK_THROW(ssim(x, random_image(3, 20, 21, 1)), shape_error);
    BOOST_CHECK_THROW(ssim(x, random_image(1, 20, 20, 1)), shape_error);
    BOOST_CHECK_THROW(ssim_map(x, random_image(3, 21, 20, 1)), shape_error);
    check_message([&] { ssim(x, nan_image); }, "finite");
    check_message([&] { ssim(inf_image, x); }, "reference must contain only finite values");
    BOOST_CHECK_THROW(ssim_map(x, nan_image), value_error);
    // too small for the window
    const image small = random_image(1, 6, 30, 2);
    check_message([&] { ssim(small, small); }, "at least 7 x 7");
    const image ten = random_image(1, 10, 10, 3);
    check_message([&] { ssim(ten, ten, study); }, "at least 11 x 11");
    const image empty = image::from_shape({1, 0, 0});
    BOOST_CHECK_THROW(ssim(empty, empty), value_error);
    // options
    check_message([&] { ssim(x, x, {.win_size = 6}); }, "win_size must be odd");
    BOOST_CHECK_THROW(ssim(x, x, {.win_size = 1}), value_error); // NP - 1 = 0
    BOOST_CHECK_NO_THROW(ssim(x, x, {.win_size = 1, .use_sample_covariance = false}));
    check_message([&] { ssim(x, x, {.data_range = 0.0}); }, "data_range must be positive");
    BOOST_CHECK_THROW(ssim(x, x, {.data_range = -1.0}), value_error);
    BOOST_CHECK_THROW(ssim(x, x, {.data_range = std::nan("")}), value_error);
    BOOST_CHECK_THROW(ssim(x, x, {.gaussian_weights = true, .sigma = 0.0}), value_error);
    BOOST_CHECK_THROW(ssim(x, x, {.gaussian_weights = true, .sigma = std::nan("")}), value_error);
    BOOST_CHECK_THROW(ssim(x, x, {.k1 = -0.01}), value_error);
    // ms_ssim: the coarsest of 5 scales must hold the 11 x 11 window
    const image tall = random_image(1, 175, 200, 4);
    check_message([&] { ms_ssim(tall, tall); }, "at least 176 x 176 for 5 scales");
    check_message([&] { ms_ssim(x, x, {.weights = {0.5, 0.5}}); }, "at least 22 x 22");
    BOOST_TEST(ms_ssim(x, x, {.weights = {1.0}}) == 1.0, tt::tolerance(1e-14));
    BOOST_CHECK_THROW(ms_ssim(x, x, {.weights = {}}), value_error);
    BOOST_CHECK_THROW(ms_ssim(x, x, {.weights = {0.5, -0.5}}), value_error);
    BOOST_CHECK_THROW(ms_ssim(x, nan_image, {.weights = {1.0}}), value_error);
    BOOST_CHECK_THROW(ms_ssim(x, random_image(3, 20, 21, 1), {.weights = {1.0}}), shape_error);
    // masks
    check_message(
        [&] {
            ssim_masked(x, x, xt::ones<float>({2, 20, 20}));
        },
        "mask must have shape 1 x 20 x 20 or 3 x 20 x 20");
    BOOST_CHECK_THROW(ssim_masked(x, x, xt::ones<float>({1, 20, 19})), shape_error);
    image border = xt::zeros<float>({1, 20, 20});
    border(0, 0, 0) = 1.0f; // only in the cropped border
    check_message([&] { ssim_masked(x, x, border); }, "mask must select at least one pixel");
    image nan_mask = xt::ones<float>({1, 20, 20});
    nan_mask(0, 3, 3) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(ssim_masked(x, x, nan_mask), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_ssim
