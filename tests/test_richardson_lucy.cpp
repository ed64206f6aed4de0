#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/richardson_lucy.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_richardson_lucy)

using namespace xrestore;
using namespace xrestore::test;

namespace {

/// Photon-limited data: y = Poisson(photons * mean) / photons, drawn with
/// std::poisson_distribution from std::mt19937_64(seed) (the counts depend on the standard
/// library's Poisson sampler).
image poisson_noise(const image& mean, double photons, unsigned seed) {
    std::mt19937_64 rng(seed);
    image out = mean;
    for (auto& v : out) {
        std::poisson_distribution<int> counts(photons * std::max(0.0, static_cast<double>(v)));
        v = static_cast<float>(counts(rng) / photons);
    }
    return out;
}

double total(const image& x) {
    return static_cast<double>(xt::sum(x, xt::evaluation_strategy::immediate)());
}

} // namespace

BOOST_AUTO_TEST_CASE(kullback_leibler_closed_forms) {
    // KL(y || y) = 0; KL([1, 0, 2] || [2, 1, 2]) = (2 - 1 + log(1/2)) + (1 - 0) + 0 = 2 - log 2
    const image y = butterfly_crop(8) + 0.1f;
    BOOST_TEST(std::abs(kullback_leibler(y, y)) < 1e-9);
    image a({1, 1, 3});
    image b({1, 1, 3});
    a = {{{1.0f, 0.0f, 2.0f}}};
    b = {{{2.0f, 1.0f, 2.0f}}};
    BOOST_TEST(kullback_leibler(a, b) == 2.0 - std::log(2.0), boost::test_tools::tolerance(1e-12));
    BOOST_CHECK_THROW(kullback_leibler(a, y), shape_error);
}

BOOST_AUTO_TEST_CASE(identity_and_mask_closed_forms) {
    // A = I: x_1 = c (y / c) / 1 = y exactly, from the flat start c = mean(y)
    const image y = butterfly_crop(16);
    const auto r = richardson_lucy(identity(shape_of<3>(y)), y, {.max_iter = 1});
    BOOST_TEST(max_abs_difference(r.x, y) < 1e-6);
    BOOST_TEST(r.objective.size() == 1u);
    BOOST_TEST(std::abs(r.objective[0]) < 1e-4); // KL(y || y)

    // A = mask: observed pixels become y, unobserved ones (A^T 1 = 0) keep the start
    // c = sum(y) / sum(mask)
    const image mask = random_mask(shape_of<3>(y), 0.4, 5);
    const inpainting M(mask);
    const image ym = M.apply(y);
    const auto m = richardson_lucy(M, ym, {.max_iter = 3});
    const auto c = static_cast<float>(total(ym) / total(mask));
    const image expected = xt::where(xt::equal(mask, 1.0f), ym, c);
    BOOST_TEST(max_abs_difference(m.x, expected) < 1e-6);
}

BOOST_AUTO_TEST_CASE(plain_rl_preserves_the_total_intensity) {
    // circular blur: A^T 1 = 1, so sum(x_{k+1}) = <x_k, A^T (y / A x_k)> = sum(y) every iteration
    const image truth = butterfly_crop(32);
    const convolution A(box_kernel(7), shape_of<3>(truth), {.boundary = boundary::circular});
    const image y = poisson_noise(A.apply(truth), 300.0, 9);
    const double y_total = total(y);
    const auto r = richardson_lucy(A, y, {.max_iter = 15}, [&](int, const image& x) {
        BOOST_TEST(std::abs(total(x) - y_total) < 1e-5 * y_total);
    });
    BOOST_TEST(r.iterations == 15);
    BOOST_TEST(xt::amin(r.x)() >= 0.0f);
}

BOOST_AUTO_TEST_CASE(poisson_deblurring_improves_psnr_and_decreases_kl) {
    // 64 x 64 crop, box-13 blur with zero boundary, Poisson noise at 300 photons per unit
    // intensity (a white pixel collects 300 photons on average), seed 3
    const image truth = butterfly_crop(64);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = poisson_noise(A.apply(truth), 300.0, 3);
    const double degraded = psnr(truth, y);

    const auto plain = richardson_lucy(A, y, {.max_iter = 40});
    const double p_plain = psnr(truth, plain.x);
    BOOST_TEST(plain.objective.size() == 40u);
    // EM: KL(y || A x_k) never increases (float evaluation noise ~1e-7 relative allowed)
    for (std::size_t k = 1; k < plain.objective.size(); ++k) {
        BOOST_TEST(plain.objective[k] <= plain.objective[k - 1] * (1.0 + 1e-6));
    }
    BOOST_TEST(kullback_leibler(y, A.apply(plain.x)) == plain.objective.back(),
               boost::test_tools::tolerance(1e-5));

    // at 80 iterations plain RL amplifies the noise; the TV term keeps improving
    const auto plain80 = richardson_lucy(A, y, {.max_iter = 80, .record_objective = false});
    const auto tv80 = richardson_lucy(A, y, {.max_iter = 80, .tv_lambda = 0.01});
    const double p_plain80 = psnr(truth, plain80.x);
    const double p_tv80 = psnr(truth, tv80.x);
    BOOST_TEST_MESSAGE("Poisson (300 photons): degraded " << degraded << " dB, RL 40 it " << p_plain
                                                          << ", RL 80 it " << p_plain80
                                                          << ", RL-TV 0.01 80 it " << p_tv80);
    BOOST_TEST(p_plain > degraded + 2.5); // measured 14.51 -> 17.52
    BOOST_TEST(p_tv80 > degraded + 4.0);  // measured 18.99
    BOOST_TEST(p_tv80 > p_plain80 + 1.5); // measured 16.81
    BOOST_TEST(xt::amin(tv80.x)() >= 0.0f);
    BOOST_TEST(plain80.objective.empty());
}

