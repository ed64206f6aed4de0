#include <boost/test/unit_test.hpp>

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/operator_norm.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_haar)

using namespace xrestore;

static_assert(linear_operator<haar_wavelet>);

namespace {

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

/// Reference: one 1-D Haar step on a line, in double (odd length: last sample passes through).
std::vector<double> haar_line(const std::vector<double>& v) {
    const std::size_t n = v.size();
    const std::size_t half = n / 2;
    const std::size_t low = n - half;
    std::vector<double> out(n);
    const double r = 1.0 / std::sqrt(2.0);
    for (std::size_t k = 0; k < half; ++k) {
        out[k] = (v[2 * k] + v[2 * k + 1]) * r;
        out[low + k] = (v[2 * k] - v[2 * k + 1]) * r;
    }
    if (n % 2 == 1) {
        out[half] = v[n - 1];
    }
    return out;
}

/// Reference multi-level transform written with plain loops over lines, in double.
image reference_haar(const image& x, std::size_t levels) {
    const std::size_t C = x.shape()[0];
    std::size_t h = x.shape()[1];
    std::size_t w = x.shape()[2];
    xt::xtensor<double, 3> a = xt::cast<double>(x);
    for (std::size_t l = 0; l < levels; ++l) {
        for (std::size_t c = 0; c < C; ++c) {
            for (std::size_t i = 0; i < h; ++i) { // rows
                std::vector<double> line(w);
                for (std::size_t j = 0; j < w; ++j) {
                    line[j] = a(c, i, j);
                }
                line = haar_line(line);
                for (std::size_t j = 0; j < w; ++j) {
                    a(c, i, j) = line[j];
                }
            }
            for (std::size_t j = 0; j < w; ++j) { // columns
                std::vector<double> line(h);
                for (std::size_t i = 0; i < h; ++i) {
                    line[i] = a(c, i, j);
                }
                line = haar_line(line);
                for (std::size_t i = 0; i < h; ++i) {
                    a(c, i, j) = line[i];
                }
            }
        }
        h = (h + 1) / 2;
        w = (w + 1) / 2;
    }
    return xt::cast<float>(a);
}

} // namespace

BOOST_AUTO_TEST_CASE(one_level_on_a_2x2_block_closed_form) {
    const float a = 1.0f, b = 2.5f, c = -4.0f, d = 7.0f;
    image x(shape3{1, 2, 2});
    x(0, 0, 0) = a;
    x(0, 0, 1) = b;
    x(0, 1, 0) = c;
    x(0, 1, 1) = d;
    const image w = haar_wavelet({1, 2, 2}, 1).apply(x);
    BOOST_TEST(w(0, 0, 0) == (a + b + c + d) / 2, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(0, 0, 1) == (a - b + c - d) / 2, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(0, 1, 0) == (a + b - c - d) / 2, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(0, 1, 1) == (a - b - c + d) / 2, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(matches_pywavelets_on_4x4_two_levels) {
    // pywt.coeffs_to_array(pywt.wavedec2(x, 'haar', level=2, mode='periodization'))
    // with x[i, j] = (4 i + j)^1.5 / 7, x[1, 2] = -3, x[3, 0] = 5
    image x(shape3{1, 4, 4});
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            x(0, i, j) = static_cast<float>(std::pow(4.0 * i + j, 1.5) / 7.0);
        }
    }
    x(0, 1, 2) = -3.0f;
    x(0, 3, 0) = 5.0f;
    const double expected[4][4] = {{11.9931558962, -1.1588756486, -0.2985957062, -2.9919988911},
                                   {-10.1556431382, 2.2042685888, -1.1603392559, -0.7551173479},
                                   {-1.2985957062, 0.7503085979, 0.1557385634, 2.65375242},
                                   {-2.3031963988, -3.0265931652, 0.5356845414, 0.0608179061}};
    const image w = haar_wavelet({1, 4, 4}, 2).apply(x);
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            BOOST_TEST(std::abs(w(0, i, j) - expected[i][j]) <= 2e-6 * 12.0,
                       "(" << i << ", " << j << "): " << w(0, i, j) << " vs " << expected[i][j]);
        }
    }
}

