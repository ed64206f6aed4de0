// The Winograd F(2x2, 3x3) convolution (nn/winograd.hpp) and the packed-weights matrix kernel
// under it (nn/micro_gemm.hpp), both kernel sets (AVX-512 where the processor has it, and the
// portable one), against the definitions computed in double.
#include <boost/test/unit_test.hpp>

#include "unet_test_support.hpp"

#include <xrestore/io/state_dict.hpp>
#include <xrestore/nn/feature_map.hpp>
#include <xrestore/nn/layers.hpp>
#include <xrestore/nn/micro_gemm.hpp>
#include <xrestore/nn/winograd.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_nn_winograd)

using namespace xrestore;
using xrestore::test::uniform_values;

namespace {

weight_tensor conv_weight(std::size_t out, std::size_t in, std::uint64_t seed) {
    return xrestore::test::uniform_weight({out, in, 3, 3}, seed, 0.5F);
}

/// Sets the kernel choice for its lifetime.
class kernel_choice {
public:
    explicit kernel_choice(nn::gemm_kernels k) : previous_(nn::gemm_kernel_choice().load()) {
        nn::gemm_kernel_choice() = k;
    }
    ~kernel_choice() { nn::gemm_kernel_choice() = previous_; }
    kernel_choice(const kernel_choice&) = delete;
    kernel_choice& operator=(const kernel_choice&) = delete;

private:
    nn::gemm_kernels previous_;
};

/// The kernel sets this machine can run: portable always, AVX-512 where present.
std::vector<nn::gemm_kernels> kernel_sets() {
    std::vector<nn::gemm_kernels> sets{nn::gemm_kernels::portable};
    if (nn::cpu_has_avx512()) {
        sets.push_back(nn::gemm_kernels::best);
    }
    return sets;
}

/// out(y, x, o) = sum_i sum_(dy, dx) w[o][i][dy][dx] in(y + dy - 1, x + dx - 1, i), zero outside,
/// in double; `in` is read through the map (its border must be zero).
std::vector<double> reference_conv(const nn::feature_map& in, const weight_tensor& w,
                                   std::size_t out) {
    const std::size_t h = in.height;
    const std::size_t wd = in.width;
    const std::size_t cin = in.channels;
    std::vector<double> y(h * wd * out, 0.0);
    for (std::size_t r = 0; r < h; ++r) {
        for (std::size_t c = 0; c < wd; ++c) {
            for (std::size_t o = 0; o < out; ++o) {
                double acc = 0.0;
                for (std::ptrdiff_t dy = 0; dy < 3; ++dy) {
                    for (std::ptrdiff_t dx = 0; dx < 3; ++dx) {
                        const float* p =
                            in.pixel(std::ptrdiff_t(r) + dy - 1, std::ptrdiff_t(c) + dx - 1);
                        for (std::size_t i = 0; i < cin; ++i) {
                            acc += double(w.values[((o * cin + i) * 3 + std::size_t(dy)) * 3 +
                                                   std::size_t(dx)]) *
                                   double(p[i]);
                        }
                    }
                }
                y[(r * wd + c) * out + o] = acc;
            }
        }
    }
    return y;
}

/// A convolution test case: input and output channels, map height and width.
struct conv_case {
    std::size_t in, out, h, w;
};

/// The largest error allowed for an output of largest magnitude `largest`: float rounding
/// grows with the transforms' coefficients (at most 1 for m = 2; 4, 5 and 8 for m = 4), so
/// F(4x4, 3x3) is allowed 5 times as much.
double tolerance(std::size_t tile, double largest) {
    return (tile == 2 ? 2e-6 : 1e-5) * std::max(1.0, largest);
}

/// Both Winograd tiles with each kernel set.
std::vector<std::pair<nn::conv3x3_method, nn::gemm_kernels>> methods_and_kernels() {
    std::vector<std::pair<nn::conv3x3_method, nn::gemm_kernels>> all;
    for (const auto method : {nn::conv3x3_method::winograd_2x2, nn::conv3x3_method::winograd_4x4}) {
        for (const nn::gemm_kernels set : kernel_sets()) {
            all.emplace_back(method, set);
        }
    }
    return all;
}

} // namespace

