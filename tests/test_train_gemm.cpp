// train/detail/gemm.hpp and the im2col bodies of train/kernels/conv_bodies.hpp: the tiled
// parallel product against a plain triple loop for every transpose combination and for shapes
// that take each tiling path (several row tiles, wide column tiles, inner-dimension chunks),
// beta = 0 never reading C, results bit-identical for 1 and 2 threads, and im2col / col2im /
// padding as exact adjoints (<A x, y> = <x, A^T y>).
#include <xrestore/train/detail/gemm.hpp>
#include <xrestore/train/kernels/conv_bodies.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_train_gemm)

using xrestore::train::detail::gemm_operand;
using xrestore::train::detail::parallel_gemm;

namespace {

template <class T>
std::vector<T> random_vector(std::size_t n, unsigned seed) {
    std::mt19937 engine(seed);
    std::normal_distribution<double> draw(0.0, 1.0);
    std::vector<T> v(n);
    for (T& e : v) {
        e = static_cast<T>(draw(engine));
    }
    return v;
}

// op(A)(i, l) for a row-major matrix stored as given
double element(const std::vector<double>& m, std::size_t ld, bool transposed, std::size_t row,
               std::size_t col) {
    return transposed ? m[col * ld + row] : m[row * ld + col];
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double sum = 0.0;
    for (std::size_t q = 0; q < a.size(); ++q) {
        sum += a[q] * b[q];
    }
    return sum;
}

struct shape {
    std::size_t m, n, k;
};

} // namespace

