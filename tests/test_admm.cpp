#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/admm.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/prox/projection.hpp>
#include <xrestore/prox/soft_threshold.hpp>
#include <xrestore/prox/tv.hpp>
#include <xrestore/solvers/fista.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_admm)

using namespace xrestore;
using namespace xrestore::test;

namespace {

/// 1/2 ||A x - y||^2 + mu ||x||_1
template <class Op>
double l1_objective(const Op& A, const image& y, const image& x, double mu) {
    image r = A.apply(x);
    r -= y;
    return 0.5 * xrestore::dot(r, r) + mu * static_cast<double>(xt::sum(xt::abs(x))());
}

} // namespace

BOOST_AUTO_TEST_CASE(identity_operator_and_identity_update_closed_form) {
    // A = I, v-update v = z (g = 0): u stays 0, v = x and
    // x_k = (y + eta x_{k-1}) / (1 + eta), so x_k = (1 - r^k) y with r = eta / (1 + eta)
    const image y = butterfly_crop(16);
    const auto A = identity(shape_of<3>(y));
    const double eta = 1.0;
    std::vector<double> errors;
    const auto result = admm(
        A, y, [](const image& z) { return z; }, {.eta = eta, .max_iter = 12},
        [&](int k, const image& x) {
            const double r = std::pow(eta / (1.0 + eta), k);
            const image expected = (1.0 - r) * y;
            errors.push_back(max_abs_difference(x, expected));
        });
    BOOST_TEST(result.iterations == 12);
    BOOST_TEST(result.stop == solver_stop::max_iterations);
    BOOST_TEST(errors.size() == 12u);
    for (double e : errors) {
        BOOST_TEST(e < 1e-6);
    }
}

BOOST_AUTO_TEST_CASE(l1_prox_with_identity_operator_gives_soft_threshold) {
    // min 1/2 ||x - y||^2 + mu ||x||_1 is solved by soft_threshold(y, mu)
    const image y = butterfly_crop(24) - 0.5f;
    const auto A = identity(shape_of<3>(y));
    const double mu = 0.1;
    double seen_step = 0.0;
    const auto result = admm(A, y,
                             [&](const image& z, double step) {
                                 seen_step = step;
                                 return soft_threshold(z, mu * step); // prox of (mu / eta) ||.||_1
                             },
                             {.eta = 2.0, .max_iter = 100, .tol = 1e-7});
    BOOST_TEST(seen_step == 0.5); // 1 / eta
    BOOST_TEST(result.stop == solver_stop::converged);
    BOOST_TEST(max_abs_difference(result.x, soft_threshold(y, mu)) < 1e-5);
}

BOOST_AUTO_TEST_CASE(l1_admm_matches_fista_objective) {
    // min 1/2 ||A x - y||^2 + mu ||x||_1 with a well-conditioned Gaussian blur (sigma 0.6, 3 x 3,
    // |K| >= 0.11) of a zero-mean photo: ADMM and FISTA (pixel basis) reach the same minimiser
    const image truth = butterfly_crop(32) - 0.5f;
    const convolution A(gaussian_kernel(0.6, 3), shape_of<3>(truth),
                        {.boundary = boundary::reflect});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 4);
    const double mu = 0.02;
    const auto by_admm =
        admm(A, y, [&](const image& z, double step) { return soft_threshold(z, mu * step); },
             {.eta = 0.5, .max_iter = 150, .cg = {.max_iter = 50, .tol = 1e-7}});
    const auto by_fista =
        fista(A, y, identity(shape_of<3>(truth)), {.lambda = mu, .max_iter = 600, .step = 1.0});
    const double f_admm = l1_objective(A, y, by_admm.x, mu);
    const double f_fista = l1_objective(A, y, by_fista.x, mu);
    BOOST_TEST_MESSAGE("L1 objective: ADMM " << f_admm << ", FISTA " << f_fista << ", max |x| diff "
                                             << max_abs_difference(by_admm.x, by_fista.x));
    BOOST_TEST(std::abs(f_admm - f_fista) < 1e-5 * f_fista);
    BOOST_TEST(max_abs_difference(by_admm.x, by_fista.x) < 3e-3);
}

