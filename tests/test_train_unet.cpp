// train/unet.hpp: the trainable fastMRI U-Net and its residual call. Whole-network loss
// gradients against PyTorch autograd (tests/data/train/unet_grad_*.safetensors, made by
// tools/dev/make_unet_grad_golden.py) in double and in float, central differences on a tiny
// network with odd sizes, the forward pass against nn::unet, and the weights through
// nn::unet::from_state_dict, write_pth and load_weights.
#include "grad_check.hpp"
#include "unet_grad_golden.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/pth_writer.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>
#include <xrestore/train/losses.hpp>
#include <xrestore/train/unet.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_unet)

using namespace xrestore;
using test::case_names;
using test::case_path;
using test::grad_golden;
using test::read_golden;
using train::tensor4;
namespace fs = std::filesystem;

namespace {

template <class T>
tensor4<T> as_tensor4(const weight_tensor& t) {
    BOOST_TEST_REQUIRE(t.shape.size() == 4U);
    tensor4<T> out = tensor4<T>::from_shape({t.shape[0], t.shape[1], t.shape[2], t.shape[3]});
    std::transform(t.values.begin(), t.values.end(), out.begin(),
                   [](float v) { return static_cast<T>(v); });
    return out;
}

/// ||g - ref|| / ||ref|| over all elements, in double.
template <class Values>
double relative_error(const Values& g, const weight_tensor& ref) {
    BOOST_TEST_REQUIRE(g.size() == ref.values.size());
    double diff2 = 0.0;
    double ref2 = 0.0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        const double r = ref.values[i];
        const double d = static_cast<double>(g.data()[i]) - r;
        diff2 += d * d;
        ref2 += r * r;
    }
    return std::sqrt(diff2) / std::sqrt(ref2);
}

/// The loss of the file's case and every gradient, computed natively in T; returns the worst
/// relative error and checks each tensor against `tolerance`, the loss against 1e-5.
template <class T>
double check_against_golden(const std::string& name, double tolerance) {
    const grad_golden g = read_golden(case_path(name));
    auto net = train::unet<T>::from_state_dict(g.weights);
    const tensor4<T> x = as_tensor4<T>(g.input);
    const tensor4<T> target = as_tensor4<T>(g.target);
    const std::string call = g.metadata.at("call");
    train::residual_call<T> residual(net);
    const tensor4<T> y = call == "residual" ? residual.forward(x) : net.forward(x);
    const train::loss_result<T> l = train::mse_loss(y, target);
    train::zero_grad(net.parameters());
    const tensor4<T> dx = call == "residual" ? residual.backward(l.grad) : net.backward(l.grad);

    const double reference = std::stod(g.metadata.at("loss"));
    const double loss_error = std::abs(static_cast<double>(l.value) - reference) / reference;
    BOOST_TEST(loss_error <= 1e-5, name << ": loss " << l.value << " vs " << reference);
    double worst = relative_error(dx, *g.gradients.find("input"));
    BOOST_TEST(worst <= tolerance, name << ": input gradient relative error " << worst);
    std::size_t checked = 0;
    for (const train::parameter<T>* p : net.parameters()) {
        const weight_tensor* ref = g.gradients.find(p->name);
        BOOST_TEST_REQUIRE(ref != nullptr, p->name);
        const double e = relative_error(p->grad, *ref);
        BOOST_TEST(e <= tolerance, name << ": " << p->name << " relative error " << e);
        worst = std::max(worst, e);
        ++checked;
    }
    BOOST_TEST(checked + 1 == g.gradients.entries().size());
    BOOST_TEST_MESSAGE(name << " (" << (sizeof(T) == 8 ? "double" : "float")
                            << "): loss relative error " << loss_error
                            << ", worst gradient relative error " << worst);
    return worst;
}

} // namespace

BOOST_AUTO_TEST_CASE(double_gradients_match_pytorch_autograd) {
    for (const std::string& name : case_names) {
        // the references are float64 gradients rounded to float32: ~1e-7 is their precision
        BOOST_TEST(check_against_golden<double>(name, 1e-4) <= 1e-6, name);
    }
}

