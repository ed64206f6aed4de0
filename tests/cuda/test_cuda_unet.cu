#define BOOST_TEST_MODULE cuda_unet
#include "cuda/cuda_test_support.cuh"
#include "unet_test_support.hpp"

#include <xrestore/core/denoiser.hpp>
#include <xrestore/denoisers/unet_denoiser.cuh>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/device_unet.cuh>
#include <xrestore/nn/unet.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

using xrestore::device_array;
using xrestore::image;
using xrestore::state_dict;
using xrestore::tensor;
using xrestore::unet_call;
using xrestore::test::normalised_error;
using xrestore::test::random_unet;
using xrestore::test::uniform_tensor;
namespace fs = std::filesystem;
namespace nn = xrestore::nn;

namespace {

const fs::path models_dir = XRESTORE_MODELS_DIR;
const fs::path unet_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "unet";

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

/// The network on the device and on the CPU for the same batch; their normalised error.
double device_vs_cpu(const xrestore::cuda::unet& device, const nn::unet& cpu, const tensor<4>& x) {
    const tensor<4> got = xrestore::to_host(device.forward(xrestore::to_device(x)));
    const tensor<4> expected = cpu.forward(x);
    return normalised_error(got, expected);
}

} // namespace

BOOST_AUTO_TEST_CASE(shipped_denoiser_network_matches_the_cpu_network) {
    const state_dict sd = xrestore::load_weights(models_dir / "denoiser_unet_c32.pth");
    const nn::unet cpu = nn::unet::from_state_dict(sd);
    const auto device = xrestore::cuda::unet::from_state_dict(sd);
    BOOST_TEST((device.config() == cpu.config()));
    // odd sizes pad at several decoder levels; 64 x 64 pads nowhere
    for (const auto shape :
         {std::array<std::size_t, 4>{1, 3, 45, 61}, std::array<std::size_t, 4>{1, 3, 64, 64},
          std::array<std::size_t, 4>{2, 3, 33, 50}}) {
        const tensor<4> x = uniform_tensor<4>(shape, shape[2] * 100 + shape[3]);
        const double err = device_vs_cpu(device, cpu, x);
        BOOST_TEST(err <= 1e-4, xrestore::shape_string(shape) << ": normalised error " << err);
    }
    // one image (C x H x W) is a batch of one
    const image one = uniform_tensor<3>({3, 45, 61}, 4561);
    const image got = xrestore::to_host(device.forward(xrestore::to_device(one)));
    BOOST_TEST(normalised_error(got, cpu.forward(one)) <= 1e-4);
}

BOOST_AUTO_TEST_CASE(every_fixture_matches_pytorch) {
    std::ifstream in(unet_dir / "manifest.json");
    const auto manifest = nlohmann::json::parse(in);
    std::size_t cases = 0;
    for (const auto& model : manifest["models"]) {
        const auto device =
            xrestore::cuda::load_unet(unet_dir / model["weights"].get<std::string>());
        for (const auto& k : model["cases"]) {
            const tensor<4> x = xrestore::read_npy<4>(unet_dir / k["input"].get<std::string>());
            const tensor<4> golden =
                xrestore::read_npy<4>(unet_dir / k["output"].get<std::string>());
            const tensor<4> got = xrestore::to_host(device.forward(xrestore::to_device(x)));
            const double err = normalised_error(got, golden);
            BOOST_TEST(err <= 1e-4, model["model"].get<std::string>()
                                        << " on " << k["input"].get<std::string>()
                                        << ": normalised error " << err);
            ++cases;
        }
    }
    BOOST_TEST(cases == 11U);
}

BOOST_AUTO_TEST_CASE(random_networks_match_the_cpu_network) {
    for (const nn::unet_config config :
         {nn::unet_config{2, 2, 8, 3}, nn::unet_config{3, 1, 6, 2}, nn::unet_config{1, 1, 4, 1},
          nn::unet_config{3, 3, 16, 4}}) {
        const state_dict sd = random_unet(config, 40 + config.chans);
        const nn::unet cpu = nn::unet::from_state_dict(sd);
        const auto device = xrestore::cuda::unet::from_state_dict(sd);
        const tensor<4> x = uniform_tensor<4>({2, config.in_chans, 45, 61}, config.chans);
        const double err = device_vs_cpu(device, cpu, x);
        BOOST_TEST(err <= 1e-4, "chans " << config.chans << ", " << config.num_pool_layers
                                         << " pools: normalised error " << err);
    }
}

