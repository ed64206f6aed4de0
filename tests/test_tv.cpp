#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/tv.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/total_variation.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/prox/soft_threshold.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_tv)

using namespace xrestore;
using namespace xrestore::test;

namespace {

double relative_gap(double value, double reference) {
    return (value - reference) / std::abs(reference);
}

double data_term(const convolution& a, const image& x, const image& y) {
    image r = a.apply(x);
    xrestore::axpy(-1.0f, y, r);
    return 0.5 * xrestore::dot(r, r);
}

/// A user's gradient operator: D x = (c x, 0) in the 2 x C x H x W layout, so that
/// ||D x||_{2,1} = c ||x||_1 (a scaled identity into the first half of the field).
struct scaled_identity_field {
    using domain_type = image;
    using range_type = tensor<4>;
    shape3 shape;
    float c;
    tensor<4> apply(const image& x) const {
        tensor<4> g = xt::zeros<float>(range_shape());
        xt::view(g, 0, xt::all(), xt::all(), xt::all()) = c * x;
        return g;
    }
    image adjoint(const tensor<4>& g) const {
        return xt::eval(c * xt::view(g, 0, xt::all(), xt::all(), xt::all()));
    }
    shape3 domain_shape() const { return shape; }
    std::array<std::size_t, 4> range_shape() const { return {2, shape[0], shape[1], shape[2]}; }
};

} // namespace

BOOST_AUTO_TEST_CASE(tv_reaches_the_reference_objective) {
    const small_deblur p;
    // F(x_k) changes by less than 1e-5 (relative) between 1000 and 4000 iterations (measured)
    const auto reference = tv_primal_dual(p.a, p.y, {.lambda = 2e-3, .max_iter = 1000});
    const double f_star = reference.objective.back();
    // the solver is deterministic: a 300- or 500-iteration run records the same first values
    const double gap_300 = relative_gap(reference.objective[299], f_star);
    const double gap_500 = relative_gap(reference.objective[499], f_star);
    BOOST_TEST_MESSAGE("tv: F* = " << f_star << ", gap at 300 " << gap_300 << ", at 500 "
                                   << gap_500);
    BOOST_TEST(std::abs(gap_300) < 1e-3);
    BOOST_TEST(std::abs(gap_500) < 3e-4);
    // the recorded objective is 1/2 ||A x - y||^2 + lambda TV(x) of the returned x
    const double direct = data_term(p.a, reference.x, p.y) + 2e-3 * total_variation(reference.x);
    BOOST_TEST(std::abs(direct - f_star) < 1e-5 * f_star);
    // and the minimiser beats perturbations of itself
    for (int trial = 0; trial < 5; ++trial) {
        std::mt19937_64 rng(50 + trial);
        image e = vector_space<image>::random(shape_of<3>(p.y), rng);
        xrestore::scal(1e-2f, e);
        xrestore::axpy(1.0f, reference.x, e);
        BOOST_TEST(f_star < data_term(p.a, e, p.y) + 2e-3 * total_variation(e));
    }
}

BOOST_AUTO_TEST_CASE(tv_haar_reaches_the_reference_objective) {
    const small_deblur p(32);
    const tv_haar_options o{.lambda_tv = 2e-3, .lambda_wavelet = 5e-4, .levels = 3};
    auto long_run = o;
    long_run.max_iter = 1000;
    const auto reference = tv_haar_primal_dual(p.a, p.y, long_run);
    const double f_star = reference.objective.back();
    const double gap = relative_gap(reference.objective[299], f_star); // = a 300-iteration run
    BOOST_TEST_MESSAGE("tv+haar: F* = " << f_star << ", gap at 300 " << gap);
    BOOST_TEST(std::abs(gap) < 2e-4);
    const haar_wavelet w(shape_of<3>(p.y), 3);
    const double direct = data_term(p.a, reference.x, p.y) + 2e-3 * total_variation(reference.x) +
                          5e-4 * coefficient_l1_norm(w.apply(reference.x), w);
    BOOST_TEST(std::abs(direct - f_star) < 1e-5 * f_star);
    // the wavelet term matters: the TV-only minimiser has a larger combined objective
    const auto tv_only = tv_primal_dual(p.a, p.y, {.lambda = 2e-3, .max_iter = 300});
    const double tv_only_combined = data_term(p.a, tv_only.x, p.y) +
                                    2e-3 * total_variation(tv_only.x) +
                                    5e-4 * coefficient_l1_norm(w.apply(tv_only.x), w);
    BOOST_TEST(f_star < tv_only_combined);
}

