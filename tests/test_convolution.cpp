#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/boundary.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>

#include <xtensor/xview.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_convolution)

using namespace xrestore;

static_assert(linear_operator<convolution>);

namespace {

const std::array<boundary, 5> all_modes = {boundary::zero, boundary::circular, boundary::reflect,
                                           boundary::replicate, boundary::mean};

std::string golden(const std::string& name) {
    return std::string(XRESTORE_TEST_DIR) + "/golden/" + name + ".npy";
}

/// Entries uniform in [-0.5, 1), scaled so that sum |k| = 1 (outputs keep the input's scale).
matrix random_kernel(std::size_t kh, std::size_t kw, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-0.5f, 1.0f);
    matrix k({kh, kw});
    double total = 0.0;
    for (auto& v : k) {
        v = uniform(rng);
        total += std::abs(v);
    }
    k /= static_cast<float>(total);
    return k;
}

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

/// 1e-5 relative to the output's scale (at least 1): float rounding of long sums, with or
/// without fused multiply-add, stays well below it; a wrong tap or pad is of order 1e-2.
double tolerance(const image& reference) {
    return 1e-5 * std::max(1.0, static_cast<double>(xt::amax(xt::abs(reference))()));
}

double max_abs_difference(const image& a, const image& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double worst = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        worst = std::max(worst, std::abs(static_cast<double>(a.data()[k]) - b.data()[k]));
    }
    return worst;
}

/// The forward map computed pixel by pixel with the reference body (no blocking, no separable
/// pass, boundary handled per tap).
image reference_apply(const matrix& kernel, const image& x, convolution_options options) {
    const std::size_t kh = kernel.shape()[0];
    const std::size_t kw = kernel.shape()[1];
    const matrix w = options.flip_kernel ? detail::rotate_180(kernel) : kernel;
    std::vector<float> fill;
    if (options.boundary == boundary::mean) {
        fill = detail::channel_means(x);
    }
    image out(x.shape());
    const auto h = static_cast<std::int64_t>(x.shape()[1]);
    const auto wd = static_cast<std::int64_t>(x.shape()[2]);
    kernels::correlation_pixel_body body{x.data(),
                                         w.data(),
                                         fill.empty() ? nullptr : fill.data(),
                                         out.data(),
                                         h,
                                         wd,
                                         static_cast<std::int64_t>(kh),
                                         static_cast<std::int64_t>(kw),
                                         static_cast<std::int64_t>((kh - 1) / 2),
                                         static_cast<std::int64_t>((kw - 1) / 2),
                                         h,
                                         wd,
                                         options.boundary};
    cpu_backend::for_each_index(out.size(), body);
    return out;
}

struct named_kernel {
    std::string name;
    matrix weights;
};

std::vector<named_kernel> adjoint_kernels() {
    return {{"box3", box_kernel(3)},
            {"box7", box_kernel(7)},
            {"box13", box_kernel(13)},
            {"box17", box_kernel(17)},
            {"motion15", motion_kernel(15, 0.785)},
            {"gaussian8", gaussian_kernel(2.0, 8)},
            {"gaussian17", gaussian_kernel(3.0, 17)},
            {"random5x9", random_kernel(5, 9, 7)},
            {"random17x17", random_kernel(17, 17, 8)}};
}

} // namespace