BOOST_AUTO_TEST_CASE(call_conventions_match_the_cpu_denoiser) {
    const fs::path weights = models_dir / "denoiser_unet_c32.pth";
    // the convention comes from the JSON sidecar, as on the CPU
    const auto loaded = xrestore::cuda::load_unet_denoiser(weights);
    BOOST_TEST(xrestore::to_string(loaded.call()) == "residual");
    static_assert(xrestore::denoiser_for<xrestore::cuda::unet_denoiser, device_array<3>>);

    const state_dict sd = xrestore::load_weights(weights);
    auto cpu_net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(sd));
    auto device_net =
        std::make_shared<const xrestore::cuda::unet>(xrestore::cuda::unet::from_state_dict(sd));
    image y = uniform_tensor<3>({3, 45, 61}, 7);
    y = 0.6F * y + 0.2F; // values of an image, not centred
    const device_array<3> dy = xrestore::to_device(y);
    for (const unet_call call : {unet_call::raw, unet_call::normalised, unet_call::residual}) {
        const xrestore::unet_denoiser cpu(cpu_net, call);
        const xrestore::cuda::unet_denoiser device(device_net, call);
        const double err = normalised_error(xrestore::to_host(device(dy)), cpu(y));
        BOOST_TEST(err <= 1e-4, xrestore::to_string(call) << " call: normalised error " << err);
    }
    BOOST_TEST(normalised_error(xrestore::to_host(loaded(dy)),
                                xrestore::unet_denoiser(cpu_net, unet_call::residual)(y)) <= 1e-4);
    // the input is left as it was
    BOOST_TEST(normalised_error(xrestore::to_host(dy), y) == 0.0);
}

BOOST_AUTO_TEST_CASE(single_channel_network_denoises_each_channel_as_on_the_cpu) {
    const state_dict sd = xrestore::load_weights(unet_dir / "c4_p2_1to1.pth");
    auto cpu_net = std::make_shared<const nn::unet>(nn::unet::from_state_dict(sd));
    auto device_net =
        std::make_shared<const xrestore::cuda::unet>(xrestore::cuda::unet::from_state_dict(sd));
    const image y = uniform_tensor<3>({3, 33, 31}, 9);
    for (const unet_call call : {unet_call::raw, unet_call::normalised, unet_call::residual}) {
        const xrestore::unet_denoiser cpu(cpu_net, call);
        const xrestore::cuda::unet_denoiser device(device_net, call);
        const double err =
            normalised_error(xrestore::to_host(device(xrestore::to_device(y))), cpu(y));
        BOOST_TEST(err <= 1e-4, xrestore::to_string(call) << " call: normalised error " << err);
    }
}

