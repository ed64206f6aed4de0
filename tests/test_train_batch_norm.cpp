// train/batch_norm.hpp: gradients in training mode (batch statistics) and eval mode (running
// statistics), with and without affine, against central differences in double precision;
// running averages, buffers and forward values against PyTorch
// (tests/data/train/norm_layers.json); the errors.
#define BOOST_TEST_MODULE train_batch_norm
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/batch_norm.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

using xrestore::train::batch_norm;
using xrestore::train::tensor4;

namespace {

tensor4<double> random_input() {
    xt::random::seed(19);
    return 1.5 * xt::random::randn<double>({2, 3, 7, 9}) - 0.25;
}

} // namespace

BOOST_AUTO_TEST_CASE(gradients_match_central_differences_in_both_modes) {
    for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
            BOOST_TEST_CONTEXT("training " << training << " affine " << affine) {
                batch_norm<double> bn("bn", 3, {.affine = affine});
                if (affine) {
                    bn.weight.value = xt::xarray<double>{0.5, -1.5, 2.0};
                    bn.bias.value = xt::xarray<double>{0.1, 0.0, -0.3};
                }
                bn.running_mean.value = xt::xarray<double>{0.2, -0.1, 0.05};
                bn.running_var.value = xt::xarray<double>{1.5, 0.7, 2.5};
                bn.train(training);
                BOOST_TEST(xrestore::test::check_layer_gradients(bn, random_input()) <= 1e-6);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(buffers_are_listed_apart_from_parameters) {
    batch_norm<float> bn("features.1", 4);
    const auto params = bn.parameters();
    BOOST_REQUIRE_EQUAL(params.size(), 2U);
    BOOST_TEST(params[0]->name == "features.1.weight");
    BOOST_TEST(params[1]->name == "features.1.bias");
    const auto buffers = bn.buffers();
    BOOST_REQUIRE_EQUAL(buffers.size(), 3U);
    BOOST_TEST(buffers[0]->name == "features.1.running_mean");
    BOOST_TEST(buffers[1]->name == "features.1.running_var");
    BOOST_TEST(buffers[2]->name == "features.1.num_batches_tracked");
    BOOST_TEST(!buffers[0]->integer);
    BOOST_TEST(buffers[2]->integer);
    BOOST_TEST(buffers[2]->value.dimension() == 0U);
    batch_norm<float> plain("bn", 4, {.affine = false});
    BOOST_TEST(plain.parameters().empty());
}

BOOST_AUTO_TEST_CASE(eval_mode_leaves_the_running_statistics_alone) {
    batch_norm<double> bn("bn", 3);
    static_cast<void>(bn.forward(random_input()));
    static_cast<void>(bn.forward(random_input()));
    BOOST_TEST(bn.num_batches_tracked.value() == 2.0);
    const xt::xarray<double> mean = bn.running_mean.value;
    const xt::xarray<double> var = bn.running_var.value;
    bn.eval();
    BOOST_TEST(!bn.training());
    static_cast<void>(bn.forward(random_input()));
    BOOST_TEST(bn.num_batches_tracked.value() == 2.0);
    BOOST_TEST(bn.running_mean.value == mean);
    BOOST_TEST(bn.running_var.value == var);
}
