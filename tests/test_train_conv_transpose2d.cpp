// train/conv_transpose2d.hpp: gradients with and without bias against central differences in
// double precision, the forward and gradients against PyTorch
// (tests/data/train/conv_layers.json), and the errors.
#define BOOST_TEST_MODULE train_conv_transpose2d
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/conv_transpose2d.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

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
