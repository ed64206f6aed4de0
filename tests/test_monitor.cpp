#include <boost/test/unit_test.hpp>

// The solvers' shared history (seconds, objective, change), the monitor record, the reference
// monitor, and the divergence rule of solvers/detail/iteration.hpp applied by every solver.
#include <xrestore/solvers/monitor.hpp>

#include "test_support.hpp"

#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/solvers/admm.hpp>
#include <xrestore/solvers/detail/iteration.hpp>
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/gradient_descent.hpp>
#include <xrestore/solvers/pnp.hpp>
#include <xrestore/solvers/red.hpp>
#include <xrestore/solvers/richardson_lucy.hpp>
#include <xrestore/solvers/tikhonov.hpp>
#include <xrestore/solvers/tv.hpp>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_monitor)

using namespace xrestore;
using namespace xrestore::test;

namespace {

/// A well-conditioned blur (frequency response in [0.4, 1], so ||B|| = 1), circular boundary.
convolution mild_blur(shape3 shape) {
    matrix k = xt::zeros<float>({3, 3});
    k(1, 1) = 0.7f;
    k(0, 1) = k(2, 1) = k(1, 0) = k(1, 2) = 0.075f;
    return convolution(k, shape, {.boundary = boundary::circular});
}

struct small_problem {
    shape3 shape{1, 16, 16};
    convolution a = mild_blur(shape);
    image truth = uniform_tensor<3>(shape, 3);
    image y = a.apply(truth);
};

/// Records what every call of the monitor saw: the record and a copy of x.
struct recording_monitor {
    std::vector<iteration_record> records;
    std::vector<image> iterates;
    void operator()(int k, const image& x, const iteration_record& r) {
        BOOST_TEST(k == r.iteration);
        records.push_back(r);
        iterates.push_back(x);
    }
};

/// The history's invariants: one entry per iteration in change and seconds (and objective when
/// the solver records one), seconds non-negative and non-decreasing, and the monitor's records
/// equal to the result's entries.
void check_history(const solver_result<image>& r, const recording_monitor& m, bool has_objective,
                   const std::string& name) {
    BOOST_TEST_CONTEXT(name) {
        const auto n = static_cast<std::size_t>(r.iterations);
        BOOST_TEST(n > 0u);
        BOOST_TEST(r.change.size() == n);
        BOOST_TEST(r.seconds.size() == n);
        BOOST_TEST(r.objective.size() == (has_objective ? n : 0u));
        BOOST_TEST(m.records.size() == n);
        for (std::size_t i = 0; i < n && i < m.records.size(); ++i) {
            BOOST_TEST(r.seconds[i] >= 0.0);
            if (i > 0) {
                BOOST_TEST(r.seconds[i] >= r.seconds[i - 1]);
            }
            BOOST_TEST(m.records[i].iteration == static_cast<int>(i + 1));
            BOOST_TEST(m.records[i].seconds == r.seconds[i]);
            BOOST_TEST(m.records[i].change == r.change[i]);
            if (has_objective) {
                BOOST_TEST(m.records[i].objective == r.objective[i]);
            } else {
                BOOST_TEST(std::isnan(m.records[i].objective));
            }
        }
        BOOST_TEST(r.stop_detail.empty());
    }
}

const auto halve = [](const image& x) { return image(0.5f * x); };

} // namespace

