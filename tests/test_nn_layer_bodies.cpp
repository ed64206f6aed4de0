// The device U-Net (nn/device_unet.cuh) runs these bodies in device kernels and the planar pass
// of nn/planar_unet.hpp with cuDNN convolutions. Here the bodies run in plain loops on the CPU
// and the same pass runs with direct convolutions, against the CPU layers, the CPU network, the
// CPU denoiser and the PyTorch fixtures: the device arithmetic and step order without a GPU.
#include "test_support.hpp"
#include "unet_test_support.hpp"

#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/feature_map.hpp>
#include <xrestore/nn/layer_bodies.hpp>
#include <xrestore/nn/layers.hpp>
#include <xrestore/nn/planar_unet.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>
#include <xrestore/nn/unet_state_dict.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_nn_layer_bodies)

using namespace xrestore;
namespace fs = std::filesystem;
namespace bodies = xrestore::nn::kernels;
using xrestore::test::random_unet;
using xrestore::test::uniform_values;

namespace {

const fs::path unet_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "unet";

/// Run body(i) for i < n in a plain loop (what the device runs in a grid-stride kernel).
template <class Body>
void run(std::size_t n, const Body& body) {
    for (std::size_t i = 0; i < n; ++i) {
        body(i);
    }
}

/// out[s] = sum of term(s length + i) for i < length, in double.
template <class Term>
void segment_sums(std::size_t segments, std::size_t length, const Term& term, double* out) {
    for (std::size_t s = 0; s < segments; ++s) {
        double total = 0.0;
        for (std::size_t i = 0; i < length; ++i) {
            total += term(s * length + i);
        }
        out[s] = total;
    }
}

/// The interior of map `m` as planar C x H x W values.
std::vector<float> planar_of(const nn::feature_map& m) {
    std::vector<float> out(m.channels * m.height * m.width);
    for (std::size_t c = 0; c < m.channels; ++c) {
        for (std::size_t y = 0; y < m.height; ++y) {
            for (std::size_t x = 0; x < m.width; ++x) {
                out[(c * m.height + y) * m.width + x] = m.at(y, x, c);
            }
        }
    }
    return out;
}

double max_abs_diff(const float* a, const float* b, std::size_t n) {
    double worst = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    }
    return worst;
}

/// ||a - b|| / ||b||
double normalised_error(const float* a, const float* b, std::size_t n) {
    double difference = 0.0;
    double reference = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = double(a[i]) - double(b[i]);
        difference += d * d;
        reference += double(b[i]) * double(b[i]);
    }
    return reference > 0.0 ? std::sqrt(difference / reference) : std::sqrt(difference);
}

/// The element-wise part of an executor: bodies and segment sums in plain loops.
struct loop_executor {
    template <class Body>
    void for_each_index(std::size_t n, const Body& body) const {
        run(n, body);
    }
    template <class Term>
    void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                      double* out) const {
        test_nn_layer_bodies::segment_sums(segments, length, term, out);
    }
};

/// The executor of nn::planar_unet_forward on the CPU: the bodies in loops, and direct
/// convolutions on PyTorch-layout weights (double accumulation) where the device calls cuDNN.
struct direct_executor : loop_executor {
    nn::unet_architecture arch;
    std::vector<std::vector<float>> weights;
    std::vector<std::vector<float>> biases;
    std::vector<nn::conv_call> calls;

    explicit direct_executor(const state_dict& sd) {
        const nn::unet_tensors t = nn::read_unet_tensors(sd);
        arch = nn::unet_architecture(t.config);
        for (std::size_t k = 0; k < arch.layers().size(); ++k) {
            weights.push_back(t.weights[k]->values);
            biases.push_back(t.biases[k] == nullptr ? std::vector<float>{} : t.biases[k]->values);
        }
    }

