#pragma once
/// @file unet_test_support.hpp
/// Randomly initialised fastMRI U-Nets for the tests of the CPU network, the planar pass and the
/// device network; plain C++, so both .cpp and .cu tests include it.
///
/// @code
/// const xrestore::state_dict sd = xrestore::test::random_unet({2, 2, 8, 3}, 17);
/// const auto net = xrestore::nn::unet::from_state_dict(sd);
/// @endcode

#include <xrestore/io/state_dict.hpp>
#include <xrestore/nn/unet_architecture.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace xrestore::test {

/// `n` uniform values in [lo, hi) from `seed`.
inline std::vector<float> uniform_values(std::size_t n, std::uint64_t seed, float lo = -1.0F,
                                         float hi = 1.0F) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(lo, hi);
    std::vector<float> out(n);
    for (float& v : out) {
        v = uniform(rng);
    }
    return out;
}

/// A tensor of `shape` with uniform values in [-bound, bound) from `seed`.
inline weight_tensor uniform_weight(std::vector<std::size_t> shape, std::uint64_t seed,
                                    float bound) {
    weight_tensor t;
    t.shape = std::move(shape);
    t.values.resize(t.numel());
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& v : t.values) {
        v = uniform(rng);
    }
    return t;
}

/// A fastMRI U-Net state_dict of `config` with PyTorch's default initialisation bound
/// 1 / sqrt(fan_in), every tensor named and shaped by the architecture table; the tensors take
/// the seeds seed, seed + 1, ... in table order.
inline state_dict random_unet(const nn::unet_config& config, std::uint64_t seed) {
    state_dict sd;
    const nn::unet_architecture arch(config);
    for (const nn::layer_spec& layer : arch.layers()) {
        const float bound = 1.0F / std::sqrt(static_cast<float>(layer.fan_in()));
        sd.insert(layer.weight, uniform_weight(layer.weight_shape(), seed++, bound));
        if (!layer.bias.empty()) {
            sd.insert(layer.bias, uniform_weight({layer.out}, seed++, bound));
        }
    }
    return sd;
}

} // namespace xrestore::test
