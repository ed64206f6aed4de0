// train/ element-wise, resampling and structural layers: every backward against central
// differences in double on odd sizes (N = 2, C = 3, 7 x 9), forward values against PyTorch
// (tests/data/train/elem_*.npy, made by tools/dev/make_train_elementwise_golden.py), and the
// errors each layer raises.
#include "grad_check.hpp"

#include <xrestore/io/npy.hpp>
#include <xrestore/train/activations.hpp>
#include <xrestore/train/concatenate.hpp>
#include <xrestore/train/dropout.hpp>
#include <xrestore/train/flatten.hpp>
#include <xrestore/train/linear.hpp>
#include <xrestore/train/parameter.hpp>
#include <xrestore/train/pooling.hpp>
#include <xrestore/train/reflect_pad.hpp>
#include <xrestore/train/residual_add.hpp>
#include <xrestore/train/upsample.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xrandom.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_elementwise)

namespace train = xrestore::train;
using train::parameter;
using train::tensor4;
using xrestore::test::check_layer_gradients;

namespace {

tensor4<double> random_input(std::size_t n = 2, std::size_t c = 3, std::size_t h = 7,
                             std::size_t w = 9, unsigned seed = 11) {
    xt::random::seed(seed);
    return xt::random::randn<double>({n, c, h, w});
}

tensor4<float> golden(const std::string& name) {
    return xrestore::read_npy<4>(std::string(XRESTORE_TEST_DIR) + "/data/train/elem_" + name +
                                 ".npy");
}

/// max |a - b| over same-shaped tensors (fails the test when the shapes differ).
template <class A, class B>
double max_abs_difference(const A& a, const B& b) {
    BOOST_REQUIRE(std::vector<std::size_t>(a.shape().begin(), a.shape().end()) ==
                  std::vector<std::size_t>(b.shape().begin(), b.shape().end()));
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(
            worst, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    }
    return worst;
}

/// A two-input layer seen as a one-input layer for the checker: the second input is a
/// parameter, so the checker compares both gradients with central differences.
template <class TwoInput>
struct second_input_as_parameter {
    TwoInput layer;
    parameter<double> b;
    explicit second_input_as_parameter(const tensor4<double>& second)
        : b("second_input", xt::xarray<double>(second)) {}
    tensor4<double> forward(const tensor4<double>& x) {
        const tensor4<double> second = b.value;
        return layer.forward(x, second);
    }
    tensor4<double> backward(const tensor4<double>& dy) {
        auto [da, db] = layer.backward(dy);
        b.grad += db;
        return da;
    }
    std::vector<parameter<double>*> parameters() { return {&b}; }
};

/// Dropout redrawing the same mask at every forward (reseeded), so that the checker's repeated
/// forwards see one function.
struct reseeded_dropout {
    train::dropout<double> drop{0.3, 5};
    tensor4<double> forward(const tensor4<double>& x) {
        drop.reseed(5);
        return drop.forward(x);
    }
    tensor4<double> backward(const tensor4<double>& dy) { return drop.backward(dy); }
    std::vector<parameter<double>*> parameters() { return {}; }
};

template <class Layer>
void check_backward_before_forward(Layer layer, const std::string& where) {
    BOOST_CHECK_EXCEPTION(static_cast<void>(layer.backward(xt::ones<double>({1, 1, 1, 1}))),
                          xrestore::value_error, [&](const xrestore::value_error& e) {
                              return std::string(e.what()) ==
                                     where + ": backward must follow a forward pass";
                          });
}

} // namespace

// ---- gradients against central differences -------------------------------------------------

