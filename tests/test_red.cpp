#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/red.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/denoisers/gaussian_denoiser.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/solvers/cg.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace xrestore {
inline std::ostream& operator<<(std::ostream& out, cg_stop stop) {
    return out << to_string(stop);
}
} // namespace xrestore

BOOST_AUTO_TEST_SUITE(test_red)

using namespace xrestore;
using namespace xrestore::test;

namespace {

/// D(x) = alpha x: linear, symmetric and homogeneous, so x - D(x) is the gradient of
/// rho(x) = (1 - alpha) / 2 ||x||^2.
struct scaling_denoiser {
    float alpha = 0.5f;
    image operator()(const image& x) const { return alpha * x; }
};

} // namespace

BOOST_AUTO_TEST_CASE(scaling_denoiser_closed_form) {
    // A = I, D = alpha I: E(x) = 1/2 ||x - y||^2 + lambda (1 - alpha) / 2 ||x||^2 is minimised by
    // x* = y / (1 + lambda (1 - alpha)); both iterations converge to it
    const image y = butterfly_crop(16);
    const auto A = identity(shape_of<3>(y));
    const double lambda = 0.1;
    const scaling_denoiser d{0.5f};
    const image expected = y / static_cast<float>(1.0 + lambda * 0.5);
    const auto gd = red_gradient_descent(A, y, d, {.lambda = lambda, .step = 1.0, .max_iter = 30});
    BOOST_TEST(max_abs_difference(gd.x, expected) < 1e-6);
    const auto fp = red_fixed_point(A, y, d, {.lambda = lambda, .max_iter = 30});
    BOOST_TEST(max_abs_difference(fp.x, expected) < 1e-6);
    // objective[0] = E(x_0) with x_0 = A^T y = y: lambda (1 - alpha) / 2 ||y||^2
    BOOST_TEST(gd.objective.front() == 0.5 * lambda * 0.5 * xrestore::dot(y, y),
               boost::test_tools::tolerance(1e-6));
    BOOST_TEST(gd.objective.size() == 30u);
    BOOST_TEST(fp.objective.front() == gd.objective.front(), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(symmetric_linear_denoiser_reaches_the_normal_equations) {
    // D = a circular Gaussian blur (symmetric, 0 < transfer <= 1): the RED minimiser solves
    // (A^T A + lambda (I - D)) x = A^T y, here solved independently by CG. A is a well-conditioned
    // circular blur (Gaussian sigma 0.6, 3 x 3).
    const image truth = butterfly_crop(32);
    const shape3 shape = shape_of<3>(truth);
    const convolution A(gaussian_kernel(0.6, 3), shape, {.boundary = boundary::circular});
    const convolution smooth(gaussian_kernel(1.0, 7), shape, {.boundary = boundary::circular});
    auto D = [&](const image& x) { return smooth.apply(x); };
    const image y = add_gaussian_noise(A.apply(truth), 0.02, 5);
    const double lambda = 0.1;
    auto system = [&](const image& x) {
        image out = A.adjoint(A.apply(x));
        out += static_cast<float>(lambda) * (x - smooth.apply(x));
        return out;
    };
    const auto reference = conjugate_gradient<image>(
        system, A.adjoint(y), xrestore::zeros<image>(shape), {.max_iter = 500, .tol = 1e-7});
    BOOST_TEST(reference.stop == cg_stop::converged);

    const auto gd = red_gradient_descent(
        A, y, D, {.lambda = lambda, .step = 1.0, .max_iter = 150, .clip_output = false});
    const auto fp = red_fixed_point(A, y, D,
                                    {.lambda = lambda,
                                     .max_iter = 30,
                                     .cg = {.max_iter = 200, .tol = 1e-7},
                                     .clip_output = false});
    BOOST_TEST_MESSAGE("RED vs normal equations: GD " << max_abs_difference(gd.x, reference.x)
                                                      << ", fixed point "
                                                      << max_abs_difference(fp.x, reference.x));
    BOOST_TEST(max_abs_difference(gd.x, reference.x) < 1e-4);
    BOOST_TEST(max_abs_difference(fp.x, reference.x) < 1e-4);
    // a convex quadratic and step 1 < 2 / L: the gradient-descent objective never increases
    // (up to the float rounding of its evaluation, ~1e-7 relative, once converged)
    for (std::size_t k = 1; k < gd.objective.size(); ++k) {
        BOOST_TEST(gd.objective[k] <= gd.objective[k - 1] * (1.0 + 1e-6));
    }
    BOOST_TEST(gd.objective.back() < 0.6 * gd.objective.front()); // measured 1.66 -> 0.87
}

BOOST_AUTO_TEST_CASE(red_deblurs_and_inpaints_with_a_gaussian_denoiser) {
    // box-13 blur (zero boundary, the study's padding) + sigma 0.01 noise on a 64 x 64 crop
    const image truth = butterfly_crop(64);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 7);
    const gaussian_denoiser d05{.sigma = 0.5};
    const double blurred = psnr(truth, y);
    // the study's lambda = 0.1, step 1
    const double gd = psnr(truth, red_gradient_descent(A, y, d05, {.max_iter = 100}).x);
    const double fp = psnr(
        truth, red_fixed_point(
                   A, y, d05, {.lambda = 0.01, .max_iter = 20, .cg = {.max_iter = 30, .tol = 1e-5}})
                   .x);
    BOOST_TEST_MESSAGE("deblur: " << blurred << " -> RED GD " << gd << ", fixed point " << fp);
    BOOST_TEST(gd > blurred + 3.5); // measured 14.69 -> 19.04
    BOOST_TEST(fp > blurred + 5.0); // measured 20.43

    // 60 % missing (keep 0.4), the study's RED experiment
    const inpainting M(random_mask(shape_of<3>(truth), 0.4, 11));
    const image ym = M.apply(truth);
    const gaussian_denoiser d1{.sigma = 1.0};
    const double missing = psnr(truth, ym);
    const double gd_fill = psnr(truth, red_gradient_descent(M, ym, d1, {.max_iter = 100}).x);
    const double fp_fill = psnr(
        truth, red_fixed_point(M, ym, d1, {.max_iter = 50, .cg = {.max_iter = 10, .tol = 1e-6}}).x);
    BOOST_TEST_MESSAGE("inpaint: " << missing << " -> RED GD " << gd_fill << ", fixed point "
                                   << fp_fill);
    BOOST_TEST(gd_fill > missing + 13.0); // measured 6.64 -> 22.18
    BOOST_TEST(fp_fill > missing + 15.0); // measured 23.09
}

BOOST_AUTO_TEST_CASE(monitor_and_divergence) {
    const image y = butterfly_crop(8);
    const auto A = identity(shape_of<3>(y));
    std::vector<int> seen;
    const auto r =
        red_gradient_descent(A, y, scaling_denoiser{}, {.max_iter = 20}, [&](int k, const image&) {
            seen.push_back(k);
            return k == 4;
        });
    BOOST_TEST(r.stop == solver_stop::monitor);
    BOOST_TEST(r.iterations == 4);
    BOOST_TEST(seen == (std::vector<int>{1, 2, 3, 4}));
    const auto f = red_fixed_point(A, y, scaling_denoiser{}, {.max_iter = 20},
                                   [](int k, const image&) { return k == 2; });
    BOOST_TEST(f.stop == solver_stop::monitor);
    BOOST_TEST(f.iterations == 2);
    // a step far beyond 2 / L overflows: x is the last finite iterate
    const auto blown = red_gradient_descent(A, y, scaling_denoiser{},
                                            {.step = 1e6, .max_iter = 50, .clip_output = false});
    BOOST_TEST(blown.stop == solver_stop::diverged);
    BOOST_TEST(std::isfinite(xrestore::norm(blown.x)));
    BOOST_TEST(blown.iterations < 50);
}

BOOST_AUTO_TEST_CASE(options_and_inputs_are_validated) {
    const convolution A(box_kernel(3), {1, 8, 8});
    const image y = xrestore::zeros<image>({1, 8, 8});
    const scaling_denoiser d;
    BOOST_CHECK_THROW(red_gradient_descent(A, y, d, {.lambda = -0.1}), value_error);
    BOOST_CHECK_THROW(red_gradient_descent(A, y, d, {.step = 0.0}), value_error);
    BOOST_CHECK_THROW(red_gradient_descent(A, y, d, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(red_gradient_descent(A, y, d, {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(red_fixed_point(A, y, d, {.lambda = 0.0}), value_error);
    BOOST_CHECK_THROW(red_fixed_point(A, y, d, {.cg = {.max_iter = 0}}), value_error);
    BOOST_CHECK_THROW(red_gradient_descent(A, xrestore::zeros<image>({1, 8, 7}), d), shape_error);
    auto shrinking = [](const image&) { return xrestore::zeros<image>({1, 2, 2}); };
    BOOST_CHECK_THROW(red_gradient_descent(A, y, shrinking), shape_error);
    BOOST_CHECK_THROW(red_fixed_point(A, y, shrinking), shape_error);
    image bad = y;
    bad(0, 4, 4) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(red_fixed_point(A, bad, d), value_error);
    try {
        red_gradient_descent(A, y, d, {.step = -1.0});
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "red_gradient_descent: options.step must be finite and > 0, got -1");
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_red
