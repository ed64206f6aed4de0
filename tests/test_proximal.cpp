#include <boost/test/unit_test.hpp>

#include <xrestore/prox/haar_l1.hpp>
#include <xrestore/prox/projection.hpp>
#include <xrestore/prox/soft_threshold.hpp>
#include <xrestore/prox/tv.hpp>
#include <xrestore/prox/wavelet_bands.hpp>

#include <xrestore/core/noise.hpp>
#include <xrestore/core/vector_space.hpp>
#include <xrestore/metrics/total_variation.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_proximal)

using namespace xrestore;

namespace {

image random_image(shape3 shape, std::uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    image x = vector_space<image>::random(shape, rng);
    xrestore::scal(scale, x);
    return x;
}

/// 1/2 ||z - x||^2 + lambda TV(z), in double
double rof_objective(const image& z, const image& x, double lambda) {
    double d = 0.0;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double e = static_cast<double>(z.data()[i]) - static_cast<double>(x.data()[i]);
        d += e * e;
    }
    return 0.5 * d + lambda * total_variation(z);
}

/// 1/2 ||z - x||^2 + lambda ||W z||_1, in double
double haar_objective(const image& z, const image& x, double lambda, const haar_wavelet& w) {
    double d = 0.0;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double e = static_cast<double>(z.data()[i]) - static_cast<double>(x.data()[i]);
        d += e * e;
    }
    const image c = w.apply(z);
    double l1 = 0.0;
    for (float v : c) {
        l1 += std::abs(static_cast<double>(v));
    }
    return 0.5 * d + lambda * l1;
}

/// The jump signal 0 | 1 along the width (jump after column `at`), repeated over `rows` rows.
image step_image(std::size_t rows, std::size_t width, std::size_t at) {
    image x = xt::zeros<float>({std::size_t{1}, rows, width});
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = at; j < width; ++j) {
            x(0, i, j) = 1.0f;
        }
    }
    return x;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// soft thresholding

BOOST_AUTO_TEST_CASE(soft_threshold_closed_form) {
    tensor<1> x = {-2.0f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f, 3.0f};
    const tensor<1> expected = {-1.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.25f, 2.5f};
    const tensor<1> s = soft_threshold(x, 0.5);
    for (std::size_t i = 0; i < x.size(); ++i) {
        BOOST_TEST(s(i) == expected(i));
    }
    // lambda = 0 is the identity, in place works
    BOOST_TEST(soft_threshold(x, 0.0) == x);
    soft_threshold_into(x, 0.5, x);
    BOOST_TEST(x == expected);
    BOOST_TEST(l1_norm(expected) == 4.25);
}

BOOST_AUTO_TEST_CASE(soft_threshold_is_the_l1_prox) {
    // optimality of z = prox(x): x - z in lambda d||z||_1, i.e. x - z = lambda sign(z) where
    // z != 0 and |x - z| <= lambda where z == 0
    const double lambda = 0.3;
    const image x = random_image({3, 17, 23}, 11);
    const image z = soft_threshold(x, lambda);
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double r = static_cast<double>(x.data()[i]) - static_cast<double>(z.data()[i]);
        const float zi = z.data()[i];
        if (zi == 0.0f) {
            ++zeros;
            BOOST_TEST(std::abs(r) <= lambda + 1e-7);
        } else {
            BOOST_TEST(std::abs(r - lambda * (zi > 0 ? 1.0 : -1.0)) <= 1e-6);
        }
    }
    BOOST_TEST(zeros > 100); // P(|N(0,1)| < 0.3) ~ 0.24 of 1173
    BOOST_TEST(zeros < 400);
}

BOOST_AUTO_TEST_CASE(soft_threshold_rejects_bad_lambda) {
    const image x = random_image({1, 4, 4}, 1);
    BOOST_CHECK_THROW(soft_threshold(x, -0.1), value_error);
    BOOST_CHECK_THROW(soft_threshold(x, std::nan("")), value_error);
    BOOST_CHECK_THROW(soft_threshold(x, std::numeric_limits<double>::infinity()), value_error);
}

// ---------------------------------------------------------------------------------------------
// Haar-L1 prox