BOOST_AUTO_TEST_CASE(matches_line_by_line_reference_on_odd_sizes) {
    for (const auto& [shape, levels] :
         std::vector<std::pair<shape3, std::size_t>>{{{3, 37, 45}, 4},
                                                     {{1, 21, 16}, 3},
                                                     {{2, 5, 3}, 2},
                                                     {{1, 2, 9}, 1},
                                                     {{2, 64, 48}, 5},
                                                     {{3, 151, 103}, 5}}) {
        const image x = random_image(shape, 17);
        const image w = haar_wavelet(shape, levels).apply(x);
        const image ref = reference_haar(x, levels);
        BOOST_TEST(xt::amax(xt::abs(w - ref))() <= 1e-5f * xt::amax(xt::abs(ref))(),
                   shape_string(shape) << ", " << levels << " levels");
    }
}

BOOST_AUTO_TEST_CASE(energy_preserved_and_perfect_reconstruction) {
    for (const auto& [shape, levels] :
         std::vector<std::pair<shape3, std::size_t>>{{{3, 37, 45}, 1},
                                                     {{3, 37, 45}, 6},
                                                     {{1, 21, 16}, 4},
                                                     {{1, 15, 7}, 3},
                                                     {{2, 100, 3}, 2},
                                                     {{3, 151, 103}, 7}}) {
        BOOST_TEST_CONTEXT(shape_string(shape) << ", " << levels << " levels") {
            const haar_wavelet W(shape, levels);
            const image x = random_image(shape, 3);
            const image w = W.apply(x);
            BOOST_TEST(xrestore::norm(w) == xrestore::norm(x), boost::test_tools::tolerance(1e-5));
            const image back = W.inverse(w);
            BOOST_TEST(xt::amax(xt::abs(back - x))() <= 1e-5f * xt::amax(xt::abs(x))());
            BOOST_TEST(W.adjoint(w) == back);
            BOOST_TEST(adjoint_check(W, 11) <= 1e-5);
            // in place: out == x
            image inplace = x;
            W.apply_into(inplace, inplace);
            BOOST_TEST(inplace == w);
            W.adjoint_into(inplace, inplace);
            BOOST_TEST(inplace == back);
        }
    }
}

BOOST_AUTO_TEST_CASE(one_to_four_threads_give_the_same_bits) {
    // above the parallel threshold, odd sizes at several levels: the bands of one thread and of
    // several give the same coefficients and reconstructions
    for (const auto& [shape, levels] : std::vector<std::pair<shape3, std::size_t>>{
             {{3, 151, 103}, 7}, {{3, 256, 256}, 3}, {{2, 301, 517}, 5}, {{1, 1000, 40}, 4}}) {
        BOOST_TEST_CONTEXT(shape_string(shape) << ", " << levels << " levels") {
            const haar_wavelet W(shape, levels);
            const image x = random_image(shape, 23);
            const image ref = reference_haar(x, levels);
            const image w = W.apply(x);
            BOOST_TEST(xt::amax(xt::abs(w - ref))() <= 1e-5f * xt::amax(xt::abs(ref))());
            const image back = W.adjoint(w);
            BOOST_TEST(xt::amax(xt::abs(back - x))() <= 1e-5f * xt::amax(xt::abs(x))());
#if defined(_OPENMP)
            const int threads = omp_get_max_threads();
            for (const int t : {1, 2, 3, 4}) {
                omp_set_num_threads(t);
                BOOST_TEST((W.apply(x) == w), t << " threads");
                BOOST_TEST((W.adjoint(w) == back), t << " threads");
                image inplace = x;
                W.apply_into(inplace, inplace);
                BOOST_TEST((inplace == w), t << " threads, in place");
                W.adjoint_into(inplace, inplace);
                BOOST_TEST((inplace == back), t << " threads, in place");
            }
            omp_set_num_threads(threads);
#endif
        }
    }
}

BOOST_AUTO_TEST_CASE(transforms_share_the_thread_scratch_safely) {
    // The CPU scratch belongs to the calling thread and is reused by every transform: operators
    // of different sizes in turn, and on several threads at once, give their own results.
    const haar_wavelet big({3, 151, 103}, 5);
    const haar_wavelet small({2, 9, 7}, 2);
    const image xb = random_image(big.domain_shape(), 5);
    const image xs = random_image(small.domain_shape(), 6);
    const image wb = big.apply(xb);
    const image ws = small.apply(xs);
    BOOST_TEST((small.apply(xs) == ws));
    BOOST_TEST((big.apply(xb) == wb));
    BOOST_TEST((small.adjoint(ws) == small.inverse(ws)));
    std::vector<int> same(4, 0);
    {
        std::vector<std::jthread> workers;
        for (std::size_t t = 0; t < same.size(); ++t) {
            workers.emplace_back([&, t] {
                bool ok = true;
                for (int round = 0; round < 20; ++round) {
                    ok = ok && (t % 2 == 0 ? big.apply(xb) == wb : small.apply(xs) == ws);
                }
                same[t] = ok ? 1 : 0;
            });
        }
    }
    for (std::size_t t = 0; t < same.size(); ++t) {
        BOOST_TEST(same[t] == 1, "thread " << t);
    }
}

