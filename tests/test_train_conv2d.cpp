// train/conv2d.hpp: gradients of every variant (kernel 1, 3, 5; stride 1 and 2; zero and reflect
// padding; with and without bias) against central differences in double precision, the forward
// and one case's gradients against PyTorch (tests/data/train/conv_layers.json, made by
// tools/dev/make_train_layer_golden.py), the Winograd and im2col algorithms against each other
// on every tile remainder, Winograd's bit-identical results for 1, 2 and 3 threads, the float
// forward against the U-Net's conv3x3, and the errors.
#include "grad_check.hpp"
#include "train_layer_golden.hpp"

#include <xrestore/io/state_dict.hpp>
#include <xrestore/nn/feature_map.hpp>
#include <xrestore/nn/layers.hpp>
#include <xrestore/train/conv2d.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <array>
#include <cmath>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_conv2d)

using xrestore::train::conv2d;
using xrestore::train::conv2d_algorithm;
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

BOOST_AUTO_TEST_CASE(forward_and_gradients_match_pytorch) {
    const nlohmann::json cases = xrestore::test::train_golden("conv_layers.json").at("cases");
    std::size_t checked = 0;
    for (const auto& [name, c] : cases.items()) {
        if (name.rfind("conv2d_", 0) != 0) {
            continue;
        }
        BOOST_TEST_CONTEXT(name) {
            conv2d_options o;
            o.kernel_size = c.at("kernel_size").get<std::size_t>();
            o.stride = c.at("stride").get<std::size_t>();
            o.padding = c.at("padding_mode").get<std::string>() == "reflect" ? padding_mode::reflect
                                                                             : padding_mode::zeros;
            o.bias = c.at("bias_on").get<bool>();
            conv2d<double> conv("c", 3, 2, o);
            conv.weight.value = xrestore::test::golden_array<double>(c.at("weight"));
            if (o.bias) {
                conv.bias.value = xrestore::test::golden_array<double>(c.at("bias"));
            }
            const tensor4<double> y =
                conv.forward(xrestore::test::golden_tensor4<double>(c.at("x")));
            BOOST_TEST(xrestore::test::relative_max_error(
                           y, xrestore::test::golden_tensor4<double>(c.at("y"))) <= 1e-13);
            if (c.contains("dy")) {
                const tensor4<double> dx =
                    conv.backward(xrestore::test::golden_tensor4<double>(c.at("dy")));
                BOOST_TEST(xrestore::test::relative_max_error(
                               dx, xrestore::test::golden_tensor4<double>(c.at("dx"))) <= 1e-13);
                BOOST_TEST(xrestore::test::relative_max_error(
                               conv.weight.grad,
                               xrestore::test::golden_array<double>(c.at("dweight"))) <= 1e-13);
                BOOST_TEST(xrestore::test::relative_max_error(
                               conv.bias.grad,
                               xrestore::test::golden_array<double>(c.at("dbias"))) <= 1e-13);
            }
            ++checked;
        }
    }
    BOOST_TEST(checked == 8U);
}

