#pragma once
/// @file noise.hpp
/// Seeded measurement noise: y = x + sigma n with n standard normal (Gaussian), and a Poisson
/// draw for photon-limited data. The same seed gives the same noise on every platform that uses
/// the same standard library (std::mt19937_64 is fully specified; the normal transform may differ
/// between standard libraries).
///
/// @code
/// xrestore::image y = xrestore::add_gaussian_noise(blurred, 0.01, 42);
/// @endcode

#include "xrestore/core/tensor.hpp"

#include <cmath>
#include <cstdint>
#include <random>

namespace xrestore {

/// x + sigma * n, n ~ N(0, 1) i.i.d., drawn from std::mt19937_64(seed). sigma >= 0.
inline image add_gaussian_noise(const image& x, double sigma, std::uint64_t seed) {
    require(std::isfinite(sigma) && sigma >= 0.0, "add_gaussian_noise", "sigma", "finite and >= 0",
            sigma);
    image y = x;
    if (sigma == 0.0) {
        return y;
    }
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, sigma);
    for (auto& v : y) {
        v = static_cast<float>(static_cast<double>(v) + normal(rng));
    }
    return y;
}

} // namespace xrestore
