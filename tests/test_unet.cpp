#include <boost/test/unit_test.hpp>

#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/pth_writer.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/nn/gemm.hpp>
#include <xrestore/nn/layers.hpp>
#include <xrestore/nn/micro_gemm.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/solvers/pnp.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>
#include <xtensor/xrandom.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(test_unet)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

const fs::path unet_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "unet";

nlohmann::json manifest() {
    std::ifstream in(unet_dir / "manifest.json");
    return nlohmann::json::parse(in);
}

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::abs(double(a.data()[i]) - double(b.data()[i])));
    }
    return worst;
}

nn::unet load_net(const fs::path& path) {
    return nn::unet::from_state_dict(load_weights(path));
}

/// A copy of `sd` without tensor `drop`, with `rename` applied to every name.
template <class Rename>
state_dict edited(const state_dict& sd, const std::string& drop, Rename rename) {
    state_dict out;
    for (const auto& [name, t] : sd.entries()) {
        if (name != drop) {
            out.insert(rename(name), t);
        }
    }
    return out;
}
state_dict without(const state_dict& sd, const std::string& drop) {
    return edited(sd, drop, [](const std::string& n) { return n; });
}

template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const xrestore::error& e) {
        return e.what();
    }
    BOOST_FAIL("expected an xrestore::error");
    return {};
}

/// Direct 3x3 convolution with zero padding on planar C x H x W arrays: the definition.
tensor<3> naive_conv3x3(const tensor<3>& x, const weight_tensor& w) {
    const std::size_t out = w.shape[0];
    const std::size_t in = w.shape[1];
    const std::size_t h = x.shape()[1];
    const std::size_t wd = x.shape()[2];
    tensor<3> y = xt::zeros<float>({out, h, wd});
    for (std::size_t o = 0; o < out; ++o) {
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t r = 0; r < h; ++r) {
                for (std::size_t c = 0; c < wd; ++c) {
                    double acc = 0.0;
                    for (std::size_t dy = 0; dy < 3; ++dy) {
                        for (std::size_t dx = 0; dx < 3; ++dx) {
                            const auto rr = static_cast<std::ptrdiff_t>(r + dy) - 1;
                            const auto cc = static_cast<std::ptrdiff_t>(c + dx) - 1;
                            if (rr < 0 || cc < 0 || rr >= std::ptrdiff_t(h) ||
                                cc >= std::ptrdiff_t(wd)) {
                                continue;
                            }
                            acc += double(w.values[((o * in + i) * 3 + dy) * 3 + dx]) *
                                   x(i, std::size_t(rr), std::size_t(cc));
                        }
                    }
                    y(o, r, c) += static_cast<float>(acc);
                }
            }
        }
    }
    return y;
}

weight_tensor random_weights(std::vector<std::size_t> shape, unsigned seed) {
    weight_tensor t;
    t.shape = std::move(shape);
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> u(-0.5F, 0.5F);
    t.values.resize(t.numel());
    for (auto& v : t.values) {
        v = u(gen);
    }
    return t;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_fixture_matches_pytorch) {
    const auto m = manifest();
    std::size_t cases = 0;
    for (const auto& model : m["models"]) {
        const nn::unet net = load_net(unet_dir / model["weights"].get<std::string>());
        const nn::unet_config& c = net.config();
        BOOST_TEST(c.in_chans == model["in_chans"].get<std::size_t>());
        BOOST_TEST(c.out_chans == model["out_chans"].get<std::size_t>());
        BOOST_TEST(c.chans == model["chans"].get<std::size_t>());
        BOOST_TEST(c.num_pool_layers == model["num_pool_layers"].get<std::size_t>());
        for (const auto& k : model["cases"]) {
            const tensor<4> x = read_npy<4>(unet_dir / k["input"].get<std::string>());
            const tensor<4> expected = read_npy<4>(unet_dir / k["output"].get<std::string>());
            const tensor<4> y = net.forward(x);
            const double err = max_abs_diff(y, expected);
            BOOST_TEST_MESSAGE(model["model"].get<std::string>()
                               << " " << k["input"].get<std::string>() << ": max abs error "
                               << err);
            BOOST_TEST(err <= 1e-4, model["model"].get<std::string>()
                                        << " on " << k["input"].get<std::string>()
                                        << ": max abs error " << err);
            ++cases;
        }
    }
    BOOST_TEST(cases == 11U);
}

