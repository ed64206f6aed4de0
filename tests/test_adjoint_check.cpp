#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/boundary.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>

#include <xtensor/xview.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_adjoint_check)

using namespace xrestore;

namespace {

/// A deliberately wrong adjoint: the forward map used as its own adjoint (wrong unless the
/// operator is symmetric, e.g. a blur with a non-symmetric kernel).
template <linear_operator Op>
struct forward_as_adjoint {
    using domain_type = domain_t<Op>;
    using range_type = range_t<Op>;
    Op op;
    range_type apply(const domain_type& x) const { return op.apply(x); }
    domain_type adjoint(const range_type& y) const { return op.apply(y); }
    shape3 domain_shape() const { return op.domain_shape(); }
    shape3 range_shape() const { return op.range_shape(); }
};

/// A horizontal blur with replicate boundary, y(c,i,j) = sum_t w_t x(c, i, clamp(j + t - h)),
/// written by hand; with `drop_right_fold` its adjoint forgets to fold the taps that fall past
/// the right border back onto the last column: wrong on one column of the image only.
struct row_blur_replicate {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    bool drop_right_fold = false;
    std::array<float, 5> w{0.1f, 0.3f, 0.25f, 0.2f, 0.15f}; // not symmetric

    static std::size_t clamp(std::ptrdiff_t j, std::size_t width) {
        return static_cast<std::size_t>(std::min<std::ptrdiff_t>(
            std::max<std::ptrdiff_t>(j, 0), static_cast<std::ptrdiff_t>(width) - 1));
    }
    image apply(const image& x) const {
        image y = xt::zeros<float>(shape);
        const auto width = static_cast<std::ptrdiff_t>(shape[2]);
        for (std::size_t row = 0; row < shape[0] * shape[1]; ++row) {
            const float* in = x.data() + row * shape[2];
            float* out = y.data() + row * shape[2];
            for (std::ptrdiff_t j = 0; j < width; ++j) {
                float sum = 0.0f;
                for (std::ptrdiff_t t = 0; t < 5; ++t) {
                    sum += w[static_cast<std::size_t>(t)] * in[clamp(j + t - 2, shape[2])];
                }
                out[j] = sum;
            }
        }
        return y;
    }
    image adjoint(const image& y) const {
        image x = xt::zeros<float>(shape);
        const auto width = static_cast<std::ptrdiff_t>(shape[2]);
        for (std::size_t row = 0; row < shape[0] * shape[1]; ++row) {
            const float* in = y.data() + row * shape[2];
            float* out = x.data() + row * shape[2];
            for (std::ptrdiff_t j = 0; j < width; ++j) {
                for (std::ptrdiff_t t = 0; t < 5; ++t) {
                    if (drop_right_fold && j + t - 2 >= width) {
                        continue; // the bug: the right border's fold is missing
                    }
                    out[clamp(j + t - 2, shape[2])] += w[static_cast<std::size_t>(t)] * in[j];
                }
            }
        }
        return x;
    }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

/// A correct adjoint scaled by 1 + delta: wrong by the relative amount delta everywhere.
template <linear_operator Op>
struct scaled_adjoint {
    using domain_type = domain_t<Op>;
    using range_type = range_t<Op>;
    Op op;
    float factor;
    range_type apply(const domain_type& x) const { return op.apply(x); }
    domain_type adjoint(const range_type& y) const {
        domain_type x = op.adjoint(y);
        xrestore::scal(factor, x);
        return x;
    }
    auto domain_shape() const { return op.domain_shape(); }
    auto range_shape() const { return op.range_shape(); }
};

/// An adjoint that leaves out the last channel (as a loop bound off by one would).
struct adjoint_without_last_channel {
    using domain_type = image;
    using range_type = image;
    convolution blur;
    image apply(const image& x) const { return blur.apply(x); }
    image adjoint(const image& y) const {
        image x = blur.adjoint(y);
        xt::view(x, x.shape()[0] - 1, xt::all(), xt::all()) = 0.0f;
        return x;
    }
    shape3 domain_shape() const { return blur.domain_shape(); }
    shape3 range_shape() const { return blur.range_shape(); }
};

/// A x = 0 but A^T y = y.
struct zero_with_identity_adjoint {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    image apply(const image&) const { return xt::zeros<float>(shape); }
    image adjoint(const image& y) const { return y; }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

/// Produces NaN.
struct nan_operator {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    image apply(const image& x) const { return x * std::numeric_limits<float>::quiet_NaN(); }
    image adjoint(const image& y) const { return y; }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

/// e averaged over `pairs` seeds as a root mean square (one value of e is |normal| distributed).
template <linear_operator Op>
double rms_check(const Op& op, int pairs) {
    double sum = 0.0;
    for (int s = 0; s < pairs; ++s) {
        const double e = adjoint_check(op, static_cast<std::uint64_t>(100 + s));
        sum += e * e;
    }
    return std::sqrt(sum / pairs);
}

matrix random_kernel(std::size_t h, std::size_t w, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    matrix k(std::array<std::size_t, 2>{h, w});
    for (auto& v : k) {
        v = u(rng);
    }
    return k;
}

constexpr std::array<boundary, 5> all_modes = {
    boundary::zero, boundary::circular, boundary::reflect, boundary::replicate, boundary::mean};

/// The largest relative error r of a correct library operator seen in this file, and which.
double largest_correct_error = 0.0;
std::string largest_correct_operator;

template <linear_operator Op>
void expect_correct(const Op& op, const std::string& what) {
    const auto m = measure_adjoint(op);
    if (m.relative_error > largest_correct_error) {
        largest_correct_error = m.relative_error;
        largest_correct_operator = what;
    }
    BOOST_TEST_CONTEXT(what << ": r = " << m.relative_error << ", e = " << m.worst_check) {
        BOOST_TEST(m.passed);
        BOOST_TEST(m.relative_error <= 2e-6);
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(a_wrong_adjoint_gives_a_value_that_shrinks_like_one_over_sqrt_size) {
    // The forward map of a blur with a non-symmetric kernel used as its adjoint: e ~ c / sqrt(M),
    // not of order 1, and sqrt(M) e (the pass/fail rule's r) stays put.
    const matrix k = random_kernel(5, 9, 11);
    std::vector<double> scaled;
    double e_first = 0.0;
    double e_last = 0.0;
    for (std::size_t n : {16, 32, 64, 128, 256, 512}) {
        const shape3 shape{1, n, n};
        const forward_as_adjoint<convolution> wrong{convolution(k, shape)};
        const double e = rms_check(wrong, 16);
        const double m = static_cast<double>(n * n);
        const auto measured = measure_adjoint(wrong);
        BOOST_TEST_MESSAGE("forward as adjoint, " << n << " x " << n << ": e = " << e
                                                  << ", sqrt(M) e = " << std::sqrt(m) * e
                                                  << ", r = " << measured.relative_error);
        scaled.push_back(std::sqrt(m) * e);
        e_first = n == 16 ? e : e_first;
        e_last = e;
        BOOST_TEST(!measured.passed, n << " x " << n);
        BOOST_TEST(measured.relative_error > 0.1, n << " x " << n);
        BOOST_CHECK_THROW(require_adjoint(wrong), adjoint_error);
    }
    // 32 times the side, 1024 times the size: e falls by about 32, sqrt(M) e stays within 2x
    BOOST_TEST(e_last < e_first / 16.0);
    for (double s : scaled) {
        BOOST_TEST(s > scaled.front() / 2.0);
        BOOST_TEST(s < scaled.front() * 2.0);
    }
    // the same rule applies with a correct adjoint: the rounding level does not grow with M
    for (std::size_t n : {16, 64, 256, 512}) {
        expect_correct(convolution(k, {1, n, n}), "blur " + std::to_string(n));
    }
}

BOOST_AUTO_TEST_CASE(an_adjoint_missing_one_border_fold_fails_at_every_size) {
    // Wrong on the last column only: e falls like n^-1.5 and drops below the fixed 1e-5 that
    // the command line used to accept; r falls like n^-0.5 only and stays far above 1e-4.
    double e_large = 1.0;
    for (std::size_t n : {32, 128, 512, 1024, 2048}) {
        const shape3 shape{1, n, n};
        const row_blur_replicate right{shape, false};
        const row_blur_replicate wrong{shape, true};
        const double e = rms_check(wrong, 4);
        const auto m = measure_adjoint(wrong);
        BOOST_TEST_MESSAGE("missing right fold, "
                           << n << " x " << n << ": e = " << e << ", r = " << m.relative_error
                           << ", r * sqrt(n) = " << m.relative_error * std::sqrt(double(n)));
        BOOST_TEST(!m.passed, n << " x " << n);
        BOOST_TEST(m.relative_error > 1e-3, n << " x " << n);
        expect_correct(right, "row blur " + std::to_string(n));
        e_large = e;
    }
    BOOST_TEST(e_large < 1e-5); // a fixed threshold on e would pass this wrong adjoint
}

BOOST_AUTO_TEST_CASE(other_wrong_adjoints_fail_at_several_sizes) {
    for (const shape3 shape :
         {shape3{3, 9, 7}, shape3{3, 37, 45}, shape3{3, 151, 103}, shape3{2, 400, 300}}) {
        BOOST_TEST_CONTEXT(shape_string(shape)) {
            const convolution blur(gaussian_kernel(1.5, 7), shape, {.boundary = boundary::reflect});
            // 1 % too large everywhere: r = 0.01
            const auto m = measure_adjoint(scaled_adjoint<convolution>{blur, 1.01f});
            BOOST_TEST(m.relative_error > 0.002);
            BOOST_TEST(m.relative_error < 0.03);
            BOOST_TEST(!m.passed);
            // a channel left out: r ~ sqrt(1 / C)
            const auto c = measure_adjoint(adjoint_without_last_channel{blur});
            BOOST_TEST(c.relative_error > 0.05);
            BOOST_TEST(!c.passed);
            // A = 0 with a nonzero adjoint
            BOOST_TEST(!measure_adjoint(zero_with_identity_adjoint{shape}).passed);
            // the adjoint of a non-symmetric blur taken as the blur itself
            BOOST_CHECK_THROW(require_adjoint(forward_as_adjoint<convolution>{
                                  convolution(random_kernel(5, 3, 2), shape)}),
                              adjoint_error);
        }
    }
}

BOOST_AUTO_TEST_CASE(every_library_operator_passes_in_every_mode_on_odd_shapes) {
    const std::vector<matrix> kernels = {
        box_kernel(3),           box_kernel(17),         motion_kernel(15, 0.785),
        gaussian_kernel(2.0, 8), random_kernel(5, 9, 7), random_kernel(17, 17, 8)};
    for (const shape3 shape : {shape3{3, 37, 45}, shape3{1, 20, 33}, shape3{2, 5, 4},
                               shape3{1, 1, 1}, shape3{3, 151, 103}}) {
        const std::string s = shape_string(shape);
        for (std::size_t k = 0; k < kernels.size(); ++k) {
            for (auto mode : all_modes) {
                for (bool flip : {false, true}) {
                    expect_correct(
                        convolution(kernels[k], shape, {.boundary = mode, .flip_kernel = flip}),
                        "convolution " + std::to_string(k) + " " + std::string(to_string(mode)) +
                            (flip ? " flipped on " : " on ") + s);
                }
            }
        }
        for (auto sharing : {mask_sharing::per_channel, mask_sharing::shared}) {
            expect_correct(inpainting(random_mask(shape, 0.4, 3, sharing)), "inpainting on " + s);
        }
        expect_correct(gradient(shape), "gradient on " + s);
        for (std::size_t levels = 1; levels <= haar_wavelet::max_levels(shape); ++levels) {
            expect_correct(haar_wavelet(shape, levels),
                           "haar " + std::to_string(levels) + " on " + s);
        }
        for (std::size_t f = 1; f <= std::min<std::size_t>(3, std::min(shape[1], shape[2])); ++f) {
            expect_correct(decimation(shape, f), "decimation " + std::to_string(f) + " on " + s);
            expect_correct(downsampling(shape, f, {.antialias = true}),
                           "downsampling " + std::to_string(f) + " on " + s);
        }
        const convolution blur(box_kernel(5), shape, {.boundary = boundary::mean});
        const inpainting mask(random_mask(shape, 0.5, 4));
        const gradient d(shape);
        expect_correct(identity(shape), "identity on " + s);
        expect_correct(scale(0.3, blur), "scale on " + s);
        expect_correct(compose(mask, blur), "compose on " + s);
        expect_correct(add(mask, blur), "add on " + s);
        expect_correct(stack(blur, d), "stack on " + s);
        expect_correct(normal(compose(d, blur)), "normal on " + s);
        expect_correct(shifted_normal(stack(mask, d), 0.25), "shifted normal on " + s);
    }
    BOOST_TEST_MESSAGE("largest r of a correct library operator: "
                       << largest_correct_error << " (" << largest_correct_operator << ")");
}

BOOST_AUTO_TEST_CASE(measure_adjoint_uses_adjoint_checks_pairs) {
    const convolution blur(random_kernel(5, 9, 3), {3, 37, 45}, {.boundary = boundary::mean});
    const forward_as_adjoint<convolution> wrong{blur};
    // pair t is adjoint_check's pair of seed + t: the worst e is the command line's number
    const auto m = measure_adjoint(wrong, {.trials = 3, .seed = 7});
    const double worst =
        std::max({adjoint_check(wrong, 7), adjoint_check(wrong, 8), adjoint_check(wrong, 9)});
    BOOST_TEST(m.worst_check == worst);
    BOOST_TEST(m.trials == 3);
    BOOST_TEST(m.tolerance == 1e-4);
    // r ~ sqrt(M) e for this square operator (M = 4995): within the spread of three pairs
    BOOST_TEST(m.relative_error > 0.2 * std::sqrt(4995.0) * worst);
    BOOST_TEST(m.relative_error < 2.0 * std::sqrt(4995.0) * worst);
    // deterministic
    BOOST_TEST(measure_adjoint(wrong).relative_error == measure_adjoint(wrong).relative_error);
    // a tolerance can be given: 1 % wrong passes a 5 % tolerance
    const scaled_adjoint<convolution> off{blur, 1.01f};
    BOOST_TEST(measure_adjoint(off, {.tolerance = 0.05}).passed);
    BOOST_CHECK_THROW(require_adjoint(off, {.tolerance = 1e-3}), adjoint_error);
    BOOST_CHECK_NO_THROW(require_adjoint(off, {.tolerance = 0.05}));
}

BOOST_AUTO_TEST_CASE(require_adjoint_names_the_operator_the_value_and_the_tolerance) {
    const forward_as_adjoint<convolution> wrong{convolution(random_kernel(5, 9, 11), {1, 64, 64})};
    const double r = measure_adjoint(wrong).relative_error;
    try {
        require_adjoint(wrong);
        BOOST_FAIL("require_adjoint accepted a wrong adjoint");
    } catch (const adjoint_error& e) {
        const std::string message = e.what();
        BOOST_TEST_MESSAGE(message);
        BOOST_TEST(message.find("require_adjoint: the adjoint of ") == 0);
        BOOST_TEST(message.find("forward_as_adjoint") != std::string::npos); // its type
        BOOST_TEST(message.find("<= 0.0001") != std::string::npos);          // the tolerance
        BOOST_TEST(message.find(detail::concat("got ", r)) != std::string::npos);
        BOOST_TEST(message.find("over 3 standard normal pairs") != std::string::npos);
    }
    try {
        require_adjoint(wrong, {.label = "my blur"}, "pnp_admm");
        BOOST_FAIL("require_adjoint accepted a wrong adjoint");
    } catch (const error& e) { // an adjoint_error is an xrestore::error
        BOOST_TEST(std::string(e.what()).find("pnp_admm: the adjoint of my blur must") == 0);
    }
    // non-finite output is a failure that says nan
    try {
        require_adjoint(nan_operator{{1, 4, 4}});
        BOOST_FAIL("require_adjoint accepted NaN");
    } catch (const adjoint_error& e) {
        BOOST_TEST(std::string(e.what()).find("got nan") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(degenerate_operators_and_bad_options) {
    // the zero operator with the zero adjoint is right, and an empty space has nothing to check
    const convolution zero(xt::zeros<float>({3, 3}), {1, 6, 5});
    BOOST_TEST(measure_adjoint(zero).relative_error == 0.0);
    BOOST_TEST(measure_adjoint(zero).passed);
    const convolution blur(box_kernel(3), {1, 6, 5});
    BOOST_CHECK_THROW(measure_adjoint(blur, {.tolerance = 0.0}), value_error);
    BOOST_CHECK_THROW(measure_adjoint(blur, {.tolerance = std::nan("")}), value_error);
    BOOST_CHECK_THROW(measure_adjoint(blur, {.trials = 0}), value_error);
    BOOST_CHECK_THROW(require_adjoint(blur, {.trials = -1}), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_adjoint_check
