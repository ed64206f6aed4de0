// train/instance_norm.hpp: gradients without and with affine against central differences in
// double precision, the forward and the affine case's gradients against PyTorch
// (tests/data/train/norm_layers.json), and the errors.
#define BOOST_TEST_MODULE train_instance_norm
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/train/instance_norm.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <string>
#include <vector>

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