BOOST_AUTO_TEST_CASE(gaussian_noise_deblurring_improves_psnr) {
    // the shared test problem: box-13 blur, zero boundary, sigma = 0.01 Gaussian noise; RL needs
    // y >= 0, so y is clipped at 0
    const image truth = butterfly_crop(64);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = xt::eval(xt::maximum(add_gaussian_noise(A.apply(truth), 0.01, 7), 0.0f));
    const double degraded = psnr(truth, y);
    const double restored = psnr(truth, richardson_lucy(A, y, {.max_iter = 40}).x);
    BOOST_TEST_MESSAGE("Gaussian sigma 0.01: " << degraded << " -> RL 40 it " << restored);
    BOOST_TEST(restored > degraded + 3.0); // measured 14.69 -> 18.33
}

BOOST_AUTO_TEST_CASE(monitor_and_tol_stop) {
    const image truth = butterfly_crop(16);
    const convolution A(box_kernel(5), shape_of<3>(truth), {.boundary = boundary::reflect});
    const image y = A.apply(truth);
    const auto m =
        richardson_lucy(A, y, {.max_iter = 50}, [](int k, const image&) { return k == 7; });
    BOOST_TEST(m.stop == solver_stop::monitor);
    BOOST_TEST(m.iterations == 7);
    const auto t = richardson_lucy(A, y, {.max_iter = 500, .tol = 1e-3});
    BOOST_TEST(t.stop == solver_stop::converged);
    BOOST_TEST(t.change.back() < 1e-3);
    BOOST_TEST(t.change[t.change.size() - 2] >= 1e-3);
}

BOOST_AUTO_TEST_CASE(a_user_gradient_operator_plugs_in) {
    // the gradient passed explicitly, or as a user's operator (general path: div = -D^T), gives
    // the default TV run bit for bit
    const image truth = butterfly_crop(24);
    const shape3 shape = shape_of<3>(truth);
    const convolution A(box_kernel(5), shape, {.boundary = boundary::reflect});
    const image y = poisson_noise(A.apply(truth), 500.0, 3);
    const richardson_lucy_options o{.max_iter = 25, .tv_lambda = 0.01};
    const auto by_default = richardson_lucy(A, y, o);
    BOOST_TEST(by_default.iterations == 25);
    BOOST_TEST(same_result(richardson_lucy(A, y, gradient(shape), o), by_default));
    BOOST_TEST(same_result(richardson_lucy(A, y, opaque_operator<gradient>{gradient(shape)}, o),
                           by_default));
    // the TV term acts: plain RL differs
    BOOST_TEST(!same_bits(richardson_lucy(A, y, {.max_iter = 25}).x, by_default.x));
    // D must map A's domain
    BOOST_CHECK_THROW(richardson_lucy(A, y, gradient({3, 24, 23}), o), shape_error);
}

BOOST_AUTO_TEST_CASE(options_and_inputs_are_validated) {
    const convolution A(box_kernel(3), {1, 8, 8});
    const image y = xrestore::zeros<image>({1, 8, 8}) + 0.5f;
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.tv_lambda = 0.25}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.tv_lambda = -0.01}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.tv_epsilon = 0.0}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, y, {.epsilon = -1.0}), value_error);
    BOOST_CHECK_THROW(richardson_lucy(A, xrestore::zeros<image>({1, 8, 9})), shape_error);
    image negative = y;
    negative(0, 2, 5) = -0.25f;
    try {
        richardson_lucy(A, negative);
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "richardson_lucy: y must be non-negative (Poisson counts), got -0.25 at flat "
                   "index 21");
    }
    image nan = y;
    nan(0, 0, 0) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(richardson_lucy(A, nan), value_error);
    // an operator with A^T 1 < 0 somewhere is not a Poisson imaging operator (only this
    // consequence of negative entries is detectable without forming A)
    matrix k({1, 3});
    k = {{0.5f, -1.0f, 0.2f}};
    const convolution negative_sum(k, {1, 8, 8});
    BOOST_CHECK_THROW(richardson_lucy(negative_sum, y), value_error);
    // an operator that sees nothing
    const inpainting blind(xrestore::zeros<image>({1, 8, 8}));
    BOOST_CHECK_THROW(richardson_lucy(blind, y), value_error);
    // y = 0 everywhere: x = 0
    const auto zero = richardson_lucy(A, xrestore::zeros<image>({1, 8, 8}), {.max_iter = 3});
    BOOST_TEST(xrestore::norm(zero.x) == 0.0);
}