BOOST_AUTO_TEST_CASE(adjoint_is_exact_in_every_mode) {
    const std::array<shape3, 2> shapes = {shape3{3, 37, 45}, shape3{1, 20, 33}};
    for (const auto& shape : shapes) {
        for (const auto& k : adjoint_kernels()) {
            for (auto mode : all_modes) {
                for (bool flip : {false, true}) {
                    const convolution blur(k.weights, shape,
                                           {.boundary = mode, .flip_kernel = flip});
                    const double error = adjoint_check(blur, 11);
                    BOOST_TEST_CONTEXT(k.name << " " << to_string(mode) << " flip " << flip
                                              << " on " << shape_string(shape)) {
                        BOOST_TEST(error <= 1e-5);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(kernels_larger_than_the_image_work_in_every_mode) {
    const std::array<shape3, 3> shapes = {shape3{2, 5, 4}, shape3{1, 1, 1}, shape3{1, 3, 1}};
    const matrix big = random_kernel(17, 17, 3);
    const matrix tall = random_kernel(12, 3, 4);
    for (const auto& shape : shapes) {
        const image x = random_image(shape, 5);
        for (const auto* k : {&big, &tall}) {
            for (auto mode : all_modes) {
                for (bool flip : {false, true}) {
                    const convolution_options options{.boundary = mode, .flip_kernel = flip};
                    const convolution blur(*k, shape, options);
                    BOOST_TEST_CONTEXT(shape_string(k->shape())
                                       << " on " << shape_string(shape) << " " << to_string(mode)) {
                        BOOST_TEST(adjoint_check(blur, 2) <= 1e-5);
                        const image expected = reference_apply(*k, x, options);
                        BOOST_TEST(max_abs_difference(blur.apply(x), expected) <=
                                   tolerance(expected));
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(fast_path_matches_the_reference_body) {
    // widths that exercise the 64- and 32-wide register blocks, the 8-wide loop and the tail
    const std::array<shape3, 3> shapes = {shape3{3, 37, 45}, shape3{2, 70, 131}, shape3{1, 9, 7}};
    std::vector<named_kernel> list = adjoint_kernels();
    list.push_back({"random4x6", random_kernel(4, 6, 9)});
    list.push_back({"motion_horizontal", motion_kernel(9, 0.0)});
    list.push_back({"column", random_kernel(7, 1, 10)});
    list.push_back({"single", random_kernel(1, 1, 11)});
    list.push_back({"zeros", matrix(xt::zeros<float>({3, 5}))});
    for (const auto& shape : shapes) {
        const image x = random_image(shape, 17);
        for (const auto& k : list) {
            for (auto mode : all_modes) {
                for (bool flip : {false, true}) {
                    const convolution_options options{.boundary = mode, .flip_kernel = flip};
                    const convolution blur(k.weights, shape, options);
                    BOOST_TEST_CONTEXT(k.name << " " << to_string(mode) << " flip " << flip
                                              << " on " << shape_string(shape)) {
                        const image expected = reference_apply(k.weights, x, options);
                        BOOST_TEST(max_abs_difference(blur.apply(x), expected) <=
                                   tolerance(expected));
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(zero_mode_matches_pytorch_conv2d) {
    const image x = read_npy<3>(golden("conv_input"));
    BOOST_REQUIRE(shape_of<3>(x) == (shape3{3, 37, 45}));
    for (const std::string name : {"box7", "box13", "rand5x9", "rand4x6"}) {
        const matrix k = read_npy<2>(golden("conv_kernel_" + name));
        const convolution blur(k, shape_of<3>(x));
        const image expected = read_npy<3>(golden("conv_zero_" + name));
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(max_abs_difference(blur.apply(x), expected) <= 1e-5);
        }
    }
    // the golden box kernels are the factory's
    BOOST_TEST(read_npy<2>(golden("conv_kernel_box7")) == box_kernel(7));
}

BOOST_AUTO_TEST_CASE(zero_mode_adjoint_matches_pytorch_conv_transpose2d) {
    const image y = read_npy<3>(golden("conv_input"));
    for (const std::string name : {"box13", "rand5x9"}) {
        const matrix k = read_npy<2>(golden("conv_kernel_" + name));
        const convolution blur(k, shape_of<3>(y));
        const image expected = read_npy<3>(golden("conv_adjoint_zero_" + name));
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(max_abs_difference(blur.adjoint(y), expected) <= 1e-5);
        }
    }
}

BOOST_AUTO_TEST_CASE(padded_modes_match_pytorch_pad_then_conv2d) {
    const image x = read_npy<3>(golden("conv_input"));
    const std::vector<std::pair<std::string, boundary>> cases = {
        {"circular", boundary::circular},
        {"reflect", boundary::reflect},
        {"replicate", boundary::replicate}};
    for (const std::string name : {"rand5x9", "rand4x6", "rand17x17"}) {
        const matrix k = read_npy<2>(golden("conv_kernel_" + name));
        for (const auto& [mode_name, mode] : cases) {
            if (name == "rand17x17" && mode != boundary::reflect) {
                continue;
            }
            const convolution blur(k, shape_of<3>(x), {.boundary = mode});
            const image expected = read_npy<3>(golden("conv_" + mode_name + "_" + name));
            BOOST_TEST_CONTEXT(name << " " << mode_name) {
                BOOST_TEST(max_abs_difference(blur.apply(x), expected) <= 1e-5);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(box_blur_keeps_a_constant_image) {
    const shape3 shape{3, 37, 45};
    image x(shape);
    x.fill(0.7f);
    for (std::size_t p : {3u, 7u, 13u, 17u}) {
        for (auto mode :
             {boundary::circular, boundary::reflect, boundary::replicate, boundary::mean}) {
            const image y = convolution(box_kernel(p), shape, {.boundary = mode}).apply(x);
            BOOST_TEST_CONTEXT("box " << p << " " << to_string(mode)) {
                BOOST_TEST(xt::amax(xt::abs(y - 0.7f))() <= 1e-6f);
            }
        }
        // zero mode: the interior is kept, the border darkens
        const image y = convolution(box_kernel(p), shape).apply(x);
        const std::size_t r = p / 2;
        double interior = 0.0;
        for (std::size_t c = 0; c < 3; ++c) {
            for (std::size_t i = r; i < 37 - r; ++i) {
                for (std::size_t j = r; j < 45 - r; ++j) {
                    interior = std::max(interior, std::abs(static_cast<double>(y(c, i, j)) - 0.7));
                }
            }
        }
        BOOST_TEST(interior <= 1e-6);
        // the corner sees (r + 1)^2 of the p^2 taps
        const double corner =
            0.7 * static_cast<double>((r + 1) * (r + 1)) / static_cast<double>(p * p);
        BOOST_TEST(y(1, 0, 0) == corner, boost::test_tools::tolerance(1e-5));
    }
}

BOOST_AUTO_TEST_CASE(a_delta_reproduces_the_kernel) {
    const shape3 shape{2, 20, 33};
    const matrix k = random_kernel(5, 9, 21);
    const std::size_t i0 = 9;
    const std::size_t j0 = 14;
    image x = xt::zeros<float>(shape);
    x(1, i0, j0) = 1.0f;
    for (auto mode : all_modes) {
        if (mode == boundary::mean) {
            continue; // the mean padding is not zero for a delta
        }
        // correlation: y(i0 - u + 2, j0 - v + 4) = k(u, v), the kernel rotated by 180 degrees
        const image y = convolution(k, shape, {.boundary = mode}).apply(x);
        // convolution (flip): y(i0 - 2 + u, j0 - 4 + v) = k(u, v), the PSF itself
        const image z = convolution(k, shape, {.boundary = mode, .flip_kernel = true}).apply(x);
        for (std::size_t u = 0; u < 5; ++u) {
            for (std::size_t v = 0; v < 9; ++v) {
                BOOST_TEST(y(1, i0 - u + 2, j0 - v + 4) == k(u, v));
                BOOST_TEST(z(1, i0 - 2 + u, j0 - 4 + v) == k(u, v));
            }
        }
        BOOST_TEST(xt::sum(xt::abs(y))() == xt::sum(xt::abs(k))(),
                   boost::test_tools::tolerance(1e-5f));
        BOOST_TEST(xt::sum(xt::abs(xt::view(y, 0, xt::all(), xt::all())))() == 0.0f);
    }
}

BOOST_AUTO_TEST_CASE(even_kernel_places_the_extra_row_after) {
    // PyTorch 'same' for a 2 x 2 kernel pads 0 before and 1 after: y(i, j) = sum x(i + u, j + v)
    const shape3 shape{1, 4, 5};
    image x = xt::zeros<float>(shape);
    x(0, 2, 3) = 1.0f;
    const matrix k = {{1.0f, 2.0f}, {3.0f, 4.0f}};
    const image y = convolution(k, shape).apply(x);
    BOOST_TEST(y(0, 2, 3) == 1.0f);
    BOOST_TEST(y(0, 2, 2) == 2.0f);
    BOOST_TEST(y(0, 1, 3) == 3.0f);
    BOOST_TEST(y(0, 1, 2) == 4.0f);
    BOOST_TEST(xt::sum(y)() == 10.0f);
}

BOOST_AUTO_TEST_CASE(circular_blur_commutes_with_circular_shifts) {
    const shape3 shape{3, 37, 45};
    const image x = random_image(shape, 31);
    const std::ptrdiff_t dy = 5;
    const std::ptrdiff_t dx = -12;
    auto shift = [&](const image& a) { return image(xt::roll(xt::roll(a, dy, 1), dx, 2)); };
    for (const auto& k : adjoint_kernels()) {
        const convolution blur(k.weights, shape, {.boundary = boundary::circular});
        const image y = blur.apply(x);
        const image z = blur.adjoint(x);
        // relative to the output scale: the random kernels reach values of about 10 here
        const double y_scale = xt::amax(xt::abs(y))();
        const double z_scale = xt::amax(xt::abs(z))();
        BOOST_TEST_CONTEXT(k.name) {
            BOOST_TEST(max_abs_difference(blur.apply(shift(x)), shift(y)) <= 1e-6 * y_scale);
            BOOST_TEST(max_abs_difference(blur.adjoint(shift(x)), shift(z)) <= 1e-6 * z_scale);
        }
    }
}

BOOST_AUTO_TEST_CASE(mean_mode_pads_with_the_channel_mean) {
    // 1 x 1 x 3 row [0 3 6], mean 3, kernel [1 1 1] (1 x 3): y = [0+0+3, 0+3+6, 3+6+3]
    const shape3 shape{1, 1, 3};
    const image x = {{{0.0f, 3.0f, 6.0f}}};
    const matrix k = {{1.0f, 1.0f, 1.0f}};
    const image y = convolution(k, shape, {.boundary = boundary::mean}).apply(x);
    BOOST_TEST(y(0, 0, 0) == 6.0f);
    BOOST_TEST(y(0, 0, 1) == 9.0f);
    BOOST_TEST(y(0, 0, 2) == 12.0f);
    // adjoint: y' = [1 0 0] touches x0 (taps 1, 2) and the left pad (tap 0) -> 1/3 to each pixel
    const image g = {{{1.0f, 0.0f, 0.0f}}};
    const image a = convolution(k, shape, {.boundary = boundary::mean}).adjoint(g);
    BOOST_TEST(a(0, 0, 0) == 1.0f + 1.0f / 3.0f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(a(0, 0, 1) == 1.0f + 1.0f / 3.0f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(a(0, 0, 2) == 1.0f / 3.0f, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(in_place_and_resizing_calls) {
    const shape3 shape{3, 37, 45};
    const convolution blur(motion_kernel(15, 0.785), shape, {.boundary = boundary::reflect});
    const image x = random_image(shape, 41);
    const image y = blur.apply(x);
    image same = x;
    blur.apply_into(same, same);
    BOOST_TEST(max_abs_difference(same, y) == 0.0);
    image out; // wrong shape: resized
    blur.adjoint_into(y, out);
    BOOST_TEST(max_abs_difference(out, blur.adjoint(y)) == 0.0);
    image again = y;
    blur.adjoint_into(again, again);
    BOOST_TEST(max_abs_difference(again, out) == 0.0);
    BOOST_TEST(blur.kernel() == motion_kernel(15, 0.785));
    BOOST_TEST((blur.options().boundary == boundary::reflect));
    BOOST_TEST((blur.domain_shape() == shape && blur.range_shape() == shape));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    const shape3 shape{3, 37, 45};
    const convolution blur(box_kernel(3), shape);
    const image wrong = xt::zeros<float>({3, 45, 37});
    BOOST_CHECK_THROW((void)blur.apply(wrong), shape_error);
    BOOST_CHECK_THROW((void)blur.adjoint(wrong), shape_error);
    image out;
    BOOST_CHECK_THROW(blur.apply_into(image(xt::zeros<float>({1, 37, 45})), out), shape_error);
    matrix nan_kernel = box_kernel(3);
    nan_kernel(1, 1) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(convolution(nan_kernel, shape), value_error);
    BOOST_CHECK_THROW(convolution(matrix(xt::zeros<float>({0, 3})), shape), shape_error);
    BOOST_CHECK_THROW(convolution(box_kernel(3), shape3{3, 0, 5}), shape_error);
    BOOST_CHECK_THROW(convolution(box_kernel(3), shape3{0, 4, 5}), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_convolution
