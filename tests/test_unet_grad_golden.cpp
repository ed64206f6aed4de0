// The PyTorch references of whole-U-Net loss gradients, tests/data/train/unet_grad_*.safetensors
// (tools/dev/make_unet_grad_golden.py): every file reads with the project's safetensors reader,
// holds a gradient for every weight the native network has and for the input, and its weights
// build a native U-Net whose forward pass on the stored input reproduces torch's float64 loss.
// So the files are consistent with the native forward before the backward pass checks against
// them (tests/test_train_unet.cpp does; tests/data/train/README.md says how).
#include <boost/test/unit_test.hpp>

#include "unet_grad_golden.hpp"

#include <xrestore/core/tensor.hpp>
#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_unet_grad_golden)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

tensor<4> as_tensor4(const weight_tensor& t) {
    BOOST_TEST_REQUIRE(t.shape.size() == 4U);
    tensor<4> out = xt::adapt(
        t.values, std::array<std::size_t, 4>{t.shape[0], t.shape[1], t.shape[2], t.shape[3]});
    return out;
}

std::size_t metadata_size(const grad_golden& g, const std::string& key) {
    return static_cast<std::size_t>(std::stoul(g.metadata.at(key)));
}

/// D(y) on an N x C x H x W batch: U for "raw", the per-sample residual call of the project's
/// denoiser for "residual" (the call the training recipe uses).
tensor<4> network_output(const std::shared_ptr<const nn::unet>& net, const std::string& call,
                         const tensor<4>& x) {
    if (call == "raw") {
        return net->forward(x);
    }
    BOOST_TEST_REQUIRE(call == "residual");
    const unet_denoiser d(net, unet_call::residual);
    tensor<4> out = xt::empty<float>(x.shape());
    for (std::size_t n = 0; n < x.shape()[0]; ++n) {
        const image y = xt::view(x, n, xt::all(), xt::all(), xt::all());
        xt::view(out, n, xt::all(), xt::all(), xt::all()) = d(y);
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_golden_file_is_listed) {
    std::set<std::string> on_disk;
    for (const auto& entry : fs::directory_iterator(train_dir)) {
        const std::string file = entry.path().filename().string();
        if (file.starts_with("unet_grad_") && file.ends_with(".safetensors")) {
            on_disk.insert(file);
        }
    }
    std::set<std::string> listed;
    for (const std::string& name : case_names) {
        listed.insert(case_path(name).filename().string());
    }
    BOOST_TEST(on_disk == listed, "tests/data/train/unet_grad_*.safetensors vs case_names");
}

BOOST_AUTO_TEST_CASE(files_hold_a_gradient_for_every_native_weight_and_the_input) {
    for (const std::string& name : case_names) {
        BOOST_TEST_CONTEXT(name) {
            const grad_golden g = read_golden(case_path(name));
            const nn::unet net = nn::unet::from_state_dict(g.weights);
            const nn::unet_config expected{metadata_size(g, "in_chans"),
                                           metadata_size(g, "out_chans"), metadata_size(g, "chans"),
                                           metadata_size(g, "num_pool_layers")};
            BOOST_TEST((net.config() == expected));
            // The names are exactly the native table's, weights and gradients alike.
            std::set<std::string> table;
            for (const nn::layer_spec& layer : net.architecture().layers()) {
                table.insert(layer.weight);
                if (!layer.bias.empty()) {
                    table.insert(layer.bias);
                }
            }
            std::set<std::string> weights;
            for (const auto& [n, w] : g.weights.entries()) {
                weights.insert(n);
                const weight_tensor* dw = g.gradients.find(n);
                BOOST_TEST_REQUIRE(dw != nullptr, "no gradient for " << n);
                BOOST_TEST(dw->shape == w.shape, n);
                BOOST_TEST(std::all_of(dw->values.begin(), dw->values.end(),
                                       [](float v) { return std::isfinite(v); }),
                           n);
                BOOST_TEST(std::any_of(dw->values.begin(), dw->values.end(),
                                       [](float v) { return v != 0.0F; }),
                           n << ": an all-zero gradient checks nothing");
            }
            BOOST_TEST(weights == table);
            BOOST_TEST(g.gradients.entries().size() == g.weights.entries().size() + 1);
            const weight_tensor* dx = g.gradients.find("input");
            BOOST_TEST_REQUIRE(dx != nullptr);
            BOOST_TEST(dx->shape == g.input.shape);
            BOOST_TEST_REQUIRE(g.input.shape.size() == 4U);
            const std::vector<std::size_t> target_shape{g.input.shape[0], expected.out_chans,
                                                        g.input.shape[2], g.input.shape[3]};
            BOOST_TEST(g.target.shape == target_shape);
            BOOST_TEST(g.metadata.at("loss_kind") == "mse");
        }
    }
}

BOOST_AUTO_TEST_CASE(native_forward_reproduces_the_pytorch_loss) {
    for (const std::string& name : case_names) {
        BOOST_TEST_CONTEXT(name) {
            const grad_golden g = read_golden(case_path(name));
            const auto net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(g.weights));
            const tensor<4> x = as_tensor4(g.input);
            const tensor<4> t = as_tensor4(g.target);
            const tensor<4> y = network_output(net, g.metadata.at("call"), x);
            BOOST_TEST_REQUIRE((y.shape() == t.shape()));
            // L = mean((D(x) - t)^2), accumulated in double
            double sum = 0.0;
            for (std::size_t i = 0; i < y.size(); ++i) {
                const double d = double(y.data()[i]) - double(t.data()[i]);
                sum += d * d;
            }
            const double loss = sum / double(y.size());
            const double reference = std::stod(g.metadata.at("loss"));
            const double rel = std::abs(loss - reference) / std::abs(reference);
            BOOST_TEST(rel <= 1e-5, "native loss " << loss << " vs torch " << reference
                                                   << ": relative error " << rel);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_unet_grad_golden
