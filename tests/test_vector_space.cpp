#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>

#include <algorithm>
#include <random>
#include <vector>

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

namespace {

/// A vector type of its own (a std::vector<float> inside), whose space has no cg_step: the free
/// cg_step falls back to two axpys and a dot.
struct plain_vector {
    std::vector<float> v;
};

} // namespace

} // namespace test_vector_space

template <>
struct xrestore::vector_space<test_vector_space::plain_vector> {
    using V = test_vector_space::plain_vector;
    using backend = cpu_tag;
    using shape_type = std::size_t;
    static V zeros(shape_type n) { return {std::vector<float>(n, 0.0F)}; }
    static shape_type shape(const V& x) { return x.v.size(); }
    static void copy(const V& x, V& y) { y = x; }
    static void axpy(float a, const V& x, V& y) {
        for (std::size_t i = 0; i < x.v.size(); ++i) {
            y.v[i] += a * x.v[i];
        }
    }
    static void axpby(float a, const V& x, float b, V& y) {
        for (std::size_t i = 0; i < x.v.size(); ++i) {
            y.v[i] = a * x.v[i] + b * y.v[i];
        }
    }
    static void scal(float a, V& x) {
        for (float& e : x.v) {
            e *= a;
        }
    }
    static void fill(float value, V& x) { std::fill(x.v.begin(), x.v.end(), value); }
    static double dot(const V& x, const V& y) {
        double total = 0.0;
        for (std::size_t i = 0; i < x.v.size(); ++i) {
            total += static_cast<double>(x.v[i]) * static_cast<double>(y.v[i]);
        }
        return total;
    }
};

namespace test_vector_space {

BOOST_AUTO_TEST_CASE(cg_step_is_two_axpys_and_a_dot_in_one_pass) {
    // Dense arrays (one fused pass), product vectors (per part) and a vector type without
    // cg_step (the fallback) give bit for bit what the three separate operations give.
    std::mt19937_64 rng(3);
    const auto d = vector_space<image>::random({3, 40, 50}, rng);
    const auto z = vector_space<image>::random({3, 40, 50}, rng);
    image x = vector_space<image>::random({3, 40, 50}, rng);
    image r = vector_space<image>::random({3, 40, 50}, rng);
    image x2 = x;
    image r2 = r;
    const float a = 0.37F;
    const double rr = xrestore::cg_step(a, d, z, x, r);
    xrestore::axpy(a, d, x2);
    xrestore::axpy(-a, z, r2);
    BOOST_TEST(rr == xrestore::dot(r2, r2));
    BOOST_TEST(x == x2);
    BOOST_TEST(r == r2);

    using pv = product_vector<image, tensor<4>>;
    const tensor<4> e = vector_space<tensor<4>>::random({2, 1, 3, 4}, rng);
    pv px{x, e};
    pv pr{r, e};
    const pv pd{d, e};
    const pv pz{z, xt::zeros<float>({2, 1, 3, 4})};
    const double prr = xrestore::cg_step(a, pd, pz, px, pr);
    BOOST_TEST(prr == xrestore::dot(pr, pr));
    BOOST_TEST(px.second(1, 0, 2, 3) == e(1, 0, 2, 3) + a * e(1, 0, 2, 3));

    plain_vector px3{{1.0F, 2.0F}};
    plain_vector pr3{{3.0F, 4.0F}};
    const double rr3 =
        xrestore::cg_step(0.5F, plain_vector{{2.0F, 2.0F}}, plain_vector{{2.0F, 4.0F}}, px3, pr3);
    BOOST_TEST(px3.v == (std::vector<float>{2.0F, 3.0F}));
    BOOST_TEST(pr3.v == (std::vector<float>{2.0F, 2.0F}));
    BOOST_TEST(rr3 == 8.0);
    image wrong = xt::ones<float>({1, 2, 3});
    BOOST_CHECK_THROW(xrestore::cg_step(a, d, z, x, wrong), shape_error);
}

BOOST_AUTO_TEST_CASE(combine_is_a_copy_and_axpy_in_one_pass) {
    std::mt19937_64 rng(4);
    const auto x = vector_space<image>::random({2, 30, 20}, rng);
    const auto y = vector_space<image>::random({2, 30, 20}, rng);
    image out;
    xrestore::combine(1.0F, x, -1.0F, y, out); // resized
    image expected = x;
    xrestore::axpy(-1.0F, y, expected);
    BOOST_TEST(out == expected);
    xrestore::combine(0.5F, x, 2.0F, y, out);
    BOOST_TEST(out(1, 29, 19) == 0.5F * x(1, 29, 19) + 2.0F * y(1, 29, 19));
    image wrong = xt::ones<float>({1, 2, 3});
    BOOST_CHECK_THROW(xrestore::combine(1.0F, x, 1.0F, wrong, out), shape_error);

    using pv = product_vector<image, tensor<4>>;
    const pv px{x, xt::ones<float>({1, 1, 2, 2})};
    const pv py{y, xt::ones<float>({1, 1, 2, 2})};
    pv pout = xrestore::zeros_like(px);
    xrestore::combine(1.0F, px, 3.0F, py, pout);
    BOOST_TEST(pout.second(0, 0, 1, 1) == 4.0F);

    plain_vector p3;
    xrestore::combine(2.0F, plain_vector{{1.0F, 2.0F}}, -1.0F, plain_vector{{4.0F, 1.0F}}, p3);
    BOOST_TEST(p3.v == (std::vector<float>{-2.0F, 3.0F}));
}

BOOST_AUTO_TEST_CASE(mismatched_shapes_are_refused) {
    image x = xt::ones<float>({1, 2, 3});
    image y = xt::ones<float>({1, 3, 2});
    BOOST_CHECK_THROW(xrestore::axpy(1.0f, x, y), shape_error);
    BOOST_CHECK_THROW((void)xrestore::dot(x, y), xrestore::error);
}

BOOST_AUTO_TEST_SUITE_END() // test_vector_space