BOOST_AUTO_TEST_CASE(haar_prox_of_a_constant_image_shrinks_the_mean_by_lambda_over_2_to_the_l) {
    // a constant c on 16 x 16, 3 levels: the only nonzero coefficients are the 2 x 2 low-pass
    // block, each c 2^3 (an orthonormal 2-D level doubles a constant); soft thresholding by
    // lambda gives c 2^3 - lambda, so the prox is the constant c - lambda / 8.
    const haar_wavelet w({2, 16, 16}, 3);
    const image x = xt::full_like(image(w.domain_shape()), 0.5f);
    const image z = haar_l1_prox(x, 0.4, w);
    for (float v : z) {
        BOOST_TEST(std::abs(v - (0.5f - 0.4f / 8.0f)) < 1e-6f);
    }
    // details only: the constant is untouched
    const image d = haar_l1_prox(x, 0.4, w, wavelet_bands::details);
    for (float v : d) {
        BOOST_TEST(std::abs(v - 0.5f) < 1e-6f);
    }
    BOOST_TEST(std::abs(coefficient_l1_norm(w.apply(x), w) - 2 * 4 * 4.0) < 1e-5);
    BOOST_TEST(coefficient_l1_norm(w.apply(x), w, wavelet_bands::details) < 1e-5);
}

BOOST_AUTO_TEST_CASE(haar_prox_optimality_and_perturbations) {
    const double lambda = 0.25;
    const haar_wavelet w({3, 21, 30}, 3); // odd height: pass-through coefficients
    const image x = random_image(w.domain_shape(), 5);
    const image z = haar_l1_prox(x, lambda, w);
    // W (x - z) in lambda d||.||_1 (W z)
    image r = x;
    xrestore::axpy(-1.0f, z, r);
    const image wr = w.apply(r);
    const image wz = w.apply(z);
    for (std::size_t i = 0; i < wz.size(); ++i) {
        if (std::abs(wz.data()[i]) > 1e-5f) {
            BOOST_TEST(std::abs(wr.data()[i] - lambda * (wz.data()[i] > 0 ? 1.0 : -1.0)) < 1e-5);
        } else {
            BOOST_TEST(std::abs(wr.data()[i]) <= lambda + 1e-5);
        }
    }
    const double best = haar_objective(z, x, lambda, w);
    BOOST_TEST(best < haar_objective(x, x, lambda, w));
    for (int trial = 0; trial < 20; ++trial) {
        image p = random_image(w.domain_shape(), 100 + trial, 1e-2f);
        xrestore::axpy(1.0f, z, p);
        BOOST_TEST(best < haar_objective(p, x, lambda, w));
    }
}

BOOST_AUTO_TEST_CASE(haar_prox_checks_its_arguments) {
    const haar_wavelet w({1, 8, 8}, 2);
    const image x = random_image({1, 8, 8}, 1);
    BOOST_CHECK_THROW(haar_l1_prox(x, -1.0, w), value_error);
    BOOST_CHECK_THROW(haar_l1_prox(random_image({1, 8, 9}, 1), 0.1, w), shape_error);
}

// ---------------------------------------------------------------------------------------------
// box projection

BOOST_AUTO_TEST_CASE(box_projection_clips) {
    const tensor<1> x = {-1.0f, 0.0f, 0.3f, 1.0f, 2.0f};
    const tensor<1> p = project_box(x, 0.0, 1.0);
    const tensor<1> expected = {0.0f, 0.0f, 0.3f, 1.0f, 1.0f};
    BOOST_TEST(p == expected);
    tensor<1> y = x;
    project_box_in_place(y, -std::numeric_limits<double>::infinity(), 0.5);
    BOOST_TEST(y(4) == 0.5f);
    BOOST_TEST(y(0) == -1.0f);
    BOOST_CHECK_THROW(project_box(x, 1.0, 0.0), value_error);
    BOOST_CHECK_THROW(project_box(x, std::nan(""), 1.0), value_error);
}

// ---------------------------------------------------------------------------------------------
// TV prox (Chambolle)

BOOST_AUTO_TEST_CASE(tv_prox_shrinks_a_jump_by_two_lambda_over_the_length) {
    // 1-D: min 1/2 ||z - x||^2 + lambda TV(z) for a 0 | 1 step with pieces of length m keeps
    // the pieces flat and moves each towards the other by lambda / m (while 2 lambda / m < 1).
    for (const std::size_t rows : {std::size_t{1}, std::size_t{6}}) {
        const image x = step_image(rows, 20, 10); // m = 10
        const double lambda = 0.5;
        const image z = tv_prox(x, lambda, {.max_iter = 5000, .tol = 1e-9});
        for (std::size_t i = 0; i < rows; ++i) {
            for (std::size_t j = 0; j < 20; ++j) {
                const double expected = j < 10 ? 0.05 : 0.95;
                BOOST_TEST(std::abs(z(0, i, j) - expected) < 1e-4);
            }
        }
    }
    // unequal pieces: 0 on 5 pixels, 1 on 15: the short piece moves by lambda / 5
    const image x = step_image(1, 20, 5);
    const image z = tv_prox(x, 0.5, {.max_iter = 5000, .tol = 1e-9});
    BOOST_TEST(std::abs(z(0, 0, 0) - 0.1) < 1e-4);
    BOOST_TEST(std::abs(z(0, 0, 19) - (1.0 - 0.5 / 15.0)) < 1e-4);
    // lambda large: the constant mean (total variation 0)
    const image flat = tv_prox(x, 50.0, {.max_iter = 20000, .tol = 1e-10});
    for (float v : flat) {
        BOOST_TEST(std::abs(v - 0.75f) < 1e-3f);
    }
}