    void convolve(const nn::conv_call& call) {
        calls.push_back(call);
        const nn::layer_spec& s = arch.layers().at(call.layer);
        const std::vector<float>& w = weights[call.layer];
        const std::size_t h = call.height;
        const std::size_t wd = call.width;
        for (std::size_t n = 0; n < call.batch; ++n) {
            const float* in = call.in + n * s.in * h * wd;
            switch (s.kind) {
            case nn::layer_kind::conv3x3: {
                float* out = call.out + n * s.out * h * wd;
                for (std::size_t o = 0; o < s.out; ++o) {
                    for (std::size_t y = 0; y < h; ++y) {
                        for (std::size_t x = 0; x < wd; ++x) {
                            double acc = 0.0;
                            for (std::size_t i = 0; i < s.in; ++i) {
                                for (std::size_t dy = 0; dy < 3; ++dy) {
                                    for (std::size_t dx = 0; dx < 3; ++dx) {
                                        // cross-correlation with zero padding 1
                                        const std::size_t yy = y + dy;
                                        const std::size_t xx = x + dx;
                                        if (yy < 1 || xx < 1 || yy > h || xx > wd) {
                                            continue;
                                        }
                                        acc += double(w[((o * s.in + i) * 3 + dy) * 3 + dx]) *
                                               in[(i * h + yy - 1) * wd + xx - 1];
                                    }
                                }
                            }
                            out[(o * h + y) * wd + x] = static_cast<float>(acc);
                        }
                    }
                }
                break;
            }
            case nn::layer_kind::conv_transpose2x2: {
                // out(o, 2y + dy, 2x + dx) = sum_i in(i, y, x) W[i, o, dy, dx]
                float* out = call.out + n * s.out * 4 * h * wd;
                for (std::size_t o = 0; o < s.out; ++o) {
                    for (std::size_t y = 0; y < 2 * h; ++y) {
                        for (std::size_t x = 0; x < 2 * wd; ++x) {
                            double acc = 0.0;
                            for (std::size_t i = 0; i < s.in; ++i) {
                                acc += double(in[(i * h + y / 2) * wd + x / 2]) *
                                       w[((i * s.out + o) * 2 + y % 2) * 2 + x % 2];
                            }
                            out[(o * 2 * h + y) * 2 * wd + x] = static_cast<float>(acc);
                        }
                    }
                }
                break;
            }
            case nn::layer_kind::conv1x1: {
                float* out = call.out + n * s.out * h * wd;
                for (std::size_t o = 0; o < s.out; ++o) {
                    for (std::size_t p = 0; p < h * wd; ++p) {
                        double acc = 0.0;
                        for (std::size_t i = 0; i < s.in; ++i) {
                            acc += double(w[o * s.in + i]) * in[i * h * wd + p];
                        }
                        out[o * h * wd + p] = static_cast<float>(acc);
                    }
                }
                break;
            }
            }
        }
    }
    [[nodiscard]] const float* bias(std::size_t layer) const { return biases.at(layer).data(); }
};

/// The network through the planar pass on the CPU; x is N x C x H x W.
tensor<4> planar_forward(direct_executor& ex, const tensor<4>& x, bool keep_activations = false) {
    const auto s = shape_of<4>(x);
    const nn::planar_unet_layout layout =
        nn::planar_unet_plan(ex.arch, s[0], s[2], s[3], keep_activations);
    // Poisoned scratch: every value the pass reads must have been written by it.
    std::vector<float> floats(layout.floats, std::numeric_limits<float>::quiet_NaN());
    std::vector<double> doubles(layout.doubles, std::numeric_limits<double>::quiet_NaN());
    tensor<4> y = xt::empty<float>({s[0], ex.arch.config().out_chans, s[2], s[3]});
    std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());
    nn::planar_unet_forward(ex, ex.arch, layout, x.data(), y.data(), floats.data(), doubles.data());
    return y;
}

