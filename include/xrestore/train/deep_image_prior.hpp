#pragma once
/// @file deep_image_prior.hpp
/// Deep Image Prior (Ulyanov, Vedaldi and Lempitsky): restore x from y = A x + n with no
/// training data by fitting a randomly initialised network f (train/skip_net.hpp) fed with fixed
/// noise z, so that A f(z) matches y; the architecture regularises until the network starts to
/// fit the noise, so the run is stopped early or its outputs averaged. For any linear operator A
/// of the library over images (identity for denoising, an inpainting mask, downsampling,
/// blur, compositions). Per iteration t:
///   z_t = z + input_noise * n_t             (n_t standard normal, redrawn every iteration)
///   r   = M (A f(z_t) - y)                  (M: 0 on the held-out measurements, else 1)
///   L   = ||r||^2 / m                       (m: the number of measurements; PyTorch's MSELoss
///                                            of the masked images, as the reference code)
///   one Adam step on the network's parameters with dL/df = 2 A^T r / m
///   x_avg = average * x_avg + (1 - average) * f(z_t)   (x_avg = f(z_0) at t = 0)
/// Rollback (the reference's checkpoint rule): after each iteration the data fit
/// PSNR(A f, y) = 10 log10(1 / (||r||^2 / m_M)) on the fitted measurements is compared with the
/// last accepted iteration's; a drop of more than rollback_db dB restores that iteration's
/// parameters and skips the update (Adam's moments are kept, as in the reference).
/// Early stopping without the ground truth, two rules (both recorded when enabled; stop_on picks
/// the one that ends the run after `patience` iterations without improvement):
///   held-out  a fraction of the measurements is left out of L; the iterate whose output
///             predicts them best, ||(1 - M)(A f - y)||^2 / m_held, is kept; the same error of
///             the running average picks the average to keep (x_avg_heldout), since averaging
///             delays the point where the outputs start to fit the noise;
///   variance  the running variance of the outputs over the last variance_window iterations,
///             (1 / W) sum_j ||f_j - mean||^2 / n (Wang et al.'s ES-WMV); the iterate at its
///             minimum is kept.
/// z, the held-out mask and the per-iteration noise come from a counter-based generator
/// (SplitMix64 hashes of (seed, stream, index), Box-Muller pairs for normals) that the PyTorch twin
/// (tools/dev/dip_torch.py) reproduces, so both runs see the same numbers; the network's initial
/// weights come from skip_net's own seeded initialisation and are exported for the twin.
///
/// @code
/// xrestore::inpainting A(mask);
/// xrestore::train::dip_options o;  o.iterations = 2000;
/// auto r = xrestore::train::deep_image_prior(A, y, o);   // r.x, r.x_avg, r.history
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/adam.hpp"
#include "xrestore/train/parameter.hpp"
#include "xrestore/train/skip_net.hpp"

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

