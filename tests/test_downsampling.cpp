#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_downsampling)

using namespace xrestore;

static_assert(linear_operator<decimation>);
static_assert(linear_operator<downsampling>);

namespace {

/// x(c, i, j) = 10000 c + 100 i + j: every pixel names its position.
image ramp(shape3 shape) {
    image x(shape);
    for (std::size_t c = 0; c < shape[0]; ++c) {
        for (std::size_t i = 0; i < shape[1]; ++i) {
            for (std::size_t j = 0; j < shape[2]; ++j) {
                x(c, i, j) = static_cast<float>(10000 * c + 100 * i + j);
            }
        }
    }
    return x;
}

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

} // namespace

BOOST_AUTO_TEST_CASE(picks_every_fth_pixel_from_the_top_left) {
    const shape3 shape{2, 11, 14}; // not divisible by 3
    const downsampling S(shape, 3);
    BOOST_TEST((S.range_shape() == shape3{2, 3, 4})); // floor(11/3), floor(14/3)
    BOOST_TEST((S.domain_shape() == shape));
    BOOST_TEST(S.blur() == nullptr);
    const image y = S.apply(ramp(shape));
    BOOST_TEST((shape_of<3>(y) == shape3{2, 3, 4}));
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < 3; ++i) {
            for (std::size_t j = 0; j < 4; ++j) {
                BOOST_TEST(y(c, i, j) == static_cast<float>(10000 * c + 100 * 3 * i + 3 * j));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(adjoint_places_samples_back_with_zeros_elsewhere) {
    const shape3 shape{2, 11, 14};
    const downsampling S(shape, 3);
    image y = ramp({2, 3, 4}) + 1.0f; // all nonzero
    const image up = S.adjoint(y);
    BOOST_TEST((shape_of<3>(up) == shape));
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t r = 0; r < 11; ++r) {
            for (std::size_t s = 0; s < 14; ++s) {
                const bool sampled = r % 3 == 0 && s % 3 == 0 && r / 3 < 3 && s / 3 < 4;
                BOOST_TEST(up(c, r, s) == (sampled ? y(c, r / 3, s / 3) : 0.0f),
                           c << ", " << r << ", " << s);
            }
        }
    }
    // row 9 and column 12 are multiples of 3 but beyond floor(H/f), floor(W/f) samples: still 0
    BOOST_TEST(up(0, 9, 0) == 0.0f);
    BOOST_TEST(up(0, 0, 12) == 0.0f);
    // S S^T = I
    BOOST_TEST(S.apply(up) == y);
}

BOOST_AUTO_TEST_CASE(factor_one_is_identity_and_factor_equal_to_size) {
    const shape3 shape{1, 5, 7};
    const image x = ramp(shape);
    BOOST_TEST(downsampling(shape, 1).apply(x) == x);
    const downsampling S(shape, 5);
    BOOST_TEST((S.range_shape() == shape3{1, 1, 1}));
    BOOST_TEST(S.apply(x)(0, 0, 0) == 0.0f);
    BOOST_TEST(adjoint_check(S, 1) <= 1e-5);
}