BOOST_AUTO_TEST_CASE(with_the_identity_it_is_the_chambolle_tv_prox) {
    // A = I: min 1/2 ||x - y||^2 + lambda TV(x) is the TV prox; two different algorithms agree
    const image truth = crop("cameraman.png", 200, 220, 32);
    const image y = add_gaussian_noise(truth, 0.1, 5);
    const auto r = tv_primal_dual(identity(shape_of<3>(y)), y, {.lambda = 0.08, .max_iter = 1500});
    const image z = tv_prox(y, 0.08, {.max_iter = 3000, .tol = 1e-7});
    BOOST_TEST(xt::amax(xt::abs(r.x - z))() < 2e-3f);
    image d = r.x;
    xrestore::axpy(-1.0f, z, d);
    BOOST_TEST(xrestore::norm(d) / xrestore::norm(z) < 1e-3);
}

BOOST_AUTO_TEST_CASE(tv_deblurs_and_inpaints_a_photo) {
    // 64 x 64 RGB butterfly crop; box 13, zero boundary, sigma 0.01; then 60 % of the pixels
    // missing (random_mask keep 0.4), sigma 0.01. 100 iterations each. Measured: box-13
    // 14.69 -> tv 20.57, tv+haar 20.42 dB; inpainting 6.70 -> tv 24.84 dB.
    const image truth = crop("butterfly_set5.png", 96, 96, 64);
    const convolution a(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(a.apply(truth), 0.01, 7);
    const auto r = tv_primal_dual(a, y, {.lambda = 3e-3, .max_iter = 100});
    const auto h =
        tv_haar_primal_dual(a, y, {.lambda_tv = 2e-3, .lambda_wavelet = 3e-4, .max_iter = 100});
    const double blur_before = psnr(truth, y);
    const double tv_after = psnr(truth, r.x);
    const double tvh_after = psnr(truth, h.x);

    const inpainting m(random_mask(shape_of<3>(truth), 0.4, 8));
    const image ym = add_gaussian_noise(m.apply(truth), 0.01, 9);
    const auto s = tv_primal_dual(m, ym, {.lambda = 2e-2, .max_iter = 100});
    const double mask_before = psnr(truth, ym);
    const double tv_mask = psnr(truth, s.x);
    BOOST_TEST_MESSAGE("box-13: " << blur_before << " -> tv " << tv_after << ", tv+haar "
                                  << tvh_after << " dB; inpainting: " << mask_before << " -> tv "
                                  << tv_mask << " dB");
    BOOST_TEST(tv_after - blur_before > 5.3);
    BOOST_TEST(tvh_after - blur_before > 5.2);
    BOOST_TEST(tv_mask - mask_before > 17.4);
}

BOOST_AUTO_TEST_CASE(monitor_tolerance_and_start) {
    const small_deblur p;
    int calls = 0;
    const auto r = tv_primal_dual(p.a, p.y, {.max_iter = 100}, [&](int k, const image&) {
        ++calls;
        return k == 5;
    });
    BOOST_TEST(r.stop == solver_stop::monitor);
    BOOST_TEST(r.iterations == 5);
    BOOST_TEST(calls == 5);
    BOOST_TEST(r.objective.size() == 5u);
    const auto h = tv_haar_primal_dual(p.a, p.y, {.max_iter = 100},
                                       [&](int k, const image&) { return k == 2; });
    BOOST_TEST(h.stop == solver_stop::monitor);
    BOOST_TEST(h.iterations == 2);

    const auto t = tv_primal_dual(p.a, p.y, {.lambda = 2e-3, .max_iter = 2000, .tol = 1e-4});
    BOOST_TEST(t.stop == solver_stop::converged);
    BOOST_TEST(t.change.back() < 1e-4);
    // an explicit start, explicit steps
    const auto z = tv_primal_dual(p.a, p.y, p.truth, {.max_iter = 3, .tau = 0.5, .sigma = 0.1});
    BOOST_TEST(z.iterations == 3);
    // details-only wavelet term: the objective leaves out the low-pass block
    const auto d = tv_haar_primal_dual(
        p.a, p.y, {.lambda_wavelet = 1e-3, .bands = wavelet_bands::details, .max_iter = 50});
    const haar_wavelet w(shape_of<3>(p.y), 3);
    const double direct = data_term(p.a, d.x, p.y) + 1e-3 * total_variation(d.x) +
                          1e-3 * coefficient_l1_norm(w.apply(d.x), w, wavelet_bands::details);
    BOOST_TEST(std::abs(direct - d.objective.back()) < 1e-5 * direct);
}

BOOST_AUTO_TEST_CASE(user_gradient_operators_plug_in) {
    const small_deblur p;
    const shape3 shape = shape_of<3>(p.y);
    const gradient d(shape);
    const haar_wavelet w(shape, 3);
    // passed explicitly, the defaults give the default run bit for bit
    const tv_options o{.lambda = 2e-3, .max_iter = 40};
    BOOST_TEST(same_result(tv_primal_dual(p.a, p.y, d, o), tv_primal_dual(p.a, p.y, o)));
    const tv_haar_options oh{
        .lambda_wavelet = 5e-4, .bands = wavelet_bands::details, .max_iter = 30};
    BOOST_TEST(
        same_result(tv_haar_primal_dual(p.a, p.y, d, w, oh), tv_haar_primal_dual(p.a, p.y, oh)));
    // as a user's operators (their norms are estimated, so the steps are given): the same run
    const tv_options steps{.lambda = 2e-3, .max_iter = 40, .tau = 1.0, .sigma = 0.09};
    const auto by_default = tv_primal_dual(p.a, p.y, steps);
    BOOST_TEST(by_default.iterations == 40);
    BOOST_TEST(
        same_result(tv_primal_dual(p.a, p.y, opaque_operator<gradient>{d}, steps), by_default));
    BOOST_TEST(same_result(tv_primal_dual(p.a, p.y, opaque_operator<gradient>{d}, p.truth, steps),
                           tv_primal_dual(p.a, p.y, p.truth, steps)));
    const tv_haar_options haar_steps{
        .lambda_wavelet = 5e-4, .max_iter = 30, .tau = 1.0, .sigma = 0.09};
    BOOST_TEST(same_result(tv_haar_primal_dual(p.a, p.y, opaque_operator<gradient>{d},
                                               opaque_operator<haar_wavelet>{w}, haar_steps),
                           tv_haar_primal_dual(p.a, p.y, haar_steps)));
    // with the default steps a user's D runs on its norm estimate and converges as well
    const auto reference = tv_primal_dual(p.a, p.y, {.lambda = 2e-3, .max_iter = 1000});
    const auto user =
        tv_primal_dual(p.a, p.y, opaque_operator<gradient>{d}, {.lambda = 2e-3, .max_iter = 1000});
    BOOST_TEST(std::abs(relative_gap(user.objective.back(), reference.objective.back())) < 1e-4);
}

BOOST_AUTO_TEST_CASE(a_scaled_identity_gradient_gives_soft_thresholding) {
    // A = I, D x = (c x, 0): min 1/2 ||x - y||^2 + lambda c ||x||_1, solved by soft(y, lambda c)
    const image y = butterfly_crop(16) - 0.5f;
    const shape3 shape = shape_of<3>(y);
    const scaled_identity_field d{shape, 2.0f};
    const double lambda = 0.02;
    const auto r = tv_primal_dual(identity(shape), y, d, {.lambda = lambda, .max_iter = 1000});
    const image expected = soft_threshold(y, lambda * 2.0);
    BOOST_TEST_MESSAGE("max |x - soft(y, lambda c)| = " << max_abs_difference(r.x, expected));
    BOOST_TEST(max_abs_difference(r.x, expected) < 1e-6);
    // the recorded objective is 1/2 ||x - y||^2 + lambda ||D x||_{2,1}
    image e = r.x - y;
    const double objective = 0.5 * xrestore::dot(e, e) + lambda * 2.0 * l1_norm(r.x);
    BOOST_TEST(std::abs(r.objective.back() - objective) < 1e-5 * objective);
}

BOOST_AUTO_TEST_CASE(bad_user_operators_throw) {
    const small_deblur p;
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, gradient({1, 48, 40})), shape_error);
    BOOST_CHECK_THROW(
        tv_haar_primal_dual(p.a, p.y, gradient({1, 48, 48}), haar_wavelet({1, 32, 32}, 2)),
        shape_error);
    // bands are the Haar transform's
    BOOST_CHECK_THROW(tv_haar_primal_dual(p.a, p.y, gradient({1, 48, 48}),
                                          identity(shape3{1, 48, 48}),
                                          {.bands = wavelet_bands::details}),
                      value_error);
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
    const small_deblur p;
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.lambda = -1.0}), value_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.tau = -1.0}), value_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.sigma = std::nan("")}), value_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.tol = -1.0}), value_error);
    // tau sigma ||K||^2 >= 1 (||K||^2 <= 1 + 8 here)
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, {.tau = 1.0, .sigma = 0.2}), value_error);
    BOOST_CHECK_THROW(tv_haar_primal_dual(p.a, p.y, {.lambda_wavelet = -1.0}), value_error);
    BOOST_CHECK_THROW(tv_haar_primal_dual(p.a, p.y, {.levels = 9}), value_error);
    BOOST_CHECK_THROW(tv_haar_primal_dual(p.a, p.y, {.bands = static_cast<wavelet_bands>(5)}),
                      value_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, image(shape3{2, 48, 48})), shape_error);
    BOOST_CHECK_THROW(tv_primal_dual(p.a, p.y, image(shape3{1, 48, 40}), {}), shape_error);
    image nan = p.y;
    nan(0, 5, 5) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(tv_primal_dual(p.a, nan), value_error);
}

