// The README's training snippet, as written there, run for a few steps: a 3 -> 8 reflect-padded
// convolution with LeakyReLU fitted by Adam to the output of a fixed random one of the same shape
// must lower the MSE by a large factor.
#include <boost/test/unit_test.hpp>

#include <xrestore/train/activations.hpp>
#include <xrestore/train/adam.hpp>
#include <xrestore/train/conv2d.hpp>
#include <xrestore/train/losses.hpp>

#include <xtensor/xrandom.hpp>

BOOST_AUTO_TEST_SUITE(test_train_readme)

BOOST_AUTO_TEST_CASE(readme_snippet_fits_a_convolution) {
    using namespace xrestore::train;
    xt::random::seed(5);
    const tensor4<float> x = xt::random::rand<float>({2, 3, 17, 19});
    conv2d<float> teacher("teacher", 3, 8,
                          {.kernel_size = 3, .padding = padding_mode::reflect, .seed = 9});
    leaky_relu<float> teacher_act(0.2f);
    const tensor4<float> target = teacher_act.forward(teacher.forward(x));

    // --- as in the README ---
    conv2d<float> conv("head", 3, 8, {.kernel_size = 3, .padding = padding_mode::reflect});
    leaky_relu<float> act(0.2f);
    adam<float> opt(conv.parameters(), {.lr = 1e-2});
    double first = 0.0;
    double last = 0.0;
    for (int step = 0; step < 300; ++step) {
        tensor4<float> y = act.forward(conv.forward(x)); // x: N x 3 x H x W
        loss_result<float> l = mse_loss(y, target);
        zero_grad(conv.parameters());
        conv.backward(act.backward(l.grad)); // gradients into conv.weight/bias.grad
        opt.step();
        // ---
        if (step == 0) {
            first = l.value;
        }
        last = l.value;
    }
    BOOST_TEST_MESSAGE("MSE " << first << " -> " << last);
    BOOST_TEST(first > 1e-3);
    BOOST_TEST(last < first * 1e-2);
}

BOOST_AUTO_TEST_SUITE_END() // test_train_readme