BOOST_AUTO_TEST_CASE(portable_kernels_match_pytorch_too) {
    // The layers' portable kernels (those of processors without AVX-512) on every fixture.
    const nn::gemm_kernels previous = nn::gemm_kernel_choice().load();
    nn::gemm_kernel_choice() = nn::gemm_kernels::portable;
    std::size_t cases = 0;
    const auto m = manifest();
    for (const auto& model : m["models"]) {
        const nn::unet net = load_net(unet_dir / model["weights"].get<std::string>());
        for (const auto& k : model["cases"]) {
            const tensor<4> x = read_npy<4>(unet_dir / k["input"].get<std::string>());
            const tensor<4> expected = read_npy<4>(unet_dir / k["output"].get<std::string>());
            const double err = max_abs_diff(net.forward(x), expected);
            BOOST_TEST(err <= 1e-4, model["model"].get<std::string>()
                                        << " on " << k["input"].get<std::string>()
                                        << ": max abs error " << err);
            ++cases;
        }
    }
    nn::gemm_kernel_choice() = previous;
    BOOST_TEST(cases == 11U);
}

BOOST_AUTO_TEST_CASE(single_image_forward_equals_batch_of_one) {
    const nn::unet net = load_net(unet_dir / "c8_p4.pth");
    const tensor<4> x = read_npy<4>(unet_dir / "c8_p4_in_2x3x48x40.npy");
    const tensor<4> both = net.forward(x);
    const image second = xt::view(x, 1, xt::all(), xt::all(), xt::all());
    const image y = net.forward(second);
    const image expected = xt::view(both, 1, xt::all(), xt::all(), xt::all());
    BOOST_TEST(max_abs_diff(y, expected) == 0.0);
}

BOOST_AUTO_TEST_CASE(workspace_keeping_every_activation) {
    // The same pass with every activation in its own slice: the output is the same to the bit,
    // and after the pass each activation still holds what its step wrote.
    const nn::unet net = load_net(unet_dir / "c8_p4.pth");
    const tensor<4> x4 = read_npy<4>(unet_dir / "c8_p4_in_1x3x37x45.npy");
    const image x = xt::view(x4, 0, xt::all(), xt::all(), xt::all());
    nn::unet_workspace saved(true);
    const image y = net.forward(x, saved);
    BOOST_TEST(max_abs_diff(y, net.forward(x)) == 0.0);
    nn::unet_workspace shared;
    BOOST_TEST(max_abs_diff(net.forward(x, shared), y) == 0.0);
    BOOST_TEST(saved.keeps_activations());
    BOOST_TEST(saved.size() > shared.size());

    const nn::unet_activations<nn::feature_map>& a = saved.maps();
    const nn::unet_architecture& arch = net.architecture();
    // the input map is the image, channels-last
    BOOST_TEST(a.input.at(20, 30, 2) == x(2, 20, 30));
    // pooled[l] is the pooling of the skip down[l].out
    for (std::size_t l = 0; l < arch.pools(); ++l) {
        const nn::feature_map& pooled = a.pooled[l];
        std::vector<float> buffer(nn::padded_size(pooled.height, pooled.width, pooled.channels));
        const nn::feature_map again =
            nn::scratch_map(buffer, pooled.height, pooled.width, pooled.channels);
        nn::avg_pool2(a.down[l].out, again);
        std::size_t same = 0;
        for (std::size_t r = 0; r < pooled.height; ++r) {
            for (std::size_t c = 0; c < pooled.width; ++c) {
                for (std::size_t k = 0; k < pooled.channels; ++k) {
                    same += pooled.at(r, c, k) == again.at(r, c, k) ? 1 : 0;
                }
            }
        }
        BOOST_TEST(same == pooled.height * pooled.width * pooled.channels, "level " << l);
    }
    // every block's two maps are normalised with their layer's kept statistics: undoing the
    // LeakyReLU gives per channel mean 0 and variance v / (v + eps), v the conv's variance
    auto normalised_by = [&](const nn::feature_map& m, std::size_t layer) {
        const nn::channel_moments& moments = saved.moments().at(layer);
        BOOST_REQUIRE(moments.count == m.height * m.width);
        double worst = 0.0;
        for (std::size_t k = 0; k < m.channels; ++k) {
            double sum = 0.0;
            double squares = 0.0;
            for (std::size_t r = 0; r < m.height; ++r) {
                for (std::size_t c = 0; c < m.width; ++c) {
                    const double v = m.at(r, c, k);
                    const double u = v < 0.0 ? v / 0.2 : v;
                    sum += u;
                    squares += u * u;
                }
            }
            const double n = double(moments.count);
            const double mean = sum / n;
            const double conv_mean = moments.sum[k] / n;
            const double conv_variance = moments.sum_sq[k] / n - conv_mean * conv_mean;
            worst = std::max(worst, std::abs(mean));
            worst = std::max(worst, std::abs(squares / n - mean * mean -
                                             conv_variance / (conv_variance + 1e-5)));
        }
        return worst;
    };
    for (std::size_t l = 0; l < arch.pools(); ++l) {
        BOOST_TEST(normalised_by(a.down[l].mid, arch.down(l)) <= 1e-3, "down " << l);
        BOOST_TEST(normalised_by(a.down[l].out, arch.down(l) + 1) <= 1e-3, "down " << l);
        BOOST_TEST(normalised_by(a.up[l].mid, arch.up(l)) <= 1e-3, "up " << l);
        BOOST_TEST(normalised_by(a.up[l].out, arch.up(l) + 1) <= 1e-3, "up " << l);
    }
    BOOST_TEST(normalised_by(a.bottleneck.mid, arch.bottleneck()) <= 1e-3);
    BOOST_TEST(normalised_by(a.bottleneck.out, arch.bottleneck() + 1) <= 1e-3);
}

