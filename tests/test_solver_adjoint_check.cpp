// The solvers' adjoint check on entry, switched on explicitly as a release build would
// (XRESTORE_CHECK_ADJOINT=1; debug builds have it on by default: test_solver_adjoint_check_debug).
#define XRESTORE_CHECK_ADJOINT 1
#include <boost/test/unit_test.hpp>

#include <xrestore/xrestore.hpp>

#include <cstdint>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_solver_adjoint_check)

using namespace xrestore;

namespace {

static_assert(XRESTORE_CHECK_ADJOINT == 1);

/// A blur whose adjoint is its forward map (wrong: the kernel is not symmetric), counting its
/// calls.
struct blur_with_wrong_adjoint {
    using domain_type = image;
    using range_type = image;
    convolution blur;
    bool wrong = true;
    mutable int applies = 0;
    mutable int adjoints = 0;
    image apply(const image& x) const {
        ++applies;
        return blur.apply(x);
    }
    image adjoint(const image& y) const {
        ++adjoints;
        return wrong ? blur.apply(y) : blur.adjoint(y);
    }
    shape3 domain_shape() const { return blur.domain_shape(); }
    shape3 range_shape() const { return blur.range_shape(); }
};

matrix one_sided_kernel() {
    // non-negative (Richardson-Lucy needs A >= 0) and not symmetric
    return matrix{{0.05f, 0.1f, 0.0f}, {0.3f, 0.2f, 0.0f}, {0.25f, 0.1f, 0.0f}};
}

struct problem {
    shape3 shape{3, 24, 20};
    image truth;
    blur_with_wrong_adjoint wrong{convolution(one_sided_kernel(), shape)};
    blur_with_wrong_adjoint right{convolution(one_sided_kernel(), shape), false};
    image y;
    problem() {
        std::mt19937_64 rng(5);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        truth = image(shape);
        for (auto& v : truth) {
            v = u(rng);
        }
        y = right.blur.apply(truth);
    }
};

/// `solve(A)` with a fresh copy A of the wrong operator must throw adjoint_error whose message
/// starts with "<name>: the adjoint of", before any iteration: A was applied only by the check.
template <class Solve>
void expect_refusal(const std::string& name, const blur_with_wrong_adjoint& wrong, Solve&& solve) {
    BOOST_TEST_CONTEXT(name) {
        const blur_with_wrong_adjoint A = wrong;
        try {
            solve(A);
            BOOST_ERROR(name << " ran with a wrong adjoint");
        } catch (const adjoint_error& e) {
            const std::string message = e.what();
            BOOST_TEST(message.find(name + ": the adjoint of ") == 0, message);
            BOOST_TEST(message.find("blur_with_wrong_adjoint") != std::string::npos, message);
            BOOST_TEST(message.find("<= 0.0001") != std::string::npos, message);
        }
        BOOST_TEST(A.applies == 3); // the check's three pairs
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(every_solver_that_uses_the_adjoint_refuses_a_wrong_one) {
    const problem p;
    const auto& y = p.y;
    const gaussian_denoiser d{.sigma = 1.0};
    const image x0 = xt::zeros<float>(p.shape);
    using op = blur_with_wrong_adjoint;
    const op& wrong = p.wrong;
    expect_refusal("least_squares", wrong, [&](const op& A) { least_squares(A, y); });
    expect_refusal("tikhonov", wrong, [&](const op& A) { tikhonov(A, y); });
    expect_refusal("gradient_descent", wrong, [&](const op& A) { gradient_descent(A, y); });
    expect_refusal("gradient_descent", wrong,
                   [&](const op& A) { gradient_descent(A, y, x0, {.max_iter = 2}); });
    expect_refusal("fista", wrong, [&](const op& A) { fista(A, y, {.levels = 2}); });
    expect_refusal("fista", wrong,
                   [&](const op& A) { fista(A, y, identity(p.shape), x0, {.step = 0.5}); });
    expect_refusal("ista", wrong, [&](const op& A) { ista(A, y, {.levels = 2}); });
    expect_refusal("tv_primal_dual", wrong, [&](const op& A) { tv_primal_dual(A, y); });
    expect_refusal("tv_primal_dual", wrong, [&](const op& A) { tv_primal_dual(A, y, x0, {}); });
    expect_refusal("tv_haar_primal_dual", wrong,
                   [&](const op& A) { tv_haar_primal_dual(A, y, {.levels = 2}); });
    expect_refusal("admm", wrong,
                   [&](const op& A) { admm(A, y, [](const image& z) { return z; }); });
    expect_refusal("pnp_admm", wrong, [&](const op& A) { pnp_admm(A, y, d); });
    expect_refusal("pnp_pgd", wrong, [&](const op& A) { pnp_pgd(A, y, d); });
    expect_refusal("pnp_hqs", wrong, [&](const op& A) { pnp_hqs(A, y, d); });
    expect_refusal("red_gradient_descent", wrong,
                   [&](const op& A) { red_gradient_descent(A, y, d); });
    expect_refusal("red_fixed_point", wrong, [&](const op& A) { red_fixed_point(A, y, d); });
    expect_refusal("richardson_lucy", wrong, [&](const op& A) { richardson_lucy(A, y); });
    expect_refusal("richardson_lucy", wrong,
                   [&](const op& A) { richardson_lucy(A, y, gradient(p.shape)); });
}

BOOST_AUTO_TEST_CASE(the_check_runs_once_per_solve_and_passes_correct_adjoints) {
    const problem p;
    // gradient descent with a given step: x_0 = A^T y, then one A^T per iteration, plus the
    // check's three pairs (once, not per iteration, and not twice for default_start + start)
    for (int iterations : {1, 5}) {
        blur_with_wrong_adjoint A = p.right;
        const auto r = gradient_descent(A, p.y, {.max_iter = iterations, .step = 0.5});
        BOOST_TEST(r.iterations == iterations);
        BOOST_TEST(A.adjoints == 1 + iterations + 3);
        BOOST_TEST(A.applies == 1 + iterations + 3);
    }
    {
        blur_with_wrong_adjoint A = p.right;
        const auto r = fista(A, p.y, identity(p.shape), {.max_iter = 4, .step = 0.5});
        BOOST_TEST(r.iterations == 4);
        BOOST_TEST(A.adjoints == 1 + 4 + 3);
    }
    // the library's operators pass it in every solver
    const convolution blur(one_sided_kernel(), p.shape, {.boundary = boundary::reflect});
    const gaussian_denoiser d{.sigma = 1.0};
    BOOST_CHECK_NO_THROW(pnp_admm(blur, p.y, d, {.max_iter = 2}));
    BOOST_CHECK_NO_THROW(tv_primal_dual(blur, p.y, {.max_iter = 2}));
    BOOST_CHECK_NO_THROW(richardson_lucy(blur, p.y, {.max_iter = 2}));
    const auto K = compose(inpainting(random_mask(p.shape, 0.5, 2)), blur);
    BOOST_CHECK_NO_THROW(red_fixed_point(K, p.y, d, {.max_iter = 2}));
    BOOST_CHECK_NO_THROW(fista(K, p.y, {.max_iter = 2, .step = 0.5}));
    BOOST_CHECK_NO_THROW(tikhonov(downsampling(p.shape, 2), xt::zeros<float>({3, 12, 10})));
}

BOOST_AUTO_TEST_CASE(shape_errors_come_before_the_adjoint_check) {
    const problem p;
    const image wrong_y = xt::zeros<float>({3, 24, 21});
    BOOST_CHECK_THROW(pnp_admm(p.wrong, wrong_y, gaussian_denoiser{}), shape_error);
    BOOST_CHECK_THROW(fista(p.wrong, wrong_y), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_solver_adjoint_check
