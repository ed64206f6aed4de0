#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/tikhonov.hpp>
#include <xrestore/solvers/tikhonov_fft.hpp>

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
#include <complex>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_tikhonov)

using namespace xrestore;
using namespace xrestore::test;

namespace {

image random_image(const shape3& shape, unsigned seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

/// F^-1[K F x] per channel, K the transfer function.
image apply_transfer(const std::vector<std::complex<double>>& transfer, const image& x) {
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    image out(x.shape());
    fft2_plan<double> plan(h, w);
    std::vector<std::complex<double>> plane(h * w);
    for (std::size_t c = 0; c < x.shape()[0]; ++c) {
        for (std::size_t p = 0; p < h * w; ++p) {
            plane[p] = x.data()[c * h * w + p];
        }
        plan.forward(plane);
        for (std::size_t p = 0; p < h * w; ++p) {
            plane[p] *= transfer[p];
        }
        plan.inverse(plane);
        for (std::size_t p = 0; p < h * w; ++p) {
            out.data()[c * h * w + p] = static_cast<float>(plane[p].real());
        }
    }
    return out;
}

/// ||C x - A^T y|| / ||A^T y|| with C = A^T A + lambda D^T D computed through the gradient
/// operator (an implementation independent of the solver's Laplacian).
double normal_equation_residual(const convolution& A, const image& y, const image& x,
                                double lambda) {
    const gradient D(A.domain_shape());
    image r = A.adjoint(A.apply(x));
    const image dtd = D.adjoint(D.apply(x));
    xrestore::axpy(static_cast<float>(lambda), dtd, r);
    const image aty = A.adjoint(y);
    xrestore::axpy(-1.0f, aty, r);
    return xrestore::norm(r) / xrestore::norm(aty);
}

} // namespace

BOOST_AUTO_TEST_CASE(transfer_function_reproduces_circular_convolution) {
    // odd, even, flipped and larger-than-image kernels: A x = F^-1[K F x] to float rounding
    // (max abs difference relative to max |A x|)
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (auto [kh, kw, flip, h, w] :
         std::vector<std::tuple<std::size_t, std::size_t, bool, std::size_t, std::size_t>>{
             {3, 3, false, 12, 10},
             {4, 6, false, 12, 10},
             {4, 6, true, 12, 10},
             {5, 2, true, 9, 16},
             {15, 13, false, 8, 10}}) {
        matrix k({kh, kw});
        for (auto& v : k) {
            v = uniform(rng);
        }
        const convolution A(k, {2, h, w}, {.boundary = boundary::circular, .flip_kernel = flip});
        const image x = random_image(A.domain_shape(), 3);
        const image expected = A.apply(x);
        const image via_fft = apply_transfer(convolution_transfer_function(A), x);
        BOOST_TEST_CONTEXT(kh << " x " << kw << (flip ? " flipped" : "") << " on " << h << " x "
                              << w) {
            const double scale = static_cast<double>(xt::amax(xt::abs(expected))());
            BOOST_TEST(max_abs_difference(via_fft, expected) < 1e-6 * scale);
        }
    }
}

BOOST_AUTO_TEST_CASE(negative_laplacian_equals_gradient_adjoint_gradient) {
    // Neumann: R^T R = D^T D of gradient.hpp; periodic: 4 x - (the 4 wrapped neighbours)
    const shape3 shape{2, 7, 9};
    const image x = random_image(shape, 1);
    const gradient D(shape);
    const image expected = D.adjoint(D.apply(x));
    image neumann = xrestore::zeros<image>(shape);
    detail::add_laplacian(x, 1.0f, false, neumann);
    BOOST_TEST(max_abs_difference(neumann, expected) < 1e-5);

    image periodic = xrestore::zeros<image>(shape);
    detail::add_laplacian(x, 2.0f, true, periodic);
    image expected_periodic(shape);
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < 7; ++i) {
            for (std::size_t j = 0; j < 9; ++j) {
                expected_periodic(c, i, j) =
                    2.0f * (4.0f * x(c, i, j) - x(c, (i + 1) % 7, j) - x(c, (i + 6) % 7, j) -
                            x(c, i, (j + 1) % 9) - x(c, i, (j + 8) % 9));
            }
        }
    }
    BOOST_TEST(max_abs_difference(periodic, expected_periodic) < 1e-5);
}