namespace xrestore::train {

/// Which early-stopping rule ends a deep_image_prior run.
enum class dip_stop {
    none,    ///< run all iterations (the rules are still recorded when enabled)
    heldout, ///< patience iterations without a better held-out error (needs holdout > 0)
    variance ///< patience iterations without a lower running variance (needs variance_window)
};

/// Settings of deep_image_prior; the defaults are the reference study's.
struct dip_options {
    skip_net_options net{};        ///< the network (in_chans is z's depth; out_chans: the image's)
    std::uint64_t seed = 0;        ///< weights, z, the held-out mask and the input noise
    std::size_t iterations = 3000; ///< at most this many Adam steps
    double lr = 0.01;              ///< Adam's learning rate
    double input_scale = 0.1;      ///< z ~ input_scale * U[0, 1)
    double input_noise = 1.0 / 30; ///< std of the noise added to z every iteration (0: none)
    double average = 0.99;         ///< weight of the running average of the outputs, in [0, 1)
    double rollback_db = 5.0;      ///< roll back on a data-fit PSNR drop above this (inf: never)
    double holdout = 0.0;          ///< fraction of measurements held out, in [0, 0.5]
    std::size_t variance_window = 0;   ///< window of the running-variance rule (0: off)
    dip_stop stop_on = dip_stop::none; ///< the rule that may end the run early
    std::size_t patience = 500;        ///< iterations without improvement before stopping
};

/// One iteration, as recorded in dip_result::history and passed to the monitor.
struct dip_record {
    std::size_t iteration = 0; ///< 1-based
    double loss = 0.0;         ///< L before this iteration's update
    double fit_psnr = 0.0;     ///< PSNR(A f, y) on the fitted measurements, data range 1
    double heldout = std::numeric_limits<double>::quiet_NaN(); ///< held-out error, or NaN
    /// held-out error of the running average (after this iteration's averaging), or NaN
    double heldout_average = std::numeric_limits<double>::quiet_NaN();
    double variance = std::numeric_limits<double>::quiet_NaN(); ///< running variance, or NaN
    bool rolled_back = false; ///< this iteration restored the last accepted parameters
};

/// What the monitor sees after each iteration: the record and the current images (f(z_t)
/// before the update and the running average). Returning false stops the run.
struct dip_step {
    const dip_record& record;
    const image& x;
    const image& x_avg;
};

/// The outcome of deep_image_prior.
struct dip_result {
    image x;                           ///< the last iteration's output f(z_t)
    image x_avg;                       ///< the running average of the outputs
    image x_heldout;                   ///< the output with the best held-out error (holdout > 0)
    std::size_t heldout_iteration = 0; ///< its iteration (0: rule off)
    image x_avg_heldout;               ///< the running average with the best held-out error
    std::size_t avg_heldout_iteration = 0; ///< its iteration (0: rule off)
    image x_variance;                      ///< the output at the running variance's minimum
    std::size_t variance_iteration = 0;    ///< its iteration (0: rule off or window never full)
    std::size_t iterations = 0;            ///< iterations run
    std::size_t rollbacks = 0;             ///< how many times the rollback rule fired
    bool stopped_early = false;            ///< stop_on ended the run before `iterations`
    bool interrupted = false;              ///< the monitor returned false
    std::vector<dip_record> history;       ///< one record per iteration
};

namespace detail {

/// SplitMix64's finaliser: a bijective hash of 64-bit words.
inline std::uint64_t splitmix64(std::uint64_t x) {
    std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// Counter-based random numbers for (seed, stream): value i depends on nothing else, so any
/// order of evaluation (threads, the twin's vectorised numpy) gives the same numbers.
class counter_rng {
public:
    counter_rng(std::uint64_t seed, std::uint64_t stream)
        : key_(splitmix64(seed * 0x9E3779B97F4A7C15ULL + stream)) {}
    /// U[0, 1) with 53 random bits.
    [[nodiscard]] double uniform(std::uint64_t i) const {
        return static_cast<double>(splitmix64(key_ + i) >> 11) * 0x1.0p-53;
    }
    /// The normals 2k and 2k + 1, N(0, 1), by Box-Muller from the words 2k and 2k + 1:
    /// r cos(t) and r sin(t) with r = sqrt(-2 ln u1), t = 2 pi u2, u1 in (0, 1], u2 in [0, 1).
    void normal_pair(std::uint64_t k, double& even, double& odd) const {
        const double u1 = static_cast<double>((splitmix64(key_ + 2 * k) >> 11) + 1) * 0x1.0p-53;
        const double u2 = static_cast<double>(splitmix64(key_ + 2 * k + 1) >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double t = 2.0 * std::numbers::pi * u2;
        even = r * std::cos(t);
        odd = r * std::sin(t);
    }
    /// Normal i (one of the pair i / 2).
    [[nodiscard]] double normal(std::uint64_t i) const {
        double even = 0.0;
        double odd = 0.0;
        normal_pair(i / 2, even, odd);
        return i % 2 == 0 ? even : odd;
    }

private:
    std::uint64_t key_;
};

/// z_t[i] = z[i] + sigma n_i with n_i the i-th normal of the iteration's stream, for the pair
/// i = 2k, 2k + 1 (the last pair may have one element of `count`).
struct dip_noise_body {
    const float* z;
    float* zt;
    std::size_t count;
    counter_rng rng;
    double sigma;
    void operator()(std::size_t k) const {
        double even = 0.0;
        double odd = 0.0;
        rng.normal_pair(k, even, odd);
        zt[2 * k] = static_cast<float>(static_cast<double>(z[2 * k]) + sigma * even);
        if (2 * k + 1 < count) {
            zt[2 * k + 1] = static_cast<float>(static_cast<double>(z[2 * k + 1]) + sigma * odd);
        }
    }
};

/// Generator streams of deep_image_prior (shared with the twin).
inline constexpr std::uint64_t dip_stream_input = 0;
inline constexpr std::uint64_t dip_stream_holdout = 1;
inline constexpr std::uint64_t dip_stream_noise = 2; ///< + iteration (0-based)

} // namespace detail

/// The fixed input z of deep_image_prior: 1 x depth x h x w, input_scale * U[0, 1), from
/// stream 0 of the counter generator (row-major order).
inline tensor4<float> dip_input(std::size_t depth, std::size_t h, std::size_t w, double input_scale,
                                std::uint64_t seed) {
    tensor4<float> z = tensor4<float>::from_shape({1, depth, h, w});
    const detail::counter_rng rng(seed, detail::dip_stream_input);
    for (std::size_t i = 0; i < z.size(); ++i) {
        z.data()[i] = static_cast<float>(input_scale * rng.uniform(i));
    }
    return z;
}

/// The held-out mask of deep_image_prior over a range of `shape`: 1 where a measurement is
/// fitted, 0 where it is held out (U[0, 1) < holdout from stream 1, row-major).
inline image dip_fit_mask(const shape3& shape, double holdout, std::uint64_t seed) {
    image m(shape);
    const detail::counter_rng rng(seed, detail::dip_stream_holdout);
    for (std::size_t i = 0; i < m.size(); ++i) {
        m.data()[i] = rng.uniform(i) < holdout ? 0.0F : 1.0F;
    }
    return m;
}

/// Check dip_options (each setting named on error).
inline void check_dip_options(const dip_options& o) {
    constexpr const char* where = "deep_image_prior";
    require(o.iterations >= 1, where, "iterations", "at least 1", o.iterations);
    require(std::isfinite(o.lr) && o.lr > 0.0, where, "lr", "finite and > 0", o.lr);
    require(std::isfinite(o.input_scale) && o.input_scale > 0.0, where, "input_scale",
            "finite and > 0", o.input_scale);
    require(std::isfinite(o.input_noise) && o.input_noise >= 0.0, where, "input_noise",
            "finite and >= 0", o.input_noise);
    require(o.average >= 0.0 && o.average < 1.0, where, "average", "in [0, 1)", o.average);
    require(!std::isnan(o.rollback_db) && o.rollback_db > 0.0, where, "rollback_db",
            "> 0 (inf: never roll back)", o.rollback_db);
    require(o.holdout >= 0.0 && o.holdout <= 0.5, where, "holdout", "in [0, 0.5]", o.holdout);
    if (o.stop_on == dip_stop::heldout) {
        require(o.holdout > 0.0, where, "holdout", "> 0 when stop_on is heldout", o.holdout);
    }
    if (o.stop_on == dip_stop::variance) {
        require(o.variance_window >= 2, where, "variance_window",
                "at least 2 when stop_on is variance", o.variance_window);
    }
    if (o.stop_on != dip_stop::none) {
        require(o.patience >= 1, where, "patience", "at least 1 when a rule stops the run",
                o.patience);
    }
}

/// Fit `net` (its current weights are the start; o.net is not used) so that A f(z) matches y
/// (see the file comment). A's domain is the image (C x H x W with C the network's out_chans
/// and H, W multiples of 2^scales), its range y's shape. monitor (optional) sees every
/// iteration and may stop the run by returning false. The network ends with the last
/// iteration's weights.
template <linear_operator Op>
requires std::same_as<typename Op::domain_type, image> &&
    std::same_as<typename Op::range_type, image>
        dip_result deep_image_prior(const Op& A, const image& y, const dip_options& o,
                                    skip_net<float>& net,
                                    const std::function<bool(const dip_step&)>& monitor = {}) {
    constexpr const char* where = "deep_image_prior";
    check_dip_options(o);
    const skip_net_options& shape = net.options();
    const shape3 domain = A.domain_shape();
    const shape3 range = A.range_shape();
    if (!(shape_of<3>(y) == range)) {
        throw shape_error(xrestore::detail::describe(
            where, "y", shape_string(range) + " (the operator's range)", shape_string(y.shape())));
    }
    if (domain[0] != shape.out_chans) {
        throw shape_error(xrestore::detail::describe(
            where, "the network's out_chans", std::to_string(domain[0]) + " (the image's channels)",
            shape.out_chans));
    }
    if (!std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); })) {
        throw value_error(std::string(where) + ": y has NaN or infinite values");
    }
    const std::size_t multiple = net.size_multiple();
    if (domain[1] % multiple != 0 || domain[2] % multiple != 0) {
        throw shape_error(xrestore::detail::describe(
            where, "the image's height and width",
            "multiples of 2^" + std::to_string(shape.scales()) + " = " + std::to_string(multiple) +
                " (one halving per scale of the network)",
            shape_string(domain)));
    }
    const tensor4<float> z = dip_input(shape.in_chans, domain[1], domain[2], o.input_scale, o.seed);
    const image fit_mask = dip_fit_mask(range, o.holdout, o.seed);
    const double m = static_cast<double>(y.size());
    double fitted = 0.0;
    for (float v : fit_mask) {
        fitted += v;
    }
    const double held = m - fitted;
    if (fitted < 1.0) {
        throw value_error(std::string(where) + ": every measurement is held out");
    }
    if (o.holdout > 0.0 && held < 1.0) {
        throw value_error(std::string(where) + ": holdout " + std::to_string(o.holdout) +
                          " leaves no measurement out of " + std::to_string(y.size()));
    }

