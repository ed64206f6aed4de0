// train/batch_norm.hpp: gradients in training mode (batch statistics) and eval mode (running
// statistics), with and without affine, against central differences in double precision;
// running averages, buffers and forward values against PyTorch
// (tests/data/train/norm_layers.json); the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/batch_norm.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_batch_norm)

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

BOOST_AUTO_TEST_CASE(training_running_averages_and_eval_match_pytorch) {
    using namespace xrestore::test;
    const nlohmann::json c = train_golden("norm_layers.json").at("cases").at("batch_norm_affine");
    batch_norm<double> bn(
        "bn", 3, {.eps = c.at("eps").get<double>(), .momentum = c.at("momentum").get<double>()});
    bn.weight.value = golden_array<double>(c.at("weight"));
    bn.bias.value = golden_array<double>(c.at("bias"));
    // two training steps, gradients of the second
    const tensor4<double> y1 = bn.forward(golden_tensor4<double>(c.at("x1")));
    BOOST_TEST(relative_max_error(y1, golden_tensor4<double>(c.at("y1"))) <= 1e-13);
    const tensor4<double> y2 = bn.forward(golden_tensor4<double>(c.at("x2")));
    BOOST_TEST(relative_max_error(y2, golden_tensor4<double>(c.at("y2"))) <= 1e-13);
    const tensor4<double> dx2 = bn.backward(golden_tensor4<double>(c.at("dy2")));
    BOOST_TEST(relative_max_error(dx2, golden_tensor4<double>(c.at("dx2"))) <= 1e-12);
    BOOST_TEST(relative_max_error(bn.weight.grad, golden_array<double>(c.at("dweight2"))) <= 1e-13);
    BOOST_TEST(relative_max_error(bn.bias.grad, golden_array<double>(c.at("dbias2"))) <= 1e-13);
    // the buffers after them (running_var from the unbiased variance)
    BOOST_TEST(relative_max_error(bn.running_mean.value,
                                  golden_array<double>(c.at("running_mean"))) <= 1e-14);
    BOOST_TEST(relative_max_error(bn.running_var.value,
                                  golden_array<double>(c.at("running_var"))) <= 1e-14);
    BOOST_TEST(bn.num_batches_tracked.value() == c.at("num_batches_tracked").get<double>());
    // eval mode: the running statistics normalise, gradients through fixed statistics
    bn.eval();
    bn.weight.zero_grad();
    bn.bias.zero_grad();
    const tensor4<double> y3 = bn.forward(golden_tensor4<double>(c.at("x3")));
    BOOST_TEST(relative_max_error(y3, golden_tensor4<double>(c.at("y3"))) <= 1e-13);
    const tensor4<double> dx3 = bn.backward(golden_tensor4<double>(c.at("dy3")));
    BOOST_TEST(relative_max_error(dx3, golden_tensor4<double>(c.at("dx3"))) <= 1e-13);
    BOOST_TEST(relative_max_error(bn.weight.grad, golden_array<double>(c.at("dweight3"))) <= 1e-13);
    BOOST_TEST(relative_max_error(bn.bias.grad, golden_array<double>(c.at("dbias3"))) <= 1e-13);
}

BOOST_AUTO_TEST_CASE(misuse_is_refused_with_clear_errors) {
    const auto says = [](const std::string& expected) {
        return [expected](const xrestore::error& e) { return std::string(e.what()) == expected; };
    };
    BOOST_CHECK_EXCEPTION(batch_norm<double>("bn", 3, {.momentum = 1.5}), xrestore::value_error,
                          says("batch_norm: momentum must be in [0, 1], got 1.5"));
    batch_norm<double> bn("bn", 3);
    BOOST_CHECK_EXCEPTION(bn.backward(xt::zeros<double>({1, 3, 2, 2})), xrestore::value_error,
                          says("batch_norm: backward must follow a forward pass"));
    BOOST_CHECK_EXCEPTION(
        bn.forward(xt::zeros<double>({2, 2, 2, 2})), xrestore::shape_error,
        says("batch_norm: input channels (dimension 1 of N x C x H x W) must be 3, got 2"));
    // PyTorch refuses one value per channel in training mode as well
    BOOST_CHECK_EXCEPTION(
        bn.forward(xt::zeros<double>({1, 3, 1, 1})), xrestore::shape_error,
        says("batch_norm: values per channel in training mode (N H W) must be more than 1, got 1"));
    static_cast<void>(bn.forward(xt::ones<double>({2, 3, 2, 2})));
    BOOST_CHECK_EXCEPTION(bn.backward(xt::zeros<double>({2, 3, 2, 1})), xrestore::shape_error,
                          says("batch_norm: the output gradient must have shape 2 x 3 x 2 x 2 "
                               "(the forward output's), got 2 x 3 x 2 x 1"));
    bn.running_var.value = xt::ones<double>({4});
    BOOST_CHECK_EXCEPTION(bn.forward(xt::ones<double>({2, 3, 2, 2})), xrestore::shape_error,
                          says("batch_norm: bn.running_var must be of shape 3, got 4"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_batch_norm
