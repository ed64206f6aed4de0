#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/pnp.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/denoisers/gaussian_denoiser.hpp>
#include <xrestore/denoisers/tv_denoiser.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_pnp)

using namespace xrestore;
using namespace xrestore::test;

static_assert(denoiser<gaussian_denoiser>);
static_assert(sigma_aware_denoiser<tv_denoiser>);

namespace {

/// The deblurring problem of every PSNR test: a 64 x 64 crop, box-13 blur with zero boundary
/// (the study's Conv2d padding p//2), Gaussian noise sigma = 0.01 (seed 7). Degraded PSNR 14.69.
struct deblur_problem {
    image truth = butterfly_crop(64);
    convolution A{box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero}};
    image y = add_gaussian_noise(A.apply(truth), 0.01, 7);
};

/// 60 % inpainting: the same crop, random_mask keep 0.4 (seed 11), no noise. Degraded 6.64 dB.
struct inpaint_problem {
    image truth = butterfly_crop(64);
    inpainting A{random_mask(shape_of<3>(truth), 0.4, 11)};
    image y = A.apply(truth);
};

const auto same = [](const image& x) { return x; };

} // namespace

BOOST_AUTO_TEST_CASE(identity_denoiser_and_operator_converge_to_y) {
    // D(x) = x, A = I: u stays 0, v = x, and x_k = (y + eta x_{k-1}) / (1 + eta), so
    // x_k = (1 - r^k) y, r = eta / (1 + eta), which tends to y
    const image y = butterfly_crop(16);
    const auto A = identity(shape_of<3>(y));
    for (double eta : {0.5, 1e-4}) {
        std::vector<double> errors;
        const auto r =
            pnp_admm(A, y, same, {.eta = eta, .max_iter = 30}, [&](int k, const image& x) {
                const double ratio = std::pow(eta / (1.0 + eta), k);
                const image expected = (1.0 - ratio) * y;
                errors.push_back(max_abs_difference(x, expected));
            });
        BOOST_TEST_CONTEXT("eta = " << eta) {
            BOOST_TEST(errors.size() == 30u);
            BOOST_TEST(*std::max_element(errors.begin(), errors.end()) < 1e-6);
            BOOST_TEST(max_abs_difference(r.x, y) < 1e-6); // (1 - r^30) y = y in float
        }
    }
    // PGD with step 1: x_1 = D(x_0 - (x_0 - y)) = y
    const auto p = pnp_pgd(A, y, same, {.step = 1.0, .max_iter = 1});
    BOOST_TEST(max_abs_difference(p.x, y) < 1e-7);
    // HQS: x_k = (y + mu z_{k-1}) / (1 + mu), z_k = x_k: z_k = (1 - (mu / (1 + mu))^k) y
    const auto h = pnp_hqs(A, y, same, {.mu = 1.0, .max_iter = 3});
    BOOST_TEST(max_abs_difference(h.x, 0.875f * y) < 1e-6);
    // growing mu: z_1 = y / 2, z_2 = (y + 2 z_1) / 3 = 2 y / 3
    const auto g = pnp_hqs(A, y, same, {.mu = 1.0, .mu_growth = 2.0, .max_iter = 2});
    BOOST_TEST(max_abs_difference(g.x, (2.0f / 3.0f) * y) < 1e-6);
}

BOOST_AUTO_TEST_CASE(output_is_clipped_unless_disabled) {
    // y outside [0,1] with D = I, A = I: x -> y, clipped to [0,1] by default
    image y = butterfly_crop(8) * 3.0f - 1.0f;
    const auto A = identity(shape_of<3>(y));
    const auto clipped = pnp_admm(A, y, same, {.eta = 1e-4, .max_iter = 5});
    BOOST_TEST(max_abs_difference(clipped.x, xt::eval(xt::clip(y, 0.0f, 1.0f))) < 1e-6);
    const auto raw = pnp_admm(A, y, same, {.eta = 1e-4, .max_iter = 5, .clip_output = false});
    BOOST_TEST(max_abs_difference(raw.x, y) < 1e-5);
}