namespace {

/// A small dense H x W grid of doubles for the hand-computed reference below.
using grid = std::vector<std::vector<double>>;

/// Zero-boundary cross-correlation with a 3 x 3 kernel k (the convolution operator's definition
/// for zero boundary) and its adjoint, written out with loops.
grid correlate(const grid& x, const double (&k)[3][3], bool adjoint) {
    const std::size_t h = x.size();
    const std::size_t w = x[0].size();
    grid out(h, std::vector<double>(w, 0.0));
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            for (int u = 0; u < 3; ++u) {
                for (int v = 0; v < 3; ++v) {
                    const long r = static_cast<long>(i) + u - 1;
                    const long c = static_cast<long>(j) + v - 1;
                    if (r < 0 || c < 0 || r >= static_cast<long>(h) || c >= static_cast<long>(w)) {
                        continue;
                    }
                    if (adjoint) { // (A^T y)(r, c) += k(u, v) y(i, j)
                        out[r][c] += k[u][v] * x[i][j];
                    } else { // (A x)(i, j) += k(u, v) x(r, c)
                        out[i][j] += k[u][v] * x[r][c];
                    }
                }
            }
        }
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(rl_tv_matches_a_hand_computed_iteration) {
    // An independent reference for RL-TV (Dey et al.): three iterations on a 1 x 4 x 5 image
    // computed here in double with plain loops, from the update
    //   x <- max(x (A^T (y / A x)) / (A^T 1) / (1 - lambda div(grad x / |grad x|_eps)), 0),
    // grad by forward differences (0 at the last row / column), div its negative adjoint.
    const double k[3][3] = {{0.05, 0.10, 0.02}, {0.15, 0.30, 0.08}, {0.04, 0.16, 0.10}};
    const std::size_t h = 4;
    const std::size_t w = 5;
    const double lambda = 0.05;
    const double eps = 1e-3;
    grid y(h, std::vector<double>(w));
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0.2, 1.0);
    for (auto& row : y) {
        for (auto& v : row) {
            v = static_cast<float>(u(rng)); // representable in float, as the library's y
        }
    }
    const grid normalizer = correlate(grid(h, std::vector<double>(w, 1.0)), k, true);
    double y_sum = 0.0;
    double n_sum = 0.0;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            y_sum += y[i][j];
            n_sum += normalizer[i][j];
        }
    }
    grid x(h, std::vector<double>(w, y_sum / n_sum)); // flat start
    for (int it = 0; it < 3; ++it) {
        const grid ax = correlate(x, k, false);
        grid ratio(h, std::vector<double>(w));
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                ratio[i][j] = y[i][j] / std::max(ax[i][j], 1e-12);
            }
        }
        const grid correction = correlate(ratio, k, true);
        grid g0(h, std::vector<double>(w, 0.0));
        grid g1(h, std::vector<double>(w, 0.0));
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                const double a = i + 1 < h ? x[i + 1][j] - x[i][j] : 0.0;
                const double b = j + 1 < w ? x[i][j + 1] - x[i][j] : 0.0;
                const double scale = 1.0 / std::sqrt(a * a + b * b + eps * eps);
                g0[i][j] = a * scale;
                g1[i][j] = b * scale;
            }
        }
        grid next = x;
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                double div = 0.0;
                div += i + 1 < h ? g0[i][j] : 0.0;
                div -= i > 0 ? g0[i - 1][j] : 0.0;
                div += j + 1 < w ? g1[i][j] : 0.0;
                div -= j > 0 ? g1[i][j - 1] : 0.0;
                const double v =
                    x[i][j] * correction[i][j] / normalizer[i][j] / (1.0 - lambda * div);
                next[i][j] = std::max(v, 0.0);
            }
        }
        x = next;
    }

    matrix kernel(std::array<std::size_t, 2>{3, 3});
    for (std::size_t u2 = 0; u2 < 3; ++u2) {
        for (std::size_t v = 0; v < 3; ++v) {
            kernel(u2, v) = static_cast<float>(k[u2][v]);
        }
    }
    const convolution a(kernel, {1, h, w}, {.boundary = boundary::zero});
    image yi(shape3{1, h, w});
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            yi(0, i, j) = static_cast<float>(y[i][j]);
        }
    }
    const auto r = richardson_lucy(a, yi, {.max_iter = 3, .tv_lambda = lambda, .tv_epsilon = eps});
    BOOST_TEST_REQUIRE(r.iterations == 3);
    double worst = 0.0;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            worst = std::max(worst, std::abs(r.x(0, i, j) - x[i][j]) / std::abs(x[i][j]));
        }
    }
    // float32 arithmetic against the double reference
    BOOST_TEST(worst < 2e-5, "largest relative difference " << worst);
    // and the TV term acts: plain RL gives a different iterate
    const auto plain = richardson_lucy(a, yi, {.max_iter = 3});
    BOOST_TEST(xt::amax(xt::abs(plain.x - r.x))() > 1e-3f);
}

BOOST_AUTO_TEST_SUITE_END() // test_richardson_lucy
