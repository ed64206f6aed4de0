#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_combinators)

using namespace xrestore;

// every combinator is itself a linear operator, also nested and across vector types
static_assert(linear_operator<identity_operator<image>>);
static_assert(linear_operator<identity_operator<tensor<4>>>);
static_assert(linear_operator<scaled_operator<gradient>>);
static_assert(linear_operator<composed_operator<gradient, inpainting>>);
static_assert(linear_operator<sum_operator<inpainting, haar_wavelet>>);
static_assert(linear_operator<stacked_operator<inpainting, gradient>>);
static_assert(linear_operator<normal_operator<gradient>>);
static_assert(linear_operator<shifted_normal_operator<downsampling>>);
static_assert(
    linear_operator<
        stacked_operator<composed_operator<downsampling, haar_wavelet>,
                         scaled_operator<stacked_operator<gradient, identity_operator<image>>>>>);
static_assert(std::same_as<range_t<stacked_operator<inpainting, gradient>>,
                           product_vector<image, tensor<4>>>);
static_assert(square_operator<normal_operator<stacked_operator<inpainting, gradient>>>);

namespace {

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

/// max |a - b| <= tol * max |b|
bool close(const image& a, const image& b, float tol = 1e-5f) {
    return xt::amax(xt::abs(a - b))() <= tol * std::max(xt::amax(xt::abs(b))(), 1e-30f);
}

const shape3 odd{3, 37, 45};

} // namespace

BOOST_AUTO_TEST_CASE(identity_copies) {
    const auto I = identity(odd);
    const image x = random_image(odd, 1);
    BOOST_TEST(I.apply(x) == x);
    BOOST_TEST(I.adjoint(x) == x);
    image out;
    I.apply_into(x, out);
    BOOST_TEST(out == x);
    BOOST_TEST(adjoint_check(I, 2) <= 1e-7);
    BOOST_TEST(operator_norm(I) == 1.0, boost::test_tools::tolerance(1e-6));
    BOOST_CHECK_THROW(I.apply(xt::zeros<float>({3, 45, 37})), shape_error);
    const identity_operator<tensor<4>> I4({2, 3, 4, 5});
    BOOST_TEST(adjoint_check(I4, 3) <= 1e-7);
    BOOST_CHECK_THROW(I4.apply(xt::zeros<float>({2, 3, 4, 6})), shape_error);
}

