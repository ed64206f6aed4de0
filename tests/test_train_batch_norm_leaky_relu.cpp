// train/batch_norm_leaky_relu.hpp: the fused layer against train::batch_norm followed by
// train::leaky_relu (forward, backward, parameter gradients, running averages; training and
// eval mode; double and float; batches of 1 to 3), its gradients against central differences
// in double precision, and the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/activations.hpp>
#include <xrestore/train/batch_norm.hpp>
#include <xrestore/train/batch_norm_leaky_relu.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <array>
#include <string>

BOOST_AUTO_TEST_SUITE(test_train_batch_norm_leaky_relu)

using xrestore::train::batch_norm;
using xrestore::train::batch_norm_leaky_relu;
using xrestore::train::batch_norm_options;
using xrestore::train::leaky_relu;
using xrestore::train::tensor4;

namespace {

template <class T>
double max_relative(const xt::xarray<T>& a, const xt::xarray<T>& b) {
    return xrestore::test::relative_max_error(a, b);
}

template <class T>
void check_against_the_pair(std::array<std::size_t, 4> shape, T slope, bool affine, bool eval,
                            double tolerance) {
    xt::random::seed(5);
    const tensor4<T> x = xt::random::randn<T>(shape) * T(1.5) + T(0.3);
    const tensor4<T> dy = xt::random::randn<T>(shape);
    const batch_norm_options o{.eps = 1e-5, .momentum = 0.1, .affine = affine};
    batch_norm_leaky_relu<T> fused("bn", shape[1], slope, o);
    batch_norm<T> norm("bn", shape[1], o);
    leaky_relu<T> act(slope);
    if (affine) { // weights away from 1 and 0, the same in both
        const xt::xarray<T> g = xt::random::randn<T>({shape[1]}) * T(0.5) + T(1);
        const xt::xarray<T> b = xt::random::randn<T>({shape[1]}) * T(0.3);
        fused.weight.value = g;
        norm.weight.value = g;
        fused.bias.value = b;
        norm.bias.value = b;
    }
    if (eval) { // running statistics from one training pass, then fixed
        static_cast<void>(fused.forward(x * T(0.7)));
        static_cast<void>(norm.forward(x * T(0.7)));
        fused.eval();
        norm.eval();
    }
    const tensor4<T> y = fused.forward(x);
    const tensor4<T> reference = act.forward(norm.forward(x));
    BOOST_TEST(xrestore::test::relative_max_error(y, reference) <= tolerance);
    const tensor4<T> dx = fused.backward(dy);
    const tensor4<T> dx_reference = norm.backward(act.backward(dy));
    BOOST_TEST(xrestore::test::relative_max_error(dx, dx_reference) <= tolerance);
    if (affine) {
        BOOST_TEST(max_relative<T>(fused.weight.grad, norm.weight.grad) <= tolerance);
        BOOST_TEST(max_relative<T>(fused.bias.grad, norm.bias.grad) <= tolerance);
    }
    BOOST_TEST(max_relative<T>(fused.running_mean.value, norm.running_mean.value) <= tolerance);
    BOOST_TEST(max_relative<T>(fused.running_var.value, norm.running_var.value) <= tolerance);
    BOOST_TEST(fused.num_batches_tracked.value() == norm.num_batches_tracked.value());
}

} // namespace

BOOST_AUTO_TEST_CASE(matches_batch_norm_then_leaky_relu) {
    for (const auto& shape :
         {std::array<std::size_t, 4>{2, 3, 7, 9}, std::array<std::size_t, 4>{1, 4, 1, 13},
          std::array<std::size_t, 4>{3, 2, 12, 12}, std::array<std::size_t, 4>{1, 2, 2, 1}}) {
        BOOST_TEST_CONTEXT(shape[0] << " x " << shape[1] << " x " << shape[2] << " x "
                                    << shape[3]) {
            for (const bool affine : {true, false}) {
                for (const bool eval : {false, true}) {
                    BOOST_TEST_CONTEXT("affine " << affine << ", eval " << eval) {
                        check_against_the_pair<double>(shape, 0.2, affine, eval, 1e-12);
                        check_against_the_pair<double>(shape, 0.0, affine, eval, 1e-12);
                        check_against_the_pair<float>(shape, 0.2F, affine, eval, 2e-5);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
    xt::random::seed(22);
    const tensor4<double> x = 2.0 * xt::random::randn<double>({2, 3, 7, 9}) + 0.5;
    batch_norm_leaky_relu<double> layer("bn", 3, 0.2);
    layer.weight.value = xt::xarray<double>({1.3, -0.7, 0.9});
    layer.bias.value = xt::xarray<double>({0.2, 0.1, -0.4});
    BOOST_TEST(xrestore::test::check_layer_gradients(layer, x) <= 1e-6);
    layer.eval();
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
    BOOST_CHECK_EXCEPTION(batch_norm_leaky_relu<double>("bn", 0, 0.2), value_error,
                          says("batch_norm: channels must be at least 1, got 0"));
    BOOST_CHECK_EXCEPTION(batch_norm_leaky_relu<double>("bn", 2, -0.5), value_error,
                          says("batch_norm_leaky_relu: slope must be >= 0, got -0.5"));
    batch_norm_leaky_relu<double> layer("bn", 2, 0.2);
    BOOST_CHECK_EXCEPTION(layer.backward(xt::zeros<double>({1, 2, 3, 3})), value_error,
                          says("batch_norm_leaky_relu: backward must follow a forward pass"));
    BOOST_CHECK_EXCEPTION(layer.forward(xt::zeros<double>({1, 3, 3, 3})), shape_error,
                          says("batch_norm_leaky_relu: input channels (dimension 1 of N x C x "
                               "H x W) must be 2, got 3"));
    BOOST_CHECK_EXCEPTION(layer.forward(xt::zeros<double>({1, 2, 1, 1})), shape_error,
                          says("batch_norm_leaky_relu: values per channel in training mode (N H "
                               "W) must be more than 1, got 1"));
    static_cast<void>(layer.forward(xt::ones<double>({1, 2, 3, 3})));
    BOOST_CHECK_EXCEPTION(layer.backward(xt::zeros<double>({1, 2, 3, 4})), shape_error,
                          says("batch_norm_leaky_relu: the output gradient must have shape 1 x "
                               "2 x 3 x 3 (the forward output's), got 1 x 2 x 3 x 4"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_batch_norm_leaky_relu
