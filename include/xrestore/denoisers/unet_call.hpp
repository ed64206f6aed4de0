#pragma once
/// @file unet_call.hpp
/// The three ways a U-Net is applied as a denoiser, written once for the CPU and the device
/// denoiser. With m_c the mean of channel c over H x W and s_g the unbiased standard deviation
/// of all values of channel group g (clamped below at 1e-4):
///   raw         D(y) = U(y)
///   normalised  D(y) = s U((y - m_c) / s) + m_c
///   residual    D(y) = y - s U((y - m_c) / s)
/// A group is the channels the network takes at once: all C channels, or one each for a
/// single-channel network on a colour image (then the groups go through the network as a batch).
/// The arithmetic is host-device kernel bodies run by an executor (the host's loops or CUDA
/// kernels), so a CPU test covers the device's arithmetic.
///
/// @code
/// const xrestore::unet_call call = xrestore::parse_unet_call("residual");
/// xrestore::detail::apply_unet_call(ex, call, y, {channels, group_channels, plane}, scratch,
///                                   [&](const float* in, float* out) { net(in, out); }, out);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/unet_architecture.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace xrestore {

/// How the network is applied to a noisy image (see the file comment).
enum class unet_call { raw, normalised, residual };

/// "raw", "normalised", "residual".
inline std::string_view to_string(unet_call c) {
    switch (c) {
    case unet_call::raw:
        return "raw";
    case unet_call::normalised:
        return "normalised";
    case unet_call::residual:
        return "residual";
    }
    return "unknown";
}

/// Parse "raw", "normalised" (or "normalized"), "residual"; value_error otherwise.
inline unet_call parse_unet_call(std::string_view text) {
    if (text == "raw") {
        return unet_call::raw;
    }
    if (text == "normalised" || text == "normalized") {
        return unet_call::normalised;
    }
    if (text == "residual") {
        return unet_call::residual;
    }
    throw value_error(detail::describe("unet denoiser", "call convention",
                                       "one of raw, normalised, residual",
                                       std::string("'") + std::string(text) + "'"));
}

/// The call convention a weights file declares (metadata key "call"), if any.
inline std::optional<unet_call> declared_unet_call(const state_dict& sd) {
    auto it = sd.metadata.find("call");
    if (it == sd.metadata.end()) {
        return std::nullopt;
    }
    std::string text = it->second;
    // A JSON sidecar stores strings as JSON; accept them quoted.
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        text = text.substr(1, text.size() - 2);
    }
    return parse_unet_call(text);
}

/// The convention to apply to the weights `sd` read from `source`: `chosen` when given, else the
/// one the weights declare; when neither, value_error naming the file, the three conventions,
/// where a declaration is looked for, and `how_to_choose` (the caller's way to pass one). No
/// convention is guessed: a wrong one runs but gives nonsense (the raw call on a network trained
/// with the residual one loses some 25 dB).
inline unet_call resolve_unet_call(
    const state_dict& sd, std::optional<unet_call> chosen, std::string_view source,
    std::string_view how_to_choose = "pass one to load_unet_denoiser(path, unet_call::residual)") {
    if (chosen) {
        return *chosen;
    }
    if (const std::optional<unet_call> declared = declared_unet_call(sd)) {
        return *declared;
    }
    std::string sidecar(source);
    const std::size_t slash = sidecar.find_last_of('/');
    const std::size_t dot = sidecar.find_last_of('.');
    sidecar = (dot != std::string::npos && (slash == std::string::npos || dot > slash)
                   ? sidecar.substr(0, dot)
                   : sidecar) +
              ".json";
    throw value_error(detail::concat(
        "unet denoiser: '", source,
        "' does not declare how the network is called, and no convention was chosen: ",
        how_to_choose,
        ". The conventions: raw D(y) = U(y); normalised D(y) = s U((y - m_c) / s) + m_c; "
        "residual D(y) = y - s U((y - m_c) / s) (the project's own models). A file declares "
        "its convention by a \"call\" entry in its safetensors metadata, in a JSON sidecar '",
        sidecar,
        "' beside a .pth, or as a top-level string of a checkpoint dict; "
        "`xrestore convert --call` writes one into a safetensors file"));
}

