// train/detail/gemm.hpp and the im2col bodies of train/kernels/conv_bodies.hpp: the tiled
// parallel product against a plain triple loop for every transpose combination and for shapes
// that take each tiling path (several row tiles, wide column tiles, inner-dimension chunks),
// beta = 0 never reading C, results bit-identical for 1 and 2 threads, and im2col / col2im /
// padding as exact adjoints (<A x, y> = <x, A^T y>); in float, the products on the packed AVX-512
// kernel (operands packed per call) and on OpenBLAS against the same loop, and the transposing
// packers against plain loops.
#include <xrestore/nn/micro_gemm.hpp>
#include <xrestore/train/detail/gemm.hpp>
#include <xrestore/train/kernels/conv_bodies.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
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

namespace {

// the kernel choice of nn::gemm_kernel_choice() for one scope
struct kernel_choice_scope {
    explicit kernel_choice_scope(xrestore::nn::gemm_kernels choice)
        : before(xrestore::nn::gemm_kernel_choice().exchange(choice)) {}
    ~kernel_choice_scope() { xrestore::nn::gemm_kernel_choice().store(before); }
    kernel_choice_scope(const kernel_choice_scope&) = delete;
    kernel_choice_scope& operator=(const kernel_choice_scope&) = delete;
    xrestore::nn::gemm_kernels before;
};

} // namespace