    auto params = net.parameters();
    adam<float> opt(params, {.lr = o.lr});
    std::vector<xt::xarray<float>> accepted;
    accepted.reserve(params.size());
    for (const auto* p : params) {
        accepted.push_back(p->value);
    }
    double accepted_psnr = -std::numeric_limits<double>::infinity();

    dip_result r;
    r.history.reserve(o.iterations);
    const std::size_t n = domain[0] * domain[1] * domain[2];
    image x(domain);
    tensor4<float> zt = z;
    double best_heldout = std::numeric_limits<double>::infinity();
    double best_heldout_average = std::numeric_limits<double>::infinity();
    double best_variance = std::numeric_limits<double>::infinity();
    std::size_t since_best = 0;
    // running-variance rule: the window's outputs, their sum (double) and sum of squares
    std::deque<image> window;
    std::vector<double> window_sum(o.variance_window > 0 ? n : 0, 0.0);
    double window_squares = 0.0;

    for (std::size_t t = 0; t < o.iterations; ++t) {
        if (o.input_noise > 0.0) {
            cpu_backend::for_each_index(
                (z.size() + 1) / 2,
                detail::dip_noise_body{z.data(), zt.data(), z.size(),
                                       detail::counter_rng(o.seed, detail::dip_stream_noise + t),
                                       o.input_noise},
                100);
        }
        const tensor4<float> f = net.forward(zt);
        std::copy(f.begin(), f.end(), x.begin());
        image residual = A.apply(x);
        double fit2 = 0.0;
        double held2 = 0.0;
        for (std::size_t i = 0; i < residual.size(); ++i) {
            const float d = residual.data()[i] - y.data()[i];
            const float kept = d * fit_mask.data()[i];
            fit2 += static_cast<double>(kept) * static_cast<double>(kept);
            held2 += static_cast<double>(d - kept) * static_cast<double>(d - kept);
            residual.data()[i] = kept;
        }
        dip_record rec;
        rec.iteration = t + 1;
        rec.loss = fit2 / m;
        rec.fit_psnr = 10.0 * std::log10(1.0 / std::max(fit2 / fitted, 1e-300));
        if (o.holdout > 0.0) {
            rec.heldout = held2 / held;
        }
        if (!std::isfinite(rec.loss)) {
            throw value_error(std::string(where) + ": the loss became " + std::to_string(rec.loss) +
                              " at iteration " + std::to_string(t + 1));
        }
        // the running average and the two stopping rules see this iteration's output
        if (t == 0) {
            r.x_avg = x;
        } else {
            const auto a = static_cast<float>(o.average);
            const auto b = static_cast<float>(1.0 - o.average);
            for (std::size_t i = 0; i < n; ++i) {
                r.x_avg.data()[i] = a * r.x_avg.data()[i] + b * x.data()[i];
            }
        }
        if (o.holdout > 0.0) {
            // ||(1 - M)(A x_avg - y)||^2 / m_held: the average's prediction of the held-out data
            const image predicted = A.apply(r.x_avg);
            double avg2 = 0.0;
            for (std::size_t i = 0; i < predicted.size(); ++i) {
                const double d = static_cast<double>(predicted.data()[i] - y.data()[i]) *
                                 (1.0 - static_cast<double>(fit_mask.data()[i]));
                avg2 += d * d;
            }
            rec.heldout_average = avg2 / held;
            if (rec.heldout_average < best_heldout_average) {
                best_heldout_average = rec.heldout_average;
                r.x_avg_heldout = r.x_avg;
                r.avg_heldout_iteration = t + 1;
            }
        }
        bool improved = false;
        if (o.holdout > 0.0 && rec.heldout < best_heldout) {
            best_heldout = rec.heldout;
            r.x_heldout = x;
            r.heldout_iteration = t + 1;
            improved = o.stop_on == dip_stop::heldout;
        }
        if (o.variance_window > 0) {
            window.push_back(x);
            for (std::size_t i = 0; i < n; ++i) {
                window_sum[i] += x.data()[i];
                window_squares += static_cast<double>(x.data()[i]) * x.data()[i];
            }
            if (window.size() > o.variance_window) {
                const image& old = window.front();
                for (std::size_t i = 0; i < n; ++i) {
                    window_sum[i] -= old.data()[i];
                    window_squares -= static_cast<double>(old.data()[i]) * old.data()[i];
                }
                window.pop_front();
            }
            if (window.size() == o.variance_window) {
                // (1/W) sum_j ||f_j - mean||^2 / n = (sum_j ||f_j||^2 - ||sum||^2 / W) / (W n)
                double sum2 = 0.0;
                for (double s : window_sum) {
                    sum2 += s * s;
                }
                const auto w = static_cast<double>(o.variance_window);
                rec.variance = std::max(0.0, (window_squares - sum2 / w) / (w * n));
                if (rec.variance < best_variance) {
                    best_variance = rec.variance;
                    r.x_variance = x;
                    r.variance_iteration = t + 1;
                    improved = improved || o.stop_on == dip_stop::variance;
                }
            }
        }
        since_best = improved ? 0 : since_best + 1;

        // rollback rule, then the update
        if (rec.fit_psnr < accepted_psnr - o.rollback_db) {
            for (std::size_t k = 0; k < params.size(); ++k) {
                params[k]->value = accepted[k];
            }
            rec.rolled_back = true;
            ++r.rollbacks;
        } else {
            for (std::size_t k = 0; k < params.size(); ++k) {
                accepted[k] = params[k]->value;
            }
            accepted_psnr = rec.fit_psnr;
            zero_grad(params);
            const image back = A.adjoint(residual);
            tensor4<float> df = tensor4<float>::from_shape(f.shape());
            const auto scale = static_cast<float>(2.0 / m);
            std::transform(back.begin(), back.end(), df.begin(),
                           [scale](float v) { return scale * v; });
            net.backward(df);
            opt.step();
        }
        r.history.push_back(rec);
        r.iterations = t + 1;
        if (monitor && !monitor(dip_step{r.history.back(), x, r.x_avg})) {
            r.interrupted = true;
            break;
        }
        if (o.stop_on != dip_stop::none && since_best >= o.patience) {
            r.stopped_early = true;
            break;
        }
    }
    r.x = x;
    return r;
}

/// As above with a new network of o.net's shape, initialised from o.seed.
template <linear_operator Op>
requires std::same_as<typename Op::domain_type, image> &&
    std::same_as<typename Op::range_type, image>
        dip_result deep_image_prior(const Op& A, const image& y, const dip_options& o,
                                    const std::function<bool(const dip_step&)>& monitor = {}) {
    skip_net<float> net(o.net, o.seed);
    return deep_image_prior(A, y, o, net, monitor);
}

} // namespace xrestore::train
