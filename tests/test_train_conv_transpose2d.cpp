// train/conv_transpose2d.hpp: gradients with and without bias against central differences in
// double precision, the forward and gradients against PyTorch
// (tests/data/train/conv_layers.json), and the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/conv_transpose2d.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_conv_transpose2d)

using xrestore::train::conv_transpose2d;
using xrestore::train::tensor4;

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
    for (bool b : {true, false}) {
        BOOST_TEST_CONTEXT("bias " << b) {
            conv_transpose2d<double> up("up", 3, 4, {.bias = b, .seed = 3});
            xt::random::seed(5);
            const tensor4<double> x = xt::random::randn<double>({2, 3, 7, 9});
            BOOST_TEST(xrestore::test::check_layer_gradients(up, x) <= 1e-6);
        }
    }
}

BOOST_AUTO_TEST_CASE(parameters_carry_state_dict_names_and_shapes) {
    conv_transpose2d<float> up("up_transpose_conv.0.layers.0", 16, 8, {.bias = false});
    BOOST_REQUIRE_EQUAL(up.parameters().size(), 1U);
    BOOST_TEST(up.weight.name == "up_transpose_conv.0.layers.0.weight");
    BOOST_TEST(up.weight.value.shape() == (std::vector<std::size_t>{16, 8, 2, 2}),
               boost::test_tools::per_element());
    const tensor4<float> y = up.forward(xt::ones<float>({1, 16, 3, 5}));
    BOOST_TEST(y.shape() == (std::vector<std::size_t>{1, 8, 6, 10}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(forward_and_gradients_match_pytorch) {
    const nlohmann::json cases = xrestore::test::train_golden("conv_layers.json").at("cases");
    for (const char* name : {"conv_transpose2d_bias", "conv_transpose2d_nobias"}) {
        BOOST_TEST_CONTEXT(name) {
            const nlohmann::json& c = cases.at(name);
            const bool bias = c.at("bias_on").get<bool>();
            conv_transpose2d<double> up("up", 3, 2, {.bias = bias});
            up.weight.value = xrestore::test::golden_array<double>(c.at("weight"));
            if (bias) {
                up.bias.value = xrestore::test::golden_array<double>(c.at("bias"));
            }
            const tensor4<double> y = up.forward(xrestore::test::golden_tensor4<double>(c.at("x")));
            BOOST_TEST(xrestore::test::relative_max_error(
                           y, xrestore::test::golden_tensor4<double>(c.at("y"))) <= 1e-13);
            if (c.contains("dy")) {
                const tensor4<double> dx =
                    up.backward(xrestore::test::golden_tensor4<double>(c.at("dy")));
                BOOST_TEST(xrestore::test::relative_max_error(
                               dx, xrestore::test::golden_tensor4<double>(c.at("dx"))) <= 1e-13);
                BOOST_TEST(xrestore::test::relative_max_error(
                               up.weight.grad,
                               xrestore::test::golden_array<double>(c.at("dweight"))) <= 1e-13);
                BOOST_TEST(xrestore::test::relative_max_error(
                               up.bias.grad, xrestore::test::golden_array<double>(c.at("dbias"))) <=
                           1e-13);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(misuse_is_refused_with_clear_errors) {
    conv_transpose2d<double> up("up", 3, 2);
    BOOST_CHECK_EXCEPTION(up.backward(xt::zeros<double>({1, 2, 4, 4})), xrestore::value_error,
                          [](const xrestore::error& e) {
                              return std::string(e.what()) ==
                                     "conv_transpose2d: backward must follow a forward pass";
                          });
    BOOST_CHECK_EXCEPTION(up.forward(xt::zeros<double>({1, 4, 2, 2})), xrestore::shape_error,
                          [](const xrestore::error& e) {
                              return std::string(e.what()) ==
                                     "conv_transpose2d: input channels (dimension 1 of N x C x H "
                                     "x W) must be 3, got 4";
                          });
    static_cast<void>(up.forward(xt::zeros<double>({1, 3, 2, 3})));
    BOOST_CHECK_EXCEPTION(up.backward(xt::zeros<double>({1, 2, 4, 4})), xrestore::shape_error,
                          [](const xrestore::error& e) {
                              return std::string(e.what()) ==
                                     "conv_transpose2d: the output gradient must have shape 1 x 2 "
                                     "x 4 x 6 (the forward output's), got 1 x 2 x 4 x 4";
                          });
}

BOOST_AUTO_TEST_SUITE_END() // test_train_conv_transpose2d
