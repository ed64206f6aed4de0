#include <boost/test/unit_test.hpp>

// The degradations of the image-quality study (iqa/degradations.hpp) against closed forms, the
// bisection generator (iqa/equal_quality.hpp: every output within tolerance of its target, its
// value recomputed independently), the classical foreground mask on a synthetic scene with a
// known subject, and Kendall's tau against scipy.stats.kendalltau.

#include <xrestore/io/image.hpp>
#include <xrestore/iqa/degradations.hpp>
#include <xrestore/iqa/equal_quality.hpp>
#include <xrestore/iqa/foreground_mask.hpp>
#include <xrestore/iqa/rank_correlation.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_iqa_degradations)

using namespace xrestore;

namespace {

// A 64 x 80 RGB crop of the bundled butterfly (real texture and edges).
image butterfly_crop() {
    const image full = read_image(std::string(XRESTORE_DATA_DIR) + "/images/butterfly_set5.png");
    return xt::eval(xt::view(full, xt::all(), xt::range(96, 160), xt::range(40, 120)));
}

image ramp(std::size_t c, std::size_t h, std::size_t w) {
    image x = xt::empty<float>(shape3{c, h, w});
    for (std::size_t k = 0; k < c; ++k) {
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                x(k, i, j) = static_cast<float>(0.1 + 0.8 * (0.5 * i / h + 0.3 * j / w) +
                                                0.05 * static_cast<double>(k));
            }
        }
    }
    return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(strength_zero_is_the_identity_and_names_round_trip) {
    const image x = butterfly_crop();
    for (const degradation d : all_degradations) {
        BOOST_TEST(parse_degradation(degradation_name(d)) == d);
        if (d != degradation::jpeg) {
            const image y = apply_degradation(x, d, 0.0, 7);
            BOOST_TEST(mse(x, y) == 0.0, degradation_name(d));
        }
    }
    // JPEG's strength 0 is quality 100: close, not identical
    const double p = psnr(x, apply_degradation(x, degradation::jpeg, 0.0));
    BOOST_TEST(p > 40.0);
    BOOST_TEST(std::isfinite(p));
}

BOOST_AUTO_TEST_CASE(closed_forms) {
    const image x = ramp(3, 20, 24);
    // mean shift: clip(x + s)
    const image shifted = apply_degradation(x, degradation::mean_shift, 0.25);
    for (std::size_t i = 0; i < x.size(); ++i) {
        BOOST_TEST(shifted.data()[i] == std::min(1.0f, static_cast<float>(x.data()[i] + 0.25)));
    }
    // contrast: the mean of an unclipped stretch is the mean of x
    const image stretched = apply_degradation(x, degradation::contrast_stretch, 0.1);
    BOOST_TEST(std::abs(xt::mean(stretched)() - xt::mean(x)()) < 1e-6);
    BOOST_TEST(std::abs((stretched(0, 19, 23) - stretched(0, 0, 0)) / (x(0, 19, 23) - x(0, 0, 0)) -
                        1.1f) < 1e-5);
    // translation by a whole pixel count: x(i - n, j - n), edges repeated
    const image moved = apply_degradation(x, degradation::translation, 2.0);
    for (std::size_t i = 0; i < 20; ++i) {
        for (std::size_t j = 0; j < 24; ++j) {
            const std::size_t si = i >= 2 ? i - 2 : 0;
            const std::size_t sj = j >= 2 ? j - 2 : 0;
            BOOST_TEST(moved(1, i, j) == x(1, si, sj));
        }
    }
    // half a pixel: the mean of the four neighbours
    const image half = apply_degradation(x, degradation::translation, 0.5);
    const float expect = 0.25f * (x(2, 10, 10) + x(2, 9, 10) + x(2, 10, 9) + x(2, 9, 9));
    BOOST_TEST(std::abs(half(2, 10, 10) - expect) < 1e-6);
    // quantisation to step 0.25: every value a multiple of it, within half a step
    const image q = apply_degradation(x, degradation::colour_quantisation, 0.25);
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = q.data()[i] / 0.25;
        BOOST_TEST(std::abs(v - std::round(v)) < 1e-6);
        BOOST_TEST(std::abs(q.data()[i] - x.data()[i]) <= 0.125f + 1e-6f);
    }
}

