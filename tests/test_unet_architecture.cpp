// The U-Net's architecture table against the PyTorch module's names and shapes, the FLOP count
// against its closed form, and the state_dict reader that builds on the table.
#include <boost/test/unit_test.hpp>

#include "unet_test_support.hpp"

#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>
#include <xrestore/nn/unet_state_dict.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_unet_architecture)

using namespace xrestore;
namespace fs = std::filesystem;

namespace {

const fs::path unet_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "unet";

/// The FLOPs of a forward pass written out from the module's definition (2 per multiply-add):
/// with C_l = chans 2^l and N_l = (H >> l)(W >> l) pixels at level l,
///   encoder l    2 9 (in_l C_l + C_l^2) N_l, in_0 = in_chans, in_l = C_{l-1}
///   bottleneck   2 9 (C_{P-1} C_P + C_P^2) N_P
///   decoder l    2 4 C_{l+1} C_l N_{l+1} + 2 9 (2 C_l C_l + C_l^2) N_l
///   head         2 C_0 out_chans N_0
double closed_form_flops(const nn::unet_config& c, std::size_t h, std::size_t w) {
    const std::size_t p = c.num_pool_layers;
    auto channels = [&](std::size_t l) { return double(c.chans << l); };
    auto pixels = [&](std::size_t l) { return double((h >> l) * (w >> l)); };
    double total = 0.0;
    for (std::size_t l = 0; l < p; ++l) {
        const double in = l == 0 ? double(c.in_chans) : channels(l - 1);
        total += 18.0 * (in * channels(l) + channels(l) * channels(l)) * pixels(l);
        total += 8.0 * channels(l + 1) * channels(l) * pixels(l + 1);
        total += 18.0 * (3.0 * channels(l) * channels(l)) * pixels(l);
    }
    total += 18.0 * (channels(p - 1) * channels(p) + channels(p) * channels(p)) * pixels(p);
    total += 2.0 * channels(0) * double(c.out_chans) * pixels(0);
    return total;
}

} // namespace

BOOST_AUTO_TEST_CASE(table_names_and_channels_follow_the_pytorch_module) {
    // Unet(in_chans=2, out_chans=1, chans=4, num_pool_layers=2)
    const nn::unet_architecture arch({2, 1, 4, 2});
    struct expected_layer {
        nn::layer_kind kind;
        std::size_t in, out, level;
        std::string weight;
    };
    using nn::layer_kind;
    const std::vector<expected_layer> expected = {
        {layer_kind::conv3x3, 2, 4, 0, "down_sample_layers.0.layers.0.weight"},
        {layer_kind::conv3x3, 4, 4, 0, "down_sample_layers.0.layers.4.weight"},
        {layer_kind::conv3x3, 4, 8, 1, "down_sample_layers.1.layers.0.weight"},
        {layer_kind::conv3x3, 8, 8, 1, "down_sample_layers.1.layers.4.weight"},
        {layer_kind::conv3x3, 8, 16, 2, "conv.layers.0.weight"},
        {layer_kind::conv3x3, 16, 16, 2, "conv.layers.4.weight"},
        {layer_kind::conv_transpose2x2, 16, 8, 1, "up_transpose_conv.0.layers.0.weight"},
        {layer_kind::conv3x3, 16, 8, 1, "up_conv.0.layers.0.weight"},
        {layer_kind::conv3x3, 8, 8, 1, "up_conv.0.layers.4.weight"},
        {layer_kind::conv_transpose2x2, 8, 4, 0, "up_transpose_conv.1.layers.0.weight"},
        {layer_kind::conv3x3, 8, 4, 0, "up_conv.1.0.layers.0.weight"},
        {layer_kind::conv3x3, 4, 4, 0, "up_conv.1.0.layers.4.weight"},
        {layer_kind::conv1x1, 4, 1, 0, "up_conv.1.1.weight"},
    };
    const std::vector<nn::layer_spec>& layers = arch.layers();
    BOOST_REQUIRE(layers.size() == expected.size());
    for (std::size_t k = 0; k < layers.size(); ++k) {
        BOOST_TEST((layers[k].kind == expected[k].kind), "layer " << k);
        BOOST_TEST(layers[k].in == expected[k].in, "layer " << k);
        BOOST_TEST(layers[k].out == expected[k].out, "layer " << k);
        BOOST_TEST(layers[k].level == expected[k].level, "layer " << k);
        BOOST_TEST(layers[k].weight == expected[k].weight);
        BOOST_TEST(layers[k].bias == (k + 1 == layers.size() ? "up_conv.1.1.bias" : ""));
    }
    // block indices and PyTorch weight shapes
    BOOST_TEST(arch.down(1) == 2U);
    BOOST_TEST(arch.bottleneck() == 4U);
    BOOST_TEST(arch.up_transpose(1) == 9U);
    BOOST_TEST(arch.up(1) == 10U);
    BOOST_TEST(arch.head() == 12U);
    BOOST_TEST(arch.decoder_level(0) == 1U);
    BOOST_TEST((layers[6].weight_shape() == std::vector<std::size_t>{16, 8, 2, 2}));
    BOOST_TEST(layers[6].input_level() == 2U);
    BOOST_TEST(layers[6].fan_in() == 8U * 4U);
    BOOST_TEST((layers[7].weight_shape() == std::vector<std::size_t>{8, 16, 3, 3}));
    BOOST_TEST(layers[7].fan_in() == 16U * 9U);
    BOOST_TEST((layers[12].weight_shape() == std::vector<std::size_t>{1, 4, 1, 1}));
}