BOOST_AUTO_TEST_CASE(tv_admm_deblurs_and_inpaints) {
    // min 1/2 ||A x - y||^2 + tau TV(x), v-update tv_prox(z, tau / eta) (10 Chambolle
    // iterations warm-started from the previous call's dual field)
    const image truth = butterfly_crop(64);
    auto tv_update = [](double tau, tensor<4>& dual) {
        return [tau, &dual](const image& z, double step) {
            image out;
            tv_prox_into(z, tau * step, {.max_iter = 10, .tol = 0.0}, out, dual);
            return out;
        };
    };
    {
        // box-13 blur, zero boundary, sigma = 0.01 noise
        const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
        const image y = add_gaussian_noise(A.apply(truth), 0.01, 7);
        tensor<4> dual;
        const auto r = admm(A, y, tv_update(2e-3, dual),
                            {.eta = 2e-2, .max_iter = 30, .cg = {.max_iter = 30, .tol = 1e-5}});
        const double before = psnr(truth, y);
        const double after = psnr(truth, xt::clip(r.x, 0.0f, 1.0f));
        BOOST_TEST_MESSAGE("ADMM-TV deblur: " << before << " -> " << after << " dB");
        BOOST_TEST(after > before + 5.0);
    }
    {
        // 60 % missing (keep 0.4)
        const inpainting A(random_mask(shape_of<3>(truth), 0.4, 11));
        const image y = A.apply(truth);
        tensor<4> dual;
        const auto r = admm(A, y, tv_update(2e-2, dual),
                            {.eta = 0.1, .max_iter = 40, .cg = {.max_iter = 10, .tol = 1e-6}});
        const double before = psnr(truth, y);
        const double after = psnr(truth, xt::clip(r.x, 0.0f, 1.0f));
        BOOST_TEST_MESSAGE("ADMM-TV inpaint: " << before << " -> " << after << " dB");
        BOOST_TEST(after > before + 15.0);
    }
}

BOOST_AUTO_TEST_CASE(warm_and_cold_cg_starts_agree) {
    const image truth = butterfly_crop(24);
    const convolution A(box_kernel(5), shape_of<3>(truth));
    const image y = A.apply(truth);
    auto box = [](const image& z) { return project_box(z, 0.0, 1.0); };
    const admm_options warm{.eta = 0.1, .max_iter = 20, .cg = {.max_iter = 200, .tol = 1e-7}};
    admm_options cold = warm;
    cold.warm_start = false;
    BOOST_TEST(max_abs_difference(admm(A, y, box, warm).x, admm(A, y, box, cold).x) < 1e-4);
}

BOOST_AUTO_TEST_CASE(monitor_and_divergence_stops) {
    const image y = butterfly_crop(8);
    const auto A = identity(shape_of<3>(y));
    auto same = [](const image& z) { return z; };
    const auto stopped =
        admm(A, y, same, {.eta = 1.0, .max_iter = 50}, [](int k, const image&) { return k == 3; });
    BOOST_TEST(stopped.stop == solver_stop::monitor);
    BOOST_TEST(stopped.iterations == 3);
    BOOST_TEST(stopped.change.size() == 3u);
    // x_3 = (1 - 1/8) y
    BOOST_TEST(max_abs_difference(stopped.x, 0.875f * y) < 1e-6);

    // a v-update that returns NaN at the third call: x is the last finite iterate
    int calls = 0;
    auto poisoned = [&](const image& z) {
        ++calls;
        image out = z;
        if (calls == 3) {
            out(0, 0, 0) = std::numeric_limits<float>::quiet_NaN();
        }
        return out;
    };
    const auto diverged = admm(A, y, poisoned, {.eta = 1.0, .max_iter = 10});
    BOOST_TEST(diverged.stop == solver_stop::diverged);
    BOOST_TEST(diverged.iterations == 2);
    BOOST_TEST(max_abs_difference(diverged.x, 0.75f * y) < 1e-6);
}

BOOST_AUTO_TEST_CASE(options_and_inputs_are_validated) {
    const convolution A(box_kernel(3), {1, 8, 8});
    const image y = xrestore::zeros<image>({1, 8, 8});
    auto same = [](const image& z) { return z; };
    BOOST_CHECK_THROW(admm(A, y, same, {.eta = 0.0}), value_error);
    BOOST_CHECK_THROW(admm(A, y, same, {.eta = -1.0}), value_error);
    BOOST_CHECK_THROW(admm(A, y, same, {.eta = std::nan("")}), value_error);
    BOOST_CHECK_THROW(admm(A, y, same, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(admm(A, y, same, {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(admm(A, y, same, {.cg = {.max_iter = 0}}), value_error);
    BOOST_CHECK_THROW(admm(A, xrestore::zeros<image>({1, 9, 8}), same), shape_error);
    auto wrong = [](const image&) { return xrestore::zeros<image>({1, 4, 4}); };
    BOOST_CHECK_THROW(admm(A, y, wrong), shape_error);
    image bad = y;
    bad(0, 1, 1) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(admm(A, bad, same), value_error);
    try {
        admm(A, y, same, {.eta = 0.0});
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) == "admm: options.eta must be finite and > 0, got 0");
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_admm