BOOST_AUTO_TEST_CASE(tv_prox_beats_random_perturbations) {
    const double lambda = 0.2;
    image x = random_image({2, 24, 24}, 3, 0.3f);
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < 24; ++i) {
            for (std::size_t j = 12; j < 24; ++j) {
                x(c, i, j) += 1.0f;
            }
        }
    }
    const image z = tv_prox(x, lambda, {.max_iter = 3000, .tol = 1e-8});
    const double best = rof_objective(z, x, lambda);
    BOOST_TEST(best < rof_objective(x, x, lambda));
    for (const float eps : {1e-2f, 1e-3f}) {
        for (int trial = 0; trial < 20; ++trial) {
            image p = random_image(shape_of<3>(x), 200 + trial, eps);
            xrestore::axpy(1.0f, z, p);
            BOOST_TEST(best < rof_objective(p, x, lambda));
        }
    }
    // strong convexity: F(z + e) >= F(z*) + 1/2 ||e||^2, with z within 1e-4 of the optimum
    image p = random_image(shape_of<3>(x), 999, 1e-2f);
    const double half_e2 = 0.5 * xrestore::dot(p, p);
    xrestore::axpy(1.0f, z, p);
    BOOST_TEST(rof_objective(p, x, lambda) - best > 0.9 * half_e2);
}

BOOST_AUTO_TEST_CASE(tv_prox_warm_start_and_info) {
    const image x = random_image({1, 20, 20}, 8, 0.2f);
    image out;
    tensor<4> dual;
    const auto cold = tv_prox_into(x, 0.1, {.max_iter = 20000, .tol = 1e-5}, out, dual);
    BOOST_TEST(cold.converged);
    BOOST_TEST(cold.iterations > 10);
    BOOST_TEST(cold.change < 1e-5);
    BOOST_TEST(dual.shape()[0] == 2u);
    image again;
    const auto warm = tv_prox_into(x, 0.1, {.max_iter = 20000, .tol = 1e-5}, again, dual);
    BOOST_TEST(warm.iterations * 10 < cold.iterations);
    BOOST_TEST_MESSAGE("tv_prox iterations: cold " << cold.iterations << ", warm "
                                                   << warm.iterations);
    BOOST_TEST(xt::amax(xt::abs(again - out))() < 1e-5f);
    // the dual field is feasible, |p_ij| <= 1
    for (std::size_t p = 0; p < x.size(); ++p) {
        const float a = dual.data()[p];
        const float b = dual.data()[x.size() + p];
        BOOST_TEST(a * a + b * b <= 1.0f + 1e-5f);
    }
    // in place
    image y = x;
    tensor<4> d2;
    tv_prox_into(y, 0.1, {.max_iter = 20000, .tol = 1e-5}, y, d2);
    BOOST_TEST(xt::amax(xt::abs(y - out))() < 1e-5f);
    // lambda = 0 returns x
    BOOST_TEST(tv_prox(x, 0.0) == x);
}

BOOST_AUTO_TEST_CASE(tv_prox_checks_its_arguments) {
    const image x = random_image({1, 6, 6}, 1);
    BOOST_CHECK_THROW(tv_prox(x, -0.1), value_error);
    BOOST_CHECK_THROW(tv_prox(x, 0.1, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(tv_prox(x, 0.1, {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(tv_prox(x, 0.1, {.tau = 0.3}), value_error);
    BOOST_CHECK_THROW(tv_prox(x, 0.1, {.tau = 0.0}), value_error);
    image bad = x;
    bad(0, 2, 2) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(tv_prox(bad, 0.1), value_error);
    BOOST_CHECK_THROW(tv_prox(image(shape3{1, 0, 5}), 0.1), shape_error);
}

BOOST_AUTO_TEST_CASE(l21_norm_is_the_total_variation_of_the_gradient) {
    const image x = random_image({3, 13, 9}, 4);
    const gradient d(shape_of<3>(x));
    BOOST_TEST(std::abs(l21_norm(d.apply(x)) - total_variation(x)) <
               1e-9 * total_variation(x) + 1e-4);
    BOOST_CHECK_THROW(l21_norm(tensor<4>(std::array<std::size_t, 4>{3, 1, 2, 2})), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_proximal
