#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>

#include <cmath>
#include <limits>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_operator_norm)

using namespace xrestore;

namespace {

using vec = tensor<1>;

/// y = d .* x on vectors of length n: singular values |d_i|.
struct diagonal_operator {
    using domain_type = vec;
    using range_type = vec;
    vec d;
    vec apply(const vec& x) const { return d * x; }
    vec adjoint(const vec& y) const { return d * y; }
    std::array<std::size_t, 1> domain_shape() const { return {d.size()}; }
    std::array<std::size_t, 1> range_shape() const { return {d.size()}; }
};

/// y = M x for a dense m x n matrix M (rectangular: domain and range shapes differ).
struct matrix_operator {
    using domain_type = vec;
    using range_type = vec;
    matrix m;
    vec apply(const vec& x) const {
        vec y = xt::zeros<float>({m.shape()[0]});
        for (std::size_t i = 0; i < m.shape()[0]; ++i) {
            for (std::size_t j = 0; j < m.shape()[1]; ++j) {
                y(i) += m(i, j) * x(j);
            }
        }
        return y;
    }
    vec adjoint(const vec& y) const {
        vec x = xt::zeros<float>({m.shape()[1]});
        for (std::size_t i = 0; i < m.shape()[0]; ++i) {
            for (std::size_t j = 0; j < m.shape()[1]; ++j) {
                x(j) += m(i, j) * y(i);
            }
        }
        return x;
    }
    std::array<std::size_t, 1> domain_shape() const { return {m.shape()[1]}; }
    std::array<std::size_t, 1> range_shape() const { return {m.shape()[0]}; }
};

/// A circular shift whose "adjoint" is the same shift instead of the inverse one: a bug the
/// adjoint check must catch.
struct wrong_adjoint_shift {
    using domain_type = vec;
    using range_type = vec;
    std::size_t n;
    vec apply(const vec& x) const {
        vec y(x.shape());
        for (std::size_t i = 0; i < n; ++i) {
            y((i + 1) % n) = x(i);
        }
        return y;
    }
    vec adjoint(const vec& y) const { return apply(y); } // wrong: should shift back
    std::array<std::size_t, 1> domain_shape() const { return {n}; }
    std::array<std::size_t, 1> range_shape() const { return {n}; }
};

/// A x = 0 but A^T y = y: wrong, and the check must see it although A x vanishes.
struct zero_with_wrong_adjoint {
    using domain_type = vec;
    using range_type = vec;
    std::size_t n;
    vec apply(const vec& x) const { return xt::zeros<float>(x.shape()); }
    vec adjoint(const vec& y) const { return y; }
    std::array<std::size_t, 1> domain_shape() const { return {n}; }
    std::array<std::size_t, 1> range_shape() const { return {n}; }
};

/// An operator that returns the wrong range shape.
struct wrong_range_shape {
    using domain_type = vec;
    using range_type = vec;
    vec apply(const vec&) const { return xt::zeros<float>({4}); }
    vec adjoint(const vec&) const { return xt::zeros<float>({5}); }
    std::array<std::size_t, 1> domain_shape() const { return {5}; }
    std::array<std::size_t, 1> range_shape() const { return {5}; }
};

/// Produces NaN.
struct nan_operator {
    using domain_type = vec;
    using range_type = vec;
    vec apply(const vec& x) const { return x * std::numeric_limits<float>::quiet_NaN(); }
    vec adjoint(const vec& y) const { return y * std::numeric_limits<float>::quiet_NaN(); }
    std::array<std::size_t, 1> domain_shape() const { return {3}; }
    std::array<std::size_t, 1> range_shape() const { return {3}; }
};

static_assert(linear_operator<diagonal_operator>);
static_assert(linear_operator<matrix_operator>);

diagonal_operator diagonal(std::vector<float> values) {
    vec d = xt::zeros<float>({values.size()});
    for (std::size_t i = 0; i < values.size(); ++i) {
        d(i) = values[i];
    }
    return {d};
}

} // namespace