namespace kernels {

/// For group g: channel_mean[c] = channel_sums[c] / plane for its channels, and group_mean[g] =
/// (sum of those channel sums) / (group_channels plane).
struct group_mean_body {
    const double* channel_sums;
    std::size_t group_channels;
    std::size_t plane;
    double* channel_mean;
    double* group_mean;
    XRESTORE_HD void operator()(std::size_t g) const {
        double total = 0.0;
        for (std::size_t k = 0; k < group_channels; ++k) {
            const std::size_t c = g * group_channels + k;
            channel_mean[c] = channel_sums[c] / static_cast<double>(plane);
            total += channel_sums[c];
        }
        group_mean[g] = total / static_cast<double>(group_channels * plane);
    }
};

/// (x[i] - group_mean[g])^2 in double with g = i / group_size: the term of a group's sum of
/// squared deviations.
struct centred_square_term {
    const float* x;
    const double* group_mean;
    std::size_t group_size;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double d = static_cast<double>(x[i]) - group_mean[i / group_size];
        return d * d;
    }
};

/// scale[g] = max(sqrt(squares[g] / max(count - 1, 1)), floor): the unbiased standard
/// deviation of count values, clamped below.
struct group_scale_body {
    const double* squares;
    double count;
    double floor;
    double* scale;
    XRESTORE_HD void operator()(std::size_t g) const {
        const double dof = count - 1.0 < 1.0 ? 1.0 : count - 1.0;
        const double s = sqrt(squares[g] / dof);
        scale[g] = s < floor ? floor : s;
    }
};

/// out[i] = (y[i] - m_c) / s_g with c = i / plane, g = c / group_channels.
struct normalise_input_body {
    const float* y;
    const double* channel_mean;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        out[i] = static_cast<float>((static_cast<double>(y[i]) - channel_mean[c]) /
                                    scale[c / group_channels]);
    }
};

/// The normalised call's output: out[i] = s_g u[i] + m_c.
struct denormalise_output_body {
    const float* u;
    const double* channel_mean;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        const double v = scale[c / group_channels] * static_cast<double>(u[i]);
        out[i] = static_cast<float>(v + channel_mean[c]);
    }
};

/// The residual call's output: out[i] = y[i] - s_g u[i].
struct residual_output_body {
    const float* y;
    const float* u;
    const double* scale;
    std::size_t plane;
    std::size_t group_channels;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i / plane;
        const double v = scale[c / group_channels] * static_cast<double>(u[i]);
        out[i] = static_cast<float>(static_cast<double>(y[i]) - v);
    }
};

} // namespace kernels

/// The shape of one denoiser call: a C x H x W image in groups of `group_channels` channels.
struct unet_call_shape {
    std::size_t channels = 0;
    std::size_t group_channels = 0;
    std::size_t plane = 0; ///< H W

    [[nodiscard]] std::size_t groups() const { return channels / group_channels; }
    [[nodiscard]] std::size_t size() const { return channels * plane; }
};

/// The per-call statistics of the normalised and residual calls, carved from
/// unet_call_statistics::size(channels, groups) doubles.
struct unet_call_statistics {
    double* base = nullptr;
    std::size_t channels = 0;
    std::size_t groups = 0;

    static std::size_t size(std::size_t channels, std::size_t groups) {
        return 2 * channels + 3 * groups;
    }
    [[nodiscard]] double* channel_sums() const { return base; }
    [[nodiscard]] double* channel_mean() const { return base + channels; }
    [[nodiscard]] double* group_mean() const { return base + 2 * channels; }
    [[nodiscard]] double* squares() const { return base + 2 * channels + groups; }
    [[nodiscard]] double* scale() const { return base + 2 * channels + 2 * groups; }
};

/// Where one call keeps its intermediates: the statistics, the network's input and its output
/// (each shape.size() floats; unused by the raw call).
struct unet_call_scratch {
    unet_call_statistics statistics;
    float* normalised = nullptr;
    float* network_output = nullptr;
};

