// train/losses.hpp and train/data_term.hpp: each gradient against central differences in double
// on odd sizes, softmax cross-entropy against PyTorch (tests/data/train/elem_ce_*.npy), the data
// term ||A f - y||^2 for a blur, an inpainting mask and a downsampling operator, and the errors.
#include "grad_check.hpp"

#include <xrestore/io/npy.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/train/data_term.hpp>
#include <xrestore/train/losses.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xrandom.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_losses)

namespace train = xrestore::train;
using train::tensor4;
using xrestore::test::finite_difference_error;
using xrestore::test::grad_check_options;

namespace {

tensor4<double> random_input(unsigned seed, std::size_t n = 2, std::size_t c = 3, std::size_t h = 7,
                             std::size_t w = 9) {
    xt::random::seed(seed);
    return xt::random::randn<double>({n, c, h, w});
}

/// Relative error of loss(p).grad against central differences of loss(p).value.
template <class Loss>
double gradient_error(tensor4<double> p, Loss&& loss, const grad_check_options& o = {}) {
    const tensor4<double> analytic = loss(p).grad;
    BOOST_REQUIRE(analytic.shape() == p.shape());
    return finite_difference_error(
        p, analytic, [&] { return static_cast<double>(loss(p).value); }, o);
}

template <class Op>
std::vector<typename Op::range_type> random_measurements(const Op& A, std::size_t n,
                                                         unsigned seed) {
    std::vector<typename Op::range_type> y;
    xt::random::seed(seed);
    for (std::size_t i = 0; i < n; ++i) {
        y.push_back(xt::random::randn<float>(A.range_shape()));
    }
    return y;
}

/// The data term's gradient against central differences. A works in float32, so the check uses
/// the loss's being quadratic: a central difference is exact for any step, and a large one
/// (0.5) keeps float rounding of the values far below the tolerance.
template <class Op>
double data_term_error(const Op& A) {
    const auto y = random_measurements(A, 2, 21);
    grad_check_options o;
    o.step = 0.5;
    return gradient_error(
        random_input(22), [&](const tensor4<double>& f) { return train::data_term_loss(A, f, y); },
        o);
}

} // namespace