namespace {

/// A 4 x 4 array of doubles for the hand-computed reference below.
using block4 = std::array<std::array<double, 4>, 4>;

/// One level of the orthonormal Haar transform on a 4 x 4 block written as a matrix H (per
/// line: two pair sums, then two pair differences, each over sqrt 2): W X = H X H^T, along the
/// rows then the columns; W^T Y = H^T Y H.
block4 haar_level(const block4& x, bool inverse) {
    const double s = 1.0 / std::sqrt(2.0);
    const double h[4][4] = {{s, s, 0, 0}, {0, 0, s, s}, {s, -s, 0, 0}, {0, 0, s, -s}};
    block4 t{};
    block4 out{};
    for (int i = 0; i < 4; ++i) { // t = X H^T (rows) or Y H (inverse)
        for (int j = 0; j < 4; ++j) {
            for (int k = 0; k < 4; ++k) {
                t[i][j] += x[i][k] * (inverse ? h[k][j] : h[j][k]);
            }
        }
    }
    for (int i = 0; i < 4; ++i) { // out = H t (columns) or H^T t (inverse)
        for (int j = 0; j < 4; ++j) {
            for (int k = 0; k < 4; ++k) {
                out[i][j] += (inverse ? h[k][i] : h[i][k]) * t[k][j];
            }
        }
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(tv_haar_inpainting_matches_hand_computed_primal_dual_steps) {
    // An independent reference for TV + Haar-L1 inpainting: four Chambolle-Pock iterations on a
    // 1 x 4 x 4 image with 5 missing pixels, computed here in double with plain loops from the
    // algorithm's definition (x_0 = A^T y, x_bar_0 = x_0, duals 0, explicit tau and sigma):
    //   q = (q + sigma (A x_bar - y)) / (1 + sigma)
    //   p = proj_{|p_ij| <= lambda_tv}(p + sigma D x_bar),  w = clip(w + sigma W x_bar, +-lambda_w)
    //   x_new = x - tau (A^T q + D^T p + W^T w),  x_bar = 2 x_new - x
    const double lambda_tv = 0.05;
    const double lambda_w = 0.02;
    const double tau = 0.2;
    const double sigma = 0.3; // tau sigma ||K||^2 <= 0.06 (1 + 8 + 1) < 1
    block4 truth{};
    block4 mask{};
    std::mt19937_64 rng(21);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (auto& row : truth) {
        for (auto& v : row) {
            v = static_cast<float>(u(rng));
        }
    }
    const int missing[5][2] = {{0, 1}, {1, 2}, {2, 0}, {3, 3}, {2, 2}};
    for (auto& row : mask) {
        row.fill(1.0);
    }
    for (const auto& m : missing) {
        mask[m[0]][m[1]] = 0.0;
    }
    block4 y{};
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            y[i][j] = mask[i][j] * truth[i][j];
        }
    }
    block4 x = y; // A^T y (A = A^T = the mask)
    block4 x_bar = x;
    block4 q{};
    block4 p0{};
    block4 p1{};
    block4 w{};
    std::vector<double> reference_objective;
    for (int it = 0; it < 4; ++it) {
        const block4 wx = haar_level(x_bar, false);
        block4 kt{}; // A^T q + D^T p (W^T w added below)
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
                q[i][j] = (q[i][j] + sigma * (mask[i][j] * x_bar[i][j] - y[i][j])) / (1 + sigma);
                const double g0 = i < 3 ? x_bar[i + 1][j] - x_bar[i][j] : 0.0;
                const double g1 = j < 3 ? x_bar[i][j + 1] - x_bar[i][j] : 0.0;
                double a = p0[i][j] + sigma * g0;
                double b = p1[i][j] + sigma * g1;
                const double scale = std::max(1.0, std::sqrt(a * a + b * b) / lambda_tv);
                p0[i][j] = a / scale;
                p1[i][j] = b / scale;
                w[i][j] = std::clamp(w[i][j] + sigma * wx[i][j], -lambda_w, lambda_w);
            }
        }
        const block4 wtw = haar_level(w, true);
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
                // D^T p = -div p
                double div = 0.0;
                div += i < 3 ? p0[i][j] : 0.0;
                div -= i > 0 ? p0[i - 1][j] : 0.0;
                div += j < 3 ? p1[i][j] : 0.0;
                div -= j > 0 ? p1[i][j - 1] : 0.0;
                kt[i][j] = mask[i][j] * q[i][j] - div + wtw[i][j];
            }
        }
        block4 next{};
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
                next[i][j] = x[i][j] - tau * kt[i][j];
                x_bar[i][j] = 2 * next[i][j] - x[i][j];
            }
        }
        x = next;
        // F(x) = 1/2 ||A x - y||^2 + lambda_tv TV(x) + lambda_w ||W x||_1
        const block4 wx_new = haar_level(x, false);
        double f = 0.0;
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
                const double r = mask[i][j] * x[i][j] - y[i][j];
                const double g0 = i < 3 ? x[i + 1][j] - x[i][j] : 0.0;
                const double g1 = j < 3 ? x[i][j + 1] - x[i][j] : 0.0;
                f += 0.5 * r * r + lambda_tv * std::sqrt(g0 * g0 + g1 * g1) +
                     lambda_w * std::abs(wx_new[i][j]);
            }
        }
        reference_objective.push_back(f);
    }

    image mask_image(shape3{1, 4, 4});
    image yi(shape3{1, 4, 4});
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            mask_image(0, i, j) = static_cast<float>(mask[i][j]);
            yi(0, i, j) = static_cast<float>(y[i][j]);
        }
    }
    const inpainting a(mask_image);
    const auto r = tv_haar_primal_dual(a, yi,
                                       {.lambda_tv = lambda_tv,
                                        .lambda_wavelet = lambda_w,
                                        .levels = 1,
                                        .max_iter = 4,
                                        .tau = tau,
                                        .sigma = sigma});
    BOOST_TEST_REQUIRE(r.iterations == 4);
    double worst = 0.0;
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            worst = std::max(worst, std::abs(r.x(0, i, j) - x[i][j]));
        }
    }
    BOOST_TEST(worst < 2e-6, "largest difference from the hand-computed iterate " << worst);
    for (std::size_t k = 0; k < 4; ++k) {
        BOOST_TEST(std::abs(r.objective[k] - reference_objective[k]) <
                       1e-5 * reference_objective[k],
                   "objective " << k << ": " << r.objective[k] << " vs " << reference_objective[k]);
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_tv
