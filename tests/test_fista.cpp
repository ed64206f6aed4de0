#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/fista.hpp>

#include "test_support.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/prox/soft_threshold.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_fista)

using namespace xrestore;
using namespace xrestore::test;

namespace {

/// Sparse spikes: 12 positive spikes on 1 x 32 x 32, Gaussian blur sigma 1.5 (9 x 9, zero
/// boundary), noise 0.005. The pixel-domain L1 model.
struct spikes {
    image truth = xt::zeros<float>({1, 32, 32});
    convolution a{gaussian_kernel(1.5, 9), {1, 32, 32}, {.boundary = boundary::zero}};
    image y;
    spikes() {
        std::mt19937_64 rng(17);
        for (int s = 0; s < 12; ++s) {
            const std::size_t i = 3 + rng() % 26;
            const std::size_t j = 3 + rng() % 26;
            truth(0, i, j) = 0.5f + 0.5f * static_cast<float>(rng() % 1000) / 1000.0f;
        }
        y = add_gaussian_noise(a.apply(truth), 0.005, 4);
    }
};

double relative_gap(double value, double reference) {
    return (value - reference) / std::abs(reference);
}

/// A user's orthonormal transform: channel c of x times (-1)^c (W^T = W, W W = I).
struct channel_sign_flip {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    image apply(const image& x) const {
        image w = x;
        for (std::size_t c = 1; c < shape[0]; c += 2) {
            xt::view(w, c, xt::all(), xt::all()) *= -1.0f;
        }
        return w;
    }
    image adjoint(const image& w) const { return apply(w); }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

/// A user's orthonormal transform that mixes pixels: each pair (x_2j, x_2j+1) of the flat array
/// becomes ((x_2j + x_2j+1) / sqrt 2, (x_2j - x_2j+1) / sqrt 2) (a rotation by 45 degrees; its
/// own inverse and adjoint). The size must be even.
struct pair_rotation {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    image apply(const image& x) const {
        image w(x.shape());
        const float s = static_cast<float>(1.0 / std::sqrt(2.0));
        for (std::size_t i = 0; i + 1 < x.size(); i += 2) {
            const float a = x.data()[i];
            const float b = x.data()[i + 1];
            w.data()[i] = s * (a + b);
            w.data()[i + 1] = s * (a - b);
        }
        return w;
    }
    image adjoint(const image& w) const { return apply(w); }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

} // namespace

BOOST_AUTO_TEST_CASE(fista_haar_reaches_the_reference_objective) {
    const small_deblur p;
    const fista_options o{.lambda = 1e-3, .levels = 3};
    auto long_options = o;
    long_options.max_iter = 1000; // F(x_k) is constant to 7 digits from k = 500 on
    const auto reference = fista(p.a, p.y, long_options);
    const double f_star = reference.objective.back();
    auto short_options = o;
    short_options.max_iter = 150;
    const auto i = ista(p.a, p.y, short_options);
    // FISTA is deterministic: a 150-iteration run records the reference's first 150 values
    const double f_150 = reference.objective[149];
    const double gap_f = relative_gap(f_150, f_star);
    const double gap_i = relative_gap(i.objective.back(), f_star);
    BOOST_TEST_MESSAGE("haar-L1: F* = " << f_star << ", FISTA(150) gap " << gap_f
                                        << ", ISTA(150) gap " << gap_i);
    BOOST_TEST(gap_f < 2e-3);
    BOOST_TEST(gap_f > -1e-6); // the reference is (nearly) the minimum
    BOOST_TEST(f_150 < i.objective.back());
    BOOST_TEST(gap_i > 5 * gap_f);
    // ISTA's objective never increases (s = 1 / ||A||^2)
    for (std::size_t k = 1; k < i.objective.size(); ++k) {
        BOOST_TEST(i.objective[k] <= i.objective[k - 1] * (1.0 + 1e-6));
    }
    // the reference is a fixed point of the proximal-gradient map:
    // x = W^T soft(W (x - s A^T (A x - y)), s lambda), s = 1 / ||A||^2
    image r = p.a.apply(reference.x);
    xrestore::axpy(-1.0f, p.y, r);
    const double step = 1.0 / std::pow(operator_norm(p.a), 2);
    image v = reference.x;
    xrestore::axpy(static_cast<float>(-step), p.a.adjoint(r), v);
    const image fixed = haar_l1_prox(v, step * 1e-3, haar_wavelet(shape_of<3>(v), 3));
    image d = fixed;
    xrestore::axpy(-1.0f, reference.x, d);
    BOOST_TEST(xrestore::norm(d) / xrestore::norm(reference.x) < 1e-4);
}

BOOST_AUTO_TEST_CASE(fista_pixel_l1_recovers_sparse_spikes) {
    const spikes p;
    const auto pixels = identity(shape_of<3>(p.truth));
    const fista_options o{.lambda = 5e-3, .max_iter = 1000};
    const auto reference = fista(p.a, p.y, pixels, o);
    const double f_star = reference.objective.back();
    const auto f = fista(p.a, p.y, pixels, {.lambda = 5e-3, .max_iter = 200});
    const auto i = ista(p.a, p.y, pixels, {.lambda = 5e-3, .max_iter = 200});
    const double gap_f = relative_gap(f.objective.back(), f_star);
    const double gap_i = relative_gap(i.objective.back(), f_star);
    BOOST_TEST_MESSAGE("pixel-L1 spikes: F* = " << f_star << ", FISTA(200) gap " << gap_f
                                                << ", ISTA(200) gap " << gap_i);
    BOOST_TEST(gap_f < 1e-3);
    BOOST_TEST(f.objective.back() < i.objective.back());
    for (std::size_t k = 1; k < i.objective.size(); ++k) {
        BOOST_TEST(i.objective[k] <= i.objective[k - 1] * (1.0 + 1e-6));
    }
    // support: every spike is found, and off the spikes the estimate is sparse
    std::size_t spurious = 0;
    for (std::size_t q = 0; q < p.truth.size(); ++q) {
        const float t = p.truth.data()[q];
        const float x = reference.x.data()[q];
        if (t > 0.0f) {
            BOOST_TEST(x > 0.5f * t);
        } else if (std::abs(x) > 0.05f) {
            ++spurious;
        }
    }
    BOOST_TEST(spurious < 12u);
    // the L1 term is lambda ||x||_1
    image r = p.a.apply(reference.x);
    xrestore::axpy(-1.0f, p.y, r);
    const double objective = 0.5 * xrestore::dot(r, r) + 5e-3 * l1_norm(reference.x);
    BOOST_TEST(std::abs(objective - f_star) < 1e-5 * f_star);
}

BOOST_AUTO_TEST_CASE(fista_haar_deblurs_and_inpaints_a_photo) {
    // 64 x 64 RGB butterfly crop; box 13, zero boundary, sigma 0.01; then 60 % of the pixels
    // missing (random_mask keep 0.4), sigma 0.01. 60 iterations each. Measured: box-13
    // 14.69 -> 19.74 dB; inpainting 6.70 -> 17.86 dB (an orthonormal, shift-variant wavelet fills
    // holes far worse than TV).
    const image truth = crop("butterfly_set5.png", 96, 96, 64);
    const convolution a(box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero});
    const image y = add_gaussian_noise(a.apply(truth), 0.01, 7);
    const auto r = fista(a, y, {.lambda = 3e-4, .max_iter = 60});
    const double blur_before = psnr(truth, y);
    const double blur_after = psnr(truth, r.x);