BOOST_AUTO_TEST_CASE(adjoint_check_accepts_correct_and_rejects_wrong_adjoints) {
    BOOST_TEST(adjoint_check(diagonal({1.0f, -2.0f, 3.0f, 0.5f}), 1) <= 1e-7);
    matrix m = {{3.0f, 0.0f, 1.0f}, {4.0f, 5.0f, -2.0f}};
    BOOST_TEST(adjoint_check(matrix_operator{m}, 2) <= 1e-6);
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
        BOOST_TEST(adjoint_check(wrong_adjoint_shift{64}, seed) > 1e-2);
        BOOST_TEST(adjoint_check(zero_with_wrong_adjoint{16}, seed) > 1e-2);
    }
    // the zero operator with the zero adjoint is fine
    BOOST_TEST(adjoint_check(diagonal({0.0f, 0.0f}), 3) == 0.0);
    // an empty space has nothing to check
    BOOST_TEST(adjoint_check(diagonal({}), 3) == 0.0);
    // a wrong output shape is reported, not silently compared
    BOOST_CHECK_THROW(adjoint_check(wrong_range_shape{}, 4), shape_error);
    // same seed, same result
    BOOST_TEST(adjoint_check(wrong_adjoint_shift{64}, 9) ==
               adjoint_check(wrong_adjoint_shift{64}, 9));
}

BOOST_AUTO_TEST_CASE(norm_of_diagonal_and_rectangular_operators) {
    BOOST_TEST(
        operator_norm(diagonal({1.0f, -4.0f, 3.0f, 0.5f}), {.max_iter = 500, .tol = 1e-10}) == 4.0,
        boost::test_tools::tolerance(1e-6));
    // [[3, 0], [4, 5]]: A^T A = [[25, 20], [20, 25]], eigenvalues 45 and 5, ||A|| = 3 sqrt(5)
    matrix m = {{3.0f, 0.0f}, {4.0f, 5.0f}};
    BOOST_TEST(operator_norm(matrix_operator{m}) == 3.0 * std::sqrt(5.0),
               boost::test_tools::tolerance(1e-6));
    // a wide matrix (domain 3, range 2): rows orthogonal with norms 2 and 1
    matrix w = {{2.0f, 0.0f, 0.0f}, {0.0f, 0.6f, 0.8f}};
    BOOST_TEST(operator_norm(matrix_operator{w}) == 2.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(norm_of_combinators) {
    BOOST_TEST(operator_norm(scale(3.0, identity({3, 37, 45}))) == 3.0,
               boost::test_tools::tolerance(1e-6));
    BOOST_TEST(operator_norm(identity({1, 5, 4})) == 1.0, boost::test_tools::tolerance(1e-6));
    // [I; I]: ||x||^2 + ||x||^2 = 2 ||x||^2
    BOOST_TEST(operator_norm(stack(identity({1, 5, 4}), identity({1, 5, 4}))) == std::sqrt(2.0),
               boost::test_tools::tolerance(1e-6));
    // A^T A + eta I of diag(1, 2): eigenvalues 1 + eta, 4 + eta
    BOOST_TEST(operator_norm(shifted_normal(diagonal({1.0f, 2.0f}), 0.5),
                             {.max_iter = 500, .tol = 1e-10}) == 4.5,
               boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(power_iteration_converges_monotonically_from_below) {
    // singular values 1, 0.9, 0.5, ... : the ratio 0.81 per step in the eigenvalue
    std::vector<float> values(50);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = 0.5f * static_cast<float>(i) / 50.0f;
    }
    values[7] = 1.0f;
    values[30] = 0.9f;
    const auto A = diagonal(values);
    double previous = 0.0;
    for (int iterations = 1; iterations <= 60; ++iterations) {
        // tol = 0: run exactly `iterations` steps
        const double estimate = operator_norm(A, {.max_iter = iterations, .tol = 0.0, .seed = 3});
        BOOST_TEST(estimate <= 1.0 + 1e-6);      // a lower bound
        BOOST_TEST(estimate >= previous - 1e-6); // that never decreases
        previous = estimate;
    }
    BOOST_TEST(previous == 1.0, boost::test_tools::tolerance(1e-5));
    // the tolerance stops early, and the default options converge
    BOOST_TEST(operator_norm(A) == 1.0, boost::test_tools::tolerance(1e-3));
    // different seeds agree once converged
    BOOST_TEST(operator_norm(A, {.max_iter = 300, .tol = 1e-12, .seed = 1}) ==
                   operator_norm(A, {.max_iter = 300, .tol = 1e-12, .seed = 2}),
               boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(zero_operator_and_bad_options) {
    BOOST_TEST(operator_norm(diagonal({0.0f, 0.0f, 0.0f})) == 0.0);
    BOOST_TEST(operator_norm(diagonal({})) == 0.0);
    BOOST_CHECK_THROW(operator_norm(diagonal({1.0f}), {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(operator_norm(diagonal({1.0f}), {.tol = -1.0}), value_error);
    BOOST_CHECK_THROW(
        operator_norm(diagonal({1.0f}), {.tol = std::numeric_limits<double>::quiet_NaN()}),
        value_error);
    BOOST_CHECK_THROW(operator_norm(nan_operator{}), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_operator_norm