BOOST_AUTO_TEST_CASE(float_gradients_match_pytorch_autograd) {
    for (const std::string& name : case_names) {
        check_against_golden<float>(name, 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(float_forward_equals_nn_unet) {
    const grad_golden g = read_golden(case_path("c8_p3_3to3_2x3x33x35"));
    auto net = train::unet<float>::from_state_dict(g.weights);
    const nn::unet reference = nn::unet::from_state_dict(g.weights);
    const tensor4<float> x = as_tensor4<float>(g.input);
    const tensor4<float> y = net.forward(x);
    const tensor<4> y_ref = reference.forward(x);
    BOOST_TEST_REQUIRE((y.shape() == y_ref.shape()));
    const double scale = xt::amax(xt::abs(y_ref))();
    const double diff = xt::amax(xt::abs(y - y_ref))();
    BOOST_TEST_MESSAGE("train::unet vs nn::unet: max difference " << diff << ", max |y| " << scale);
    BOOST_TEST(diff <= 1e-5 * scale);
}

BOOST_AUTO_TEST_CASE(tiny_network_matches_central_differences) {
    // chans 2, one pool, 9 x 11: the decoder pads 8 x 10 to 9 x 11 (rows and columns)
    train::unet<double> net({.in_chans = 1, .out_chans = 1, .chans = 2, .num_pool_layers = 1}, 3);
    xt::random::seed(11);
    const tensor4<double> x = xt::random::rand<double>({2, 1, 9, 11});
    const double worst = test::check_layer_gradients(net, x, {.max_probes = 600});
    BOOST_TEST_MESSAGE("tiny unet: worst relative error " << worst);
}

BOOST_AUTO_TEST_CASE(residual_call_matches_central_differences) {
    // two samples of two channels: the paths through m_c and s of each sample
    train::unet<double> net({.in_chans = 2, .out_chans = 2, .chans = 2, .num_pool_layers = 1}, 5);
    train::residual_call<double> call(net);
    xt::random::seed(12);
    tensor4<double> y = xt::random::rand<double>({2, 2, 9, 11});
    y = 0.3 * y + 0.2;
    const double worst = test::check_layer_gradients(call, y, {.max_probes = 600});
    BOOST_TEST_MESSAGE("residual call: worst relative error " << worst);
    // D(y) = y - s U((y - m_c) / s), written out for sample 1
    const tensor4<double> d = call.forward(y);
    const std::size_t m = 2 * 9 * 11;
    const double mu = xt::mean(xt::view(y, 1))();
    const double s = std::sqrt(xt::sum(xt::square(xt::view(y, 1) - mu))() / double(m - 1));
    BOOST_TEST(call.scales()[1] == s, boost::test_tools::tolerance(1e-12));
    tensor4<double> z = y;
    for (std::size_t n = 0; n < 2; ++n) {
        const double sn = call.scales()[n];
        for (std::size_t c = 0; c < 2; ++c) {
            auto plane = xt::view(z, n, c);
            plane = (plane - xt::mean(xt::view(y, n, c))()) / sn;
        }
    }
    const tensor4<double> u = net.forward(z);
    const tensor4<double> expected = y - s * u;
    BOOST_TEST(xt::amax(xt::abs(xt::view(d, 1) - xt::view(expected, 1)))() <= 1e-12);
}

BOOST_AUTO_TEST_CASE(a_clamped_scale_gets_no_gradient) {
    // every sample's standard deviation is below the clamp 10: s = 10 is constant, so the input
    // gradient has no path through s (central differences see none)
    train::unet<double> net({.in_chans = 1, .out_chans = 1, .chans = 2, .num_pool_layers = 1}, 2);
    train::residual_call<double> call(net, 10.0);
    xt::random::seed(13);
    const tensor4<double> y = xt::random::rand<double>({2, 1, 8, 9});
    static_cast<void>(call.forward(y));
    BOOST_TEST(call.scales()[0] == 10.0);
    BOOST_TEST(call.scales()[1] == 10.0);
    test::check_layer_gradients(call, y, {.max_probes = 600});
}

BOOST_AUTO_TEST_CASE(parameters_follow_the_table_and_seeds_reproduce) {
    const nn::unet_config config{.in_chans = 3, .out_chans = 3, .chans = 4, .num_pool_layers = 2};
    train::unet<float> a(config, 1);
    train::unet<float> b(config, 1);
    train::unet<float> c(config, 2);
    const nn::unet_architecture arch(config);
    std::vector<std::string> table;
    for (const nn::layer_spec& l : arch.layers()) {
        table.push_back(l.weight);
        if (!l.bias.empty()) {
            table.push_back(l.bias);
        }
    }
    std::vector<std::string> names;
    const auto pa = a.parameters();
    const auto pb = b.parameters();
    const auto pc = c.parameters();
    for (std::size_t k = 0; k < pa.size(); ++k) {
        names.push_back(pa[k]->name);
        BOOST_TEST((pa[k]->value == pb[k]->value), pa[k]->name);
        BOOST_TEST((pa[k]->value != pc[k]->value), pa[k]->name);
        // PyTorch's default bound 1 / sqrt(fan_in)
        const nn::layer_spec& spec =
            *std::find_if(arch.layers().begin(), arch.layers().end(), [&](const auto& l) {
                return l.weight == pa[k]->name || l.bias == pa[k]->name;
            });
        const double bound = 1.0 / std::sqrt(double(spec.fan_in()));
        BOOST_TEST(xt::amax(xt::abs(pa[k]->value))() <= bound, pa[k]->name);
        BOOST_TEST(xt::amax(xt::abs(pa[k]->value))() > 0.5 * bound, pa[k]->name);
    }
    BOOST_TEST(names == table, boost::test_tools::per_element());
    BOOST_TEST((a.config() == config));
}

BOOST_AUTO_TEST_CASE(weights_round_trip_through_nn_unet_and_pth) {
    const nn::unet_config config{.in_chans = 1, .out_chans = 3, .chans = 4, .num_pool_layers = 2};
    train::unet<float> net(config, 7);
    const state_dict sd = net.to_state_dict();
    BOOST_TEST(sd.entries().size() == net.parameters().size());
    // the loader reads it, and runs the same network
    const nn::unet loaded = nn::unet::from_state_dict(sd);
    BOOST_TEST((loaded.config() == config));
    xt::random::seed(3);
    const tensor4<float> x = xt::random::rand<float>({2, 1, 19, 21});
    const tensor4<float> y = net.forward(x);
    const tensor<4> y_loaded = loaded.forward(x);
    BOOST_TEST(xt::amax(xt::abs(y - y_loaded))() <= 1e-5 * xt::amax(xt::abs(y))());
    // a .pth written from it reads back with the same values, and builds the same train::unet
    const fs::path path = fs::temp_directory_path() / "xrestore_test_train_unet.pth";
    write_pth(path, sd);
    const state_dict back = load_weights(path);
    fs::remove(path);
    BOOST_TEST_REQUIRE(back.entries().size() == sd.entries().size());
    for (const auto& [name, t] : sd.entries()) {
        const weight_tensor* r = back.find(name);
        BOOST_TEST_REQUIRE(r != nullptr, name);
        BOOST_TEST(r->shape == t.shape, name);
        BOOST_TEST(r->values == t.values, name);
    }
    auto again = train::unet<float>::from_state_dict(back);
    BOOST_TEST((again.forward(x) == y));
}

BOOST_AUTO_TEST_CASE(misuse_is_refused) {
    train::unet<float> net({.in_chans = 1, .out_chans = 1, .chans = 2, .num_pool_layers = 2});
    BOOST_CHECK_THROW(net.backward(xt::zeros<float>({1, 1, 16, 16})), value_error);
    BOOST_CHECK_THROW(net.forward(xt::zeros<float>({1, 2, 16, 16})), shape_error);
    BOOST_CHECK_THROW(net.forward(xt::zeros<float>({1, 1, 3, 16})), shape_error);
    static_cast<void>(net.forward(xt::zeros<float>({1, 1, 16, 16})));
    BOOST_CHECK_THROW(net.backward(xt::zeros<float>({1, 1, 8, 16})), shape_error);
    train::unet<float> two({.in_chans = 1, .out_chans = 2, .chans = 2, .num_pool_layers = 1});
    train::residual_call<float> call(two);
    BOOST_CHECK_THROW(call.forward(xt::zeros<float>({1, 1, 16, 16})), shape_error);
    BOOST_CHECK_THROW(train::residual_call<float>(net, 0.0), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_train_unet
