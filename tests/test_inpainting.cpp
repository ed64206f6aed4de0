#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <string>

BOOST_AUTO_TEST_SUITE(test_inpainting)

using namespace xrestore;

static_assert(linear_operator<inpainting>);
static_assert(square_operator<inpainting>);

namespace {
double missing_of(const image& m) {
    std::size_t zeros = 0;
    for (float v : m) {
        zeros += v == 0.0f ? 1 : 0;
    }
    return static_cast<double>(zeros) / static_cast<double>(m.size());
}
} // namespace

BOOST_AUTO_TEST_CASE(mask_is_binary_with_expected_missing_fraction) {
    const shape3 shape{3, 120, 97};
    for (double keep : {0.1, 0.2, 0.5, 0.9}) {
        const image m = random_mask(shape, keep, 7);
        BOOST_TEST(xt::all(xt::equal(m, 0.0f) || xt::equal(m, 1.0f)));
        // missing count ~ Binomial(n, 1 - keep): allow 5 standard deviations
        const double n = static_cast<double>(m.size());
        const double sd = std::sqrt(keep * (1.0 - keep) / n);
        BOOST_TEST(std::abs(missing_of(m) - (1.0 - keep)) < 5.0 * sd);
        const inpainting A(m);
        BOOST_TEST(A.missing_fraction() == missing_of(m), boost::test_tools::tolerance(1e-12));
    }
}

BOOST_AUTO_TEST_CASE(keep_probability_extremes) {
    BOOST_TEST(xt::all(xt::equal(random_mask({2, 5, 6}, 1.0, 3), 1.0f)));
    BOOST_TEST(xt::all(xt::equal(random_mask({2, 5, 6}, 0.0, 3), 0.0f)));
    BOOST_TEST(inpainting(random_mask({2, 5, 6}, 0.0, 3)).missing_fraction() == 1.0);
    BOOST_TEST(inpainting(random_mask({2, 5, 6}, 1.0, 3)).missing_fraction() == 0.0);
}

BOOST_AUTO_TEST_CASE(per_channel_masks_differ_shared_ones_do_not) {
    const shape3 shape{3, 40, 50};
    const image per = random_mask(shape, 0.5, 11, mask_sharing::per_channel);
    const image shared = random_mask(shape, 0.5, 11, mask_sharing::shared);
    for (std::size_t c = 1; c < 3; ++c) {
        const auto p0 = xt::view(per, 0, xt::all(), xt::all());
        const auto pc = xt::view(per, c, xt::all(), xt::all());
        BOOST_TEST(xt::any(xt::not_equal(p0, pc)));
        const auto s0 = xt::view(shared, 0, xt::all(), xt::all());
        const auto sc = xt::view(shared, c, xt::all(), xt::all());
        BOOST_TEST(xt::all(xt::equal(s0, sc)));
    }
    // the shared mask's missing fraction is also about 1/2
    BOOST_TEST(std::abs(missing_of(shared) - 0.5) < 5.0 * std::sqrt(0.25 / 2000.0));
}

BOOST_AUTO_TEST_CASE(same_seed_same_mask_different_seed_different_mask) {
    const shape3 shape{2, 33, 17};
    BOOST_TEST(random_mask(shape, 0.3, 5) == random_mask(shape, 0.3, 5));
    BOOST_TEST(random_mask(shape, 0.3, 5, mask_sharing::shared) ==
               random_mask(shape, 0.3, 5, mask_sharing::shared));
    BOOST_TEST(!(random_mask(shape, 0.3, 5) == random_mask(shape, 0.3, 6)));
    BOOST_TEST(!(random_mask(shape, 0.3, 5, mask_sharing::shared) ==
                 random_mask(shape, 0.3, 6, mask_sharing::shared)));
}

BOOST_AUTO_TEST_CASE(apply_multiplies_by_mask_and_normal_equals_apply) {
    const shape3 shape{3, 37, 45};
    const inpainting A(random_mask(shape, 0.4, 1));
    const image x =
        xt::arange<float>(static_cast<float>(element_count(shape))).reshape(shape) / 100.0f;
    const image y = A.apply(x);
    const image expected = A.mask() * x;
    BOOST_TEST(y == expected);
    BOOST_TEST(A.adjoint(x) == expected);
    BOOST_TEST(A.normal(x) == y);
    BOOST_TEST(xrestore::apply_normal(A, x) == y);
    // in place, including out == x
    image out = xt::zeros<float>({1, 1, 1});
    A.apply_into(x, out);
    BOOST_TEST(out == expected);
    image inplace = x;
    A.apply_into(inplace, inplace);
    BOOST_TEST(inplace == expected);
    BOOST_TEST((A.domain_shape() == shape));
    BOOST_TEST((A.range_shape() == shape));
}