BOOST_AUTO_TEST_CASE(winograd_and_im2col_agree_on_every_tile_remainder) {
    // sizes with even and odd heights and widths, 1-pixel planes, and batches that fill the
    // Winograd groups of images partly (small planes go many to a group, 20 x 22 two)
    const std::vector<std::array<std::size_t, 3>> sizes = {
        {1, 1, 1}, {2, 1, 5}, {3, 2, 2}, {1, 3, 4}, {3, 5, 7}, {2, 8, 6}, {5, 13, 11}, {3, 20, 22}};
    for (const auto& [n, h, w] : sizes) {
        for (padding_mode m : {padding_mode::zeros, padding_mode::reflect}) {
            if (m == padding_mode::reflect && (h < 2 || w < 2)) {
                continue;
            }
            for (bool b : {false, true}) {
                BOOST_TEST_CONTEXT(n << " x " << h << " x " << w << " reflect "
                                     << (m == padding_mode::reflect) << " bias " << b) {
                    conv2d_options o{3, 1, m, b, 31};
                    o.algorithm = conv2d_algorithm::winograd;
                    conv2d<double> fast("c", 3, 4, o);
                    o.algorithm = conv2d_algorithm::im2col;
                    conv2d<double> plain("c", 3, 4, o);
                    const tensor4<double> x = random_input(n, 3, h, w, 5);
                    const tensor4<double> yf = fast.forward(x);
                    const tensor4<double> yp = plain.forward(x);
                    BOOST_REQUIRE(yf.shape() == yp.shape());
                    BOOST_TEST(xrestore::test::relative_max_error(yf, yp) <= 1e-13);
                    xt::random::seed(6);
                    const tensor4<double> dy = xt::random::randn<double>(yp.shape());
                    const tensor4<double> dxf = fast.backward(dy);
                    const tensor4<double> dxp = plain.backward(dy);
                    BOOST_TEST(xrestore::test::relative_max_error(dxf, dxp) <= 1e-13);
                    BOOST_TEST(xrestore::test::relative_max_error(fast.weight.grad,
                                                                  plain.weight.grad) <= 1e-13);
                    if (b) {
                        BOOST_TEST(xrestore::test::relative_max_error(fast.bias.grad,
                                                                      plain.bias.grad) <= 1e-13);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(winograd_is_bit_identical_for_any_thread_count) {
#if defined(_OPENMP)
    xt::random::seed(8);
    const tensor4<float> x = xt::random::randn<float>(std::array<std::size_t, 4>{3, 16, 37, 30});
    const tensor4<float> dy = xt::random::randn<float>(std::array<std::size_t, 4>{3, 24, 37, 30});
    const int saved = omp_get_max_threads();
    std::vector<tensor4<float>> outputs;
    std::vector<tensor4<float>> input_grads;
    std::vector<xt::xarray<float>> weight_grads;
    for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        conv2d<float> conv("c", 16, 24, {.kernel_size = 3, .seed = 2});
        outputs.push_back(conv.forward(x));
        input_grads.push_back(conv.backward(dy));
        weight_grads.push_back(conv.weight.grad);
    }
    omp_set_num_threads(saved);
    for (std::size_t t = 1; t < outputs.size(); ++t) {
        BOOST_TEST(outputs[t] == outputs[0]);
        BOOST_TEST(input_grads[t] == input_grads[0]);
        BOOST_TEST(weight_grads[t] == weight_grads[0]);
    }
#else
    BOOST_TEST_MESSAGE("built without OpenMP: one thread only");
#endif
}

BOOST_AUTO_TEST_CASE(float_forward_matches_the_unet_conv3x3) {
    const std::size_t cin = 5;
    const std::size_t cout = 6;
    const std::size_t h = 11;
    const std::size_t w = 13;
    conv2d<float> conv("conv", cin, cout, {.kernel_size = 3, .bias = false, .seed = 9});
    xt::random::seed(23);
    const tensor4<float> x = xt::random::randn<float>(std::array<std::size_t, 4>{1, cin, h, w});
    const tensor4<float> y = conv.forward(x);

    xrestore::weight_tensor t;
    t.shape = {cout, cin, 3, 3};
    t.values.assign(conv.weight.value.begin(), conv.weight.value.end());
    const auto packed = xrestore::nn::pack_conv3x3(t, "conv.weight", cin, cout);
    xrestore::nn::padded_buffer in_buf(h, w, cin);
    xrestore::nn::padded_buffer out_buf(h, w, cout);
    const auto in = in_buf.map(0, cin);
    const auto out = out_buf.map(0, cout);
    for (std::size_t c = 0; c < cin; ++c)
        for (std::size_t i = 0; i < h; ++i)
            for (std::size_t j = 0; j < w; ++j)
                in.at(i, j, c) = x(0, c, i, j);
    xrestore::nn::conv3x3(in, packed, out);
    double worst = 0.0;
    for (std::size_t c = 0; c < cout; ++c)
        for (std::size_t i = 0; i < h; ++i)
            for (std::size_t j = 0; j < w; ++j)
                worst = std::max(worst, std::abs(double(out.at(i, j, c)) - double(y(0, c, i, j))));
    BOOST_TEST(worst <= 1e-5);
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
    BOOST_CHECK_EXCEPTION(conv2d<double>("c", 3, 4, {.kernel_size = 4}), value_error,
                          says("conv2d: kernel_size must be odd, got 4"));
    BOOST_CHECK_EXCEPTION(conv2d<double>("c", 3, 4, {.stride = 0}), value_error,
                          says("conv2d: stride must be at least 1, got 0"));
    BOOST_CHECK_EXCEPTION(
        conv2d<double>("c", 3, 4,
                       {.kernel_size = 3, .stride = 2, .algorithm = conv2d_algorithm::winograd}),
        value_error,
        says("conv2d: algorithm winograd must be a 3x3 kernel with stride 1, got kernel_size 3, "
             "stride 2"));
    conv2d<double> conv("c", 3, 4, {.kernel_size = 5, .padding = padding_mode::reflect});
    BOOST_CHECK_EXCEPTION(conv.backward(xt::zeros<double>({1, 4, 3, 3})), value_error,
                          says("conv2d: backward must follow a forward pass"));
    BOOST_CHECK_EXCEPTION(
        conv.forward(xt::zeros<double>({1, 2, 7, 7})), shape_error,
        says("conv2d: input channels (dimension 1 of N x C x H x W) must be 3, got 2"));
    BOOST_CHECK_EXCEPTION(conv.forward(xt::zeros<double>({1, 3, 2, 7})), shape_error,
                          says("conv2d: input height and width must be greater than the reflect "
                               "padding 2, got 2 x 7"));
    static_cast<void>(conv.forward(xt::zeros<double>({1, 3, 7, 7})));
    BOOST_CHECK_EXCEPTION(conv.backward(xt::zeros<double>({1, 4, 7, 8})), shape_error,
                          says("conv2d: the output gradient must have shape 1 x 4 x 7 x 7 (the "
                               "forward output's), got 1 x 4 x 7 x 8"));
    conv.weight.value = xt::zeros<double>({4, 3, 3, 3});
    BOOST_CHECK_EXCEPTION(
        conv.forward(xt::zeros<double>({1, 3, 7, 7})), shape_error,
        says("conv2d: c.weight must be of shape 4 x 3 x 5 x 5, got 4 x 3 x 3 x 3"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_conv2d