namespace detail {

/// Throw shape_error unless a network of `config` maps as many channels as it takes.
inline void require_denoiser_network(const nn::unet_config& config) {
    if (config.in_chans != config.out_chans) {
        throw shape_error(concat("unet_denoiser: a denoiser needs as many output as ",
                                 "input channels, the network maps ", config.in_chans, " to ",
                                 config.out_chans));
    }
}

/// The call shape of a C x H x W image for a network of `config` (one group of C channels, or
/// C groups of one for a single-channel network); shape_error before any work when the image
/// does not suit the network.
inline unet_call_shape unet_call_shape_for(const nn::unet_config& config, const shape3& s) {
    const std::size_t in = config.in_chans;
    if (s[0] != in && in != 1) {
        throw shape_error(concat("unet denoiser: the network takes ", in, "-channel images, got ",
                                 shape_string(s)));
    }
    nn::check_unet_input_size(config, s[1], s[2]);
    return unet_call_shape{s[0], s[0] == in ? s[0] : 1, s[1] * s[2]};
}

/// Runs the bodies on the host: each body through the CPU backend's loop, each segment sum in
/// index order (so the sums do not depend on the thread count).
struct host_executor {
    template <class Body>
    void for_each_index(std::size_t n, const Body& body) const {
        cpu_backend::for_each_index(n, body);
    }
    template <class Term>
    void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                      double* out) const {
        for (std::size_t s = 0; s < segments; ++s) {
            double total = 0.0;
            for (std::size_t i = 0; i < length; ++i) {
                total += term(s * length + i);
            }
            out[s] = total;
        }
    }
};

/// out = (y - m_c) / s_g; the statistics stay in `stats` for unet_call_output. The executor
/// provides ex.for_each_index(n, body) and ex.segment_sums(segments, length, term, out).
template <class Executor>
void unet_call_normalise(const Executor& ex, const float* y, const unet_call_shape& shape,
                         const unet_call_statistics& stats, float* out) {
    const std::size_t group_size = shape.group_channels * shape.plane;
    // m_c: the channel sums over H x W, then per group the means
    ex.segment_sums(shape.channels, shape.plane, xrestore::kernels::value_term{y},
                    stats.channel_sums());
    ex.for_each_index(stats.groups, kernels::group_mean_body{
                                        stats.channel_sums(), shape.group_channels, shape.plane,
                                        stats.channel_mean(), stats.group_mean()});
    // s_g = max(sqrt(sum (y - mean_g)^2 / (n - 1)), 1e-4)
    ex.segment_sums(stats.groups, group_size,
                    kernels::centred_square_term{y, stats.group_mean(), group_size},
                    stats.squares());
    ex.for_each_index(stats.groups,
                      kernels::group_scale_body{stats.squares(), static_cast<double>(group_size),
                                                1e-4, stats.scale()});
    ex.for_each_index(shape.size(),
                      kernels::normalise_input_body{y, stats.channel_mean(), stats.scale(),
                                                    shape.plane, shape.group_channels, out});
}

/// The normalised (out = s_g u + m_c) or residual (out = y - s_g u) call's output from the
/// network's output u.
template <class Executor>
void unet_call_output(const Executor& ex, bool residual, const float* y, const float* u,
                      const unet_call_shape& shape, const unet_call_statistics& stats, float* out) {
    if (residual) {
        ex.for_each_index(shape.size(),
                          kernels::residual_output_body{y, u, stats.scale(), shape.plane,
                                                        shape.group_channels, out});
    } else {
        ex.for_each_index(shape.size(),
                          kernels::denormalise_output_body{u, stats.channel_mean(), stats.scale(),
                                                           shape.plane, shape.group_channels, out});
    }
}

/// out = D(y) with convention `call`; `network(in, out)` runs the U-Net on the groups of a
/// C x H x W image as a batch (shape.groups() images of group_channels channels).
template <class Executor, class Network>
void apply_unet_call(const Executor& ex, unet_call call, const float* y,
                     const unet_call_shape& shape, const unet_call_scratch& scratch,
                     const Network& network, float* out) {
    if (call == unet_call::raw) {
        network(y, out);
        return;
    }
    unet_call_normalise(ex, y, shape, scratch.statistics, scratch.normalised);
    network(static_cast<const float*>(scratch.normalised), scratch.network_output);
    unet_call_output(ex, call == unet_call::residual, y, scratch.network_output, shape,
                     scratch.statistics, out);
}

} // namespace detail

} // namespace xrestore