BOOST_AUTO_TEST_CASE(call_conventions_match_pytorch) {
    const auto calls = manifest()["calls"];
    const state_dict sd = load_weights(unet_dir / calls["weights"].get<std::string>());
    auto net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(sd));
    const tensor<4> x4 = read_npy<4>(unet_dir / calls["input"].get<std::string>());
    const image y = xt::view(x4, 0, xt::all(), xt::all(), xt::all());
    for (const std::string name : {"raw", "normalised", "residual"}) {
        const unet_denoiser d(net, parse_unet_call(name));
        const tensor<4> e4 =
            read_npy<4>(unet_dir / calls["outputs"][name]["output"].get<std::string>());
        const image expected = xt::view(e4, 0, xt::all(), xt::all(), xt::all());
        const double err = max_abs_diff(d(y), expected);
        BOOST_TEST(err <= 1e-4, name << " call: max abs error " << err);
    }
    BOOST_TEST(to_string(parse_unet_call("normalized")) == "normalised");
    BOOST_CHECK_THROW(parse_unet_call("scaled"), value_error);
}

BOOST_AUTO_TEST_CASE(shipped_default_denoiser_matches_pytorch) {
    const auto shipped = manifest()["shipped"];
    const fs::path weights =
        fs::path(XRESTORE_TEST_DIR) / ".." / "models" / "denoiser_unet_c32.pth";
    BOOST_REQUIRE_MESSAGE(fs::exists(weights), "the default denoiser " << weights << " is missing");
    // The convention comes from the JSON sidecar beside the weights.
    const unet_denoiser d = load_unet_denoiser(weights);
    BOOST_TEST(to_string(d.call()) == "residual");
    const tensor<4> x4 = read_npy<4>(unet_dir / shipped["input"].get<std::string>());
    const tensor<4> e4 = read_npy<4>(unet_dir / shipped["output"].get<std::string>());
    const image y = xt::view(x4, 0, xt::all(), xt::all(), xt::all());
    const image expected = xt::view(e4, 0, xt::all(), xt::all(), xt::all());
    const image out = d(y);
    BOOST_TEST(max_abs_diff(out, expected) <= 1e-4);
    // And it really denoises: the clean crop is the fixture's recipe without noise.
    const image clean = butterfly_crop(64, 64, 64);
    BOOST_TEST(psnr(clean, image(xt::clip(out, 0.0F, 1.0F))) > psnr(clean, y) + 5.0);
}

BOOST_AUTO_TEST_CASE(pth_and_safetensors_give_identical_outputs) {
    scratch_dir dir("xrestore_unet_");
    const state_dict sd = load_weights(unet_dir / "c16_p3.pth");
    write_safetensors(dir / "c16_p3.safetensors", sd);
    const nn::unet a = nn::unet::from_state_dict(sd);
    const nn::unet b = load_net(dir / "c16_p3.safetensors");
    const tensor<4> x = read_npy<4>(unet_dir / "c16_p3_in_1x3x37x45.npy");
    BOOST_TEST(max_abs_diff(a.forward(x), b.forward(x)) == 0.0);

    // float16 storage: same network up to half-precision rounding of the weights.
    write_safetensors(dir / "c16_p3_fp16.safetensors", sd, weight_dtype::float16);
    const nn::unet c = load_net(dir / "c16_p3_fp16.safetensors");
    const double err = max_abs_diff(a.forward(x), c.forward(x));
    BOOST_TEST(err > 0.0);
    BOOST_TEST(err < 0.05);
}