BOOST_AUTO_TEST_CASE(pnp_admm_deblurs_and_inpaints) {
    const deblur_problem d;
    const auto deblurred =
        pnp_admm(d.A, d.y, gaussian_denoiser{.sigma = 0.5},
                 {.eta = 1e-2, .max_iter = 30, .cg = {.max_iter = 30, .tol = 1e-5}});
    const double before = psnr(d.truth, d.y);
    const double after = psnr(d.truth, deblurred.x);
    BOOST_TEST_MESSAGE("PnP-ADMM (gaussian 0.5, eta 1e-2) deblur: " << before << " -> " << after);
    BOOST_TEST(after > before + 5.0); // measured 14.69 -> 20.65

    // the study's eta = 1e-4
    const inpaint_problem p;
    const auto inpainted = pnp_admm(p.A, p.y, gaussian_denoiser{.sigma = 1.0},
                                    {.max_iter = 30, .cg = {.max_iter = 10, .tol = 1e-6}});
    const double missing = psnr(p.truth, p.y);
    const double filled = psnr(p.truth, inpainted.x);
    BOOST_TEST_MESSAGE("PnP-ADMM (gaussian 1, eta 1e-4) inpaint: " << missing << " -> " << filled);
    BOOST_TEST(filled > missing + 18.0); // measured 6.64 -> 26.6
}