BOOST_AUTO_TEST_CASE(every_solver_records_seconds_change_and_its_objective) {
    const small_problem p;
    const int n = 6;
    {
        recording_monitor m;
        check_history(gradient_descent(p.a, p.y, {.max_iter = n}, std::ref(m)), m, true,
                      "gradient_descent");
    }
    {
        recording_monitor m;
        check_history(
            fista(p.a, p.y, identity(p.shape), {.lambda = 1e-3, .max_iter = n}, std::ref(m)), m,
            true, "fista");
    }
    {
        recording_monitor m;
        check_history(tv_primal_dual(p.a, p.y, {.max_iter = n}, std::ref(m)), m, true, "tv");
    }
    {
        recording_monitor m;
        check_history(richardson_lucy(p.a, p.y, {.max_iter = n}, std::ref(m)), m, true, "rl");
    }
    {
        recording_monitor m;
        check_history(tikhonov(p.a, p.y,
                               {.cg = {.max_iter = n, .tol = 0.0}, .record_objective = true},
                               std::ref(m)),
                      m, true, "tikhonov");
    }
    {
        recording_monitor m;
        check_history(least_squares(p.a, p.y, {.cg = {.max_iter = n, .tol = 0.0}}, std::ref(m)), m,
                      false, "least_squares without record_objective");
    }
    {
        recording_monitor m;
        check_history(red_gradient_descent(p.a, p.y, halve, {.max_iter = n}, std::ref(m)), m, true,
                      "red");
    }
    {
        recording_monitor m;
        check_history(red_fixed_point(p.a, p.y, halve, {.max_iter = n}, std::ref(m)), m, true,
                      "red_fixed_point");
    }
    {
        recording_monitor m;
        auto prox = [](const image& z, double) { return image(0.9f * z); };
        check_history(admm(p.a, p.y, prox, {.max_iter = n}, std::ref(m)), m, false, "admm");
    }
    {
        recording_monitor m;
        check_history(pnp_admm(p.a, p.y, halve, {.max_iter = n}, std::ref(m)), m, false,
                      "pnp_admm");
    }
    {
        recording_monitor m;
        check_history(pnp_pgd(p.a, p.y, halve, {.max_iter = n}, std::ref(m)), m, false, "pnp_pgd");
    }
    {
        recording_monitor m;
        check_history(pnp_hqs(p.a, p.y, halve, {.max_iter = n}, std::ref(m)), m, false, "pnp_hqs");
    }
}

BOOST_AUTO_TEST_CASE(a_record_taking_monitor_changes_no_number) {
    // the clock and the record are bookkeeping only: the same bits as without a monitor
    const small_problem p;
    recording_monitor m;
    const auto watched = fista(p.a, p.y, {.lambda = 1e-3, .max_iter = 12}, std::ref(m));
    const auto plain = fista(p.a, p.y, {.lambda = 1e-3, .max_iter = 12});
    BOOST_TEST(same_result(watched, plain));
    BOOST_TEST(same_bits(m.iterates.back(), plain.x));
    const auto tikhonov_watched = tikhonov(
        p.a, p.y, {.cg = {.max_iter = 8, .tol = 0.0}, .record_objective = true}, std::ref(m));
    const auto tikhonov_plain = tikhonov(p.a, p.y, {.cg = {.max_iter = 8, .tol = 0.0}});
    BOOST_TEST(same_bits(tikhonov_watched.x, tikhonov_plain.x));
    BOOST_TEST(tikhonov_watched.change == tikhonov_plain.change);
}

BOOST_AUTO_TEST_CASE(seconds_leave_out_the_monitor) {
    // each monitor call sleeps 200 ms; six iterations of a 16 x 16 Landweber take microseconds, so
    // even a loaded machine keeps the solver's own time far below the 1.2 s slept
    const small_problem p;
    const auto slow = [](int, const image&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    };
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = gradient_descent(p.a, p.y, {.max_iter = 6}, slow);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST(wall >= 1.2);
    BOOST_TEST(r.seconds.size() == 6u);
    BOOST_TEST(r.seconds.back() < 0.6); // half the 1.2 s slept: the sleeps are not counted
}

