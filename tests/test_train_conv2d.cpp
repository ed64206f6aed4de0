// train/conv2d.hpp: gradients of every variant (kernel 1, 3, 5; stride 1 and 2; zero and reflect
// padding; with and without bias) against central differences in double precision, the forward
// and one case's gradients against PyTorch (tests/data/train/conv_layers.json, made by
// tools/dev/make_train_layer_golden.py), the float forward against the U-Net's conv3x3, and
// the errors.
#define BOOST_TEST_MODULE train_conv2d
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/io/state_dict.hpp>
#include <xrestore/nn/feature_map.hpp>
#include <xrestore/nn/layers.hpp>
#include <xrestore/train/conv2d.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

using xrestore::train::conv2d;
using xrestore::train::conv2d_options;
using xrestore::train::padding_mode;
using xrestore::train::tensor4;

namespace {

tensor4<double> random_input(std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                             unsigned seed = 11) {
    xt::random::seed(seed);
    return xt::random::randn<double>({n, c, h, w});
}

} // namespace

BOOST_AUTO_TEST_CASE(gradients_of_every_variant_match_central_differences) {
    for (std::size_t k : {1U, 3U, 5U}) {
        for (std::size_t s : {1U, 2U}) {
            for (padding_mode m : {padding_mode::zeros, padding_mode::reflect}) {
                for (bool b : {true, false}) {
                    BOOST_TEST_CONTEXT("k " << k << " stride " << s << " reflect "
                                            << (m == padding_mode::reflect) << " bias " << b) {
                        conv2d<double> conv("c", 3, 4, conv2d_options{k, s, m, b, 5 + k + s});
                        BOOST_TEST(xrestore::test::check_layer_gradients(
                                       conv, random_input(2, 3, 7, 9)) <= 1e-6);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(parameters_carry_state_dict_names_and_shapes) {
    conv2d<float> conv("down_sample_layers.0.layers.0", 3, 8, {.kernel_size = 3, .bias = false});
    const auto params = conv.parameters();
    BOOST_REQUIRE_EQUAL(params.size(), 1U);
    BOOST_TEST(params[0]->name == "down_sample_layers.0.layers.0.weight");
    BOOST_TEST(params[0]->value.shape() == (std::vector<std::size_t>{8, 3, 3, 3}),
               boost::test_tools::per_element());
    conv2d<float> head("conv2", 8, 1, {.kernel_size = 1});
    BOOST_REQUIRE_EQUAL(head.parameters().size(), 2U);
    BOOST_TEST(head.parameters()[1]->name == "conv2.bias");
    // PyTorch's bound 1 / sqrt(fan_in) = 1 / sqrt(8)
    BOOST_TEST(xt::amax(xt::abs(head.weight.value))() <= 1.0 / std::sqrt(8.0));
    BOOST_TEST(xt::amax(xt::abs(head.weight.value))() > 0.0);
}

BOOST_AUTO_TEST_CASE(output_size_follows_pytorch) {
    // floor((H + 2p - k) / s) + 1
    conv2d<double> conv("c", 2, 3, {.kernel_size = 5, .stride = 2});
    const tensor4<double> y = conv.forward(random_input(1, 2, 7, 10));
    BOOST_TEST(y.shape() == (std::vector<std::size_t>{1, 3, 4, 5}),
               boost::test_tools::per_element());
}