BOOST_AUTO_TEST_CASE(cg_matches_fft_closed_form_on_circular_boundaries) {
    // box-13 circular blur of a 48 x 48 photo crop with noise; the CG solution (float, relative
    // residual 1e-7) and the FFT closed form (double) agree to 1e-4 in max abs difference
    const image truth = butterfly_crop(48);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::circular});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 1);
    for (auto regularizer :
         {tikhonov_regularizer::identity, tikhonov_regularizer::periodic_gradient}) {
        const tikhonov_options options{
            .lambda = 1e-2, .regularizer = regularizer, .cg = {.max_iter = 500, .tol = 1e-7}};
        const auto cg = tikhonov(A, y, options);
        const image closed = tikhonov_fft(A, y, options);
        BOOST_TEST_CONTEXT(to_string(regularizer)) {
            BOOST_TEST(cg.stop == solver_stop::converged);
            BOOST_TEST(max_abs_difference(cg.x, closed) < 1e-4);
            BOOST_TEST_MESSAGE(to_string(regularizer)
                               << ": " << cg.iterations << " CG iterations, max |cg - fft| = "
                               << max_abs_difference(cg.x, closed));
        }
    }
    // an even, flipped kernel centred as the operator centres it
    matrix k({2, 4});
    k = {{0.1f, 0.3f, 0.2f, 0.05f}, {0.15f, 0.1f, 0.05f, 0.05f}};
    const convolution B(k, shape_of<3>(truth),
                        {.boundary = boundary::circular, .flip_kernel = true});
    const image yb = B.apply(truth);
    const tikhonov_options options{.lambda = 1e-3, .cg = {.max_iter = 500, .tol = 1e-7}};
    BOOST_TEST(max_abs_difference(tikhonov(B, yb, options).x, tikhonov_fft(B, yb, options)) < 1e-4);
}

BOOST_AUTO_TEST_CASE(least_squares_closed_forms) {
    // a well-conditioned circular blur (|K| >= 0.5): CG least squares = FFT inverse filter = truth
    const image truth = butterfly_crop(32);
    matrix k({1, 2});
    k = {{1.0f, 0.5f}};
    const convolution A(k, shape_of<3>(truth), {.boundary = boundary::circular});
    const image y = A.apply(truth);
    const auto ls = least_squares(A, y, {.cg = {.max_iter = 200, .tol = 1e-7}});
    const image inverse =
        tikhonov_fft(A, y, {.lambda = 0.0, .regularizer = tikhonov_regularizer::none});
    BOOST_TEST(max_abs_difference(ls.x, inverse) < 1e-4);
    BOOST_TEST(max_abs_difference(ls.x, truth) < 1e-4);

    // inpainting: the minimum-norm least-squares solution is y on kept pixels and 0 elsewhere
    const image mask = random_mask(shape_of<3>(truth), 0.4, 3);
    const inpainting M(mask);
    const image ym = M.apply(truth);
    const auto lm = least_squares(M, ym);
    BOOST_TEST(max_abs_difference(lm.x, ym) < 1e-6);
}

BOOST_AUTO_TEST_CASE(neumann_gradient_solves_its_normal_equations) {
    const image truth = butterfly_crop(40);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 2);
    const auto r = tikhonov(A, y,
                            {.lambda = 5e-3,
                             .regularizer = tikhonov_regularizer::gradient,
                             .cg = {.max_iter = 500, .tol = 1e-6}});
    BOOST_TEST(r.stop == solver_stop::converged);
    BOOST_TEST(normal_equation_residual(A, y, r.x, 5e-3) < 2e-6);
}

BOOST_AUTO_TEST_CASE(deblurring_improves_psnr) {
    // box-13 blur, zero boundary (the study's Conv2d padding), sigma = 0.01 noise, 64 x 64 crop
    const image truth = butterfly_crop(64);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 7);
    const double degraded = psnr(truth, y);
    const auto identity = tikhonov(A, y, {.lambda = 2e-3, .cg = {.max_iter = 100, .tol = 1e-6}});
    const auto smooth = tikhonov(A, y,
                                 {.lambda = 2e-3,
                                  .regularizer = tikhonov_regularizer::gradient,
                                  .cg = {.max_iter = 100, .tol = 1e-6}});
    const double p_identity = psnr(truth, xt::clip(identity.x, 0.0f, 1.0f));
    const double p_gradient = psnr(truth, xt::clip(smooth.x, 0.0f, 1.0f));
    BOOST_TEST_MESSAGE("deblur: degraded " << degraded << " dB, Tikhonov identity " << p_identity
                                           << " dB, gradient " << p_gradient << " dB");
    // measured: 14.69 -> 19.37 (identity), 20.69 (gradient)
    BOOST_TEST(p_identity > degraded + 4.0);
    BOOST_TEST(p_gradient > degraded + 5.0);
}

BOOST_AUTO_TEST_CASE(gradient_tikhonov_inpaints) {
    // 60 % missing (keep 0.4): the gradient regulariser fills holes by harmonic interpolation
    const image truth = butterfly_crop(64);
    const inpainting M(random_mask(shape_of<3>(truth), 0.4, 11));
    const image y = M.apply(truth);
    const double degraded = psnr(truth, y);
    const auto r = tikhonov(M, y,
                            {.lambda = 1e-2,
                             .regularizer = tikhonov_regularizer::gradient,
                             .cg = {.max_iter = 300, .tol = 1e-5}});
    const double restored = psnr(truth, xt::clip(r.x, 0.0f, 1.0f));
    BOOST_TEST_MESSAGE("inpaint: degraded " << degraded << " dB, Tikhonov gradient " << restored
                                            << " dB");
    // measured: 6.64 -> 24.85 dB
    BOOST_TEST(restored > degraded + 15.0);
}

