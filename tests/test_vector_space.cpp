#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>

#include <random>

BOOST_AUTO_TEST_SUITE(test_vector_space)

using namespace xrestore;

BOOST_AUTO_TEST_CASE(operations_match_closed_form) {
    image x = xt::arange<float>(60).reshape({3, 4, 5});
    image y = xt::ones<float>({3, 4, 5});
    // sum_{i<60} i = 1770
    BOOST_TEST(xrestore::dot(x, y) == 1770.0);
    // sum i^2 = 59*60*119/6 = 70210
    BOOST_TEST(xrestore::norm(x) == std::sqrt(70210.0), boost::test_tools::tolerance(1e-12));
    xrestore::axpy(2.0f, x, y); // y = 1 + 2 x
    BOOST_TEST(y(2, 3, 4) == 119.0f);
    xrestore::axpby(1.0f, x, -0.5f, y); // y = x - (1 + 2x)/2 = -0.5
    BOOST_TEST(xt::all(xt::equal(y, -0.5f)));
    xrestore::scal(-4.0f, y);
    BOOST_TEST(xt::all(xt::equal(y, 2.0f)));
    image z;
    xrestore::copy(x, z);
    BOOST_TEST(z == x);
}

BOOST_AUTO_TEST_CASE(dot_accumulates_in_double) {
    // 2^25 ones: a float accumulator stalls at 2^24, a double one is exact.
    tensor<1> x = xt::ones<float>({std::size_t{1} << 25});
    BOOST_TEST(xrestore::dot(x, x) == static_cast<double>(std::size_t{1} << 25));
}

BOOST_AUTO_TEST_CASE(product_vector_forwards_to_parts) {
    using pv = product_vector<image, tensor<4>>;
    pv a{xt::ones<float>({1, 2, 3}), xt::ones<float>({2, 1, 2, 3})};
    pv b = xrestore::zeros<pv>(vector_space<pv>::shape(a));
    xrestore::axpy(3.0f, a, b);
    BOOST_TEST(xrestore::dot(a, b) == 3.0 * 18.0);
}

BOOST_AUTO_TEST_CASE(mismatched_shapes_are_refused) {
    image x = xt::ones<float>({1, 2, 3});
    image y = xt::ones<float>({1, 3, 2});
    BOOST_CHECK_THROW(xrestore::axpy(1.0f, x, y), shape_error);
    BOOST_CHECK_THROW((void)xrestore::dot(x, y), xrestore::error);
}

BOOST_AUTO_TEST_SUITE_END() // test_vector_space