/// D(y) for a C x H x W image through the bodies: normalise, the planar pass, the output body.
image denoise_through_bodies(direct_executor& ex, unet_call call, const image& y) {
    const auto s = shape_of<3>(y);
    const std::size_t group_channels = ex.arch.config().in_chans;
    const std::size_t groups = s[0] / group_channels;
    const unet_call_shape shape{s[0], group_channels, s[1] * s[2]};
    tensor<4> batch = xt::empty<float>({groups, group_channels, s[1], s[2]});
    std::vector<double> stats(unet_call_statistics::size(s[0], groups),
                              std::numeric_limits<double>::quiet_NaN());
    const unet_call_statistics view{stats.data(), s[0], groups};
    xrestore::detail::unet_call_normalise(ex, y.data(), shape, view, batch.data());
    const tensor<4> u = planar_forward(ex, batch);
    image out = xt::empty<float>({s[0], s[1], s[2]});
    xrestore::detail::unet_call_output(ex, call == unet_call::residual, y.data(), u.data(), shape,
                                       view, out.data());
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(instance_norm_bodies_match_the_cpu_layer) {
    // 5 channels of 7 x 9, values with an offset so the mean matters; eps and slope as used.
    const std::size_t c = 5;
    const std::size_t h = 7;
    const std::size_t w = 9;
    std::vector<float> planar = uniform_values(c * h * w, 1, -2.0F, 3.0F);
    std::vector<float> buffer(nn::padded_size(h, w, c));
    const nn::feature_map m = nn::scratch_map(buffer, h, w, c);
    nn::load_planar(planar.data(), m);
    nn::instance_norm_leaky_relu(m, h, w);
    const std::vector<float> expected = planar_of(m);

    std::vector<double> sums(2 * c);
    std::vector<float> coefficients(2 * c);
    segment_sums(c, h * w, xrestore::kernels::value_term{planar.data()}, sums.data());
    segment_sums(c, h * w, bodies::square_term{planar.data()}, sums.data() + c);
    run(c,
        bodies::instance_norm_coefficients_body{sums.data(), sums.data() + c, double(h * w), 1e-5F,
                                                coefficients.data(), coefficients.data() + c});
    run(c * h * w, bodies::normalise_leaky_relu_body{planar.data(), coefficients.data(),
                                                     coefficients.data() + c, h * w, 0.2F});
    BOOST_TEST(max_abs_diff(planar.data(), expected.data(), planar.size()) <= 2e-6);

    // Closed form: {1, 2, 3, 4} has mean 2.5 and biased variance 1.25; LeakyReLU 0.2 below 0.
    std::vector<float> four = {1, 2, 3, 4};
    segment_sums(1, 4, xrestore::kernels::value_term{four.data()}, sums.data());
    segment_sums(1, 4, bodies::square_term{four.data()}, sums.data() + 1);
    BOOST_TEST(sums[0] == 10.0);
    BOOST_TEST(sums[1] == 30.0);
    run(1, bodies::instance_norm_coefficients_body{sums.data(), sums.data() + 1, 4.0, 1e-5F,
                                                   coefficients.data(), coefficients.data() + 1});
    run(4, bodies::normalise_leaky_relu_body{four.data(), coefficients.data(),
                                             coefficients.data() + 1, 4, 0.2F});
    const double inv = 1.0 / std::sqrt(1.25 + 1e-5);
    BOOST_TEST(four[0] == float(-1.5 * inv * 0.2), boost::test_tools::tolerance(1e-6F));
    BOOST_TEST(four[1] == float(-0.5 * inv * 0.2), boost::test_tools::tolerance(1e-6F));
    BOOST_TEST(four[3] == float(1.5 * inv), boost::test_tools::tolerance(1e-6F));

    // A constant plane: variance 0, the output is 0 (not NaN).
    std::vector<float> flat(6, 0.375F);
    segment_sums(1, 6, xrestore::kernels::value_term{flat.data()}, sums.data());
    segment_sums(1, 6, bodies::square_term{flat.data()}, sums.data() + 1);
    run(1, bodies::instance_norm_coefficients_body{sums.data(), sums.data() + 1, 6.0, 1e-5F,
                                                   coefficients.data(), coefficients.data() + 1});
    run(6, bodies::normalise_leaky_relu_body{flat.data(), coefficients.data(),
                                             coefficients.data() + 1, 6, 0.2F});
    for (float v : flat) {
        BOOST_TEST(std::abs(v) <= 1e-6F);
    }
}

BOOST_AUTO_TEST_CASE(average_pooling_body_matches_the_cpu_layer_exactly) {
    struct pool_case {
        std::size_t c, h, w;
    };
    for (const pool_case k : {pool_case{3, 7, 9}, pool_case{2, 8, 6}, pool_case{1, 5, 3}}) {
        const std::vector<float> planar = uniform_values(k.c * k.h * k.w, k.h * 10 + k.w);
        std::vector<float> in_buf(nn::padded_size(k.h, k.w, k.c));
        std::vector<float> out_buf(nn::padded_size(k.h / 2, k.w / 2, k.c));
        const nn::feature_map in = nn::scratch_map(in_buf, k.h, k.w, k.c);
        const nn::feature_map out = nn::scratch_map(out_buf, k.h / 2, k.w / 2, k.c);
        nn::load_planar(planar.data(), in);
        nn::avg_pool2(in, out);
        const std::vector<float> expected = planar_of(out);
        std::vector<float> got(expected.size(), -1.0F);
        run(got.size(),
            bodies::avg_pool2_body{planar.data(), got.data(), k.h, k.w, k.h / 2, k.w / 2});
        BOOST_TEST(got == expected, boost::test_tools::per_element());
    }
    // Closed form: a 5 x 3 ramp 10 y + x pools to (0 + 1 + 10 + 11) / 4 and (20 + 21 + 30 + 31)
    // / 4.
    std::vector<float> ramp(15);
    for (std::size_t i = 0; i < 15; ++i) {
        ramp[i] = float(10 * (i / 3) + i % 3);
    }
    std::vector<float> pooled(2);
    run(2, bodies::avg_pool2_body{ramp.data(), pooled.data(), 5, 3, 2, 1});
    BOOST_TEST(pooled[0] == 5.5F);
    BOOST_TEST(pooled[1] == 25.5F);
}

BOOST_AUTO_TEST_CASE(reflect_pad_concat_body_matches_the_cpu_padding_and_concatenation) {
    // An upsampled map of h x w padded to each of the four skip sizes, next to a skip map.
    const std::size_t n = 2;
    const std::size_t c = 3;
    const std::size_t h = 4;
    const std::size_t w = 6;
    for (std::size_t extra_h : {0U, 1U}) {
        for (std::size_t extra_w : {0U, 1U}) {
            const std::size_t th = h + extra_h;
            const std::size_t tw = w + extra_w;
            const std::vector<float> up = uniform_values(n * c * h * w, 7 + extra_h + 2 * extra_w);
            const std::vector<float> skip = uniform_values(n * c * th * tw, 11);
            std::vector<float> cat(n * 2 * c * th * tw, -7.0F);
            run(n * c * th * tw,
                bodies::reflect_pad_concat_body{up.data(), c, h, w, cat.data(), 2 * c, 0, th, tw});
            run(n * c * th * tw, bodies::reflect_pad_concat_body{skip.data(), c, th, tw, cat.data(),
                                                                 2 * c, c, th, tw});
            for (std::size_t b = 0; b < n; ++b) {
                // the CPU layer: write the upsampled values into a th x tw map and pad it
                std::vector<float> buffer(nn::padded_size(th, tw, c), 0.0F);
                const nn::feature_map m = nn::scratch_map(buffer, th, tw, c);
                for (std::size_t k = 0; k < c; ++k) {
                    for (std::size_t y = 0; y < h; ++y) {
                        for (std::size_t x = 0; x < w; ++x) {
                            m.at(y, x, k) = up[((b * c + k) * h + y) * w + x];
                        }
                    }
                }
                nn::reflect_pad_to(m, h, w);
                const std::vector<float> padded = planar_of(m);
                const float* got = cat.data() + b * 2 * c * th * tw;
                BOOST_TEST(std::vector<float>(got, got + c * th * tw) == padded,
                           boost::test_tools::per_element());
                const float* skip_got = got + c * th * tw;
                const float* skip_in = skip.data() + b * c * th * tw;
                BOOST_TEST(std::vector<float>(skip_got, skip_got + c * th * tw) ==
                               std::vector<float>(skip_in, skip_in + c * th * tw),
                           boost::test_tools::per_element());
            }
        }
    }
    // Closed form: 2 x 2 {1, 2; 3, 4} padded to 3 x 3 mirrors the row and column before last.
    const std::vector<float> small = {1, 2, 3, 4};
    std::vector<float> out(9);
    run(9, bodies::reflect_pad_concat_body{small.data(), 1, 2, 2, out.data(), 1, 0, 3, 3});
    const std::vector<float> expected = {1, 2, 1, 3, 4, 3, 1, 2, 1};
    BOOST_TEST(out == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bias_body_adds_the_channel_bias_in_every_image) {
    const std::vector<float> bias = {0.5F, -1.0F, 2.0F};
    std::vector<float> x(2 * 3 * 4, 1.0F); // 2 images x 3 channels x 4 pixels
    run(x.size(), bodies::bias_add_body{x.data(), bias.data(), 3, 4});
    for (std::size_t i = 0; i < x.size(); ++i) {
        BOOST_TEST(x[i] == 1.0F + bias[(i / 4) % 3]);
    }
}

BOOST_AUTO_TEST_CASE(layer_specs_name_every_tensor_of_the_state_dict_once) {
    const state_dict sd = load_weights(unet_dir / "c8_p4.pth");
    const nn::unet net = nn::unet::from_state_dict(sd);
    const std::vector<nn::layer_spec> specs = nn::unet_architecture(net.config()).layers();
    BOOST_TEST(specs.size() == 5 * 4 + 3U);
    std::set<std::string> names;
    for (const nn::layer_spec& s : specs) {
        const weight_tensor& t = sd.at(s.weight);
        switch (s.kind) {
        case nn::layer_kind::conv3x3:
            BOOST_TEST((t.shape == std::vector<std::size_t>{s.out, s.in, 3, 3}), s.weight);
            break;
        case nn::layer_kind::conv_transpose2x2:
            BOOST_TEST((t.shape == std::vector<std::size_t>{s.in, s.out, 2, 2}), s.weight);
            break;
        case nn::layer_kind::conv1x1:
            BOOST_TEST((t.shape == std::vector<std::size_t>{s.out, s.in, 1, 1}), s.weight);
            BOOST_TEST((sd.at(s.bias).shape == std::vector<std::size_t>{s.out}));
            names.insert(s.bias);
            break;
        }
        names.insert(s.weight);
    }
    BOOST_TEST(names.size() == sd.size());
    // the head is last, the transposed convolutions follow the bottleneck at 2 P + 2 + 3 i
    BOOST_TEST((specs.back().kind == nn::layer_kind::conv1x1));
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST((specs[2 * 4 + 2 + 3 * i].kind == nn::layer_kind::conv_transpose2x2));
    }
}

BOOST_AUTO_TEST_CASE(planar_pass_matches_the_cpu_network_and_pytorch) {
    std::ifstream in(unet_dir / "manifest.json");
    const auto manifest = nlohmann::json::parse(in);
    std::size_t cases = 0;
    for (const auto& model : manifest["models"]) {
        const state_dict sd = load_weights(unet_dir / model["weights"].get<std::string>());
        const nn::unet net = nn::unet::from_state_dict(sd);
        direct_executor ex(sd);
        for (const auto& k : model["cases"]) {
            const tensor<4> x = read_npy<4>(unet_dir / k["input"].get<std::string>());
            const tensor<4> golden = read_npy<4>(unet_dir / k["output"].get<std::string>());
            const tensor<4> y = planar_forward(ex, x);
            const tensor<4> cpu = net.forward(x);
            const std::string what =
                model["model"].get<std::string>() + " on " + k["input"].get<std::string>();
            const double vs_cpu = normalised_error(y.data(), cpu.data(), y.size());
            const double vs_torch = max_abs_diff(y.data(), golden.data(), y.size());
            BOOST_TEST(vs_cpu <= 1e-5, what << ": normalised error vs nn::unet " << vs_cpu);
            BOOST_TEST(vs_torch <= 1e-4, what << ": max abs error vs PyTorch " << vs_torch);
            ++cases;
        }
    }
    BOOST_TEST(cases == 11U);
}

BOOST_AUTO_TEST_CASE(planar_pass_calls_every_layer_once_in_order) {
    const nn::unet_config config{2, 2, 4, 3};
    direct_executor ex(random_unet(config, 5));
    const tensor<4> x = [] {
        tensor<4> t = xt::empty<float>({2UL, 2UL, 45UL, 61UL});
        const std::vector<float> v = uniform_values(t.size(), 3, 0.0F, 1.0F);
        std::copy(v.begin(), v.end(), t.begin());
        return t;
    }();
    (void)planar_forward(ex, x);
    BOOST_REQUIRE(ex.calls.size() == ex.arch.layers().size());
    // 45 x 61 -> 22 x 30 -> 11 x 15 -> 5 x 7; 5 x 7 upsamples to 10 x 14 (padded to 11 x 15), 22 x
    // 30 to 44 x 60 (padded to 45 x 61)
    const std::vector<std::size_t> heights = {45, 45, 22, 22, 11, 11, 5,  5,  5,
                                              11, 11, 11, 22, 22, 22, 45, 45, 45};
    for (std::size_t i = 0; i < ex.calls.size(); ++i) {
        BOOST_TEST(ex.calls[i].layer == i);
        BOOST_TEST(ex.calls[i].batch == 2U);
        BOOST_TEST(ex.calls[i].height == heights[i], "layer " << i);
    }
    // and each call's size is the table's size of the layer's input level
    const nn::unet_level_sizes sizes = ex.arch.sizes(45, 61);
    for (std::size_t i = 0; i < ex.calls.size(); ++i) {
        const std::size_t level = ex.arch.layers()[i].input_level();
        BOOST_TEST(ex.calls[i].height == sizes.heights[level], "layer " << i);
        BOOST_TEST(ex.calls[i].width == sizes.widths[level], "layer " << i);
    }
}

BOOST_AUTO_TEST_CASE(planar_pass_keeping_every_activation) {
    // With every activation in its own slice the output is the same to the bit, and after the
    // pass each activation still holds what the next step read from it.
    const nn::unet_config config{2, 2, 4, 3};
    direct_executor ex(random_unet(config, 9));
    tensor<4> x = xt::empty<float>({2UL, 2UL, 45UL, 61UL});
    const std::vector<float> v = uniform_values(x.size(), 21, 0.0F, 1.0F);
    std::copy(v.begin(), v.end(), x.begin());
    const tensor<4> shared = planar_forward(ex, x);

    const nn::planar_unet_layout layout = nn::planar_unet_plan(ex.arch, 2, 45, 61, true);
    BOOST_TEST(layout.floats > nn::planar_unet_plan(ex.arch, 2, 45, 61).floats);
    std::vector<float> floats(layout.floats, std::numeric_limits<float>::quiet_NaN());
    std::vector<double> doubles(layout.doubles, std::numeric_limits<double>::quiet_NaN());
    tensor<4> y = xt::empty<float>({2UL, 2UL, 45UL, 61UL});
    nn::planar_unet_forward(ex, ex.arch, layout, x.data(), y.data(), floats.data(), doubles.data());
    BOOST_TEST(std::vector<float>(y.begin(), y.end()) ==
                   std::vector<float>(shared.begin(), shared.end()),
               boost::test_tools::per_element());

    const nn::unet_activations<nn::planar_map>& a = layout.maps;
    auto values = [&](const nn::planar_map& m) {
        const float* p = floats.data() + m.offset;
        return std::vector<float>(p, p + 2 * m.channels * m.height * m.width);
    };
    for (std::size_t l = 0; l < 3; ++l) {
        // pooled[l] is the pooling of the skip down[l].out
        const nn::planar_map& skip = a.down[l].out;
        const nn::planar_map& pooled = a.pooled[l];
        std::vector<float> expected(2 * pooled.channels * pooled.height * pooled.width);
        run(expected.size(),
            bodies::avg_pool2_body{floats.data() + skip.offset, expected.data(), skip.height,
                                   skip.width, pooled.height, pooled.width});
        BOOST_TEST(values(pooled) == expected, boost::test_tools::per_element());
        // the decoder's concatenation at level l holds the skip in its second half
        const nn::planar_map& concat = a.concat[ex.arch.pools() - 1 - l];
        const std::size_t half = skip.channels * skip.height * skip.width;
        for (std::size_t n = 0; n < 2; ++n) {
            const float* cat = floats.data() + concat.offset + (2 * n + 1) * half;
            const float* kept = floats.data() + skip.offset + n * half;
            BOOST_TEST(std::equal(cat, cat + half, kept), "level " << l << ", image " << n);
        }
    }
    // the first block's intermediate is still its first convolution, normalised with that
    // layer's kept coefficients
    const nn::planar_map& mid = a.down[0].mid;
    const float* scale = floats.data() + layout.coefficients[ex.arch.down(0)];
    const std::size_t planes = 2 * mid.channels;
    const std::size_t plane = mid.height * mid.width;
    std::vector<float> conv(planes * plane);
    nn::conv_call call{ex.arch.down(0), x.data(), conv.data(), 2, 45, 61};
    ex.convolve(call);
    std::vector<float> expected = conv;
    run(expected.size(),
        bodies::normalise_leaky_relu_body{expected.data(), scale, scale + planes, plane, 0.2F});
    BOOST_TEST(values(mid) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(planar_pass_on_a_random_network_with_odd_sizes) {
    // Random weights (PyTorch's default initialisation bounds), a batch of two, sizes that are
    // odd at every level so each decoder step pads a row and a column.
    for (const nn::unet_config config :
         {nn::unet_config{2, 2, 4, 3}, nn::unet_config{3, 1, 6, 2}, nn::unet_config{1, 1, 4, 1}}) {
        const state_dict sd = random_unet(config, 17 + config.chans);
        const nn::unet net = nn::unet::from_state_dict(sd);
        BOOST_TEST((net.config() == config));
        direct_executor ex(sd);
        tensor<4> x = xt::empty<float>({2UL, config.in_chans, 45UL, 61UL});
        const std::vector<float> v = uniform_values(x.size(), config.chans, 0.0F, 1.0F);
        std::copy(v.begin(), v.end(), x.begin());
        const tensor<4> y = planar_forward(ex, x);
        const tensor<4> cpu = net.forward(x);
        const double err = normalised_error(y.data(), cpu.data(), y.size());
        BOOST_TEST(err <= 1e-5, "chans " << config.chans << ": normalised error " << err);
    }
}

BOOST_AUTO_TEST_CASE(denoiser_bodies_match_the_cpu_call_conventions) {
    struct denoiser_case {
        std::string weights;
        std::size_t channels, height, width;
    };
    // a 3-channel network, and a single-channel one on a colour image (one group per channel)
    for (const denoiser_case& k :
         {denoiser_case{"c8_p4.pth", 3, 37, 45}, denoiser_case{"c4_p2_1to1.pth", 3, 33, 31}}) {
        const state_dict sd = load_weights(unet_dir / k.weights);
        auto net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(sd));
        direct_executor ex(sd);
        image y = xt::empty<float>({k.channels, k.height, k.width});
        const std::vector<float> v = uniform_values(y.size(), k.height, 0.2F, 0.9F);
        std::copy(v.begin(), v.end(), y.begin());
        for (const unet_call call : {unet_call::normalised, unet_call::residual}) {
            const unet_denoiser d(net, call);
            const image expected = d(y);
            const image got = denoise_through_bodies(ex, call, y);
            const double err = normalised_error(got.data(), expected.data(), got.size());
            BOOST_TEST(err <= 1e-5, k.weights << " " << to_string(call) << ": " << err);
        }
    }
}

BOOST_AUTO_TEST_CASE(denoiser_statistic_bodies_closed_forms) {
    // Two groups of one 2 x 2 channel: {1, 2, 3, 4} and {5, 5, 5, 5}.
    const std::vector<float> y = {1, 2, 3, 4, 5, 5, 5, 5};
    std::vector<double> stats(unet_call_statistics::size(2, 2));
    const unet_call_statistics s{stats.data(), 2, 2};
    const unet_call_shape shape{2, 1, 4};
    std::vector<float> normalised(8);
    const loop_executor ex;
    xrestore::detail::unet_call_normalise(ex, y.data(), shape, s, normalised.data());
    BOOST_TEST(s.channel_mean()[0] == 2.5);
    BOOST_TEST(s.channel_mean()[1] == 5.0);
    // unbiased std of {1, 2, 3, 4}: sqrt(5 / 3); a constant group is clamped at 1e-4
    BOOST_TEST(s.scale()[0] == std::sqrt(5.0 / 3.0), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(s.scale()[1] == 1e-4);
    BOOST_TEST(normalised[0] == float(-1.5 / std::sqrt(5.0 / 3.0)));
    BOOST_TEST(normalised[5] == 0.0F);
    // u = normalised: the normalised call gives y back, the residual call y - (y - m) = m
    std::vector<float> out(8);
    xrestore::detail::unet_call_output(ex, false, y.data(), normalised.data(), shape, s,
                                       out.data());
    for (std::size_t i = 0; i < 8; ++i) {
        BOOST_TEST(out[i] == y[i], boost::test_tools::tolerance(1e-6F));
    }
    xrestore::detail::unet_call_output(ex, true, y.data(), normalised.data(), shape, s, out.data());
    for (std::size_t i = 0; i < 8; ++i) {
        BOOST_TEST(out[i] == (i < 4 ? 2.5F : 5.0F), boost::test_tools::tolerance(1e-6F));
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_nn_layer_bodies
