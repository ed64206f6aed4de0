#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/gradient_descent.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/solvers/cg.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_gradient_descent)

using namespace xrestore;
using namespace xrestore::test;

namespace {

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

template <class V>
double relative_error(const V& a, const V& b) {
    V d = a;
    xrestore::axpy(-1.0f, b, d);
    return xrestore::norm(d) / xrestore::norm(b);
}

/// A well-conditioned blur: centre 0.7, the four neighbours 0.075 each, circular boundary. Its
/// frequency response 0.7 + 0.15 (cos u + cos v) lies in [0.4, 1].
convolution mild_blur(shape3 shape) {
    matrix k = xt::zeros<float>({3, 3});
    k(1, 1) = 0.7f;
    k(0, 1) = k(2, 1) = k(1, 0) = k(1, 2) = 0.075f;
    return convolution(k, shape, {.boundary = boundary::circular});
}

} // namespace

BOOST_AUTO_TEST_CASE(converges_to_the_least_squares_solution) {
    // K = [B; 0.5 I] (overdetermined, singular values in [0.64, 1.12]) and an inconsistent
    // y = (y1, y2): the least-squares solution solves K^T K x = K^T y, here by CG.
    const shape3 shape{3, 24, 24};
    const auto k = stack(mild_blur(shape), scale(0.5, identity(shape)));
    const range_t<decltype(k)> y{random_image(shape, 1), random_image(shape, 2)};
    const image rhs = k.adjoint(y);
    const auto cg =
        conjugate_gradient(normal(k), rhs, zeros_like(rhs), {.max_iter = 200, .tol = 1e-7});
    BOOST_REQUIRE((cg.stop == cg_stop::converged));

    const auto r = gradient_descent(k, y, {.max_iter = 150});
    BOOST_TEST(r.iterations == 150);
    BOOST_TEST(r.stop == solver_stop::max_iterations);
    BOOST_TEST(r.objective.size() == 150u);
    BOOST_TEST(r.change.size() == 150u);
    // contraction factor 1 - (0.64 / 1.12)^2 ~ 0.67 per iteration: far below float precision
    BOOST_TEST(relative_error(r.x, cg.x) < 1e-5);
    // the objective is non-increasing and ends at 1/2 ||K x_ls - y||^2
    for (std::size_t i = 1; i < r.objective.size(); ++i) {
        BOOST_TEST(r.objective[i] <= r.objective[i - 1] * (1.0 + 1e-7));
    }
    auto residual = k.apply(cg.x);
    xrestore::axpy(-1.0f, y, residual);
    const double least = 0.5 * xrestore::dot(residual, residual);
    BOOST_TEST(std::abs(r.objective.back() - least) < 1e-5 * least);

    // with a tolerance it stops early, converged
    const auto t = gradient_descent(k, y, {.max_iter = 500, .tol = 1e-4});
    BOOST_TEST(t.stop == solver_stop::converged);
    BOOST_TEST(t.iterations < 60);
    BOOST_TEST(t.change.back() < 1e-4);
}

BOOST_AUTO_TEST_CASE(explicit_start_and_step) {
    const shape3 shape{1, 16, 16};
    const convolution b = mild_blur(shape);
    const image truth = random_image(shape, 3);
    const image y = b.apply(truth);
    // from x0 = 0 with step 1 (||B|| = 1): x_1 = B^T y
    const auto one = gradient_descent(b, y, zeros_like(y), {.max_iter = 1, .step = 1.0});
    BOOST_TEST(relative_error(one.x, b.adjoint(y)) < 1e-6);
    // consistent data: the solution is the truth
    const auto r = gradient_descent(b, y, zeros_like(y), {.max_iter = 200, .step = 1.5});
    BOOST_TEST(relative_error(r.x, truth) < 1e-5);
}

BOOST_AUTO_TEST_CASE(landweber_deblurs_a_photo) {
    // box 13, zero boundary, sigma 0.01; 64 x 64 RGB crop of the butterfly. Landweber from
    // A^T y is semi-convergent: 40 iterations reach 18.34 dB from 14.69 dB (measured).
    const image truth = butterfly_crop(64);
    const convolution a(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(a.apply(truth), 0.01, 7);
    const auto r = gradient_descent(a, y, {.max_iter = 40});
    const double before = psnr(truth, y);
    const double after = psnr(truth, r.x);
    BOOST_TEST_MESSAGE("landweber box-13: " << before << " -> " << after << " dB");
    BOOST_TEST(after - before > 3.2);
}

BOOST_AUTO_TEST_CASE(monitor_stops_the_solver) {
    const shape3 shape{1, 8, 8};
    const convolution b = mild_blur(shape);
    const image y = random_image(shape, 4);
    int calls = 0;
    const auto r = gradient_descent(b, y, {.max_iter = 50}, [&](int k, const image& x) {
        ++calls;
        BOOST_TEST(x.shape()[1] == 8u);
        return k == 3;
    });
    BOOST_TEST(calls == 3);
    BOOST_TEST(r.iterations == 3);
    BOOST_TEST(r.stop == solver_stop::monitor);
    BOOST_TEST(r.objective.size() == 3u);
    // a void monitor only observes
    int seen = 0;
    const auto s = gradient_descent(b, y, {.max_iter = 5}, [&](int, const image&) { ++seen; });
    BOOST_TEST(seen == 5);
    BOOST_TEST(s.stop == solver_stop::max_iterations);
}

BOOST_AUTO_TEST_CASE(divergence_is_reported_with_the_last_finite_iterate) {
    const shape3 shape{1, 8, 8};
    const convolution b = mild_blur(shape);
    const image y = random_image(shape, 5);
    // step 10 > 2 / ||B||^2: |1 - 10 s^2| up to 9 per iteration, overflows within ~50 steps
    const auto r = gradient_descent(b, y, {.max_iter = 500, .step = 10.0});
    BOOST_TEST(r.stop == solver_stop::diverged);
    BOOST_TEST(r.iterations < 500);
    BOOST_TEST(std::isfinite(xrestore::norm(r.x)));
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
    const shape3 shape{1, 8, 8};
    const convolution b = mild_blur(shape);
    const image y = random_image(shape, 6);
    BOOST_CHECK_THROW(gradient_descent(b, y, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(gradient_descent(b, y, {.step = -1.0}), value_error);
    BOOST_CHECK_THROW(gradient_descent(b, y, {.step = std::nan("")}), value_error);
    BOOST_CHECK_THROW(gradient_descent(b, y, {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(gradient_descent(b, random_image({1, 8, 9}, 1)), shape_error);
    BOOST_CHECK_THROW(gradient_descent(b, y, random_image({2, 8, 8}, 1), {}), shape_error);
    image nan = y;
    nan(0, 1, 1) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(gradient_descent(b, nan), value_error);
    BOOST_CHECK_THROW(gradient_descent(b, y, nan, {}), value_error);
    // the zero operator has no step
    BOOST_CHECK_THROW(gradient_descent(scale(0.0, b), y), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_gradient_descent