BOOST_AUTO_TEST_CASE(adjoint_identity_on_odd_shapes) {
    for (const shape3 shape :
         {shape3{3, 37, 45}, shape3{1, 21, 16}, shape3{2, 9, 40}, shape3{3, 151, 103}}) {
        for (std::size_t f : {1u, 2u, 3u, 4u, 7u}) {
            BOOST_TEST_CONTEXT(shape_string(shape) << ", factor " << f) {
                BOOST_TEST(adjoint_check(downsampling(shape, f), 3) <= 1e-5);
                BOOST_TEST(adjoint_check(downsampling(shape, f, {.antialias = true}), 4) <= 1e-5);
                BOOST_TEST(adjoint_check(
                               downsampling(shape, f, {.antialias = true, .antialias_sigma = 1.3}),
                               5) <= 1e-5);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(in_place_forms_match_including_aliasing) {
    const shape3 shape{3, 37, 45};
    for (bool antialias : {false, true}) {
        const downsampling S(shape, 4, {.antialias = antialias});
        const image x = random_image(shape, 2);
        const image y = S.apply(x);
        image out = xt::zeros<float>({1, 1, 1});
        S.apply_into(x, out);
        BOOST_TEST(out == y);
        image alias = x;
        S.apply_into(alias, alias);
        BOOST_TEST(alias == y);
        const image back = S.adjoint(y);
        image alias2 = y;
        S.adjoint_into(alias2, alias2);
        BOOST_TEST(alias2 == back);
    }
}

BOOST_AUTO_TEST_CASE(antialias_is_decimation_of_a_reflect_gaussian_blur) {
    const shape3 shape{2, 37, 45};
    const std::size_t f = 3;
    const downsampling S(shape, f, {.antialias = true});
    // default sigma (f - 1) / 2 = 1, kernel 2 * floor(4 + 0.5) + 1 = 9 wide
    BOOST_TEST(S.antialias_sigma() == 1.0);
    BOOST_TEST_REQUIRE(S.blur() != nullptr);
    BOOST_TEST((shape_of<2>(S.blur()->kernel()) == std::array<std::size_t, 2>{9, 9}));
    BOOST_TEST((S.blur()->options().boundary == boundary::reflect));

    const convolution K(gaussian_kernel(1.0, 9), shape, {.boundary = boundary::reflect});
    const decimation D(shape, f);
    const image x = random_image(shape, 6);
    BOOST_TEST(S.apply(x) == D.apply(K.apply(x)));
    const image y = random_image(S.range_shape(), 7);
    BOOST_TEST(S.adjoint(y) == K.adjoint(D.adjoint(y)));

    // a constant image stays constant (the Gaussian sums to 1, reflect keeps edges)
    const image c = xt::ones<float>(shape) * 0.3f;
    BOOST_TEST(xt::amax(xt::abs(S.apply(c) - 0.3f))() <= 1e-6f);

    // the blur attenuates the checkerboard (the highest frequency) that plain decimation aliases
    // to a constant
    image checker(shape);
    for (std::size_t ch = 0; ch < 2; ++ch) {
        for (std::size_t i = 0; i < 37; ++i) {
            for (std::size_t j = 0; j < 45; ++j) {
                checker(ch, i, j) = (i + j) % 2 == 0 ? 1.0f : -1.0f;
            }
        }
    }
    const downsampling plain(shape, 2);
    const downsampling smooth(shape, 2, {.antialias = true, .antialias_sigma = 1.0});
    BOOST_TEST(xt::all(xt::equal(plain.apply(checker), 1.0f)));
    BOOST_TEST(xt::amax(xt::abs(smooth.apply(checker)))() < 0.05f);

    // factor 1 with the default sigma: no blur at all
    const downsampling one(shape, 1, {.antialias = true});
    BOOST_TEST(one.blur() == nullptr);
    BOOST_TEST(one.apply(x) == x);
}

BOOST_AUTO_TEST_CASE(operator_norm_is_one_without_blur) {
    BOOST_TEST(operator_norm(downsampling({3, 37, 45}, 4)) == 1.0,
               boost::test_tools::tolerance(1e-6));
    // with a normalised blur the norm is at most 1
    BOOST_TEST(operator_norm(downsampling({3, 37, 45}, 4, {.antialias = true})) <= 1.0 + 1e-5);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    BOOST_CHECK_THROW(downsampling({1, 8, 8}, 0), value_error);
    BOOST_CHECK_THROW(downsampling({1, 8, 5}, 6), value_error);
    BOOST_CHECK_THROW(downsampling({1, 3, 8}, 4), value_error);
    BOOST_CHECK_THROW(downsampling({0, 8, 8}, 2), value_error);
    try {
        downsampling({1, 8, 5}, 6);
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "downsampling: factor must be at most 5 (the image is 1 x 8 x 5), got 6");
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(downsampling({1, 8, 8}, 2, {.antialias = true, .antialias_sigma = -1.0}),
                      value_error);
    BOOST_CHECK_THROW(downsampling({1, 8, 8}, 2, {.antialias = true, .antialias_sigma = nan}),
                      value_error);
    BOOST_CHECK_THROW(downsampling({1, 8, 8}, 2, {.antialias = true, .antialias_sigma = 1e300}),
                      value_error);
    const downsampling S({3, 10, 12}, 2);
    BOOST_CHECK_THROW(S.apply(xt::zeros<float>({3, 12, 10})), shape_error);
    BOOST_CHECK_THROW(S.adjoint(xt::zeros<float>({3, 5, 7})), shape_error);
    BOOST_CHECK_THROW(S.adjoint(xt::zeros<float>({3, 10, 12})), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_downsampling