BOOST_AUTO_TEST_CASE(adjoint_identity_on_odd_shapes) {
    for (const shape3 shape :
         {shape3{3, 37, 45}, shape3{1, 21, 16}, shape3{2, 1, 9}, shape3{3, 151, 103}}) {
        for (auto sharing : {mask_sharing::per_channel, mask_sharing::shared}) {
            const inpainting A(random_mask(shape, 0.3, 9, sharing));
            BOOST_TEST(adjoint_check(A, 1) <= 1e-5);
            BOOST_TEST(adjoint_check(A, 2) <= 1e-5);
        }
    }
}

BOOST_AUTO_TEST_CASE(operator_norm_is_one) {
    const inpainting A(random_mask({3, 37, 45}, 0.2, 4));
    BOOST_TEST(operator_norm(A) == 1.0, boost::test_tools::tolerance(1e-6));
    // an all-zero mask is the zero operator
    const inpainting Z(random_mask({1, 8, 8}, 0.0, 4));
    BOOST_TEST(operator_norm(Z) == 0.0);
}

BOOST_AUTO_TEST_CASE(mask_from_image_thresholds_and_broadcasts) {
    image gray = xt::zeros<float>({1, 2, 3});
    gray(0, 0, 0) = 0.9f;
    gray(0, 1, 2) = 0.51f;
    gray(0, 1, 1) = 0.5f; // not > 0.5
    const image m = mask_from_image(gray, {3, 2, 3});
    BOOST_TEST((shape_of<3>(m) == shape3{3, 2, 3}));
    for (std::size_t c = 0; c < 3; ++c) {
        BOOST_TEST(m(c, 0, 0) == 1.0f);
        BOOST_TEST(m(c, 1, 2) == 1.0f);
        BOOST_TEST(m(c, 1, 1) == 0.0f);
        BOOST_TEST(m(c, 0, 1) == 0.0f);
    }
    image color = xt::zeros<float>({2, 2, 3});
    color(1, 0, 2) = 1.0f;
    const image mc = mask_from_image(color, {2, 2, 3}, 0.0);
    BOOST_TEST(mc(1, 0, 2) == 1.0f);
    BOOST_TEST(mc(0, 0, 2) == 0.0f);
    BOOST_TEST(xt::sum(mc)() == 1.0f);
    // a threshold below zero keeps everything
    BOOST_TEST(xt::all(xt::equal(mask_from_image(color, {2, 2, 3}, -1.0), 1.0f)));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(random_mask({1, 4, 4}, -0.1, 0), value_error);
    BOOST_CHECK_THROW(random_mask({1, 4, 4}, 1.5, 0), value_error);
    BOOST_CHECK_THROW(random_mask({1, 4, 4}, nan, 0), value_error);
    BOOST_CHECK_THROW(random_mask({0, 4, 4}, 0.5, 0), value_error);
    BOOST_CHECK_THROW(random_mask({1, 4, 0}, 0.5, 0), value_error);

    image half = xt::ones<float>({1, 3, 3});
    half(0, 1, 1) = 0.5f;
    BOOST_CHECK_THROW(inpainting{half}, value_error);
    image with_nan = xt::ones<float>({1, 3, 3});
    with_nan(0, 2, 2) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(inpainting{with_nan}, value_error);
    BOOST_CHECK_THROW(inpainting{image(shape3{0, 3, 3})}, value_error);
    try {
        inpainting{half};
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("inpainting: mask must contain only 0 and 1") !=
                   std::string::npos);
    }

    const inpainting A(random_mask({3, 5, 7}, 0.5, 0));
    BOOST_CHECK_THROW(A.apply(xt::zeros<float>({3, 7, 5})), shape_error);
    BOOST_CHECK_THROW(A.adjoint(xt::zeros<float>({1, 5, 7})), shape_error);
    BOOST_CHECK_THROW(A.normal(xt::zeros<float>({3, 5, 8})), shape_error);

    BOOST_CHECK_THROW(mask_from_image(xt::zeros<float>({2, 5, 7}), {3, 5, 7}), shape_error);
    BOOST_CHECK_THROW(mask_from_image(xt::zeros<float>({1, 5, 6}), {3, 5, 7}), shape_error);
    BOOST_CHECK_THROW(mask_from_image(with_nan, {1, 3, 3}), value_error);
    BOOST_CHECK_THROW(mask_from_image(half, {1, 3, 3}, nan), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_inpainting