BOOST_AUTO_TEST_CASE(releasing_loader_builds_the_same_network_and_frees_the_values) {
    // from_state_dict_releasing (what load_unet_denoiser uses) against from_state_dict, on a
    // bare and a prefixed state_dict with an integer buffer the network leaves out
    const state_dict sd = load_weights(unet_dir / "c8_p2_3to1.pth");
    state_dict prefixed = edited(sd, "", [](const std::string& n) { return "module." + n; });
    weight_tensor count;
    count.stored_as = weight_dtype::int64;
    count.integers = {7};
    prefixed.insert("module.num_batches_tracked", count);
    const nn::unet a = nn::unet::from_state_dict(sd);
    const nn::unet b = nn::unet::from_state_dict_releasing(prefixed);
    BOOST_TEST((b.config() == a.config()));
    BOOST_TEST(b.load_notes().size() == 1u);
    const tensor<4> x = read_npy<4>(unet_dir / "c8_p2_3to1_in_1x3x32x32.npy");
    BOOST_TEST(max_abs_diff(a.forward(x), b.forward(x)) == 0.0);
    // every floating-point tensor was freed; names, shapes and the integer buffer stay
    BOOST_TEST(prefixed.size() == sd.size() + 1);
    for (const auto& [name, t] : prefixed.entries()) {
        BOOST_TEST(t.values.empty(), name);
        BOOST_TEST((!t.shape.empty() || t.is_integer()), name);
    }
    BOOST_TEST(prefixed.at("module.num_batches_tracked").integers == std::vector<std::int64_t>{7},
               boost::test_tools::per_element());
    // and the errors of from_state_dict
    state_dict missing =
        edited(sd, "up_conv.0.layers.4.weight", [](const std::string& n) { return n; });
    const std::string message =
        message_of([&] { (void)nn::unet::from_state_dict_releasing(missing); });
    BOOST_TEST(message == message_of([&] { (void)nn::unet::from_state_dict(missing); }));
    BOOST_TEST(message.find("missing tensor 'up_conv.0.layers.4.weight'") != std::string::npos,
               message);
}

BOOST_AUTO_TEST_CASE(mapped_loader_packs_straight_from_the_file) {
    // mapped_weights + from_mapped_weights (what load_unet_denoiser and the CLI use): the float32
    // tensors of a .pth and of a safetensors file are viewed in the mapped file (nothing copied),
    // and the network is the one from_state_dict builds, bit for bit; float16 is decoded
    scratch_dir dir("xrestore_unet_");
    const state_dict sd = load_weights(unet_dir / "c16_p3.pth");
    write_safetensors(dir / "c16_p3.safetensors", sd);
    write_safetensors(dir / "c16_p3_fp16.safetensors", sd, weight_dtype::float16);
    const tensor<4> x = read_npy<4>(unet_dir / "c16_p3_in_1x3x37x45.npy");
    const tensor<4> want = nn::unet::from_state_dict(sd).forward(x);
    for (const fs::path& file : {unet_dir / "c16_p3.pth", dir / "c16_p3.safetensors"}) {
        mapped_weights w(file);
        BOOST_TEST_REQUIRE(w.dict().size() == sd.size());
        auto same_values = [&] {
            for (const auto& [name, t] : w.dict().entries()) {
                const std::vector<float>& ref = sd.at(name).values;
                BOOST_TEST(t.values.empty(), name);
                BOOST_TEST_REQUIRE(t.mapped.size() == ref.size(), name);
                BOOST_TEST(std::equal(t.mapped.begin(), t.mapped.end(), ref.begin()), name);
                BOOST_TEST(t.floats().data() == t.mapped.data(), name);
            }
        };
        same_values();
        const nn::unet net = nn::unet::from_mapped_weights(w);
        BOOST_TEST(max_abs_diff(want, net.forward(x)) == 0.0, file.string());
        same_values(); // the dropped pages read back the file
    }
    mapped_weights half(dir / "c16_p3_fp16.safetensors");
    const state_dict half_sd = load_weights(dir / "c16_p3_fp16.safetensors");
    for (const auto& [name, t] : half.dict().entries()) {
        BOOST_TEST(t.mapped.empty(), name);
        BOOST_TEST(t.values == half_sd.at(name).values, name);
    }
    BOOST_TEST(max_abs_diff(nn::unet::from_mapped_weights(half).forward(x),
                            nn::unet::from_state_dict(half_sd).forward(x)) == 0.0);
    BOOST_TEST(half.dict().at("up_conv.2.1.weight").values.empty()); // freed once packed
}

