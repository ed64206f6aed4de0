// train/instance_norm.hpp: gradients without and with affine against central differences in
// double precision, the forward and the affine case's gradients against PyTorch
// (tests/data/train/norm_layers.json), and the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/instance_norm.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_instance_norm)

using xrestore::train::instance_norm;
using xrestore::train::tensor4;

namespace {

tensor4<double> random_input() {
    xt::random::seed(17);
    return 2.0 * xt::random::randn<double>({2, 3, 7, 9}) + 0.5;
}

} // namespace

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
    for (bool affine : {false, true}) {
        BOOST_TEST_CONTEXT("affine " << affine) {
            instance_norm<double> norm("norm", 3, {.affine = affine});
            if (affine) {
                norm.weight.value = xt::xarray<double>{0.5, -1.5, 2.0};
                norm.bias.value = xt::xarray<double>{0.1, 0.0, -0.3};
            }
            BOOST_TEST(xrestore::test::check_layer_gradients(norm, random_input()) <= 1e-6);
        }
    }
}

BOOST_AUTO_TEST_CASE(each_plane_is_normalised_to_zero_mean_and_unit_variance) {
    instance_norm<double> norm("norm", 3);
    BOOST_TEST(norm.parameters().empty());
    const tensor4<double> y = norm.forward(random_input());
    for (std::size_t n = 0; n < 2; ++n) {
        for (std::size_t c = 0; c < 3; ++c) {
            const auto plane = xt::view(y, n, c, xt::all(), xt::all());
            BOOST_TEST(xt::mean(plane)() == 0.0, boost::test_tools::tolerance(1e-12));
            // biased variance v / (v + eps) with v about 4: 1 - eps / v to 1e-7
            BOOST_TEST(xt::mean(plane * plane)() == 1.0, boost::test_tools::tolerance(1e-5));
        }
    }
}

BOOST_AUTO_TEST_CASE(forward_and_gradients_match_pytorch) {
    using namespace xrestore::test;
    const nlohmann::json cases = train_golden("norm_layers.json").at("cases");
    {
        const nlohmann::json& c = cases.at("instance_norm_plain");
        instance_norm<double> norm("norm", 3, {.eps = c.at("eps").get<double>()});
        const tensor4<double> y = norm.forward(golden_tensor4<double>(c.at("x")));
        BOOST_TEST(relative_max_error(y, golden_tensor4<double>(c.at("y"))) <= 1e-13);
    }
    const nlohmann::json& c = cases.at("instance_norm_affine");
    instance_norm<double> norm("norm", 3, {.eps = c.at("eps").get<double>(), .affine = true});
    norm.weight.value = golden_array<double>(c.at("weight"));
    norm.bias.value = golden_array<double>(c.at("bias"));
    const tensor4<double> y = norm.forward(golden_tensor4<double>(c.at("x")));
    BOOST_TEST(relative_max_error(y, golden_tensor4<double>(c.at("y"))) <= 1e-13);
    const tensor4<double> dx = norm.backward(golden_tensor4<double>(c.at("dy")));
    BOOST_TEST(relative_max_error(dx, golden_tensor4<double>(c.at("dx"))) <= 1e-12);
    BOOST_TEST(relative_max_error(norm.weight.grad, golden_array<double>(c.at("dweight"))) <=
               1e-13);
    BOOST_TEST(relative_max_error(norm.bias.grad, golden_array<double>(c.at("dbias"))) <= 1e-13);
}

BOOST_AUTO_TEST_CASE(float_forward_matches_pytorch) {
    using namespace xrestore::test;
    const nlohmann::json c = train_golden("norm_layers.json").at("cases").at("instance_norm_plain");
    instance_norm<float> norm("norm", 3);
    const tensor4<float> y = norm.forward(golden_tensor4<float>(c.at("x")));
    BOOST_TEST(relative_max_error(y, golden_tensor4<double>(c.at("y"))) <= 1e-5);
}

BOOST_AUTO_TEST_CASE(misuse_is_refused_with_clear_errors) {
    const auto says = [](const std::string& expected) {
        return [expected](const xrestore::error& e) { return std::string(e.what()) == expected; };
    };
    BOOST_CHECK_EXCEPTION(instance_norm<double>("n", 3, {.eps = 0.0}), xrestore::value_error,
                          says("instance_norm: eps must be positive, got 0"));
    instance_norm<double> norm("n", 3, {.affine = true});
    BOOST_CHECK_EXCEPTION(norm.backward(xt::zeros<double>({1, 3, 2, 2})), xrestore::value_error,
                          says("instance_norm: backward must follow a forward pass"));
    BOOST_CHECK_EXCEPTION(
        norm.forward(xt::zeros<double>({1, 4, 2, 2})), xrestore::shape_error,
        says("instance_norm: input channels (dimension 1 of N x C x H x W) must be 3, got 4"));
    static_cast<void>(norm.forward(xt::ones<double>({1, 3, 2, 2})));
    BOOST_CHECK_EXCEPTION(norm.backward(xt::zeros<double>({2, 3, 2, 2})), xrestore::shape_error,
                          says("instance_norm: the output gradient must have shape 1 x 3 x 2 x 2 "
                               "(the forward output's), got 2 x 3 x 2 x 2"));
    norm.weight.value = xt::ones<double>({2});
    BOOST_CHECK_EXCEPTION(norm.forward(xt::ones<double>({1, 3, 2, 2})), xrestore::shape_error,
                          says("instance_norm: n.weight must be of shape 3, got 2"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_instance_norm