BOOST_AUTO_TEST_CASE(results_are_deterministic_across_sizes_and_streams) {
    const auto device = xrestore::cuda::load_unet(unet_dir / "c8_p4.pth");
    const tensor<4> a = uniform_tensor<4>({1, 3, 37, 45}, 1);
    const tensor<4> b = uniform_tensor<4>({1, 3, 64, 48}, 2);
    const tensor<4> first = xrestore::to_host(device.forward(xrestore::to_device(a)));
    // another size in between (its own plan), then the first size again: bit-identical
    (void)xrestore::to_host(device.forward(xrestore::to_device(b)));
    const tensor<4> again = xrestore::to_host(device.forward(xrestore::to_device(a)));
    BOOST_TEST(normalised_error(again, first) == 0.0);
    // on a stream of the caller's: the same result
    cudaStream_t stream = nullptr;
    xrestore::cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                          "creating a stream");
    {
        xrestore::cuda::stream_scope scope(stream);
        const device_array<4> x = xrestore::to_device(a);
        const tensor<4> on_stream = xrestore::to_host(device.forward(x));
        BOOST_TEST(normalised_error(on_stream, first) == 0.0);
    }
    xrestore::cuda::synchronize();
    xrestore::cuda::check(cudaStreamSynchronize(stream), "synchronising the stream");
    xrestore::cuda::check(cudaStreamDestroy(stream), "destroying the stream");
    // and back on the default stream
    const tensor<4> back = xrestore::to_host(device.forward(xrestore::to_device(a)));
    BOOST_TEST(normalised_error(back, first) == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_inputs_get_the_cpu_errors) {
    const state_dict sd = xrestore::load_weights(unet_dir / "c8_p4.pth");
    const nn::unet cpu = nn::unet::from_state_dict(sd);
    const auto device = xrestore::cuda::unet::from_state_dict(sd);
    auto same_error = [&](const std::array<std::size_t, 4>& shape) {
        const tensor<4> x = xt::zeros<float>(shape);
        const std::string expected = message_of([&] { (void)cpu.forward(x); });
        const device_array<4> dx(shape);
        const std::string got = message_of([&] { (void)device.forward(dx); });
        BOOST_TEST(got == expected);
        BOOST_CHECK_THROW((void)device.forward(dx), xrestore::shape_error);
    };
    same_error({1, 1, 32, 32}); // wrong channel count
    same_error({0, 3, 32, 32}); // empty batch
    same_error({1, 3, 15, 64}); // too small for 4 pool layers
    same_error({1, 3, 16, 16}); // the deepest level would be one pixel
    same_error({1, 0, 0, 0});   // empty
    // one image: the CPU's message for the batch of one
    const image small = xt::zeros<float>({3UL, 15UL, 64UL});
    const std::string expected = message_of([&] { (void)cpu.forward(small); });
    const device_array<3> dsmall({3, 15, 64});
    BOOST_TEST(message_of([&] { (void)device.forward(dsmall); }) == expected);
    const device_array<3> empty;
    const std::string empty_cpu = message_of([&] {
        (void)cpu.forward(image(xt::zeros<float>({0UL, 0UL, 0UL})));
    });
    BOOST_TEST(message_of([&] { (void)device.forward(empty); }) == empty_cpu);

    // the denoiser: wrong channels, too small, and a 3 -> 1 network that is no denoiser
    auto cpu_net = std::make_shared<const nn::unet>(cpu);
    auto device_net = std::make_shared<const xrestore::cuda::unet>(device);
    const xrestore::unet_denoiser cpu_d(cpu_net, unet_call::residual);
    const xrestore::cuda::unet_denoiser device_d(device_net, unet_call::residual);
    for (const xrestore::shape3 s : {xrestore::shape3{2, 32, 32}, xrestore::shape3{3, 8, 64}}) {
        const std::string cpu_message =
            message_of([&] { (void)cpu_d(image(xt::zeros<float>(s))); });
        const device_array<3> dy(s);
        BOOST_TEST(message_of([&] { (void)device_d(dy); }) == cpu_message);
    }
    const state_dict three_to_one = xrestore::load_weights(unet_dir / "c8_p2_3to1.pth");
    auto not_a_denoiser = std::make_shared<const xrestore::cuda::unet>(
        xrestore::cuda::unet::from_state_dict(three_to_one));
    BOOST_CHECK_THROW(xrestore::cuda::unet_denoiser(not_a_denoiser, unet_call::raw),
                      xrestore::shape_error);
    BOOST_CHECK_THROW(xrestore::cuda::unet_denoiser(nullptr, unet_call::raw),
                      xrestore::value_error);
    // a broken state_dict is refused with the CPU's message before anything is uploaded
    state_dict missing;
    for (const auto& [name, t] : sd.entries()) {
        if (name != "up_conv.1.layers.4.weight") {
            missing.insert(name, t);
        }
    }
    const std::string cpu_missing = message_of([&] { (void)nn::unet::from_state_dict(missing); });
    BOOST_TEST(message_of([&] { (void)xrestore::cuda::unet::from_state_dict(missing); }) ==
               cpu_missing);
}