BOOST_AUTO_TEST_CASE(level_sizes_halve_and_round_down) {
    const nn::unet_architecture arch({3, 3, 8, 3});
    const nn::unet_level_sizes s = arch.sizes(45, 61);
    BOOST_TEST((s.heights == std::vector<std::size_t>{45, 22, 11, 5}));
    BOOST_TEST((s.widths == std::vector<std::size_t>{61, 30, 15, 7}));
    BOOST_TEST(s.pixels(3) == 35U);
    BOOST_TEST(arch.channels(3) == 64U);
}

BOOST_AUTO_TEST_CASE(flops_equal_the_closed_form) {
    // Unet(1, 1, 2, 1) on 4 x 4, by hand: encoder 2 9 (1 2 + 2 2) 16 = 1728, bottleneck 2 9
    // (2 4 + 4 4) 4 = 1728, transposed 2 4 (4 2) 4 = 256, decoder block 2 9 (4 2 + 2 2) 16 =
    // 3456, head 2 (2 1) 16 = 64.
    BOOST_TEST(nn::unet_architecture({1, 1, 2, 1}).flops(4, 4) == 7232.0);
    BOOST_TEST(closed_form_flops({1, 1, 2, 1}, 4, 4) == 7232.0);
    for (const nn::unet_config c : {nn::unet_config{3, 3, 32, 4}, nn::unet_config{2, 1, 4, 2},
                                    nn::unet_config{3, 1, 6, 3}, nn::unet_config{1, 1, 8, 1}}) {
        const nn::unet_architecture arch(c);
        for (const auto& [h, w] : {std::pair<std::size_t, std::size_t>{256, 256},
                                   std::pair<std::size_t, std::size_t>{45, 61},
                                   std::pair<std::size_t, std::size_t>{37, 90}}) {
            BOOST_TEST(arch.flops(h, w) == closed_form_flops(c, h, w),
                       "chans " << c.chans << " on " << h << " x " << w);
        }
    }
    // The shipped denoiser's count as the benchmarks report it (24.15 GFLOP on 256 x 256).
    const nn::unet net = nn::unet::from_state_dict(
        load_weights(fs::path(XRESTORE_TEST_DIR) / ".." / "models" / "denoiser_unet_c32.pth"));
    BOOST_TEST(net.flops(256, 256) == 24150802432.0);
    BOOST_TEST(net.flops(45, 61) == 910953344.0);
}

BOOST_AUTO_TEST_CASE(architecture_refuses_bad_configurations) {
    BOOST_CHECK_THROW(nn::unet_architecture({3, 3, 8, 0}), value_error);
    BOOST_CHECK_THROW(nn::unet_architecture({3, 3, 8, 17}), value_error);
    BOOST_CHECK_THROW(nn::unet_architecture({0, 3, 8, 2}), value_error);
    BOOST_CHECK_THROW(nn::unet_architecture({3, 3, 0, 2}), value_error);
    BOOST_CHECK_NO_THROW(nn::unet_architecture({3, 3, 8, 16}));
}

BOOST_AUTO_TEST_CASE(reader_returns_every_tensor_in_table_order) {
    const state_dict sd = load_weights(unet_dir / "c8_p4.pth");
    const nn::unet_tensors t = nn::read_unet_tensors(sd);
    BOOST_TEST((t.config == nn::unet_config{3, 3, 8, 4}));
    BOOST_TEST(t.prefix.empty());
    const nn::unet_architecture arch(t.config);
    BOOST_REQUIRE(t.weights.size() == arch.layers().size());
    for (std::size_t k = 0; k < arch.layers().size(); ++k) {
        const nn::layer_spec& layer = arch.layers()[k];
        BOOST_TEST(t.weights[k] == &sd.at(layer.weight), layer.weight);
        BOOST_TEST((t.weights[k]->shape == layer.weight_shape()), layer.weight);
        BOOST_TEST((t.biases[k] == (layer.bias.empty() ? nullptr : &sd.at(layer.bias))));
    }
    // a wrapper prefix is stripped and reported
    state_dict wrapped;
    for (const auto& [name, tensor] : sd.entries()) {
        wrapped.insert("module." + name, tensor);
    }
    const nn::unet_tensors w = nn::read_unet_tensors(wrapped);
    BOOST_TEST(w.prefix == "module.");
    BOOST_TEST(w.weights.front() == &wrapped.at("module.down_sample_layers.0.layers.0.weight"));
    // a random state_dict from the table reads back as its configuration
    const nn::unet_config config{2, 1, 6, 3};
    BOOST_TEST((nn::read_unet_tensors(test::random_unet(config, 3)).config == config));
}

BOOST_AUTO_TEST_SUITE_END() // test_unet_architecture