BOOST_AUTO_TEST_CASE(pnp_admm_with_a_tv_denoiser) {
    const image truth = butterfly_crop(48);
    const convolution A(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(A.apply(truth), 0.01, 7);
    const auto r = pnp_admm(A, y, tv_denoiser{.weight = 0.03, .max_iter = 10},
                            {.eta = 1e-2, .max_iter = 20, .cg = {.max_iter = 30, .tol = 1e-5}});
    const double before = psnr(truth, y);
    const double after = psnr(truth, r.x);
    BOOST_TEST_MESSAGE("PnP-ADMM (TV 0.03) deblur 48 x 48: " << before << " -> " << after);
    BOOST_TEST(after > before + 7.0); // measured 14.73 -> 23.57
}

BOOST_AUTO_TEST_CASE(pnp_pgd_and_hqs_deblur_and_inpaint) {
    const deblur_problem d;
    const double blurred = psnr(d.truth, d.y);
    const double pgd =
        psnr(d.truth,
             pnp_pgd(d.A, d.y, gaussian_denoiser{.sigma = 0.5}, {.step = 1.0, .max_iter = 50}).x);
    const double hqs =
        psnr(d.truth, pnp_hqs(d.A, d.y, gaussian_denoiser{.sigma = 0.5},
                              {.mu = 1e-2, .max_iter = 30, .cg = {.max_iter = 30, .tol = 1e-5}})
                          .x);
    BOOST_TEST_MESSAGE("deblur: " << blurred << " -> PGD " << pgd << ", HQS " << hqs);
    BOOST_TEST(pgd > blurred + 2.5); // measured 18.14
    BOOST_TEST(hqs > blurred + 5.0); // measured 20.70

    const inpaint_problem p;
    const double missing = psnr(p.truth, p.y);
    const double pgd_fill =
        psnr(p.truth,
             pnp_pgd(p.A, p.y, gaussian_denoiser{.sigma = 1.0}, {.step = 1.0, .max_iter = 50}).x);
    const double hqs_fill =
        psnr(p.truth, pnp_hqs(p.A, p.y, gaussian_denoiser{.sigma = 1.0},
                              {.mu = 1e-2, .max_iter = 50, .cg = {.max_iter = 10, .tol = 1e-6}})
                          .x);
    BOOST_TEST_MESSAGE("inpaint: " << missing << " -> PGD " << pgd_fill << ", HQS " << hqs_fill);
    BOOST_TEST(pgd_fill > missing + 13.0); // measured 21.78
    BOOST_TEST(hqs_fill > missing + 13.0); // measured 21.76
}

BOOST_AUTO_TEST_CASE(reference_monitor_stops_pnp_admm_when_mse_rises) {
    // The study's eta = 1e-4 with a Gaussian denoiser (sigma 0.5) drifts on this deblurring
    // problem: the MSE is lowest after the first iteration and rises from then on.
    const deblur_problem d;
    const pnp_admm_options options{.max_iter = 12, .cg = {.max_iter = 30, .tol = 1e-5}};
    const gaussian_denoiser denoiser{.sigma = 0.5};

    // without stopping: the MSE rises somewhere (the scenario is real)
    reference_monitor all(d.truth, {.clip = true});
    const auto full = pnp_admm(d.A, d.y, denoiser, options, std::ref(all));
    BOOST_TEST(full.stop == solver_stop::max_iterations);
    BOOST_TEST(full.iterations == 12);
    BOOST_TEST(all.best_iteration() < 12);

    for (int patience : {1, 3}) {
        BOOST_TEST_CONTEXT("patience " << patience) {
            reference_monitor watch(
                d.truth, {.clip = true, .stop_when_mse_rises = true, .patience = patience});
            const auto r = pnp_admm(d.A, d.y, denoiser, options, std::ref(watch));
            BOOST_TEST(r.stop == solver_stop::monitor);
            const auto& mses = watch.mse();
            BOOST_TEST(r.iterations == watch.iterations().back());
            BOOST_TEST(r.iterations < options.max_iter);
            BOOST_TEST(static_cast<std::size_t>(r.iterations) == mses.size());
            BOOST_TEST(r.change.size() == mses.size());
            // the last `patience` steps rose, and the returned (clipped) x is the iterate scored
            // last
            for (int j = 0; j < patience; ++j) {
                BOOST_TEST(mses[mses.size() - 1 - j] > mses[mses.size() - 2 - j]);
            }
            BOOST_TEST(mse(d.truth, r.x) == mses.back(), boost::test_tools::tolerance(1e-12));
            // and it is exactly the x of a run that stops there by max_iter
            pnp_admm_options shorter = options;
            shorter.max_iter = r.iterations;
            const auto same_length = pnp_admm(d.A, d.y, denoiser, shorter);
            BOOST_TEST(max_abs_difference(same_length.x, r.x) == 0.0);
            BOOST_TEST_MESSAGE("patience " << patience << ": stopped at iteration " << r.iterations
                                           << ", best " << watch.best_iteration());
        }
    }
}

BOOST_AUTO_TEST_CASE(warm_and_cold_cg_starts_agree) {
    const image truth = butterfly_crop(24);
    const convolution A(box_kernel(5), shape_of<3>(truth));
    const image y = A.apply(truth);
    const pnp_admm_options warm{.eta = 1e-2, .max_iter = 10, .cg = {.max_iter = 300, .tol = 1e-7}};
    pnp_admm_options cold = warm;
    cold.warm_start = false;
    const gaussian_denoiser denoiser{.sigma = 0.7};
    BOOST_TEST(max_abs_difference(pnp_admm(A, y, denoiser, warm).x,
                                  pnp_admm(A, y, denoiser, cold).x) < 1e-4);
}

BOOST_AUTO_TEST_CASE(tol_stops_when_the_change_is_small) {
    const image y = butterfly_crop(8);
    const auto A = identity(shape_of<3>(y));
    // x_k = (1 - 2^-k) y: relative change 2^-k / (1 - 2^-k) < 1e-3 first at k = 10
    const auto r = pnp_admm(A, y, same, {.eta = 1.0, .max_iter = 100, .tol = 1e-3});
    BOOST_TEST(r.stop == solver_stop::converged);
    BOOST_TEST(r.iterations == 10);
}

BOOST_AUTO_TEST_CASE(options_and_inputs_are_validated) {
    const convolution A(box_kernel(3), {1, 8, 8});
    const image y = xrestore::zeros<image>({1, 8, 8});
    BOOST_CHECK_THROW(pnp_admm(A, y, same, {.eta = 0.0}), value_error);
    BOOST_CHECK_THROW(pnp_admm(A, y, same, {.max_iter = -1}), value_error);
    BOOST_CHECK_THROW(pnp_admm(A, y, same, {.tol = std::nan("")}), value_error);
    BOOST_CHECK_THROW(pnp_admm(A, y, same, {.cg = {.max_iter = 10, .tol = -1.0}}), value_error);
    BOOST_CHECK_THROW(pnp_admm(A, xrestore::zeros<image>({2, 8, 8}), same), shape_error);
    auto shrinking = [](const image&) { return xrestore::zeros<image>({1, 4, 4}); };
    BOOST_CHECK_THROW(pnp_admm(A, y, shrinking), shape_error);
    BOOST_CHECK_THROW(pnp_pgd(A, y, shrinking), shape_error);
    BOOST_CHECK_THROW(pnp_hqs(A, y, shrinking), shape_error);
    BOOST_CHECK_THROW(pnp_pgd(A, y, same, {.step = 0.0}), value_error);
    BOOST_CHECK_THROW(pnp_pgd(A, y, same, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(pnp_hqs(A, y, same, {.mu = -1.0}), value_error);
    BOOST_CHECK_THROW(pnp_hqs(A, y, same, {.mu_growth = 0.5}), value_error);
    BOOST_CHECK_THROW(pnp_hqs(A, y, same, {.cg = {.max_iter = 0}}), value_error);
    image bad = y;
    bad(0, 0, 0) = std::numeric_limits<float>::infinity();
    BOOST_CHECK_THROW(pnp_admm(A, bad, same), value_error);
    BOOST_CHECK_THROW(pnp_pgd(A, bad, same), value_error);
    try {
        pnp_admm(A, y, shrinking);
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "pnp_admm: the denoiser's output must have shape 1 x 8 x 8, got 1 x 4 x 4");
    }
    // a denoiser that produces NaN: the solver reports divergence, x is the last finite iterate
    int calls = 0;
    auto poisoned = [&](const image& z) {
        image out = z;
        if (++calls == 2) {
            out(0, 3, 3) = std::numeric_limits<float>::quiet_NaN();
        }
        return out;
    };
    const auto r = pnp_pgd(identity(shape3{1, 8, 8}), y + 0.5f, poisoned, {.max_iter = 5});
    BOOST_TEST(r.stop == solver_stop::diverged);
    BOOST_TEST(r.iterations == 1);
    BOOST_TEST(max_abs_difference(r.x, xt::eval(y + 0.5f)) < 1e-7);
}

BOOST_AUTO_TEST_CASE(pnp_admm_continuation_matches_a_closed_form_loop) {
    // Inpainting makes the x-update closed form: x = (m y + eta (v - u)) / (m + eta) per pixel.
    // The reference loop grows eta by `growth` after each iteration and rescales u by
    // eta_k / eta_{k+1}, capped at eta_max; pnp_admm (CG to 1e-10) must follow it.
    const inpaint_problem p;
    const gaussian_denoiser d{.sigma = 1.0};
    const double eta0 = 1e-2;
    const double growth = 1.5;
    const double eta_max = 0.05;
    const int iterations = 6;
    const image& m = p.A.mask();
    image x = xt::zeros_like(p.y);
    image u = xt::zeros_like(p.y);
    image v = xt::zeros_like(p.y);
    double eta = eta0;
    std::vector<double> etas;
    for (int k = 0; k < iterations; ++k) {
        const auto e = static_cast<float>(eta);
        x = (m * p.y + e * (v - u)) / (m + e);
        v = d(image(x + u));
        u = u + x - v;
        etas.push_back(eta);
        const double next = std::min(eta * growth, eta_max);
        u = u * static_cast<float>(eta / next);
        eta = next;
    }
    BOOST_TEST(etas.back() == eta_max); // the cap was reached within the run
    const auto r = pnp_admm(p.A, p.y, d,
                            {.eta = eta0,
                             .max_iter = iterations,
                             .cg = {.max_iter = 50, .tol = 1e-10},
                             .clip_output = false,
                             .eta_growth = growth,
                             .eta_max = eta_max});
    BOOST_TEST(r.iterations == iterations);
    BOOST_TEST(max_abs_difference(r.x, x) < 2e-5);
    // the fixed-eta run differs: the schedule is really applied
    const auto fixed = pnp_admm(p.A, p.y, d,
                                {.eta = eta0,
                                 .max_iter = iterations,
                                 .cg = {.max_iter = 50, .tol = 1e-10},
                                 .clip_output = false});
    BOOST_TEST(max_abs_difference(fixed.x, x) > 1e-3);
    // one CG count per outer iteration; CG converged before its cap every time
    BOOST_TEST(r.inner_iterations.size() == static_cast<std::size_t>(iterations));
    for (int n : r.inner_iterations) {
        BOOST_TEST((n >= 1 && n < 50));
    }
}

BOOST_AUTO_TEST_CASE(pnp_admm_continuation_settles_and_stops) {
    // A growing, capped eta ties x to v: the relative change shrinks and the tol stop fires.
    const deblur_problem p;
    const gaussian_denoiser d{.sigma = 0.5};
    const auto r =
        pnp_admm(p.A, p.y, d,
                 {.eta = 1e-3, .max_iter = 200, .tol = 1e-4, .eta_growth = 1.2, .eta_max = 0.05});
    BOOST_TEST((r.stop == solver_stop::converged));
    BOOST_TEST(r.iterations < 200);
    BOOST_TEST(r.change.back() < 1e-4);
    BOOST_TEST_MESSAGE("continuation: " << r.iterations << " iterations, PSNR "
                                        << psnr(p.truth, r.x));
    BOOST_TEST(psnr(p.truth, r.x) > 18.0);
}

BOOST_AUTO_TEST_CASE(pnp_admm_rejects_a_bad_schedule) {
    const inpaint_problem p;
    const gaussian_denoiser d{.sigma = 1.0};
    auto message = [&](const pnp_admm_options& o) {
        try {
            (void)pnp_admm(p.A, p.y, d, o);
        } catch (const value_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    BOOST_TEST(message({.eta_growth = 0.5}).find("options.eta_growth") != std::string::npos);
    BOOST_TEST(message({.eta_growth = std::nan("")}).find("options.eta_growth") !=
               std::string::npos);
    BOOST_TEST(message({.eta = 1.0, .eta_max = 0.1}).find("options.eta_max") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pnp_admm_refuses_a_schedule_whose_penalty_overflows_before_iterating) {
    // eta growing by 1e10 per iteration reached infinity at iteration 31 and failed inside the
    // CG ("b must be finite"), after 30 iterations of work
    const inpaint_problem p;
    const gaussian_denoiser d{.sigma = 1.0};
    int calls = 0;
    std::string message = "no error";
    try {
        (void)pnp_admm(p.A, p.y, d, {.max_iter = 50, .eta_growth = 1e10},
                       [&](int, const image&) { ++calls; });
    } catch (const value_error& e) {
        message = e.what();
    }
    BOOST_TEST(message.find("pnp_admm: options.eta_growth must be small enough that eta "
                            "growth^(max_iter - 1) stays at most 1e30") != std::string::npos,
               message);
    BOOST_TEST(calls == 0);
    BOOST_CHECK_THROW((void)pnp_admm(p.A, p.y, d, {.eta = 1e31}), value_error);
    // capped by eta_max, the same growth is a valid schedule
    const auto capped = pnp_admm(p.A, p.y, d, {.max_iter = 5, .eta_growth = 1e10, .eta_max = 1e3});
    BOOST_TEST(capped.iterations == 5);
}

BOOST_AUTO_TEST_SUITE_END() // test_pnp