BOOST_AUTO_TEST_CASE(float_products_match_a_double_loop_on_both_kernels) {
    using xrestore::nn::gemm_kernels;
    using xrestore::train::detail::gemm_batch;
    // partial 16-column panels (n = 1, 17, 33), single rows, rows past one 12-row block, a
    // depth that is not a multiple of 16, inner-dimension chunks (k = 2500 on a small output)
    const std::vector<shape> shapes{{13, 17, 5},   {1, 33, 19},   {40, 1, 37},
                                    {25, 130, 64}, {3, 40, 2500}, {129, 400, 33}};
    unsigned seed = 300;
    for (gemm_kernels choice : {gemm_kernels::best, gemm_kernels::portable}) {
        const kernel_choice_scope scope(choice);
        BOOST_TEST_MESSAGE(
            "packed kernel: " << xrestore::train::detail::train_products_on_packed_kernel());
        for (const shape& s : shapes) {
            for (bool ta : {false, true}) {
                for (bool tb : {false, true}) {
                    for (float beta : {0.0F, 1.0F, 0.5F}) {
                        for (bool batch : {false, true}) {
                            const std::size_t lda = ta ? s.m : s.k;
                            const std::size_t ldb = tb ? s.k : s.n;
                            const std::size_t count = batch ? 3 : 1;
                            const auto a = random_vector<float>(count * s.m * s.k, seed++);
                            const auto b = random_vector<float>(count * s.k * s.n, seed++);
                            auto c = random_vector<float>(count * s.m * s.n, seed++);
                            std::vector<double> expected(c.size());
                            std::vector<double> bound(c.size());
                            for (std::size_t q = 0; q < count; ++q) {
                                const std::vector<double> aq(a.begin() + q * s.m * s.k,
                                                             a.begin() + (q + 1) * s.m * s.k);
                                const std::vector<double> bq(b.begin() + q * s.k * s.n,
                                                             b.begin() + (q + 1) * s.k * s.n);
                                for (std::size_t i = 0; i < s.m; ++i) {
                                    for (std::size_t j = 0; j < s.n; ++j) {
                                        const std::size_t at = q * s.m * s.n + i * s.n + j;
                                        double sum = beta * static_cast<double>(c[at]);
                                        double size = std::abs(sum);
                                        for (std::size_t l = 0; l < s.k; ++l) {
                                            const double term = element(aq, lda, ta, i, l) *
                                                                element(bq, ldb, tb, l, j);
                                            sum += term;
                                            size += std::abs(term);
                                        }
                                        expected[at] = sum;
                                        bound[at] = 1e-6 + 1e-5 * size;
                                    }
                                }
                            }
                            if (beta == 0.0F) { // must not be read
                                std::fill(c.begin(), c.end(),
                                          std::numeric_limits<float>::quiet_NaN());
                            }
                            if (batch) {
                                gemm_batch<float>(count, s.m, s.n, s.k, {a.data(), lda, ta},
                                                  s.m * s.k, {b.data(), ldb, tb}, s.k * s.n, beta,
                                                  c.data(), s.n, s.m * s.n);
                            } else {
                                parallel_gemm<float>(s.m, s.n, s.k, {a.data(), lda, ta},
                                                     {b.data(), ldb, tb}, beta, c.data(), s.n);
                            }
                            std::size_t bad = 0;
                            for (std::size_t q = 0; q < c.size(); ++q) {
                                // NaN fails the comparison too
                                if (!(std::abs(static_cast<double>(c[q]) - expected[q]) <=
                                      bound[q])) {
                                    ++bad;
                                }
                            }
                            BOOST_TEST_CONTEXT("kernels "
                                               << static_cast<int>(choice) << " m " << s.m << " n "
                                               << s.n << " k " << s.k << " ta " << ta << " tb "
                                               << tb << " beta " << beta << " batch " << batch) {
                                BOOST_TEST(bad == 0U);
                            }
                        }
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(transposing_packers_match_plain_loops) {
    namespace nn = xrestore::nn;
    using nn::gemm_kernels;
    for (gemm_kernels choice : {gemm_kernels::best, gemm_kernels::portable}) {
        const kernel_choice_scope scope(choice);
        struct dims {
            std::size_t rows, cols, ld;
        };
        for (const dims d :
             {dims{1, 1, 1}, dims{16, 16, 16}, dims{17, 33, 40}, dims{35, 5, 9}, dims{3, 50, 50}}) {
            const auto s = random_vector<float>(d.rows * d.ld, 77);
            // transpose_floats: to (cols x rows, stride rows + 3) = s^T, the gaps untouched
            const std::size_t ldt = d.rows + 3;
            std::vector<float> to(d.cols * ldt, -7.0F);
            nn::transpose_floats(d.rows, d.cols, s.data(), d.ld, to.data(), ldt);
            bool same = true;
            for (std::size_t c = 0; c < d.cols; ++c) {
                for (std::size_t r = 0; r < ldt; ++r) {
                    const float want = r < d.rows ? s[r * d.ld + c] : -7.0F;
                    same = same && to[c * ldt + r] == want;
                }
            }
            // pack_gemm_panels_transposed(k = cols, n = rows) equals packing the transpose
            const std::size_t k = d.cols;
            const std::size_t n = d.rows;
            std::vector<float> dense(k * n);
            for (std::size_t i = 0; i < k; ++i) {
                for (std::size_t j = 0; j < n; ++j) {
                    dense[i * n + j] = s[j * d.ld + i];
                }
            }
            const std::size_t size = (n + 15) / 16 * 16 * k;
            nn::packed_floats direct(size);
            nn::packed_floats transposed(size);
            std::fill(transposed.data(), transposed.data() + size, -1.0F);
            nn::pack_gemm_panels(k, n, dense.data(), n, direct.data());
            nn::pack_gemm_panels_transposed(k, n, s.data(), d.ld, transposed.data());
            BOOST_TEST_CONTEXT("kernels " << static_cast<int>(choice) << " rows " << d.rows
                                          << " cols " << d.cols) {
                BOOST_TEST(same);
                BOOST_TEST(std::equal(direct.data(), direct.data() + size, transposed.data()));
                // the columns past n in the last panel are zeros
                if (n % 16 != 0) {
                    const std::size_t last = (n / 16) * k * 16;
                    BOOST_TEST(direct[last + (k - 1) * 16 + n % 16] == 0.0F);
                    BOOST_TEST(direct[last + n % 16 - 1] == dense[n - 1]);
                }
            }
        }
    }
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