BOOST_AUTO_TEST_CASE(constant_image_has_zero_details) {
    // Even sizes: every level averages equal pairs, so only the single LL coefficient of the
    // coarsest level is non-zero.
    const shape3 shape{2, 32, 48};
    const image x = xt::ones<float>(shape) * 0.25f;
    const image w = haar_wavelet(shape, 3).apply(x);
    // coarsest low-pass block: 4 x 6, each coefficient = 0.25 * 2^3
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < 32; ++i) {
            for (std::size_t j = 0; j < 48; ++j) {
                const float expected = i < 4 && j < 6 ? 2.0f : 0.0f;
                BOOST_TEST(std::abs(w(c, i, j) - expected) <= 1e-6f);
            }
        }
    }
    // Odd sizes: details stay 0 everywhere (the pass-through lines are low-pass)
    const shape3 odd{1, 13, 9};
    const image wo = haar_wavelet(odd, 2).apply(xt::ones<float>(odd));
    // level-2 low-pass block: ceil(ceil(13/2)/2) x ceil(ceil(9/2)/2) = 4 x 3
    const auto details_1 = xt::view(wo, 0, xt::range(7, 13), xt::all());
    const auto details_2 = xt::view(wo, 0, xt::all(), xt::range(5, 9));
    const auto details_3 = xt::view(wo, 0, xt::range(4, 7), xt::range(0, 5));
    const auto details_4 = xt::view(wo, 0, xt::range(0, 4), xt::range(3, 5));
    BOOST_TEST(xt::amax(xt::abs(details_1))() <= 1e-6f);
    BOOST_TEST(xt::amax(xt::abs(details_2))() <= 1e-6f);
    BOOST_TEST(xt::amax(xt::abs(details_3))() <= 1e-6f);
    BOOST_TEST(xt::amax(xt::abs(details_4))() <= 1e-6f);
}

BOOST_AUTO_TEST_CASE(operator_norm_is_one) {
    const haar_wavelet W({3, 37, 45}, 3);
    BOOST_TEST(operator_norm(W) == 1.0, boost::test_tools::tolerance(1e-5));
    BOOST_TEST(
        (xrestore::apply_normal(W, random_image({3, 37, 45}, 1)) == random_image({3, 37, 45}, 1)));
}

BOOST_AUTO_TEST_CASE(max_levels_and_bad_input) {
    BOOST_TEST(haar_wavelet::max_levels({1, 2, 2}) == 1u);
    BOOST_TEST(haar_wavelet::max_levels({1, 3, 3}) == 2u); // 3 -> 2 -> 1
    BOOST_TEST(haar_wavelet::max_levels({1, 37, 45}) == 6u);
    BOOST_TEST(haar_wavelet::max_levels({1, 1, 45}) == 0u);
    BOOST_TEST(haar_wavelet::max_levels({1, 256, 4}) == 2u);
    BOOST_TEST(haar_wavelet({1, 37, 45}, 6).levels() == 6u);

    BOOST_CHECK_THROW(haar_wavelet({1, 37, 45}, 7), value_error);
    BOOST_CHECK_THROW(haar_wavelet({1, 37, 45}, 0), value_error);
    BOOST_CHECK_THROW(haar_wavelet({1, 1, 45}, 1), value_error);
    BOOST_CHECK_THROW(haar_wavelet({0, 8, 8}, 1), value_error);
    try {
        haar_wavelet({1, 37, 45}, 7);
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("levels must be in [1, 6]") != std::string::npos,
                   e.what());
    }
    const haar_wavelet W({3, 8, 6}, 2);
    BOOST_CHECK_THROW(W.apply(xt::zeros<float>({3, 6, 8})), shape_error);
    BOOST_CHECK_THROW(W.adjoint(xt::zeros<float>({1, 8, 6})), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_haar