    const inpainting m(random_mask(shape_of<3>(truth), 0.4, 8));
    const image ym = add_gaussian_noise(m.apply(truth), 0.01, 9);
    const auto s = fista(
        m, ym, {.lambda = 2e-2, .levels = 4, .bands = wavelet_bands::details, .max_iter = 60});
    const double mask_before = psnr(truth, ym);
    const double mask_after = psnr(truth, s.x);
    BOOST_TEST_MESSAGE("fista haar: box-13 " << blur_before << " -> " << blur_after
                                             << " dB; inpainting " << mask_before << " -> "
                                             << mask_after << " dB");
    BOOST_TEST(blur_after - blur_before > 4.5);
    BOOST_TEST(mask_after - mask_before > 10.5);
}

BOOST_AUTO_TEST_CASE(monitor_stops_ista_and_fista) {
    const small_deblur p;
    for (const bool accelerated : {false, true}) {
        int calls = 0;
        auto stop_at_4 = [&](int k, const image&) {
            ++calls;
            return k == 4;
        };
        const auto r = accelerated ? fista(p.a, p.y, {.max_iter = 50}, stop_at_4)
                                   : ista(p.a, p.y, {.max_iter = 50}, stop_at_4);
        BOOST_TEST(r.stop == solver_stop::monitor);
        BOOST_TEST(r.iterations == 4);
        BOOST_TEST(calls == 4);
        BOOST_TEST(r.objective.size() == 4u);
    }
    // tolerance
    const auto t = fista(p.a, p.y, {.max_iter = 1000, .tol = 1e-3});
    BOOST_TEST(t.stop == solver_stop::converged);
    BOOST_TEST(t.change.back() < 1e-3);
    // an explicit start
    const auto z = fista(p.a, p.y, zeros_like(p.y), {.max_iter = 1, .step = 1.0});
    // x_1 = W^T soft(W A^T y, lambda)
    const image expected = haar_l1_prox(p.a.adjoint(p.y), 1e-3, haar_wavelet({1, 48, 48}, 3));
    BOOST_TEST(xt::amax(xt::abs(z.x - expected))() < 1e-6f);
}

BOOST_AUTO_TEST_CASE(user_transforms_plug_in) {
    // 3 x 24 x 24 butterfly crop, Gaussian blur (sigma 1, 5 x 5, reflect), noise 0.01
    const image truth = butterfly_crop(24);
    const shape3 shape = shape_of<3>(truth);
    const convolution a(gaussian_kernel(1.0, 5), shape, {.boundary = boundary::reflect});
    const image y = add_gaussian_noise(a.apply(truth), 0.01, 5);
    const fista_options o{.lambda = 2e-3, .max_iter = 40};
    // the identity as a user's operator takes the general path (W v, threshold, W^T) and gives the
    // pixel basis's result bit for bit; so does an orthonormal sign flip per channel, since
    // soft(-v) = -soft(v) and |-v| = |v| exactly
    const auto pixels = fista(a, y, identity(shape), o);
    BOOST_TEST(pixels.iterations == 40);
    BOOST_TEST(same_result(
        fista(a, y, opaque_operator<identity_operator<image>>{identity(shape)}, o), pixels));
    BOOST_TEST(same_result(fista(a, y, channel_sign_flip{shape}, o), pixels));
    BOOST_TEST(same_result(ista(a, y, channel_sign_flip{shape}, zeros_like(y), o),
                           ista(a, y, identity(shape), zeros_like(y), o)));
    // the Haar transform passed explicitly is the default; as a user's operator (no bands) too
    const haar_wavelet haar(shape, 3);
    const auto by_default = fista(a, y, o);
    BOOST_TEST(same_result(fista(a, y, haar, o), by_default));
    BOOST_TEST(same_result(fista(a, y, opaque_operator<haar_wavelet>{haar}, o), by_default));
    const fista_options details{.lambda = 2e-3, .bands = wavelet_bands::details, .max_iter = 40};
    BOOST_TEST(same_result(fista(a, y, haar, details), fista(a, y, details)));
    // and a transform that differs from the pixel basis changes the result
    BOOST_TEST(!same_bits(fista(a, y, pair_rotation{shape}, o).x, pixels.x));
}

BOOST_AUTO_TEST_CASE(a_user_transform_reaches_its_closed_form) {
    // A = I: min 1/2 ||x - y||^2 + lambda ||W x||_1 is solved by x* = W^T soft(W y, lambda) for
    // orthonormal W. From x_0 = A^T y = y with step 1 the first iterate is x*, and x* is a fixed
    // point; here computed pair by pair without the struct.
    const image y = butterfly_crop(16) - 0.5f;
    const shape3 shape = shape_of<3>(y);
    const double lambda = 0.05;
    image expected(shape);
    const double s = 1.0 / std::sqrt(2.0);
    for (std::size_t i = 0; i + 1 < y.size(); i += 2) {
        const double u = s * (y.data()[i] + y.data()[i + 1]);
        const double v = s * (y.data()[i] - y.data()[i + 1]);
        const double su = u > lambda ? u - lambda : (u < -lambda ? u + lambda : 0.0);
        const double sv = v > lambda ? v - lambda : (v < -lambda ? v + lambda : 0.0);
        expected.data()[i] = static_cast<float>(s * (su + sv));
        expected.data()[i + 1] = static_cast<float>(s * (su - sv));
    }
    const pair_rotation w{shape};
    const auto first = fista(identity(shape), y, w, {.lambda = lambda, .max_iter = 1, .step = 1.0});
    BOOST_TEST(max_abs_difference(first.x, expected) < 1e-6);
    const auto many = fista(identity(shape), y, w, {.lambda = lambda, .max_iter = 50, .step = 1.0});
    BOOST_TEST(max_abs_difference(many.x, expected) < 1e-6);
    // the recorded objective is 1/2 ||x - y||^2 + lambda ||W x||_1
    image r = many.x - y;
    const double objective = 0.5 * xrestore::dot(r, r) + lambda * l1_norm(w.apply(many.x));
    BOOST_TEST(std::abs(many.objective.back() - objective) < 1e-6 * objective);
    // it is not the pixel basis's soft threshold of y
    BOOST_TEST(max_abs_difference(expected, soft_threshold(y, lambda)) > 1e-2);
}

BOOST_AUTO_TEST_CASE(bad_transforms_throw) {
    const small_deblur p;
    // W's domain must be A's
    BOOST_CHECK_THROW(fista(p.a, p.y, identity(shape3{1, 48, 47})), shape_error);
    BOOST_CHECK_THROW(ista(p.a, p.y, haar_wavelet({1, 32, 32}, 2)), shape_error);
    // bands are the Haar transform's
    BOOST_CHECK_THROW(
        fista(p.a, p.y, identity(shape3{1, 48, 48}), {.bands = wavelet_bands::details}),
        value_error);
    BOOST_CHECK_NO_THROW(fista(p.a, p.y, haar_wavelet({1, 48, 48}, 2),
                               {.bands = wavelet_bands::details, .max_iter = 2}));
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
    const small_deblur p;
    BOOST_CHECK_THROW(fista(p.a, p.y, {.lambda = -1.0}), value_error);
    BOOST_CHECK_THROW(fista(p.a, p.y, {.lambda = std::nan("")}), value_error);
    BOOST_CHECK_THROW(fista(p.a, p.y, {.levels = 0}), value_error);
    BOOST_CHECK_THROW(fista(p.a, p.y, {.levels = 7}), value_error); // 48 allows 5
    BOOST_CHECK_THROW(ista(p.a, p.y, {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(ista(p.a, p.y, {.step = -1.0}), value_error);
    BOOST_CHECK_THROW(ista(p.a, p.y, {.tol = std::nan("")}), value_error);
    BOOST_CHECK_THROW(fista(p.a, p.y, {.bands = static_cast<wavelet_bands>(7)}), value_error);
    BOOST_CHECK_THROW(fista(p.a, image(shape3{1, 48, 47})), shape_error);
    image nan = p.y;
    nan(0, 0, 0) = std::numeric_limits<float>::infinity();
    BOOST_CHECK_THROW(fista(p.a, nan), value_error);
    // a step far above 1 / ||A||^2 diverges: reported, x finite
    const auto r = ista(p.a, p.y, identity(shape3{1, 48, 48}),
                        {.lambda = 0.0, .max_iter = 2000, .step = 50.0});
    BOOST_TEST(r.stop == solver_stop::diverged);
    BOOST_TEST(std::isfinite(xrestore::norm(r.x)));
}

BOOST_AUTO_TEST_SUITE_END() // test_fista
