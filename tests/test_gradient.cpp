#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <numbers>
#include <random>

BOOST_AUTO_TEST_SUITE(test_gradient)

using namespace xrestore;

static_assert(linear_operator<gradient>);

BOOST_AUTO_TEST_CASE(gradient_of_linear_ramp_is_constant_with_zero_neumann_edge) {
    // x(c, i, j) = (c + 1) * (2 i - 3 j)
    const std::size_t C = 2, H = 5, W = 7;
    image x(shape3{C, H, W});
    for (std::size_t c = 0; c < C; ++c) {
        for (std::size_t i = 0; i < H; ++i) {
            for (std::size_t j = 0; j < W; ++j) {
                x(c, i, j) = static_cast<float>(c + 1) *
                             (2.0f * static_cast<float>(i) - 3.0f * static_cast<float>(j));
            }
        }
    }
    const gradient D({C, H, W});
    const tensor<4> g = D.apply(x);
    BOOST_TEST((shape_of<4>(g) == std::array<std::size_t, 4>{2, C, H, W}));
    for (std::size_t c = 0; c < C; ++c) {
        const float s = static_cast<float>(c + 1);
        for (std::size_t i = 0; i < H; ++i) {
            for (std::size_t j = 0; j < W; ++j) {
                BOOST_TEST(g(0, c, i, j) == (i + 1 < H ? 2.0f * s : 0.0f));
                BOOST_TEST(g(1, c, i, j) == (j + 1 < W ? -3.0f * s : 0.0f));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(divergence_closed_form_and_identity) {
    // a field that is 1 everywhere in the vertical component: div = p0(i) [i<H-1] - p0(i-1) [i>0]
    const std::size_t H = 4, W = 3;
    tensor<4> p = xt::zeros<float>({std::size_t{2}, std::size_t{1}, H, W});
    xt::view(p, 0, xt::all(), xt::all(), xt::all()) = 1.0f;
    const image d = divergence(p);
    for (std::size_t j = 0; j < W; ++j) {
        BOOST_TEST(d(0, 0, j) == 1.0f);  // first row: p0(0)
        BOOST_TEST(d(0, 1, j) == 0.0f);  // interior
        BOOST_TEST(d(0, 2, j) == 0.0f);  // interior
        BOOST_TEST(d(0, 3, j) == -1.0f); // last row: -p0(H-2)
    }

    // <grad x, p> = -<x, div p> on random data
    const shape3 shape{3, 37, 45};
    std::mt19937_64 rng(3);
    const image x = vector_space<image>::random(shape, rng);
    const tensor<4> q = vector_space<tensor<4>>::random({2, 3, 37, 45}, rng);
    const gradient D(shape);
    const double lhs = xrestore::dot(D.apply(x), q);
    const double rhs = -xrestore::dot(x, divergence(q));
    BOOST_TEST(std::abs(lhs - rhs) <= 1e-5 * xrestore::norm(D.apply(x)) * xrestore::norm(q));
    // adjoint = -divergence exactly
    BOOST_TEST(D.adjoint(q) == image(-divergence(q)));
}

BOOST_AUTO_TEST_CASE(constant_image_has_zero_gradient) {
    const image x = xt::ones<float>({2, 9, 4}) * 0.7f;
    const gradient D({2, 9, 4});
    BOOST_TEST(xt::all(xt::equal(D.apply(x), 0.0f)));
}

BOOST_AUTO_TEST_CASE(adjoint_identity_on_odd_shapes) {
    for (const shape3 shape : {shape3{3, 37, 45}, shape3{3, 151, 103}, shape3{1, 21, 16},
                               shape3{2, 1, 13}, shape3{1, 11, 1}, shape3{1, 1, 1}}) {
        const gradient D(shape);
        BOOST_TEST(adjoint_check(D, 5) <= 1e-5, "shape " << shape_string(shape));
    }
}

BOOST_AUTO_TEST_CASE(in_place_forms_match) {
    const shape3 shape{2, 10, 7};
    std::mt19937_64 rng(8);
    const image x = vector_space<image>::random(shape, rng);
    const gradient D(shape);
    tensor<4> g;
    D.apply_into(x, g);
    BOOST_TEST(g == D.apply(x));
    image back = xt::zeros<float>({1, 1, 1});
    D.adjoint_into(g, back);
    BOOST_TEST(back == D.adjoint(g));
    BOOST_TEST((xrestore::apply_normal(D, x) == D.adjoint(D.apply(x))));
}

BOOST_AUTO_TEST_CASE(operator_norm_approaches_sqrt8) {
    // D^T D = L_H (x) I + I (x) L_W with the Neumann 1-D Laplacians, whose largest eigenvalue is
    // 4 cos^2(pi / (2 n)): ||D|| = 2 sqrt(cos^2(pi / 2H) + cos^2(pi / 2W)) -> sqrt(8)
    const double H = 128, W = 96;
    const gradient D({1, 128, 96});
    const double exact = 2.0 * std::sqrt(std::pow(std::cos(std::numbers::pi / (2.0 * H)), 2) +
                                         std::pow(std::cos(std::numbers::pi / (2.0 * W)), 2));
    BOOST_TEST(exact == std::sqrt(8.0), boost::test_tools::tolerance(1e-3));
    // default options: within 1 %
    BOOST_TEST(operator_norm(D) == std::sqrt(8.0), boost::test_tools::tolerance(0.01));
    // more iterations: closer, and never above the exact norm
    const double estimate = operator_norm(D, {.max_iter = 500, .tol = 1e-12, .seed = 1});
    BOOST_TEST(estimate <= exact * (1.0 + 1e-6));
    BOOST_TEST(estimate == exact, boost::test_tools::tolerance(2e-3));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    BOOST_CHECK_THROW(gradient({0, 4, 4}), value_error);
    BOOST_CHECK_THROW(gradient({1, 0, 4}), value_error);
    const gradient D({3, 5, 7});
    BOOST_CHECK_THROW(D.apply(xt::zeros<float>({3, 7, 5})), shape_error);
    BOOST_CHECK_THROW(D.adjoint(xt::zeros<float>({2, 3, 5, 6})), shape_error);
    BOOST_CHECK_THROW(D.adjoint(xt::zeros<float>({1, 3, 5, 7})), shape_error);
    BOOST_CHECK_THROW(divergence(xt::zeros<float>({3, 3, 5, 7})), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_gradient