BOOST_AUTO_TEST_CASE(mapped_loader_refuses_non_finite_weights_naming_the_tensor) {
    // the values are checked layer by layer while packing: the same errors as from_state_dict
    scratch_dir dir("xrestore_unet_");
    const state_dict sd = load_weights(unet_dir / "c8_p2_3to1.pth");
    const float bad_values[] = {std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
    // 3x3 weights checked as the packers read them: Winograd (16 or more inputs), direct with
    // the taps gathered (the first layer, 8 -> 8), per tap (16 inputs, conv3x3_method::direct)
    const char* const names[] = {"down_sample_layers.1.layers.4.weight",
                                 "conv.layers.0.weight",
                                 "down_sample_layers.0.layers.0.weight",
                                 "down_sample_layers.0.layers.4.weight",
                                 "up_conv.1.1.bias",
                                 "up_transpose_conv.0.layers.0.weight"};
    for (const char* name : names) {
        for (const float bad : bad_values) {
            state_dict broken = sd;
            std::vector<float>& v = broken.find(name)->values;
            v[v.size() / 2] = bad;
            write_pth(dir / "broken.pth", broken);
            write_safetensors(dir / "broken.safetensors", broken);
            const std::string want = message_of([&] { (void)nn::unet::from_state_dict(broken); });
            BOOST_TEST(want.find(std::string("tensor '") + name + "' contains non-finite values") !=
                           std::string::npos,
                       want);
            for (const char* file : {"broken.pth", "broken.safetensors"}) {
                mapped_weights w(dir / file);
                BOOST_TEST(message_of([&] { (void)nn::unet::from_mapped_weights(w); }) == want,
                           file);
                mapped_weights direct(dir / file);
                BOOST_TEST(message_of([&] {
                               (void)nn::unet::from_mapped_weights(direct,
                                                                   nn::conv3x3_method::direct);
                           }) == want,
                           file << " (direct)");
                BOOST_CHECK_THROW((void)load_unet_denoiser(dir / file, unet_call::raw),
                                  value_error);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(finite_check_finds_every_non_finite_value) {
    // all_finite (an exponent-bits test, vectorised, threaded for large tensors) against
    // std::isfinite, at every position class, for sizes around the vector width and the
    // threading threshold
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              -std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(),
                              std::numeric_limits<float>::denorm_min(),
                              std::numeric_limits<float>::min(),
                              -0.0F};
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16},
                                std::size_t{17}, std::size_t{1000}, (std::size_t{1} << 18) + 3}) {
        std::vector<float> v(n, 0.5F);
        BOOST_TEST(nn::detail::all_finite(v));
        if (n == 0) {
            continue;
        }
        for (const std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
            for (const float special : specials) {
                v[at] = special;
                BOOST_TEST(nn::detail::all_finite(v) == std::isfinite(special),
                           "n " << n << " at " << at << " value " << special);
                v[at] = 0.5F;
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(blas_kernel_correction_only_overrides_a_generic_choice) {
    // what the CLI's restart would set OPENBLAS_CORETYPE to: a fast kernel set when OpenBLAS
    // chose a generic one on a processor with AVX-512 or AVX2 + FMA, nothing otherwise or when
    // the user set the variable
    const std::string chosen = openblas_get_corename();
    const char* user = std::getenv("OPENBLAS_CORETYPE");
    const std::string fix = nn::blas_kernel_correction();
    BOOST_TEST((fix.empty() || fix == "SkylakeX" || fix == "Haswell"), fix);
    const bool generic = chosen == "Prescott" || chosen == "Core2" || chosen == "Penryn" ||
                         chosen == "Dunnington" || chosen == "Katmai" || chosen == "Banias" ||
                         chosen == "Northwood" || chosen == "unknown";
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vl");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const std::string want = user != nullptr || !generic ? ""
                             : avx512                    ? "SkylakeX"
                             : avx2                      ? "Haswell"
                                                         : "";
    BOOST_TEST(fix == want, "OpenBLAS chose " << chosen);
    const std::string saved = user == nullptr ? "" : user;
    ::setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    BOOST_TEST(nn::blas_kernel_correction().empty());
    if (user == nullptr) {
        ::unsetenv("OPENBLAS_CORETYPE");
    } else {
        ::setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
    }
}

BOOST_AUTO_TEST_CASE(packed_weights_copy_and_move) {
    nn::packed_floats a(5);
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<float>(i) + 0.25F;
    }
    nn::packed_floats b(a);
    BOOST_TEST(b.size() == 5u);
    BOOST_TEST(b.data() != a.data());
    BOOST_TEST(std::equal(a.data(), a.data() + 5, b.data()));
    nn::packed_floats c;
    BOOST_TEST(c.size() == 0u);
    BOOST_TEST(c.data() == nullptr);
    c = b;
    BOOST_TEST(std::equal(a.data(), a.data() + 5, c.data()));
    const float* moved_from = c.data();
    nn::packed_floats d(std::move(c));
    BOOST_TEST(d.data() == moved_from);
    BOOST_TEST(d[4] == 4.25F);
    a = nn::packed_floats(2);
    BOOST_TEST(a.size() == 2u);
}

BOOST_AUTO_TEST_CASE(call_convention_travels_in_safetensors_metadata) {
    scratch_dir dir("xrestore_unet_");
    state_dict sd = load_weights(unet_dir / "c8_p4.pth");
    // a file that declares no convention is refused rather than run with a guess
    const std::string undeclared =
        message_of([&] { (void)load_unet_denoiser(unet_dir / "c8_p4.pth"); });
    BOOST_TEST(undeclared.find("'" + (unet_dir / "c8_p4.pth").string() +
                               "' does not declare how the network is called") != std::string::npos,
               undeclared);
    BOOST_TEST(to_string(load_unet_denoiser(unet_dir / "c8_p4.pth", unet_call::raw).call()) ==
               "raw");
    sd.metadata["call"] = "residual";
    write_safetensors(dir / "w.safetensors", sd);
    BOOST_TEST(to_string(load_unet_denoiser(dir / "w.safetensors").call()) == "residual");
    BOOST_TEST(to_string(load_unet_denoiser(dir / "w.safetensors", unet_call::normalised).call()) ==
               "normalised");
}

BOOST_AUTO_TEST_CASE(wrapper_prefixes_are_stripped) {
    const state_dict sd = load_weights(unet_dir / "c8_p2_3to1.pth");
    const state_dict lightning = edited(sd, "", [](const std::string& n) { return "unet." + n; });
    const nn::unet a = nn::unet::from_state_dict(sd);
    const nn::unet b = nn::unet::from_state_dict(lightning);
    BOOST_TEST((b.config() == a.config()));
    const tensor<4> x = read_npy<4>(unet_dir / "c8_p2_3to1_in_1x3x32x32.npy");
    BOOST_TEST(max_abs_diff(a.forward(x), b.forward(x)) == 0.0);
}

BOOST_AUTO_TEST_CASE(architecture_errors_name_the_tensor) {
    const state_dict sd = load_weights(unet_dir / "c8_p4.pth");
    // Missing tensor.
    const std::string missing = message_of(
        [&] { (void)nn::unet::from_state_dict(without(sd, "up_conv.1.layers.4.weight")); });
    BOOST_TEST(missing.find("missing tensor 'up_conv.1.layers.4.weight'") != std::string::npos,
               missing);
    // Wrong shape: expected and found shapes in the message.
    state_dict bad;
    for (const auto& [name, t] : sd.entries()) {
        weight_tensor copy = t;
        if (name == "down_sample_layers.2.layers.4.weight") {
            copy.shape = {32, 16, 3, 3};
            copy.values.resize(32 * 16 * 9);
        }
        bad.insert(name, copy);
    }
    const std::string shape = message_of([&] { (void)nn::unet::from_state_dict(bad); });
    BOOST_TEST(shape.find("'down_sample_layers.2.layers.4.weight' must have shape 32 x 32 x 3 x "
                          "3, got 32 x 16 x 3 x 3") != std::string::npos,
               shape);
    // An unexpected extra tensor.
    state_dict extra = without(sd, "");
    extra.insert("head.weight", weight_tensor{{3}, {1, 2, 3}});
    const std::string unexpected = message_of([&] { (void)nn::unet::from_state_dict(extra); });
    BOOST_TEST(unexpected.find("unexpected tensor 'head.weight'") != std::string::npos, unexpected);
    // A non-finite weight.
    state_dict nan;
    for (const auto& [name, t] : sd.entries()) {
        weight_tensor copy = t;
        if (name == "conv.layers.0.weight") {
            copy.values[5] = std::numeric_limits<float>::quiet_NaN();
        }
        nan.insert(name, copy);
    }
    const std::string non_finite = message_of([&] { (void)nn::unet::from_state_dict(nan); });
    BOOST_TEST(non_finite.find("'conv.layers.0.weight' contains non-finite") != std::string::npos,
               non_finite);
    // Not a U-Net at all.
    state_dict other;
    other.insert("fc.weight", weight_tensor{{2, 2}, {1, 2, 3, 4}});
    const std::string foreign = message_of([&] { (void)nn::unet::from_state_dict(other); });
    BOOST_TEST(foreign.find("this is not a fastMRI U-Net (it has no tensor "
                            "'down_sample_layers.0.layers.0.weight', under any prefix): it has "
                            "keys like 'fc.weight' (1 tensor)") != std::string::npos,
               foreign);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_refused_with_clear_errors) {
    const nn::unet net = load_net(unet_dir / "c8_p4.pth");
    // 4 pool layers: 15 px halves to 0.
    const std::string small = message_of([&] {
        (void)net.forward(tensor<4>(xt::zeros<float>({1UL, 3UL, 15UL, 64UL})));
    });
    BOOST_TEST(small.find("too small for 4 pool layers") != std::string::npos, small);
    // 16 x 16 halves to a single pixel, where instance norm is undefined.
    BOOST_CHECK_THROW((void)net.forward(tensor<4>(xt::zeros<float>({1UL, 3UL, 16UL, 16UL}))),
                      shape_error);
    BOOST_CHECK_NO_THROW((void)net.forward(tensor<4>(xt::ones<float>({1UL, 3UL, 16UL, 32UL}))));
    const std::string channels = message_of([&] {
        (void)net.forward(tensor<4>(xt::zeros<float>({1UL, 1UL, 32UL, 32UL})));
    });
    BOOST_TEST(channels.find("N x 3 x H x W") != std::string::npos, channels);
    tensor<4> x = xt::zeros<float>({1UL, 3UL, 32UL, 32UL});
    x(0, 1, 3, 4) = std::numeric_limits<float>::infinity();
    BOOST_CHECK_THROW((void)net.forward(x), value_error);
    // A 3 -> 1 network is not a denoiser.
    auto three_to_one = std::make_shared<const nn::unet>(load_net(unet_dir / "c8_p2_3to1.pth"));
    BOOST_CHECK_THROW(unet_denoiser(three_to_one, unet_call::raw), shape_error);
}

BOOST_AUTO_TEST_CASE(single_channel_network_denoises_each_channel) {
    auto net = std::make_shared<const nn::unet>(load_net(unet_dir / "c4_p2_1to1.pth"));
    const unet_denoiser d(net, unet_call::residual);
    const image rgb = butterfly_crop(32);
    const image out = d(rgb);
    for (std::size_t c = 0; c < 3; ++c) {
        const image one = xt::view(rgb, xt::range(c, c + 1), xt::all(), xt::all());
        const image expected = d(one);
        const image got = xt::view(out, xt::range(c, c + 1), xt::all(), xt::all());
        BOOST_TEST(max_abs_diff(got, expected) == 0.0);
    }
}

BOOST_AUTO_TEST_CASE(conv3x3_tiles_match_the_definition) {
    // The direct method (test_nn_winograd tests the other): sizes that exercise the gather path
    // (in < 16), the nine-tap path, several row tiles and output-channel tiles.
    struct conv_case {
        std::size_t in, out, h, w;
    };
    for (const conv_case k : {conv_case{3, 8, 37, 45}, conv_case{20, 24, 70, 90},
                              conv_case{64, 128, 6, 7}, conv_case{17, 5, 1, 9}}) {
        const weight_tensor wt = random_weights({k.out, k.in, 3, 3}, unsigned(k.in * 7 + k.out));
        const auto packed = nn::pack_conv3x3(wt, "w", k.in, k.out, nn::conv3x3_method::direct);
        tensor<3> x = xt::random::rand<float>({k.in, k.h, k.w}, -1.0F, 1.0F);
        std::vector<float> in_buf(nn::padded_size(k.h, k.w, k.in), 7.0F);
        std::vector<float> out_buf(nn::padded_size(k.h, k.w, k.out), 7.0F);
        const nn::feature_map in = nn::scratch_map(in_buf, k.h, k.w, k.in);
        const nn::feature_map out = nn::scratch_map(out_buf, k.h, k.w, k.out);
        nn::load_planar(x.data(), in);
        nn::conv3x3(in, packed, out);
        const tensor<3> expected = naive_conv3x3(x, wt);
        double worst = 0.0;
        for (std::size_t o = 0; o < k.out; ++o) {
            for (std::size_t r = 0; r < k.h; ++r) {
                for (std::size_t c = 0; c < k.w; ++c) {
                    worst = std::max(worst, double(std::abs(out.at(r, c, o) - expected(o, r, c))));
                }
            }
        }
        BOOST_TEST(worst <= 1e-4, k.in << "->" << k.out << " at " << k.h << "x" << k.w
                                       << ": max abs error " << worst);
        // The border is zero again for the next layer.
        BOOST_TEST(out.pixel(-1, -1)[0] == 0.0F);
        BOOST_TEST(out.pixel(std::ptrdiff_t(k.h), std::ptrdiff_t(k.w))[k.out - 1] == 0.0F);
        BOOST_TEST(out.pixel(std::ptrdiff_t(k.h) / 2, std::ptrdiff_t(k.w))[0] == 0.0F);
    }
}

BOOST_AUTO_TEST_CASE(pooling_padding_and_norm_closed_forms) {
    // 2x2 average pooling of a 5 x 3 ramp rounds the odd sizes down.
    std::vector<float> a(nn::padded_size(5, 3, 1));
    std::vector<float> b(nn::padded_size(2, 1, 1));
    const nn::feature_map in = nn::scratch_map(a, 5, 3, 1);
    const nn::feature_map out = nn::scratch_map(b, 2, 1, 1);
    for (std::size_t y = 0; y < 5; ++y) {
        for (std::size_t x = 0; x < 3; ++x) {
            in.at(y, x, 0) = float(10 * y + x);
        }
    }
    nn::avg_pool2(in, out);
    BOOST_TEST(out.at(0, 0, 0) == 5.5F);  // (0 + 1 + 10 + 11) / 4
    BOOST_TEST(out.at(1, 0, 0) == 25.5F); // (20 + 21 + 30 + 31) / 4
    // Reflect padding of a 2 x 2 region to 3 x 3: the new row/column mirror the one before last.
    std::vector<float> c(nn::padded_size(3, 3, 2));
    const nn::feature_map m = nn::scratch_map(c, 3, 3, 2);
    m.at(0, 0, 1) = 1;
    m.at(0, 1, 1) = 2;
    m.at(1, 0, 1) = 3;
    m.at(1, 1, 1) = 4;
    nn::reflect_pad_to(m, 2, 2);
    BOOST_TEST(m.at(0, 2, 1) == 1.0F);
    BOOST_TEST(m.at(2, 0, 1) == 1.0F);
    BOOST_TEST(m.at(2, 1, 1) == 2.0F);
    BOOST_TEST(m.at(2, 2, 1) == 1.0F);
    BOOST_CHECK_THROW(nn::reflect_pad_to(m, 1, 3), shape_error);
    // Instance norm of {1, 2, 3, 4}: mean 2.5, biased variance 1.25; LeakyReLU 0.2 below zero.
    std::vector<float> d(nn::padded_size(2, 2, 1));
    const nn::feature_map n = nn::scratch_map(d, 2, 2, 1);
    n.at(0, 0, 0) = 1;
    n.at(0, 1, 0) = 2;
    n.at(1, 0, 0) = 3;
    n.at(1, 1, 0) = 4;
    nn::instance_norm_leaky_relu(n, 2, 2);
    const double inv = 1.0 / std::sqrt(1.25 + 1e-5);
    BOOST_TEST(n.at(0, 0, 0) == float(-1.5 * inv * 0.2), boost::test_tools::tolerance(1e-6F));
    BOOST_TEST(n.at(1, 1, 0) == float(1.5 * inv), boost::test_tools::tolerance(1e-6F));
}

BOOST_AUTO_TEST_CASE(pnp_admm_takes_the_network) {
    auto net = std::make_shared<const nn::unet>(load_net(unet_dir / "c8_p4.pth"));
    const unet_denoiser d(net, unet_call::residual);
    static_assert(denoiser<unet_denoiser>);
    const image truth = butterfly_crop(32);
    const inpainting A(random_mask(shape_of<3>(truth), 0.6, 5));
    const image y = A.apply(truth);
    int calls = 0;
    auto monitor = [&calls](int, const image&) { ++calls; };
    const auto r = pnp_admm(A, y, d, {.eta = 1e-4, .max_iter = 3}, monitor);
    BOOST_TEST(r.iterations == 3);
    BOOST_TEST(calls == 3);
    BOOST_TEST(xt::all(xt::isfinite(r.x)));
}

// Run by its own ctest (test_unet_c64_pytorch): it needs Debian's torch to make the network and
// its golden output, and exits 77 (reported as skipped, never as passed) without it.
BOOST_AUTO_TEST_CASE(full_size_c64_network_against_pytorch, *boost::unit_test::disabled()) {
    const std::string python = python_with_torch_or_skip();
    scratch_dir dir("xrestore_unet_c64_");
    const std::string command = std::string(python) + " " + XRESTORE_TEST_DIR +
                                "/../tools/dev/make_unet_golden.py --full-c64 " +
                                dir.path.string() + " > /dev/null";
    BOOST_REQUIRE(std::system(command.c_str()) == 0);
    const nn::unet net = load_net(dir / "c64_p4.pth");
    BOOST_TEST(net.config().chans == 64U);
    const tensor<4> x = read_npy<4>(dir / "in.npy");
    const double err = max_abs_diff(net.forward(x), read_npy<4>(dir / "out.npy"));
    BOOST_TEST(err <= 1e-4, "chans 64: max abs error " << err);
}

BOOST_AUTO_TEST_SUITE_END() // test_unet