BOOST_AUTO_TEST_CASE(mse_l1_and_masked_mse_gradients) {
    const tensor4<double> t = random_input(2);
    BOOST_TEST(gradient_error(random_input(1), [&](const tensor4<double>& p) {
                   return train::mse_loss(p, t);
               }) <= 1e-6);
    BOOST_TEST(gradient_error(random_input(1), [&](const tensor4<double>& p) {
                   return train::l1_loss(p, t);
               }) <= 1e-6);
    tensor4<double> mask = xt::cast<double>(random_input(3) > 0.3);
    mask(0, 0, 0, 0) = 2.5; // weights, not only 0/1
    BOOST_TEST(gradient_error(random_input(1), [&](const tensor4<double>& p) {
                   return train::masked_mse_loss(p, t, mask);
               }) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(loss_values) {
    tensor4<double> p = xt::zeros<double>({1, 1, 2, 2});
    tensor4<double> t = xt::zeros<double>({1, 1, 2, 2});
    p(0, 0, 0, 0) = 1.0;
    p(0, 0, 0, 1) = -3.0;
    t(0, 0, 1, 1) = 2.0;
    BOOST_TEST(train::mse_loss(p, t).value == (1.0 + 9.0 + 4.0) / 4.0);
    const auto l1 = train::l1_loss(p, t);
    BOOST_TEST(l1.value == (1.0 + 3.0 + 2.0) / 4.0);
    BOOST_TEST(l1.grad(0, 0, 1, 0) == 0.0); // subgradient 0 where p = t
    BOOST_TEST(l1.grad(0, 0, 0, 1) == -0.25);
    tensor4<double> m = xt::zeros<double>({1, 1, 2, 2});
    m(0, 0, 0, 1) = 1.0;
    m(0, 0, 1, 1) = 1.0;
    const auto masked = train::masked_mse_loss(p, t, m);
    BOOST_TEST(masked.value == (9.0 + 4.0) / 2.0); // mean over the mask's weight
    BOOST_TEST(masked.grad(0, 0, 0, 0) == 0.0);
    BOOST_TEST(masked.grad(0, 0, 0, 1) == -3.0);
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_gradient_and_stability) {
    const std::vector<std::int64_t> labels{0, 3, 1, 1, 4};
    BOOST_TEST(gradient_error(random_input(4, 5, 6, 1, 1), [&](const tensor4<double>& z) {
                   return train::softmax_cross_entropy(z, labels);
               }) <= 1e-6);
    // logits of 1e4 overflow a naive exp: log-sum-exp keeps the value exact
    tensor4<double> z = xt::zeros<double>({1, 2, 1, 1});
    z(0, 0, 0, 0) = 1e4;
    z(0, 1, 0, 0) = 1e4 - std::log(3.0);
    const auto r = train::softmax_cross_entropy(z, std::vector<std::int64_t>{1});
    BOOST_TEST(r.value == std::log(4.0), boost::test_tools::tolerance(1e-12)); // -log(1/4)
    BOOST_TEST(r.grad(0, 0, 0, 0) == 0.75, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_matches_pytorch) {
    const std::string dir = std::string(XRESTORE_TEST_DIR) + "/data/train/";
    const auto logits2 = xrestore::read_npy<2>(dir + "elem_ce_logits.npy");
    const auto labels_f = xrestore::read_npy<1>(dir + "elem_ce_labels.npy");
    const auto loss = xrestore::read_npy<1>(dir + "elem_ce_loss.npy");
    const auto grad = xrestore::read_npy<2>(dir + "elem_ce_grad.npy");
    tensor4<float> logits({logits2.shape(0), logits2.shape(1), 1, 1});
    std::copy(logits2.begin(), logits2.end(), logits.begin());
    std::vector<std::int64_t> labels;
    for (float v : labels_f) {
        labels.push_back(static_cast<std::int64_t>(v));
    }
    BOOST_TEST(xt::amax(xt::abs(logits2))() > 89.0F); // exp overflows float32 past 88.7
    const auto r = train::softmax_cross_entropy(logits, labels);
    BOOST_TEST(r.value == loss(0), boost::test_tools::tolerance(1e-5F));
    for (std::size_t i = 0; i < grad.size(); ++i) {
        BOOST_TEST(std::abs(r.grad.data()[i] - grad.data()[i]) <= 1e-6F);
    }
}

BOOST_AUTO_TEST_CASE(data_term_gradients_for_blur_inpainting_and_downsampling) {
    const xrestore::shape3 shape{3, 7, 9};
    const xrestore::convolution blur(xrestore::gaussian_kernel(1.0, 5), shape,
                                     {.boundary = xrestore::boundary::reflect});
    BOOST_TEST(data_term_error(blur) <= 1e-5);
    const xrestore::inpainting mask(xrestore::random_mask(shape, 0.5, 42));
    BOOST_TEST(data_term_error(mask) <= 1e-5);
    const xrestore::downsampling down(shape, 2, {.antialias = true});
    BOOST_TEST(down.range_shape()[1] == 3U);
    BOOST_TEST(data_term_error(down) <= 1e-5);
}

BOOST_AUTO_TEST_CASE(data_term_value_is_the_squared_residual) {
    const xrestore::shape3 shape{3, 7, 9};
    const xrestore::inpainting A(xrestore::random_mask(shape, 0.5, 7));
    const tensor4<float> f = xt::cast<float>(random_input(5));
    std::vector<xrestore::image> y = random_measurements(A, 2, 6);
    double expected = 0.0;
    for (std::size_t n = 0; n < 2; ++n) {
        const xrestore::image fn = xt::view(f, n);
        const xrestore::image r = A.apply(fn) - y[n];
        expected += xt::sum(xt::cast<double>(r * r))();
    }
    const auto r = train::data_term_loss(A, f, y);
    BOOST_TEST(static_cast<double>(r.value) == expected, boost::test_tools::tolerance(1e-6));
    // y = A f: value 0, gradient 0
    for (std::size_t n = 0; n < 2; ++n) {
        y[n] = A.apply(xrestore::image(xt::view(f, n)));
    }
    const auto zero = train::data_term_loss(A, f, y);
    BOOST_TEST(zero.value == 0.0F);
    BOOST_TEST(xt::amax(xt::abs(zero.grad))() == 0.0F);
}

BOOST_AUTO_TEST_CASE(losses_refuse_bad_operands) {
    const auto message_is = [](const std::string& expected) {
        return [expected](const xrestore::error& e) { return std::string(e.what()) == expected; };
    };
    const tensor4<double> p = random_input(1);
    BOOST_CHECK_EXCEPTION(train::mse_loss(p, random_input(1, 2, 3, 7, 8)), xrestore::shape_error,
                          message_is("mse_loss: target must have the shape of prediction (2 x 3 "
                                     "x 7 x 9), got 2 x 3 x 7 x 8"));
    BOOST_CHECK_EXCEPTION(train::l1_loss(p, random_input(1, 1)), xrestore::shape_error,
                          message_is("l1_loss: target must have the shape of prediction (2 x 3 x "
                                     "7 x 9), got 1 x 3 x 7 x 9"));
    BOOST_CHECK_EXCEPTION(
        train::masked_mse_loss(p, p, tensor4<double>(xt::zeros<double>(p.shape()))),
        xrestore::value_error,
        message_is("masked_mse_loss: the mask's total weight must be positive, "
                   "got 0"));
    tensor4<double> negative = xt::ones<double>(p.shape());
    negative(1, 2, 3, 4) = -1.0;
    BOOST_CHECK_EXCEPTION(train::masked_mse_loss(p, p, negative), xrestore::value_error,
                          message_is("masked_mse_loss: every mask weight must be >= 0, got -1"));
    const tensor4<double> z = random_input(4, 3, 4, 1, 1);
    BOOST_CHECK_EXCEPTION(train::softmax_cross_entropy(z, {0, 4, 1}), xrestore::value_error,
                          message_is("softmax_cross_entropy: labels[1] must be in [0, 4), got 4"));
    BOOST_CHECK_EXCEPTION(train::softmax_cross_entropy(z, {0, 1, -1}), xrestore::value_error,
                          message_is("softmax_cross_entropy: labels[2] must be in [0, 4), got -1"));
    BOOST_CHECK_EXCEPTION(train::softmax_cross_entropy(z, {0, 1}), xrestore::shape_error,
                          message_is("softmax_cross_entropy: labels must be one per row of logits "
                                     "(3), got 2"));
    BOOST_CHECK_EXCEPTION(train::softmax_cross_entropy(p, {0, 1}), xrestore::shape_error,
                          message_is("softmax_cross_entropy: logits must be N x K x 1 x 1 with N, "
                                     "K >= 1, got 2 x 3 x 7 x 9"));

    const xrestore::inpainting A(xrestore::random_mask({3, 7, 9}, 0.5, 1));
    BOOST_CHECK_EXCEPTION(
        train::data_term_loss(A, random_input(1, 2, 3, 7, 8), random_measurements(A, 2, 1)),
        xrestore::shape_error,
        message_is("data_term_loss: f must be N x 3 x 7 x 9 (the operator's "
                   "domain), got 2 x 3 x 7 x 8"));
    BOOST_CHECK_EXCEPTION(train::data_term_loss(A, p, random_measurements(A, 1, 1)),
                          xrestore::shape_error,
                          message_is("data_term_loss: y must be one measurement per batch element "
                                     "(2), got 1"));
    std::vector<xrestore::image> wrong{xt::zeros<float>({3, 7, 9}), xt::zeros<float>({3, 7, 8})};
    BOOST_CHECK_EXCEPTION(train::data_term_loss(A, p, wrong), xrestore::shape_error,
                          message_is("data_term_loss: y[1] must have the operator's range shape"));
}

BOOST_AUTO_TEST_SUITE_END() // test_train_losses