BOOST_AUTO_TEST_CASE(reference_monitor_keeps_the_seconds_and_the_objective) {
    const small_problem p;
    reference_monitor watch(p.truth);
    const auto r = gradient_descent(p.a, p.y, {.max_iter = 5}, std::ref(watch));
    BOOST_TEST(watch.seconds() == r.seconds);
    BOOST_TEST(watch.objective() == r.objective);
    BOOST_TEST(watch.psnr().size() == 5u);
    // a solver without an objective gives NaN
    reference_monitor admm_watch(p.truth);
    pnp_admm(p.a, p.y, halve, {.max_iter = 3}, std::ref(admm_watch));
    BOOST_TEST(admm_watch.objective().size() == 3u);
    BOOST_TEST(std::isnan(admm_watch.objective()[2]));
    // called directly it times itself
    reference_monitor direct(p.truth);
    direct(1, p.y);
    direct(2, p.truth);
    BOOST_TEST(direct.seconds().size() == 2u);
    BOOST_TEST(direct.seconds()[0] >= 0.0);
    BOOST_TEST(direct.seconds()[1] >= direct.seconds()[0]);
    BOOST_TEST(std::isnan(direct.objective()[1]));
}

BOOST_AUTO_TEST_CASE(divergence_rule_thresholds) {
    detail::iteration_tracker track;
    // objective: 1e6 max(F(x_0), F(0)); NaN references are ignored
    track.watch_objective(2.0, std::nan(""));
    BOOST_TEST(track.objective_verdict(3, 2e6).empty());
    const std::string above = track.objective_verdict(3, 2.000001e6);
    BOOST_TEST(above.find("iteration 3: the objective 2e+06 exceeds 1e6 times its reference 2") ==
               0u);
    BOOST_TEST(!track.objective_verdict(1, std::numeric_limits<double>::infinity()).empty());
    BOOST_TEST(!track.objective_verdict(1, std::nan("")).empty());
    track.watch_objective(2.0, 5.0);
    BOOST_TEST(track.objective_verdict(1, 5e6).empty());
    BOOST_TEST(!track.objective_verdict(1, 5.1e6).empty());
    // norm: 1e6 max(references, sqrt(n)); 16 entries give the floor 4
    const image like = xrestore::zeros<image>({1, 4, 4});
    track.watch_norm({0.0, 1.0}, like);
    BOOST_TEST(track.norm_verdict(2, 4e6).empty());
    BOOST_TEST(track.norm_verdict(2, 4.1e6).find("iteration 2: ||x|| = 4.1e+06 exceeds 1e6") == 0u);
    track.watch_norm({10.0, std::numeric_limits<double>::infinity()}, like);
    BOOST_TEST(track.norm_verdict(2, 1e7).empty());
    BOOST_TEST(!track.norm_verdict(2, 1.01e7).empty());
    BOOST_TEST(track.norm_verdict(4, std::nan("")).find("iteration 4: x is not finite") == 0u);
    // without a reference only non-finite values fail
    const detail::iteration_tracker plain;
    BOOST_TEST(plain.norm_verdict(1, 1e300).empty());
    BOOST_TEST(plain.objective_verdict(1, 1e300).empty());
    BOOST_TEST(!plain.norm_verdict(1, std::numeric_limits<double>::infinity()).empty());
}