BOOST_AUTO_TEST_CASE(objective_decreases_and_history_is_recorded) {
    const image truth = butterfly_crop(32);
    const convolution A(box_kernel(5), shape_of<3>(truth), {.boundary = boundary::reflect});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 3);
    const auto r = tikhonov(A, y,
                            {.lambda = 1e-2,
                             .regularizer = tikhonov_regularizer::gradient,
                             .cg = {.max_iter = 40, .tol = 1e-6},
                             .record_objective = true});
    BOOST_TEST(r.objective.size() == static_cast<std::size_t>(r.iterations));
    BOOST_TEST(r.change.size() == static_cast<std::size_t>(r.iterations));
    // CG minimises the quadratic over growing Krylov spaces: the objective never increases
    for (std::size_t k = 1; k < r.objective.size(); ++k) {
        BOOST_TEST(r.objective[k] <= r.objective[k - 1] * (1.0 + 1e-6));
    }
    // the objective at the solution is below that at y and at 0
    const double at_end = r.objective.back();
    image ax = A.apply(y);
    ax -= y;
    BOOST_TEST(at_end < xrestore::dot(ax, ax));
    BOOST_TEST(at_end < xrestore::dot(y, y));
}

BOOST_AUTO_TEST_CASE(monitor_stops_the_solver) {
    const image truth = butterfly_crop(32);
    const convolution A(box_kernel(9), shape_of<3>(truth));
    const image y = A.apply(truth);
    std::vector<int> seen;
    const auto r = tikhonov(A, y, {.lambda = 1e-4, .cg = {.max_iter = 100, .tol = 1e-8}},
                            [&](int k, const image&) {
                                seen.push_back(k);
                                return k == 5;
                            });
    BOOST_TEST(r.stop == solver_stop::monitor);
    BOOST_TEST(r.iterations == 5);
    BOOST_TEST(seen == (std::vector<int>{1, 2, 3, 4, 5}));
}

BOOST_AUTO_TEST_CASE(options_and_inputs_are_validated) {
    const convolution A(box_kernel(3), {1, 8, 8});
    const convolution C(box_kernel(3), {1, 8, 8}, {.boundary = boundary::circular});
    const image y = xrestore::zeros<image>({1, 8, 8});
    BOOST_CHECK_THROW(tikhonov(A, y, {.lambda = -1.0}), value_error);
    BOOST_CHECK_THROW(tikhonov(A, y, {.lambda = std::nan("")}), value_error);
    BOOST_CHECK_THROW(tikhonov(A, y, {.cg = {.max_iter = 0}}), value_error);
    BOOST_CHECK_THROW(tikhonov(A, y, {.cg = {.max_iter = 5, .tol = -1.0}}), value_error);
    BOOST_CHECK_THROW(tikhonov(A, xrestore::zeros<image>({1, 8, 9})), shape_error);
    image bad = y;
    bad(0, 2, 3) = std::numeric_limits<float>::infinity();
    BOOST_CHECK_THROW(tikhonov(A, bad), value_error);
    BOOST_CHECK_THROW(least_squares(A, bad), value_error);
    BOOST_CHECK_THROW(tikhonov_fft(A, y), value_error); // zero boundary
    BOOST_CHECK_THROW(tikhonov_fft(C, y, {.regularizer = tikhonov_regularizer::gradient}),
                      value_error);
    BOOST_CHECK_THROW(tikhonov_fft(C, y, {.lambda = -2.0}), value_error);
    BOOST_CHECK_THROW(tikhonov_fft(C, xrestore::zeros<image>({2, 8, 8})), shape_error);
    BOOST_CHECK_THROW(convolution_transfer_function(A), value_error);
    // a gradient regulariser needs images
    const auto I = identity_operator<tensor<1>>(std::array<std::size_t, 1>{4});
    const tensor<1> v = xrestore::zeros<tensor<1>>(std::array<std::size_t, 1>{4});
    BOOST_CHECK_THROW(tikhonov(I, v, {.regularizer = tikhonov_regularizer::gradient}), value_error);
    try {
        tikhonov(A, y, {.lambda = -1.0});
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "tikhonov: options.lambda must be finite and >= 0, got -1");
    }
    // y = 0: x = 0 at once
    const auto zero = tikhonov(A, y);
    BOOST_TEST(zero.stop == solver_stop::converged);
    BOOST_TEST(xrestore::norm(zero.x) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END() // test_tikhonov
