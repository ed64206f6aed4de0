// train/instance_norm_leaky_relu.hpp: the fused layer against train::instance_norm followed by
// train::leaky_relu (forward and backward, double and float, odd sizes and 1-pixel planes), its
// gradients against central differences in double precision, and the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/activations.hpp>
#include <xrestore/train/instance_norm.hpp>
#include <xrestore/train/instance_norm_leaky_relu.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <array>
#include <string>

BOOST_AUTO_TEST_SUITE(test_train_instance_norm_leaky_relu)

using xrestore::train::instance_norm;
using xrestore::train::instance_norm_leaky_relu;
using xrestore::train::leaky_relu;
using xrestore::train::tensor4;

namespace {

template <class T>
void check_against_the_pair(std::array<std::size_t, 4> shape, T slope, double tolerance) {
    xt::random::seed(3);
    const tensor4<T> x = xt::random::randn<T>(shape) * T(1.5) + T(0.3);
    const tensor4<T> dy = xt::random::randn<T>(shape);
    instance_norm_leaky_relu<T> fused(shape[1], slope);
    instance_norm<T> norm("", shape[1]);
    leaky_relu<T> act(slope);
    const tensor4<T> y = fused.forward(x);
    const tensor4<T> reference = act.forward(norm.forward(x));
    BOOST_TEST(xrestore::test::relative_max_error(y, reference) <= tolerance);
    const tensor4<T> dx = fused.backward(dy);
    const tensor4<T> dx_reference = norm.backward(act.backward(dy));
    BOOST_TEST(xrestore::test::relative_max_error(dx, dx_reference) <= tolerance);
}

} // namespace

BOOST_AUTO_TEST_CASE(matches_instance_norm_then_leaky_relu) {
    for (const auto& shape :
         {std::array<std::size_t, 4>{2, 3, 7, 9}, std::array<std::size_t, 4>{1, 4, 1, 13},
          std::array<std::size_t, 4>{3, 2, 12, 12}}) {
        BOOST_TEST_CONTEXT(shape[0] << " x " << shape[1] << " x " << shape[2] << " x "
                                    << shape[3]) {
            check_against_the_pair<double>(shape, 0.2, 1e-12);
            check_against_the_pair<double>(shape, 0.0, 1e-12);
            check_against_the_pair<float>(shape, 0.2F, 2e-5);
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
    xt::random::seed(21);
    const tensor4<double> x = 2.0 * xt::random::randn<double>({2, 3, 7, 9}) + 0.5;
    instance_norm_leaky_relu<double> layer(3, 0.2);
    BOOST_TEST(xrestore::test::check_layer_gradients(layer, x) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(misuse_is_refused_with_clear_errors) {
    using xrestore::shape_error;
    using xrestore::value_error;
    const auto says = [](const std::string& expected) {
        return [expected](const xrestore::error& e) {
            BOOST_TEST_MESSAGE(e.what());
            return std::string(e.what()) == expected;
        };
    };
    BOOST_CHECK_EXCEPTION(instance_norm_leaky_relu<double>(0, 0.2), value_error,
                          says("instance_norm_leaky_relu: channels must be at least 1, got 0"));
    BOOST_CHECK_EXCEPTION(instance_norm_leaky_relu<double>(2, -0.5), value_error,
                          says("instance_norm_leaky_relu: slope must be >= 0, got -0.5"));
    BOOST_CHECK_EXCEPTION(instance_norm_leaky_relu<double>(2, 0.2, 0.0), value_error,
                          says("instance_norm_leaky_relu: eps must be positive, got 0"));
    instance_norm_leaky_relu<double> layer(2, 0.2);
    BOOST_CHECK_EXCEPTION(layer.backward(xt::zeros<double>({1, 2, 3, 3})), value_error,
                          says("instance_norm_leaky_relu: backward must follow a forward pass"));
    BOOST_CHECK_EXCEPTION(layer.forward(xt::zeros<double>({1, 3, 3, 3})), shape_error,
                          says("instance_norm_leaky_relu: input channels (dimension 1 of N x C x "
                               "H x W) must be 2, got 3"));
    static_cast<void>(layer.forward(xt::ones<double>({1, 2, 3, 3})));
    BOOST_CHECK_EXCEPTION(layer.backward(xt::zeros<double>({1, 2, 3, 4})), shape_error,
                          says("instance_norm_leaky_relu: the output gradient must have shape 1 x "
                               "2 x 3 x 3 (the forward output's), got 1 x 2 x 3 x 4"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_instance_norm_leaky_relu