BOOST_AUTO_TEST_CASE(blur_of_a_point_is_the_sampled_gaussian) {
    image x = xt::zeros<float>(shape3{1, 41, 41});
    x(0, 20, 20) = 1.0f;
    const double sigma = 2.0;
    const image y = apply_degradation(x, degradation::gaussian_blur, sigma);
    // radius ceil(5 sigma) + 1 = 11 taps each side: normalised exp(-t^2 / (2 sigma^2))
    double total = 0.0;
    for (int t = -11; t <= 11; ++t) {
        total += std::exp(-0.5 * t * t / (sigma * sigma));
    }
    for (int di : {0, 1, 3, 7}) {
        for (int dj : {0, 2, 5}) {
            const double expect =
                std::exp(-0.5 * (di * di + dj * dj) / (sigma * sigma)) / (total * total);
            BOOST_TEST(std::abs(y(0, 20 + di, 20 + dj) - expect) < 1e-7);
        }
    }
    BOOST_TEST(std::abs(xt::sum(y)() - 1.0) < 1e-5);
}

BOOST_AUTO_TEST_CASE(noise_and_salt_and_pepper_statistics) {
    const image grey = xt::eval(xt::zeros<float>(shape3{1, 200, 200}) + 0.5f);
    const image noisy = apply_degradation(grey, degradation::gaussian_noise, 0.05, 3);
    const double sd = std::sqrt(mse(grey, noisy));
    BOOST_TEST(std::abs(sd - 0.05) < 0.002); // 40000 draws: relative error of the sd ~ 0.4 %
    // the same seed at another strength scales the same field
    const image noisy2 = apply_degradation(grey, degradation::gaussian_noise, 0.1, 3);
    BOOST_TEST(std::abs((noisy2(0, 5, 7) - 0.5f) - 2.0f * (noisy(0, 5, 7) - 0.5f)) < 1e-6f);

    const image x = ramp(3, 30, 40);
    const double fraction = 0.1 + 0.5 / 1200.0; // 120 whole pixels and half of the next
    const image sp = apply_degradation(x, degradation::salt_and_pepper, fraction, 11);
    std::size_t full = 0;
    std::size_t partial = 0;
    for (std::size_t p = 0; p < 1200; ++p) {
        const float v0 = sp.data()[p];
        if (v0 != x.data()[p]) {
            const bool extreme = v0 == 0.0f || v0 == 1.0f;
            full += extreme ? 1 : 0;
            partial += extreme ? 0 : 1;
            // all channels of a pixel together
            BOOST_TEST((sp.data()[1200 + p] == v0 || !extreme));
        }
    }
    BOOST_TEST(full == 120u);
    BOOST_TEST(partial == 1u);
}

BOOST_AUTO_TEST_CASE(jpeg_is_continuous_between_qualities) {
    const image x = butterfly_crop();
    const image q50 = jpeg_round_trip(x, 50);
    const image q51 = jpeg_round_trip(x, 51);
    BOOST_TEST(mse(apply_degradation(x, degradation::jpeg, 50.0), q50) == 0.0);
    const image mid = apply_degradation(x, degradation::jpeg, 49.75); // quality 50.25
    for (std::size_t i = 0; i < x.size(); i += 97) {
        BOOST_TEST(std::abs(mid.data()[i] - (0.75f * q50.data()[i] + 0.25f * q51.data()[i])) <
                   1e-6f);
    }
    BOOST_TEST(psnr(x, q50) < psnr(x, jpeg_round_trip(x, 90)));
}