BOOST_AUTO_TEST_CASE(packed_gemm_matches_the_definition) {
    // Rows around the kernel's 12-row blocks (and the 8 + 8 split of 16), one to three panels
    // (the odd one alone), whole and partial last panels, lda > k, ldc > n.
    for (const std::size_t m : {1, 5, 12, 13, 16, 30}) {
        for (const std::size_t k : {1, 16, 37}) {
            for (const std::size_t n : {5, 16, 20, 32, 40, 48}) {
                const std::size_t lda = k + 3;
                const std::size_t ldc = n + 16;
                const std::vector<float> a = uniform_values(m * lda, m * 100 + k);
                const std::vector<float> b_dense = uniform_values(k * n, k * 10 + n);
                nn::packed_floats b((n + 15) / 16 * k * 16);
                nn::pack_gemm_panels(k, n, b_dense.data(), n, b.data());
                for (const nn::gemm_kernels set : kernel_sets()) {
                    const kernel_choice choice(set);
                    std::vector<float> c(m * ldc, 7.0F);
                    nn::gemm_packed(m, n, k, a.data(), lda, b.data(), c.data(), ldc);
                    double worst = 0.0;
                    for (std::size_t r = 0; r < m; ++r) {
                        for (std::size_t j = 0; j < n; ++j) {
                            double expected = 0.0;
                            for (std::size_t i = 0; i < k; ++i) {
                                expected += double(a[r * lda + i]) * b_dense[i * n + j];
                            }
                            worst = std::max(worst, std::abs(c[r * ldc + j] - expected));
                        }
                        // the columns past n are not written
                        for (std::size_t j = n; j < ldc; ++j) {
                            BOOST_TEST(c[r * ldc + j] == 7.0F);
                        }
                    }
                    BOOST_TEST(worst <= 1e-5, m << " x " << n << " x " << k << ", kernels "
                                                << int(set) << ": " << worst);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(transposed_convolution_matches_the_definition) {
    // Into the first half of a two-map buffer (a decoder level's [upsampled | skip]): the skip's
    // channels must stay as they are. Output counts with a partial panel.
    for (const std::size_t out : {5, 16, 24}) {
        const std::size_t in = 20;
        const std::size_t h = 5;
        const std::size_t w = 7;
        const weight_tensor wt = xrestore::test::uniform_weight({in, out, 2, 2}, out, 0.5F);
        const auto packed = nn::pack_conv_transpose2x2(wt, "w", in, out);
        nn::padded_buffer in_buf(h, w, in);
        const std::vector<float> values = uniform_values(h * w * in, out + 1);
        for (std::size_t i = 0; i < values.size(); ++i) {
            in_buf.map().at(i / (w * in), i / in % w, i % in) = values[i];
        }
        for (const nn::gemm_kernels set : kernel_sets()) {
            const kernel_choice choice(set);
            nn::padded_buffer out_buf(2 * h + 1, 2 * w, 2 * out);
            const nn::feature_map up = out_buf.map(0, out);
            const nn::feature_map skip = out_buf.map(out, out);
            for (std::size_t y = 0; y < 2 * h + 1; ++y) {
                for (std::size_t x = 0; x < 2 * w; ++x) {
                    for (std::size_t o = 0; o < out; ++o) {
                        skip.at(y, x, o) = 3.0F;
                    }
                }
            }
            nn::conv_transpose2x2(in_buf.map(), packed, up);
            double worst = 0.0;
            for (std::size_t y = 0; y < 2 * h; ++y) {
                for (std::size_t x = 0; x < 2 * w; ++x) {
                    for (std::size_t o = 0; o < out; ++o) {
                        double expected = 0.0;
                        for (std::size_t i = 0; i < in; ++i) {
                            expected += double(in_buf.map().at(y / 2, x / 2, i)) *
                                        wt.values[((i * out + o) * 2 + y % 2) * 2 + x % 2];
                        }
                        worst = std::max(worst, std::abs(up.at(y, x, o) - expected));
                        BOOST_TEST(skip.at(y, x, o) == 3.0F);
                    }
                }
            }
            BOOST_TEST(worst <= 1e-5, out << " outputs, kernels " << int(set) << ": " << worst);
            // the extra row is not written
            BOOST_TEST(up.at(2 * h, 0, 0) == 0.0F);
        }
    }
}

BOOST_AUTO_TEST_CASE(kernel_transform_closed_forms) {
    // G g G^T for g with one 1 at (dy, dx): the outer product of columns dy and dx of G.
    const std::vector<double> g2 = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
    const std::vector<double> g4 = {1.0 / 4,  0,         0,        -1.0 / 6, -1.0 / 6, -1.0 / 6,
                                    -1.0 / 6, 1.0 / 6,   -1.0 / 6, 1.0 / 24, 1.0 / 12, 1.0 / 6,
                                    1.0 / 24, -1.0 / 12, 1.0 / 6,  0,        0,        1};
    // Nine outputs of one input, output 3 dy + dx with its single 1 at (dy, dx).
    weight_tensor unit;
    unit.shape = {9, 1, 3, 3};
    unit.values.assign(81, 0.0F);
    for (std::size_t k = 0; k < 9; ++k) {
        unit.values[k * 9 + k] = 1.0F;
    }
    for (const auto& [tile, set] :
         {std::pair{2U, nn::gemm_kernels::portable}, std::pair{4U, nn::gemm_kernels::portable},
          std::pair{2U, nn::gemm_kernels::best}, std::pair{4U, nn::gemm_kernels::best}}) {
        const std::vector<double>& g_matrix = tile == 2 ? g2 : g4;
        const std::size_t alpha = tile + 2;
        const kernel_choice choice(set); // the packer's transform has an AVX-512 clone
        const nn::winograd3x3_weights w = nn::pack_winograd3x3(unit, "unit", 1, 9, tile);
        for (std::size_t dy = 0; dy < 3; ++dy) {
            for (std::size_t dx = 0; dx < 3; ++dx) {
                for (std::size_t i = 0; i < alpha; ++i) {
                    for (std::size_t j = 0; j < alpha; ++j) {
                        const auto expected =
                            static_cast<float>(g_matrix[3 * i + dy] * g_matrix[3 * j + dx]);
                        BOOST_TEST(w.panel(alpha * i + j, 0)[3 * dy + dx] == expected);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(weight_transform_clones_agree) {
    // the packer's portable and AVX-512 transforms: the same double arithmetic, rounded once to
    // float (fused multiply-adds may move a value by one unit in the last place)
    const weight_tensor wt = conv_weight(40, 20, 4040);
    for (const std::size_t tile : {2U, 4U}) {
        std::vector<nn::winograd3x3_weights> packed;
        for (const nn::gemm_kernels set : kernel_sets()) {
            const kernel_choice choice(set);
            packed.push_back(nn::pack_winograd3x3(wt, "w", 20, 40, tile));
        }
        const nn::packed_floats& a = packed.front().packed;
        const nn::packed_floats& b = packed.back().packed;
        BOOST_TEST(a.size() == b.size());
        std::size_t apart = 0;
        for (std::size_t q = 0; q < a.size(); ++q) {
            if (!(std::abs(a[q] - b[q]) <= 1.2e-7F * std::abs(a[q]) + 1e-12F)) {
                ++apart;
            }
        }
        BOOST_TEST(apart == 0U, "tile " << tile << ": " << apart << " values apart");
    }
}

BOOST_AUTO_TEST_CASE(convolution_matches_the_definition) {
    // Even and odd sizes (tiles past the map), single rows and columns, 1 to 5 panels with
    // partial ones, pieces split by panels (small maps) and by tiles (larger ones).
    for (const conv_case k :
         {conv_case{16, 16, 2, 2}, conv_case{16, 5, 1, 9}, conv_case{20, 24, 7, 9},
          conv_case{17, 40, 9, 1}, conv_case{64, 80, 6, 7}, conv_case{32, 32, 33, 31},
          conv_case{48, 16, 64, 50}, conv_case{3, 8, 5, 6}}) {
        const weight_tensor wt = conv_weight(k.out, k.in, k.in * 31 + k.out);
        // the input is the second half of a two-map buffer (as a decoder level's skip)
        nn::padded_buffer in_buf(k.h, k.w, 2 * k.in);
        const nn::feature_map in = in_buf.map(k.in, k.in);
        const std::vector<float> values = uniform_values(k.h * k.w * k.in, k.h * 1000 + k.w);
        for (std::size_t r = 0; r < k.h; ++r) {
            for (std::size_t c = 0; c < k.w; ++c) {
                for (std::size_t i = 0; i < k.in; ++i) {
                    in.at(r, c, i) = values[(r * k.w + c) * k.in + i];
                }
            }
        }
        const std::vector<double> expected = reference_conv(in, wt, k.out);
        for (const auto& [method, set] : methods_and_kernels()) {
            const nn::conv3x3_weights packed = nn::pack_conv3x3(wt, "w", k.in, k.out, method);
            BOOST_TEST(packed.is_winograd());
            BOOST_TEST(packed.packed.empty());
            BOOST_TEST(packed.winograd.tile ==
                       (method == nn::conv3x3_method::winograd_2x2 ? 2U : 4U));
            const kernel_choice choice(set);
            std::vector<float> out_buf(nn::padded_size(k.h, k.w, k.out), 7.0F);
            const nn::feature_map out = nn::scratch_map(out_buf, k.h, k.w, k.out);
            nn::channel_moments moments;
            nn::conv3x3(in, packed, out, &moments);
            double worst = 0.0;
            double largest = 0.0;
            for (std::size_t r = 0; r < k.h; ++r) {
                for (std::size_t c = 0; c < k.w; ++c) {
                    for (std::size_t o = 0; o < k.out; ++o) {
                        const double e = expected[(r * k.w + c) * k.out + o];
                        worst = std::max(worst, std::abs(out.at(r, c, o) - e));
                        largest = std::max(largest, std::abs(e));
                    }
                }
            }
            BOOST_TEST_MESSAGE(k.in << "->" << k.out << " at " << k.h << "x" << k.w << ", tile "
                                    << packed.winograd.tile << ": max error " << worst
                                    << ", max |y| " << largest);
            BOOST_TEST(worst <= tolerance(packed.winograd.tile, largest),
                       k.in << "->" << k.out << " at " << k.h << "x" << k.w << ", tile "
                            << packed.winograd.tile << ", kernels " << int(set) << ": " << worst
                            << " (max |y| " << largest << ")");
            // the border is zero for the next layer
            for (std::ptrdiff_t x = -1; x <= std::ptrdiff_t(k.w); ++x) {
                BOOST_TEST(out.pixel(-1, x)[0] == 0.0F);
                BOOST_TEST(out.pixel(std::ptrdiff_t(k.h), x)[k.out - 1] == 0.0F);
            }
            // the moments are the output's
            const nn::channel_moments direct = nn::compute_moments(out, k.h, k.w);
            BOOST_TEST(moments.count == k.h * k.w);
            for (std::size_t o = 0; o < k.out; ++o) {
                BOOST_TEST(std::abs(moments.sum[o] - direct.sum[o]) <=
                           1e-5 * (1.0 + std::abs(direct.sum[o])));
                BOOST_TEST(std::abs(moments.sum_sq[o] - direct.sum_sq[o]) <=
                           1e-5 * direct.sum_sq[o]);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(direct_convolution_and_head_match_the_definition) {
    // the direct method on the packed kernel: taps gathered (fewer than 16 inputs) and one
    // product per tap (16 or more), whole and partial output panels, output-channel blocks (a
    // small map with many outputs), on each kernel set; and the 1x1 head
    for (const conv_case k :
         {conv_case{1, 16, 9, 11}, conv_case{3, 5, 7, 6}, conv_case{15, 40, 5, 9},
          conv_case{16, 24, 8, 7}, conv_case{20, 33, 1, 13}, conv_case{32, 128, 4, 4},
          conv_case{64, 64, 30, 29}}) {
        const weight_tensor wt = conv_weight(k.out, k.in, k.in * 7 + k.out);
        nn::padded_buffer in_buf(k.h, k.w, k.in);
        const nn::feature_map in = in_buf.map();
        const std::vector<float> values = uniform_values(k.h * k.w * k.in, k.h * 100 + k.w);
        for (std::size_t q = 0; q < values.size(); ++q) {
            in.at(q / (k.w * k.in), q / k.in % k.w, q % k.in) = values[q];
        }
        const std::vector<double> expected = reference_conv(in, wt, k.out);
        for (const nn::gemm_kernels set : kernel_sets()) {
            const kernel_choice choice(set);
            const nn::conv3x3_weights packed =
                nn::pack_conv3x3(wt, "w", k.in, k.out, nn::conv3x3_method::direct);
            BOOST_TEST(!packed.is_winograd());
            BOOST_TEST(packed.gathers_taps() == (k.in < 16));
            nn::padded_buffer out_buf(k.h, k.w, k.out);
            const nn::feature_map out = out_buf.map();
            nn::conv3x3(in, packed, out);
            double worst = 0.0;
            double largest = 0.0;
            for (std::size_t q = 0; q < expected.size(); ++q) {
                const float got = out.at(q / (k.w * k.out), q / k.out % k.w, q % k.out);
                worst = std::max(worst, std::abs(got - expected[q]));
                largest = std::max(largest, std::abs(expected[q]));
            }
            // float sums of 9 in terms: the direct method's rounding (tolerance(2, ...) is the
            // F(2x2) bound, which the direct method meets with room)
            BOOST_TEST(worst <= tolerance(2, largest),
                       k.in << "->" << k.out << " at " << k.h << "x" << k.w << ", kernels "
                            << int(set) << ": " << worst << " (max |y| " << largest << ")");
        }
    }
    // 1x1 head: planar output plus bias
    for (const std::size_t out : {1U, 3U, 17U}) {
        const std::size_t in = 20;
        weight_tensor weight;
        weight.shape = {out, in, 1, 1};
        weight.values = uniform_values(out * in, out + 1);
        weight_tensor bias;
        bias.shape = {out};
        bias.values = uniform_values(out, out + 2);
        nn::padded_buffer in_buf(5, 7, in);
        const nn::feature_map x = in_buf.map();
        const std::vector<float> values = uniform_values(5 * 7 * in, 99);
        for (std::size_t q = 0; q < values.size(); ++q) {
            x.at(q / (7 * in), q / in % 7, q % in) = values[q];
        }
        for (const nn::gemm_kernels set : kernel_sets()) {
            const kernel_choice choice(set);
            const nn::conv1x1_weights w = nn::pack_conv1x1(weight, "w", bias, "b", in, out);
            std::vector<float> y(out * 5 * 7);
            std::vector<float> scratch;
            nn::conv1x1(x, w, y.data(), scratch);
            double worst = 0.0;
            for (std::size_t o = 0; o < out; ++o) {
                for (std::size_t p = 0; p < 35; ++p) {
                    double e = bias.values[o];
                    for (std::size_t i = 0; i < in; ++i) {
                        e += double(weight.values[o * in + i]) * x.at(p / 7, p % 7, i);
                    }
                    worst = std::max(worst, std::abs(y[o * 35 + p] - e));
                }
            }
            BOOST_TEST(worst <= 1e-5, "1x1 head, " << out << " outputs: " << worst);
        }
    }
}

BOOST_AUTO_TEST_CASE(direct_and_winograd_agree_and_automatic_picks_by_inputs) {
    BOOST_TEST(nn::winograd_tile_for(256, 256) == 4U);
    BOOST_TEST(nn::winograd_tile_for(512, 256) == 2U);
    for (const std::size_t in : {8, 15, 16, 40}) {
        const weight_tensor wt = conv_weight(24, in, in);
        const auto automatic = nn::pack_conv3x3(wt, "w", in, 24);
        BOOST_TEST(automatic.is_winograd() == (in >= 16));
        if (automatic.is_winograd()) {
            BOOST_TEST(automatic.winograd.tile == nn::winograd_tile_for(in, 24));
        }
        const auto direct = nn::pack_conv3x3(wt, "w", in, 24, nn::conv3x3_method::direct);
        BOOST_TEST(!direct.is_winograd());
        for (const auto method :
             {nn::conv3x3_method::winograd_2x2, nn::conv3x3_method::winograd_4x4}) {
            const auto winograd = nn::pack_conv3x3(wt, "w", in, 24, method);
            nn::padded_buffer in_buf(19, 23, in);
            const nn::feature_map x = in_buf.map();
            const std::vector<float> values = uniform_values(19 * 23 * in, in + 5);
            for (std::size_t i = 0; i < values.size(); ++i) {
                x.at(i / (23 * in), i / in % 23, i % in) = values[i];
            }
            nn::padded_buffer a_buf(19, 23, 24);
            nn::padded_buffer b_buf(19, 23, 24);
            nn::conv3x3(x, direct, a_buf.map());
            nn::conv3x3(x, winograd, b_buf.map());
            double worst = 0.0;
            double largest = 0.0;
            for (std::size_t r = 0; r < 19; ++r) {
                for (std::size_t c = 0; c < 23; ++c) {
                    for (std::size_t o = 0; o < 24; ++o) {
                        const float e = a_buf.map().at(r, c, o);
                        worst = std::max(worst, double(std::abs(e - b_buf.map().at(r, c, o))));
                        largest = std::max(largest, double(std::abs(e)));
                    }
                }
            }
            BOOST_TEST(worst <= tolerance(winograd.winograd.tile, largest),
                       in << " inputs, tile " << winograd.winograd.tile << ": " << worst);
        }
    }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_thread_count) {
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    for (const std::size_t size : {2, 6, 40}) {
        for (const auto method :
             {nn::conv3x3_method::winograd_2x2, nn::conv3x3_method::winograd_4x4}) {
            const std::size_t cin = 32;
            const std::size_t cout = 96;
            const weight_tensor wt = conv_weight(cout, cin, size);
            const auto packed = nn::pack_conv3x3(wt, "w", cin, cout, method);
            nn::padded_buffer in_buf(size, size + 1, cin);
            const std::vector<float> values = uniform_values(size * (size + 1) * cin, size);
            for (std::size_t i = 0; i < values.size(); ++i) {
                in_buf.map().at(i / ((size + 1) * cin), i / cin % (size + 1), i % cin) = values[i];
            }
            nn::padded_buffer one(size, size + 1, cout);
            nn::padded_buffer four(size, size + 1, cout);
            nn::channel_moments m1;
            nn::channel_moments m4;
            omp_set_num_threads(1);
            nn::conv3x3(in_buf.map(), packed, one.map(), &m1);
            omp_set_num_threads(4);
            nn::conv3x3(in_buf.map(), packed, four.map(), &m4);
            omp_set_num_threads(threads);
            const std::span<const float> a(one.map().data, one.size());
            const std::span<const float> b(four.map().data, four.size());
            BOOST_TEST(std::equal(a.begin(), a.end(), b.begin()), size << " x " << size + 1);
            BOOST_TEST(m1.sum == m4.sum);
            BOOST_TEST(m1.sum_sq == m4.sum_sq);
        }
    }
#else
    BOOST_TEST_MESSAGE("built without OpenMP: one thread only");
#endif
}

BOOST_AUTO_TEST_CASE(packing_hands_over_every_source_value_once_in_order) {
    // 600 outputs: three blocks of up to 256 outputs, the last one partial.
    const weight_tensor wt = conv_weight(600, 16, 9);
    for (const std::size_t tile : {2, 4}) {
        const float* begin = wt.values.data();
        const float* next = begin;
        std::size_t calls = 0;
        const nn::winograd3x3_weights w = nn::detail::pack_winograd3x3_checked(
            wt, 16, 600, tile, [&](std::span<const float> part) {
                BOOST_TEST(part.data() == next);
                next = part.data() + part.size();
                ++calls;
            });
        BOOST_TEST(calls == 3U);
        BOOST_TEST(next == begin + wt.values.size());
        BOOST_TEST(w.panels == 38U);
        BOOST_TEST(w.positions() == (tile + 2) * (tile + 2));
        BOOST_TEST(w.packed.size() == w.positions() * 38U * 16U * 16U);
        // the padding outputs 600..607 of the last panel are zero at every position
        for (std::size_t xi = 0; xi < w.positions(); ++xi) {
            for (std::size_t i = 0; i < 16; ++i) {
                for (std::size_t j = 600 % 16; j < 16; ++j) {
                    BOOST_TEST(w.panel(xi, 37)[i * 16 + j] == 0.0F);
                }
            }
        }
        // the packed weights are 64-byte aligned for the kernel's loads
        BOOST_TEST(reinterpret_cast<std::uintptr_t>(w.packed.data()) % 64 == 0U);
    }
}

BOOST_AUTO_TEST_CASE(wrong_shapes_are_refused) {
    const weight_tensor wt = conv_weight(24, 16, 1);
    const auto packed = nn::pack_winograd3x3(wt, "w", 16, 24);
    nn::padded_buffer a(5, 5, 16);
    nn::padded_buffer b(5, 5, 20);
    nn::padded_buffer c(5, 6, 24);
    BOOST_CHECK_THROW(nn::conv3x3_winograd(a.map(), packed, b.map()), shape_error);
    BOOST_CHECK_THROW(nn::conv3x3_winograd(a.map(), packed, c.map()), shape_error);
    BOOST_CHECK_THROW(nn::conv3x3_winograd(b.map(), packed, b.map()), shape_error);
    BOOST_CHECK_THROW(nn::pack_winograd3x3(wt, "w", 16, 25), shape_error);
    BOOST_CHECK_THROW(nn::pack_winograd3x3(wt, "w", 16, 24, 3), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