BOOST_AUTO_TEST_CASE(scale_multiplies_and_squares_in_normal) {
    const auto S3 = scale(3.0, identity(odd));
    const image x = random_image(odd, 4);
    BOOST_TEST(close(S3.apply(x), x * 3.0f, 1e-7f));
    BOOST_TEST(close(S3.adjoint(x), x * 3.0f, 1e-7f));
    BOOST_TEST(close(S3.normal(x), x * 9.0f, 1e-7f));
    BOOST_TEST(operator_norm(S3) == 3.0, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(S3.factor() == 3.0);

    const auto SD = scale(-0.5, gradient(odd));
    BOOST_TEST(adjoint_check(SD, 5) <= 1e-5);
    const tensor<4> g = SD.apply(x);
    BOOST_TEST(xt::amax(xt::abs(g - gradient(odd).apply(x) * -0.5f))() <= 1e-6f);
    tensor<4> g2;
    SD.apply_into(x, g2);
    BOOST_TEST(g2 == g);
    image back;
    SD.adjoint_into(g, back);
    BOOST_TEST(back == SD.adjoint(g));
    // (a D)^T (a D) = a^2 D^T D
    BOOST_TEST(close(SD.normal(x), gradient(odd).adjoint(gradient(odd).apply(x)) * 0.25f));
    BOOST_CHECK_THROW(scale(std::numeric_limits<double>::infinity(), identity(odd)), value_error);
}

BOOST_AUTO_TEST_CASE(compose_applies_right_operator_first) {
    const inpainting M(random_mask(odd, 0.5, 3));
    const gradient D(odd);
    const auto DM = compose(D, M); // D (m .* x)
    const image x = random_image(odd, 6);
    BOOST_TEST(DM.apply(x) == D.apply(M.apply(x)));
    const tensor<4> g = D.apply(x);
    BOOST_TEST(DM.adjoint(g) == M.adjoint(D.adjoint(g)));
    BOOST_TEST(close(DM.normal(x), M.apply(D.adjoint(D.apply(M.apply(x))))));
    tensor<4> out;
    DM.apply_into(x, out);
    BOOST_TEST(out == DM.apply(x));
    image back;
    DM.adjoint_into(g, back);
    BOOST_TEST(back == DM.adjoint(g));
    BOOST_TEST((DM.domain_shape() == odd));
    BOOST_TEST((DM.range_shape() == D.range_shape()));
    BOOST_TEST(adjoint_check(DM, 7) <= 1e-5);
    BOOST_TEST((DM.first().range_shape() == D.range_shape()));
    BOOST_TEST(DM.second().missing_fraction() == M.missing_fraction());

    // three operators across different shapes: downsample (Haar (mask x))
    const auto chain = compose(downsampling(odd, 3), haar_wavelet(odd, 3), M);
    BOOST_TEST((chain.range_shape() == shape3{3, 12, 15}));
    BOOST_TEST(adjoint_check(chain, 8) <= 1e-5);
    BOOST_TEST(
        close(chain.apply(x), downsampling(odd, 3).apply(haar_wavelet(odd, 3).apply(M.apply(x)))));

    // mismatched shapes: the inner range must be the outer domain
    BOOST_CHECK_THROW(compose(M, downsampling(odd, 2)), shape_error);
    try {
        compose(M, downsampling(odd, 2));
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()).find("3 x 18 x 22") != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("3 x 37 x 45") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(add_sums_and_adjoint_sums) {
    const inpainting M(random_mask(odd, 0.3, 9));
    const haar_wavelet W(odd, 2);
    const auto S = add(M, W);
    const image x = random_image(odd, 10);
    BOOST_TEST(close(S.apply(x), M.apply(x) + W.apply(x)));
    BOOST_TEST(close(S.adjoint(x), M.adjoint(x) + W.adjoint(x)));
    image out;
    S.apply_into(x, out);
    BOOST_TEST(out == S.apply(x));
    image alias = x; // out == x
    S.apply_into(alias, alias);
    BOOST_TEST(alias == S.apply(x));
    S.adjoint_into(x, out);
    BOOST_TEST(out == S.adjoint(x));
    BOOST_TEST(adjoint_check(S, 11) <= 1e-5);
    // I + (-1) I = 0
    const auto Z = add(identity(odd), scale(-1.0, identity(odd)));
    BOOST_TEST(xt::all(xt::equal(Z.apply(x), 0.0f)));
    BOOST_CHECK_THROW(add(M, haar_wavelet({3, 37, 44}, 2)), shape_error);
    BOOST_CHECK_THROW(add(downsampling(odd, 2), downsampling(odd, 3)), shape_error);
}

BOOST_AUTO_TEST_CASE(stack_mixes_range_types) {
    const inpainting M(random_mask(odd, 0.4, 12));
    const gradient D(odd);
    const auto K = stack(M, scale(0.5, D)); // [M; 0.5 D]
    const image x = random_image(odd, 13);
    const auto y = K.apply(x);
    BOOST_TEST(y.first == M.apply(x));
    BOOST_TEST(xt::amax(xt::abs(y.second - D.apply(x) * 0.5f))() <= 1e-6f);
    BOOST_TEST((K.range_shape().first == odd));
    BOOST_TEST((K.range_shape().second == D.range_shape()));
    // adjoint = M^T y1 + 0.5 D^T y2
    BOOST_TEST(close(K.adjoint(y), M.adjoint(y.first) + D.adjoint(y.second) * 0.5f));
    // normal = M + 0.25 D^T D
    BOOST_TEST(close(K.normal(x), M.apply(x) + D.adjoint(D.apply(x)) * 0.25f));
    BOOST_TEST(close(K.normal(x), K.adjoint(K.apply(x))));
    product_vector<image, tensor<4>> out;
    K.apply_into(x, out);
    BOOST_TEST(out.first == y.first);
    BOOST_TEST(out.second == y.second);
    image back;
    K.adjoint_into(y, back);
    BOOST_TEST(back == K.adjoint(y));
    BOOST_TEST(adjoint_check(K, 14) <= 1e-5);
    BOOST_TEST(adjoint_check(stack(D, M), 15) <= 1e-5);
    BOOST_CHECK_THROW(stack(M, gradient({3, 37, 46})), shape_error);
}

BOOST_AUTO_TEST_CASE(nested_combinators_pass_the_adjoint_check) {
    for (const shape3 shape :
         {shape3{3, 37, 45}, shape3{1, 21, 16}, shape3{2, 13, 7}, shape3{3, 151, 103}}) {
        BOOST_TEST_CONTEXT(shape_string(shape)) {
            const inpainting M(random_mask(shape, 0.5, 1, mask_sharing::shared));
            const gradient D(shape);
            const haar_wavelet W(shape, 2);
            const downsampling S(shape, 2, {.antialias = true});
            // [S W^T; 0.1 D M] : image -> (image, field)
            const auto K = stack(compose(S, W), scale(0.1, compose(D, M)));
            BOOST_TEST(adjoint_check(K, 21) <= 1e-5);
            // [[M; D]; I] nested products
            const auto nested = stack(stack(M, D), identity(shape));
            BOOST_TEST(adjoint_check(nested, 22) <= 1e-5);
            // (M + W) composed with the normal of the stack
            const auto mixed = compose(add(M, W), normal(stack(M, D)));
            BOOST_TEST(adjoint_check(mixed, 23) <= 1e-5);
            // normal and shifted normal of a composition of different types
            BOOST_TEST(adjoint_check(normal(compose(D, W)), 24) <= 1e-5);
            BOOST_TEST(adjoint_check(shifted_normal(K, 0.3), 25) <= 1e-5);
        }
    }
}

BOOST_AUTO_TEST_CASE(normal_operators) {
    const inpainting M(random_mask(odd, 0.5, 30));
    const gradient D(odd);
    const image x = random_image(odd, 31);

    const auto N = normal(D);
    BOOST_TEST(close(N.apply(x), D.adjoint(D.apply(x))));
    BOOST_TEST(N.adjoint(x) == N.apply(x));
    BOOST_TEST(close(N.normal(x), N.apply(N.apply(x))));
    BOOST_TEST(adjoint_check(N, 32) <= 1e-5);
    // A's own normal is used: the mask's normal is the mask itself
    BOOST_TEST(normal(M).apply(x) == M.apply(x));
    // ||D^T D|| = ||D||^2
    const double nd = operator_norm(D, {.max_iter = 500, .tol = 1e-8});
    BOOST_TEST(operator_norm(N, {.max_iter = 500, .tol = 1e-8}) == nd * nd,
               boost::test_tools::tolerance(1e-3));

    const auto T = shifted_normal(M, 0.25);
    BOOST_TEST(close(T.apply(x), M.apply(x) + x * 0.25f));
    BOOST_TEST(T.adjoint(x) == T.apply(x));
    BOOST_TEST(T.eta() == 0.25);
    BOOST_TEST(adjoint_check(T, 33) <= 1e-5);
    // eigenvalues of m + 0.25 are 1.25 and 0.25
    BOOST_TEST(operator_norm(T) == 1.25, boost::test_tools::tolerance(1e-5));
    BOOST_TEST(close(T.normal(x), T.apply(T.apply(x))));
    BOOST_CHECK_THROW(shifted_normal(M, -1.0), value_error);
    BOOST_CHECK_THROW(shifted_normal(M, std::numeric_limits<double>::quiet_NaN()), value_error);
}

BOOST_AUTO_TEST_CASE(operands_are_held_by_value) {
    const image x = random_image({1, 6, 5}, 40);
    auto S = scale(2.0, identity({1, 6, 5}));
    const auto C = compose(S, identity({1, 6, 5}));
    S = scale(5.0, identity({1, 6, 5})); // changing the original does not change the copy
    BOOST_TEST(C.first().factor() == 2.0);
    BOOST_TEST(close(C.apply(x), x * 2.0f, 1e-7f));
}

BOOST_AUTO_TEST_CASE(wrong_input_shapes_are_refused) {
    const inpainting M(random_mask(odd, 0.5, 3));
    const gradient D(odd);
    const auto K = stack(M, D);
    BOOST_CHECK_THROW(K.apply(xt::zeros<float>({3, 37, 44})), shape_error);
    product_vector<image, tensor<4>> bad{xt::zeros<float>({3, 37, 45}),
                                         xt::zeros<float>({2, 3, 37, 44})};
    BOOST_CHECK_THROW(K.adjoint(bad), shape_error);
    BOOST_CHECK_THROW(compose(D, M).adjoint(xt::zeros<float>({2, 3, 37, 44})), shape_error);
    BOOST_CHECK_THROW(normal(D).apply(xt::zeros<float>({1, 37, 45})), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_combinators