BOOST_AUTO_TEST_CASE(equal_psnr_and_equal_ssim_sets_hit_their_targets) {
    const image x = butterfly_crop();
    for (const quality_target target : {quality_target{quality_measure::psnr, 24.0},
                                        quality_target{quality_measure::ssim, 0.7}}) {
        const auto set = equal_quality_set(x, target);
        BOOST_TEST(set.size() == all_degradations.size());
        for (const auto& r : set) {
            BOOST_TEST_CONTEXT(degradation_name(r.kind)
                               << " " << quality_measure_name(target.measure)) {
                BOOST_TEST(r.reached);
                // recomputed from the output, independently of the search
                const double v = target.measure == quality_measure::psnr
                                     ? psnr(x, r.output)
                                     : ssim(x, r.output, gaussian_ssim_options);
                BOOST_TEST(v == r.value);
                BOOST_TEST(std::abs(v - target.value) <=
                           (target.measure == quality_measure::psnr ? 0.01 : 0.001));
                // the output is the degradation at the reported strength
                BOOST_TEST(mse(r.output, apply_degradation(x, r.kind, r.strength)) == 0.0);
                BOOST_TEST(r.evaluations <= 80u);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(unreachable_targets_are_reported) {
    const image x = butterfly_crop();
    // JPEG at quality 100 is already below 80 dB
    const auto jpeg = match_quality(x, degradation::jpeg, {quality_measure::psnr, 80.0});
    BOOST_TEST(!jpeg.reached);
    BOOST_TEST(jpeg.strength == 0.0);
    // a 16-pixel shift cannot bring PSNR down to 2 dB
    const auto shift = match_quality(x, degradation::translation, {quality_measure::psnr, 2.0});
    BOOST_TEST(!shift.reached);
    BOOST_TEST(shift.strength == 16.0);
    BOOST_TEST(shift.value > 2.0);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    const image x = ramp(3, 16, 16);
    BOOST_CHECK_THROW(apply_degradation(x, degradation::gaussian_blur, -1.0), value_error);
    BOOST_CHECK_THROW(apply_degradation(x, degradation::gaussian_blur, 33.0), value_error);
    BOOST_CHECK_THROW(apply_degradation(x, degradation::mean_shift, std::nan("")), value_error);
    image bad = x;
    bad(1, 2, 3) = std::nanf("");
    BOOST_CHECK_THROW(apply_degradation(bad, degradation::mean_shift, 0.1), value_error);
    BOOST_CHECK_THROW(apply_degradation(ramp(2, 16, 16), degradation::jpeg, 10.0), shape_error);
    BOOST_CHECK_EXCEPTION(parse_degradation("jpg"), value_error, [](const value_error& e) {
        return std::string(e.what()).find("colour_quantisation") != std::string::npos;
    });
    BOOST_CHECK_THROW(match_quality(x, degradation::jpeg, {quality_measure::psnr, -3.0}),
                      value_error);
    BOOST_CHECK_THROW(match_quality(x, degradation::jpeg, {quality_measure::ssim, 1.0}),
                      value_error);
    equal_quality_options o;
    o.psnr_tolerance = 0.0;
    BOOST_CHECK_THROW(match_quality(x, degradation::jpeg, {quality_measure::psnr, 20.0}, o),
                      value_error);
}

BOOST_AUTO_TEST_CASE(foreground_mask_finds_a_subject_on_a_textured_background) {
    // green, noisy background with a brightness gradient; a brown disk of radius 18 at (40, 52)
    // and a thin brown bar touching the right border (outside the largest region)
    const std::size_t h = 96;
    const std::size_t w = 120;
    image x = xt::empty<float>(shape3{3, h, w});
    std::mt19937_64 rng(5);
    std::normal_distribution<double> n(0.0, 0.03);
    std::size_t inside = 0;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            const double shade = 0.8 + 0.4 * static_cast<double>(j) / w;
            const bool disk = (i - 40.0) * (i - 40.0) + (j - 52.0) * (j - 52.0) <= 18.0 * 18.0;
            const bool bar = i >= 80 && i < 83 && j >= 100;
            inside += disk ? 1 : 0;
            const double r = disk || bar ? 0.55 : 0.25 * shade;
            const double g = disk || bar ? 0.35 : 0.6 * shade;
            const double b = disk || bar ? 0.2 : 0.2 * shade;
            x(0, i, j) = static_cast<float>(r + n(rng));
            x(1, i, j) = static_cast<float>(g + n(rng));
            x(2, i, j) = static_cast<float>(b + n(rng));
        }
    }
    const foreground_result r = foreground_mask_details(x);
    std::size_t both = 0;
    std::size_t either = 0;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            const bool disk = (i - 40.0) * (i - 40.0) + (j - 52.0) * (j - 52.0) <= 18.0 * 18.0;
            const bool m = r.mask(0, i, j) == 1.0f;
            both += disk && m ? 1 : 0;
            either += disk || m ? 1 : 0;
        }
    }
    const double iou = static_cast<double>(both) / static_cast<double>(either);
    BOOST_TEST(iou > 0.95, "intersection over union " << iou);
    BOOST_TEST(std::abs(r.fraction - static_cast<double>(inside) / (h * w)) < 0.01);
    BOOST_TEST(r.mask(0, 81, 110) == 0.0f); // the bar is not the largest region

    BOOST_CHECK_THROW(foreground_mask(ramp(3, 6, 30)), shape_error);
    BOOST_CHECK_THROW(foreground_mask(x, {.clusters = 9}), value_error);
    BOOST_CHECK_THROW(foreground_mask(x, {.min_cluster_share = 0.5}), value_error);
    BOOST_CHECK_THROW(foreground_mask(x, {.border = 48}), value_error);
    // a uniform image has nothing to find
    BOOST_CHECK_THROW(foreground_mask(xt::eval(xt::zeros<float>(shape3{3, 32, 32}) + 0.5f)),
                      value_error);
}