BOOST_AUTO_TEST_CASE(parallel_gemm_matches_a_triple_loop_on_every_tiling_path) {
    // 300 rows: three row tiles; n = 5000: wide column tiles; k = 9000 with a small output:
    // inner-dimension chunks; tiny and single-row/column shapes too
    const std::vector<shape> shapes{{300, 700, 50}, {32, 5000, 27}, {8, 24, 9000},   {1, 1, 1},
                                    {3, 1, 2500},   {129, 385, 7},  {32, 288, 2304}, {1, 4097, 3}};
    unsigned seed = 1;
    for (const shape& s : shapes) {
        for (bool ta : {false, true}) {
            for (bool tb : {false, true}) {
                for (double beta : {0.0, 1.0}) {
                    const std::size_t lda = ta ? s.m : s.k;
                    const std::size_t ldb = tb ? s.k : s.n;
                    const auto a = random_vector<double>(s.m * s.k, seed++);
                    const auto b = random_vector<double>(s.k * s.n, seed++);
                    auto c = random_vector<double>(s.m * s.n, seed++);
                    std::vector<double> expected(s.m * s.n);
                    for (std::size_t i = 0; i < s.m; ++i) {
                        for (std::size_t j = 0; j < s.n; ++j) {
                            double sum = beta * c[i * s.n + j];
                            for (std::size_t l = 0; l < s.k; ++l) {
                                sum += element(a, lda, ta, i, l) * element(b, ldb, tb, l, j);
                            }
                            expected[i * s.n + j] = sum;
                        }
                    }
                    if (beta == 0.0) { // must not be read
                        std::fill(c.begin(), c.end(), std::numeric_limits<double>::quiet_NaN());
                    }
                    parallel_gemm<double>(s.m, s.n, s.k, {a.data(), lda, ta}, {b.data(), ldb, tb},
                                          beta, c.data(), s.n);
                    double worst = 0.0;
                    for (std::size_t q = 0; q < c.size(); ++q) {
                        const double e =
                            std::abs(c[q] - expected[q]) / (1.0 + std::abs(expected[q]));
                        worst = std::isnan(e) ? std::numeric_limits<double>::infinity()
                                              : std::max(worst, e);
                    }
                    BOOST_TEST_CONTEXT("m " << s.m << " n " << s.n << " k " << s.k << " ta " << ta
                                            << " tb " << tb << " beta " << beta) {
                        BOOST_TEST(worst < 1e-12);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(parallel_gemm_is_bit_identical_for_any_thread_count) {
#if defined(_OPENMP)
    const std::vector<shape> shapes{{32, 9216, 288}, {32, 288, 9216}, {288, 9216, 32}};
    unsigned seed = 40;
    for (const shape& s : shapes) {
        const auto a = random_vector<float>(s.m * s.k, seed++);
        const auto b = random_vector<float>(s.k * s.n, seed++);
        const auto c0 = random_vector<float>(s.m * s.n, seed++);
        std::vector<std::vector<float>> results;
        const int before = omp_get_max_threads();
        for (int threads : {1, 2, 3}) {
            omp_set_num_threads(threads);
            std::vector<float> c = c0;
            parallel_gemm<float>(s.m, s.n, s.k, {a.data(), s.k, false}, {b.data(), s.n, false},
                                 1.0F, c.data(), s.n);
            results.push_back(c);
        }
        omp_set_num_threads(before);
        BOOST_TEST_CONTEXT("m " << s.m << " n " << s.n << " k " << s.k) {
            BOOST_TEST((results[0] == results[1]));
            BOOST_TEST((results[0] == results[2]));
        }
    }
#else
    BOOST_TEST_MESSAGE("built without OpenMP: one thread only");
#endif
}

BOOST_AUTO_TEST_CASE(im2col_col2im_and_padding_are_adjoint) {
    using namespace xrestore::train::kernels;
    struct conv_case {
        std::size_t in, h, w, k, stride;
    };
    for (const conv_case& c : {conv_case{3, 11, 9, 3, 1}, conv_case{2, 12, 13, 3, 2},
                               conv_case{4, 9, 10, 5, 2}, conv_case{2, 7, 8, 1, 2}}) {
        const std::size_t oh = (c.h - c.k) / c.stride + 1;
        const std::size_t ow = (c.w - c.k) / c.stride + 1;
        const std::size_t rows = c.in * c.k * c.k;
        const auto x = random_vector<double>(c.in * c.h * c.w, 7);
        const auto y = random_vector<double>(rows * oh * ow, 8);
        std::vector<double> ax(y.size());
        std::vector<double> aty(x.size());
        for (std::size_t j = 0; j < rows * oh; ++j) {
            im2col_body<double>{x.data(), c.h, c.w, c.k, c.stride, oh, ow, ax.data()}(j);
        }
        for (std::size_t j = 0; j < c.in * c.h; ++j) {
            col2im_body<double>{y.data(), c.h, c.w, c.k, c.stride, oh, ow, aty.data()}(j);
        }
        const double lhs = dot(ax, y);
        const double rhs = dot(x, aty);
        BOOST_TEST_CONTEXT("in " << c.in << " " << c.h << "x" << c.w << " k " << c.k << " s "
                                 << c.stride) {
            BOOST_TEST(std::abs(lhs - rhs) <= 1e-12 * (1.0 + std::abs(lhs)));
            // and im2col is a selection: every entry of A x is an entry of x
            BOOST_TEST(ax[rows * oh * ow - 1] ==
                       x[((c.in - 1) * c.h + (oh - 1) * c.stride + c.k - 1) * c.w +
                         (ow - 1) * c.stride + c.k - 1]);
        }
    }
    for (bool reflect : {false, true}) {
        const std::size_t planes = 3;
        const std::size_t h = 6;
        const std::size_t w = 5;
        for (std::size_t pad : {1U, 2U, 4U}) {
            const std::size_t ph = h + 2 * pad;
            const std::size_t pw = w + 2 * pad;
            const auto x = random_vector<double>(planes * h * w, 9);
            const auto y = random_vector<double>(planes * ph * pw, 10);
            std::vector<double> ax(y.size());
            std::vector<double> aty(x.size());
            for (std::size_t j = 0; j < planes * ph; ++j) {
                pad2d_body<double>{x.data(), h, w, pad, reflect, ax.data()}(j);
            }
            for (std::size_t j = 0; j < planes * h; ++j) {
                pad2d_adjoint_body<double>{y.data(), h, w, pad, reflect, aty.data()}(j);
            }
            const double lhs = dot(ax, y);
            const double rhs = dot(x, aty);
            BOOST_TEST_CONTEXT("reflect " << reflect << " pad " << pad) {
                BOOST_TEST(std::abs(lhs - rhs) <= 1e-12 * (1.0 + std::abs(lhs)));
                // row -1 of a reflect pad is row 1; of a zero pad, zeros
                const double corner = ax[(pad - 1) * pw + pad];
                BOOST_TEST(corner == (reflect ? x[1 * w] : 0.0));
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_train_gemm