BOOST_AUTO_TEST_CASE(landweber_with_a_huge_step_stops_at_the_start) {
    // step 1e30: x_1 is of order 1e30, finite in float, and its objective (a double) is finite
    // too, of order 1e60; the rule stops at iteration 1 with x_0 = A^T y, the last good iterate
    const small_problem p;
    const image x0 = p.a.adjoint(p.y);
    int calls = 0;
    const auto r = gradient_descent(p.a, p.y, {.max_iter = 50, .step = 1e30},
                                    [&](int, const image&) { ++calls; });
    BOOST_TEST(r.stop == solver_stop::diverged);
    BOOST_TEST(r.iterations == 0);
    BOOST_TEST(calls == 0);
    BOOST_TEST(same_bits(r.x, x0));
    BOOST_TEST(r.objective.empty());
    BOOST_TEST(r.seconds.empty());
    BOOST_TEST(r.stop_detail.find("iteration 1: the objective") == 0u);
    BOOST_TEST(r.stop_detail.find("exceeds 1e6 times its reference") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(fista_with_a_large_step_returns_the_last_good_iterate) {
    // ||A|| = 1, so step 2.5 grows the error by up to 1.5 per iteration (and momentum adds to
    // it): far from overflow when the objective passes 1e6 times its start, some iterations in
    const small_problem p;
    recording_monitor m;
    const auto r = fista(p.a, p.y, identity(p.shape), {.lambda = 0.0, .max_iter = 400, .step = 2.5},
                         std::ref(m));
    BOOST_TEST(r.stop == solver_stop::diverged);
    BOOST_TEST(r.iterations > 1);
    BOOST_TEST(r.iterations < 400);
    BOOST_TEST(m.iterates.size() == static_cast<std::size_t>(r.iterations));
    BOOST_TEST(same_bits(r.x, m.iterates.back())); // the last iterate the monitor saw
    BOOST_TEST(r.objective.size() == static_cast<std::size_t>(r.iterations));
    const double reference = 0.5 * xrestore::dot(p.y, p.y); // F(0) >= F(x_0) here
    BOOST_TEST(r.objective.back() <= 1e6 * std::max(reference, r.objective.front()));
    BOOST_TEST(r.stop_detail.find(std::string("iteration ") + std::to_string(r.iterations + 1) +
                                  ": the objective") == 0u);
    // the same with step 1e30: x_0 is returned
    const auto huge = fista(p.a, p.y, {.max_iter = 50, .step = 1e30});
    BOOST_TEST(huge.stop == solver_stop::diverged);
    BOOST_TEST(huge.iterations == 0);
    BOOST_TEST(same_bits(huge.x, p.a.adjoint(p.y)));
}

BOOST_AUTO_TEST_CASE(growth_without_an_objective_stops_plug_and_play) {
    // PnP-PGD with A = I, step 1/2 and D(z) = 10 z: x_k = 5 (x_{k-1} + y), a growth of 5 per
    // iteration that stays finite for hundreds of iterations; the norm rule stops it once
    // ||x_k|| > 1e6 max(||x_0||, ||y||, sqrt(n)) = 1e6 ||y|| (y is 16 x 16 values in [1, 2])
    const small_problem p;
    const image y = p.y + 1.0f;
    const auto A = identity(p.shape);
    const auto tenfold = [](const image& z) { return image(10.0f * z); };
    recording_monitor m;
    const auto r =
        pnp_pgd(A, y, tenfold, {.step = 0.5, .max_iter = 60, .clip_output = false}, std::ref(m));
    BOOST_TEST(r.stop == solver_stop::diverged);
    // ||x_k|| ~ (5^k + ...) ||y||: the first k with 5^k-ish growth past 1e6 is 8 or 9
    BOOST_TEST(r.iterations >= 7);
    BOOST_TEST(r.iterations <= 9);
    BOOST_TEST(same_bits(r.x, m.iterates.back()));
    BOOST_TEST(xrestore::norm(r.x) <= 1e6 * xrestore::norm(y));
    BOOST_TEST(r.stop_detail.find("||x|| = ") != std::string::npos);
    // the same denoiser in PnP-ADMM with a large penalty: x ~ v - u, v = 10 (x + u) grows by
    // about 7 per iteration
    recording_monitor n;
    const auto growing =
        pnp_admm(A, y, tenfold, {.eta = 100.0, .max_iter = 200, .clip_output = false}, std::ref(n));
    BOOST_TEST(growing.stop == solver_stop::diverged);
    BOOST_TEST(growing.iterations < 20);
    BOOST_TEST(same_bits(growing.x, n.iterates.back()));
    BOOST_TEST(xrestore::norm(growing.x) <= 1e6 * xrestore::norm(y));
    BOOST_TEST(growing.stop_detail.find("||x|| = ") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END() // test_monitor