BOOST_AUTO_TEST_CASE(kendall_tau_matches_scipy) {
    // scipy.stats.kendalltau (tau-b) 1.10 on the same lists
    const std::vector<double> a1{1, 2, 3, 4};
    const std::vector<double> b1{10, 30, 20, 40};
    BOOST_TEST(std::abs(kendall_tau(a1, b1) - 0.6666666666666669) < 1e-14);
    const std::vector<double> a2{1, 2, 2, 3, 5, 4};
    const std::vector<double> b2{3, 1, 1, 2, 5, 6};
    BOOST_TEST(std::abs(kendall_tau(a2, b2) - 0.4285714285714286) < 1e-14);
    const std::vector<double> a3{0.5, 0.1, 0.9, 0.9, 0.3, 0.7, 0.2};
    const std::vector<double> b3{2, 1, 5, 4, 4, 3, 0};
    BOOST_TEST(std::abs(kendall_tau(a3, b3) - 0.6499999999999999) < 1e-14);
    std::vector<double> reversed(b1.rbegin(), b1.rend());
    BOOST_TEST(kendall_tau(b1, b1) == 1.0);
    BOOST_TEST(kendall_tau(b1, reversed) == -1.0);
    BOOST_TEST(std::isnan(kendall_tau(std::vector<double>{1, 1, 1}, std::vector<double>{1, 2, 3})));
    BOOST_CHECK_THROW(kendall_tau(a1, a2), shape_error);
    BOOST_CHECK_THROW(kendall_tau(std::vector<double>{1}, std::vector<double>{2}), value_error);
    BOOST_CHECK_THROW(kendall_tau(std::vector<double>{1, std::nan("")}, std::vector<double>{1, 2}),
                      value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_iqa_degradations