BOOST_AUTO_TEST_CASE(activation_gradients) {
    train::leaky_relu<double> leaky(0.2);
    BOOST_TEST(check_layer_gradients(leaky, random_input()) <= 1e-6);
    train::leaky_relu<double> leaky_default;
    BOOST_TEST(leaky_default.slope() == 0.01);
    BOOST_TEST(check_layer_gradients(leaky_default, random_input()) <= 1e-6);
    train::relu<double> r;
    BOOST_TEST(check_layer_gradients(r, random_input()) <= 1e-6);
    train::sigmoid<double> s;
    BOOST_TEST(check_layer_gradients(s, random_input() * 3.0) <= 1e-6);
    train::tanh_activation<double> t;
    BOOST_TEST(check_layer_gradients(t, random_input() * 2.0) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(pooling_gradients_on_odd_sizes) {
    train::avg_pool2<double> avg;
    BOOST_TEST(check_layer_gradients(avg, random_input()) <= 1e-6);
    train::max_pool2<double> max;
    BOOST_TEST(check_layer_gradients(max, random_input()) <= 1e-6);
    // the dropped last row and column get no gradient
    const tensor4<double> dx = max.backward(xt::ones<double>({2, 3, 3, 4}));
    BOOST_TEST(xt::sum(xt::abs(xt::view(dx, xt::all(), xt::all(), 6, xt::all())))() == 0.0);
    BOOST_TEST(xt::sum(xt::abs(xt::view(dx, xt::all(), xt::all(), xt::all(), 8)))() == 0.0);
    BOOST_TEST(xt::sum(dx)() == 2.0 * 3 * 3 * 4);
}

BOOST_AUTO_TEST_CASE(upsampling_gradients) {
    train::upsample_nearest2<double> nearest;
    BOOST_TEST(check_layer_gradients(nearest, random_input()) <= 1e-6);
    train::upsample_bilinear2<double> bilinear;
    BOOST_TEST(check_layer_gradients(bilinear, random_input()) <= 1e-6);
    train::upsample_bilinear2<double> single_row; // a 1 x 1 and a 1 x 2 input: edge taps only
    BOOST_TEST(check_layer_gradients(single_row, random_input(2, 3, 1, 2)) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(reflect_pad_gradients) {
    train::reflect_pad<double> pad({.left = 1, .right = 2, .top = 3, .bottom = 2});
    BOOST_TEST(check_layer_gradients(pad, random_input()) <= 1e-6);
    // the largest pads allowed (size - 1 on both sides) fold three copies onto one element
    train::reflect_pad<double> widest({.left = 8, .right = 8, .top = 6, .bottom = 6});
    BOOST_TEST(check_layer_gradients(widest, random_input()) <= 1e-6);
    train::reflect_pad<double> none({});
    BOOST_TEST(check_layer_gradients(none, random_input()) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(concatenate_and_residual_add_gradients_to_both_inputs) {
    second_input_as_parameter<train::concatenate<double>> cat(random_input(2, 4, 7, 9, 12));
    BOOST_TEST(check_layer_gradients(cat, random_input()) <= 1e-6);
    const tensor4<double> a = random_input(2, 3, 7, 9, 1);
    const tensor4<double> b = random_input(2, 4, 7, 9, 2);
    train::concatenate<double> plain;
    const tensor4<double> y = plain.forward(a, b);
    BOOST_TEST(y.shape(1) == 7U);
    BOOST_TEST(max_abs_difference(xt::eval(xt::view(y, xt::all(), xt::range(0, 3))), a) == 0.0);
    BOOST_TEST(max_abs_difference(xt::eval(xt::view(y, xt::all(), xt::range(3, 7))), b) == 0.0);

    second_input_as_parameter<train::residual_add<double>> add(random_input(2, 3, 7, 9, 13));
    BOOST_TEST(check_layer_gradients(add, random_input()) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(dropout_gradients_and_masks) {
    reseeded_dropout d;
    BOOST_TEST(check_layer_gradients(d, random_input()) <= 1e-6);

    const tensor4<double> x = xt::ones<double>({2, 3, 40, 50});
    train::dropout<double> a(0.25, 99);
    train::dropout<double> b(0.25, 99);
    train::dropout<double> c(0.25, 100);
    const tensor4<double> ya = a.forward(x);
    BOOST_TEST(max_abs_difference(ya, b.forward(x)) == 0.0); // same seed, same mask
    BOOST_TEST(max_abs_difference(ya, c.forward(x)) > 0.0);  // another seed, another mask
    BOOST_TEST(max_abs_difference(ya, a.forward(x)) > 0.0);  // a fresh mask at each forward
    std::size_t kept = 0;
    for (double v : ya) {
        BOOST_TEST((v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-15)); // 0 or 1 / (1 - p)
        kept += v != 0.0 ? 1 : 0;
    }
    const double fraction = static_cast<double>(kept) / static_cast<double>(ya.size());
    BOOST_TEST(std::abs(fraction - 0.75) < 0.02); // 12000 draws: 5 standard deviations
    a.reseed(99);
    BOOST_TEST(max_abs_difference(ya, a.forward(x)) == 0.0); // reseed restarts the sequence

    train::dropout<double> e(0.5, 1);
    e.eval();
    const tensor4<double> r = random_input();
    BOOST_TEST(max_abs_difference(e.forward(r), r) == 0.0);
    BOOST_TEST(max_abs_difference(e.backward(r), r) == 0.0);
    train::dropout<double> zero(0.0, 1);
    BOOST_TEST(max_abs_difference(zero.forward(r), r) == 0.0);
}

BOOST_AUTO_TEST_CASE(linear_and_flatten_gradients) {
    train::linear<double> fc(7, 5, "fc", 3);
    BOOST_TEST(fc.parameters().size() == 2U);
    BOOST_TEST(fc.weight().name == "fc.weight");
    BOOST_TEST(fc.bias().name == "fc.bias");
    BOOST_TEST(fc.weight().value.shape(0) == 5U);
    BOOST_TEST(fc.weight().value.shape(1) == 7U);
    BOOST_TEST(xt::amax(xt::abs(fc.weight().value))() < 1.0 / std::sqrt(7.0));
    BOOST_TEST(check_layer_gradients(fc, random_input(2, 7, 1, 1)) <= 1e-6);
    train::linear<double> no_bias(4, 3, "", 3, false);
    BOOST_TEST(no_bias.parameters().size() == 1U);
    BOOST_TEST(no_bias.weight().name == "weight");
    BOOST_TEST(check_layer_gradients(no_bias, random_input(3, 4, 1, 1)) <= 1e-6);

    train::flatten<double> flat;
    BOOST_TEST(check_layer_gradients(flat, random_input()) <= 1e-6);
    const tensor4<double> x = random_input();
    const tensor4<double> f = flat.forward(x);
    BOOST_TEST(f.shape(1) == 3U * 7 * 9);
    BOOST_TEST(f(1, 2 * 63 + 4 * 9 + 5, 0, 0) == x(1, 2, 4, 5)); // C, H, W row-major order

    // y = x W^T + b with given values (PyTorch's nn.Linear)
    train::linear<double> given(xt::xarray<double>{{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.0}},
                                xt::xarray<double>{0.25, -0.5}, "head");
    tensor4<double> in = xt::zeros<double>({1, 3, 1, 1});
    in(0, 0, 0, 0) = 1.0;
    in(0, 1, 0, 0) = -2.0;
    in(0, 2, 0, 0) = 0.5;
    const tensor4<double> out = given.forward(in);
    BOOST_TEST(out(0, 0, 0, 0) == 1.0 - 4.0 + 1.5 + 0.25);
    BOOST_TEST(out(0, 1, 0, 0) == -1.0 - 1.0 - 0.5);
}

// ---- forward values against PyTorch --------------------------------------------------------

BOOST_AUTO_TEST_CASE(upsampling_matches_pytorch) {
    const tensor4<float> x = golden("x");
    train::upsample_bilinear2<float> bilinear;
    BOOST_TEST(max_abs_difference(bilinear.forward(x), golden("upsample_bilinear")) <= 1e-6);
    BOOST_TEST(max_abs_difference(bilinear.backward(golden("w_up")),
                                  golden("upsample_bilinear_dx")) <= 1e-5);
    train::upsample_nearest2<float> nearest;
    BOOST_TEST(max_abs_difference(nearest.forward(x), golden("upsample_nearest")) == 0.0);
}

BOOST_AUTO_TEST_CASE(pooling_matches_pytorch_with_ties) {
    train::avg_pool2<float> avg;
    BOOST_TEST(max_abs_difference(avg.forward(golden("x")), golden("avgpool")) <= 1e-6);
    const tensor4<float> ties = golden("maxpool_ties_x");
    train::max_pool2<float> max;
    BOOST_TEST(max_abs_difference(max.forward(ties), golden("maxpool_ties")) == 0.0);
    // the gradient goes to the first of equal values, as PyTorch's arg-max does
    const tensor4<float> dx = max.backward(golden("maxpool_ties_w"));
    BOOST_TEST(max_abs_difference(dx, golden("maxpool_ties_dx")) == 0.0);
    BOOST_TEST(dx(0, 0, 0, 0) != 0.0F); // the window of four equal values
    BOOST_TEST(dx(0, 0, 0, 1) == 0.0F);
    BOOST_TEST(dx(0, 0, 1, 0) == 0.0F);
    BOOST_TEST(dx(0, 0, 1, 1) == 0.0F);
}

BOOST_AUTO_TEST_CASE(reflect_pad_matches_pytorch) {
    train::reflect_pad<float> pad({.left = 1, .right = 2, .top = 3, .bottom = 2});
    BOOST_TEST(max_abs_difference(pad.forward(golden("x")), golden("reflect_pad")) == 0.0);
    BOOST_TEST(max_abs_difference(pad.backward(golden("w_pad")), golden("reflect_pad_dx")) <= 1e-5);
}

BOOST_AUTO_TEST_CASE(activation_values) {
    tensor4<double> x = xt::zeros<double>({1, 1, 1, 5});
    x(0, 0, 0, 0) = -1000.0;
    x(0, 0, 0, 1) = -1.0;
    x(0, 0, 0, 2) = 0.0;
    x(0, 0, 0, 3) = 2.0;
    x(0, 0, 0, 4) = 1000.0;
    train::leaky_relu<double> leaky(0.2);
    const tensor4<double> l = leaky.forward(x);
    BOOST_TEST(l(0, 0, 0, 1) == -0.2);
    BOOST_TEST(l(0, 0, 0, 3) == 2.0);
    train::relu<double> r;
    BOOST_TEST(r.forward(x)(0, 0, 0, 1) == 0.0);
    train::sigmoid<double> s;
    const tensor4<double> sy = s.forward(x);
    BOOST_TEST(sy(0, 0, 0, 0) == 0.0); // no overflow to NaN
    BOOST_TEST(sy(0, 0, 0, 2) == 0.5);
    BOOST_TEST(sy(0, 0, 0, 3) == 1.0 / (1.0 + std::exp(-2.0)), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(sy(0, 0, 0, 4) == 1.0);
    train::tanh_activation<double> t;
    BOOST_TEST(t.forward(x)(0, 0, 0, 1) == std::tanh(-1.0));
}

// ---- errors ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(backward_before_forward_is_refused) {
    check_backward_before_forward(train::leaky_relu<double>(), "leaky_relu::backward");
    check_backward_before_forward(train::relu<double>(), "relu::backward");
    check_backward_before_forward(train::sigmoid<double>(), "sigmoid::backward");
    check_backward_before_forward(train::tanh_activation<double>(), "tanh_activation::backward");
    check_backward_before_forward(train::avg_pool2<double>(), "avg_pool2::backward");
    check_backward_before_forward(train::max_pool2<double>(), "max_pool2::backward");
    check_backward_before_forward(train::upsample_nearest2<double>(),
                                  "upsample_nearest2::backward");
    check_backward_before_forward(train::upsample_bilinear2<double>(),
                                  "upsample_bilinear2::backward");
    check_backward_before_forward(train::reflect_pad<double>({}), "reflect_pad::backward");
    check_backward_before_forward(train::concatenate<double>(), "concatenate::backward");
    check_backward_before_forward(train::residual_add<double>(), "residual_add::backward");
    check_backward_before_forward(train::dropout<double>(0.5), "dropout::backward");
    check_backward_before_forward(train::linear<double>(2, 2), "linear::backward");
    check_backward_before_forward(train::flatten<double>(), "flatten::backward");
}

BOOST_AUTO_TEST_CASE(shapes_are_checked) {
    const auto message_is = [](const std::string& expected) {
        return [expected](const xrestore::error& e) { return std::string(e.what()) == expected; };
    };
    train::max_pool2<double> pool;
    BOOST_CHECK_EXCEPTION(pool.forward(random_input(1, 1, 1, 5)), xrestore::shape_error,
                          message_is("max_pool2::forward: the input's height and width must be "
                                     "at least 2, got 1 x 1 x 1 x 5"));
    static_cast<void>(pool.forward(random_input()));
    BOOST_CHECK_EXCEPTION(pool.backward(xt::ones<double>({2, 3, 4, 4})), xrestore::shape_error,
                          message_is("max_pool2::backward: the output gradient must have shape "
                                     "2 x 3 x 3 x 4 (the forward output's), got 2 x 3 x 4 x 4"));
    train::reflect_pad<double> pad({.left = 9});
    BOOST_CHECK_EXCEPTION(pad.forward(random_input()), xrestore::shape_error,
                          message_is("reflect_pad::forward: each pad must be smaller than the "
                                     "size it pads (pads left 9, right 0, top 0, bottom 0), got "
                                     "input 2 x 3 x 7 x 9"));
    train::concatenate<double> cat;
    BOOST_CHECK_EXCEPTION(cat.forward(random_input(), random_input(2, 3, 7, 8)),
                          xrestore::shape_error,
                          message_is("concatenate::forward: b must have the batch size, height "
                                     "and width of a (2 x 3 x 7 x 9), got 2 x 3 x 7 x 8"));
    train::residual_add<double> add;
    BOOST_CHECK_EXCEPTION(add.forward(random_input(), random_input(2, 4, 7, 9)),
                          xrestore::shape_error,
                          message_is("residual_add::forward: b must have the shape of a (2 x 3 x "
                                     "7 x 9), got 2 x 4 x 7 x 9"));
    train::linear<double> fc(6, 2);
    BOOST_CHECK_EXCEPTION(fc.forward(random_input(2, 6, 2, 1)), xrestore::shape_error,
                          message_is("linear::forward: x must be N x 6 x 1 x 1 (flatten first), "
                                     "got 2 x 6 x 2 x 1"));
    BOOST_CHECK_EXCEPTION(train::linear<double>(xt::zeros<double>({2, 3}), xt::zeros<double>({3})),
                          xrestore::shape_error,
                          message_is("linear: bias must be of length 2 (out), got 3"));
    BOOST_CHECK_EXCEPTION(train::linear<double>(0, 2), xrestore::value_error,
                          message_is("linear: in and out must be positive, got 0 and 2"));
}

BOOST_AUTO_TEST_CASE(dropout_probability_must_lie_in_0_1) {
    for (double p : {1.0, -0.1, 1.5, std::nan("")}) {
        BOOST_CHECK_EXCEPTION(train::dropout<double>(p, 1), xrestore::value_error,
                              [](const xrestore::value_error& e) {
                                  return std::string(e.what()).starts_with(
                                      "dropout: p must be in [0, 1), got ");
                              });
    }
    BOOST_CHECK_EXCEPTION(
        train::leaky_relu<double>(-0.1), xrestore::value_error, [](const xrestore::value_error& e) {
            return std::string(e.what()) == "leaky_relu: slope must be >= 0, got -0.1";
        });
}

BOOST_AUTO_TEST_SUITE_END() // test_train_elementwise
