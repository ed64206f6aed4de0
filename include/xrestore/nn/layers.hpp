#pragma once
/// @file layers.hpp
/// The fastMRI U-Net's layers on the CPU, over zero-bordered channels-last feature maps
/// (feature_map.hpp): 3x3 convolution (zero padding 1, no bias), 1x1 convolution with bias,
/// instance normalisation (biased variance, eps 1e-5, no affine) fused with LeakyReLU, 2x2
/// average pooling (odd sizes round down), 2x2 stride-2 transposed convolution, and reflect
/// padding of an upsampled map that is one row or column short. Each layer that writes a map
/// zeroes that map's border, so the next 3x3 convolution sees zero padding.
///
/// @code
/// auto w = xrestore::nn::pack_conv3x3(state.at("conv.layers.0.weight"), "conv.layers.0.weight");
/// xrestore::nn::conv3x3(in, w, out);                 // out = conv(in), in/out same H x W
/// xrestore::nn::instance_norm_leaky_relu(out, out.height, out.width);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/feature_map.hpp"
#include "xrestore/nn/layer_support.hpp"
#include "xrestore/nn/micro_gemm.hpp"
#include "xrestore/nn/weight_checks.hpp"
#include "xrestore/nn/winograd.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace xrestore::nn {

/// How a 3x3 convolution is computed.
enum class conv3x3_method {
    automatic, ///< Winograd for 16 or more input channels (tile by winograd_tile_for), else direct
    direct,    ///< nine matrix products over shifted rows (gemm_packed, micro_gemm.hpp)
    winograd_2x2, ///< F(2x2, 3x3) (winograd.hpp)
    winograd_4x4  ///< F(4x4, 3x3)
};

/// 3x3 convolution weights, packed for one method: either in 16-output panels for gemm_packed
/// (direct), or transformed (Winograd). Direct with fewer than 16 inputs (a first layer): one
/// (9 in) x out matrix whose row k in + i holds tap k = 3 dy + dx of input i, so that the taps
/// of a pixel gathered tap-major multiply it at once; with 16 or more inputs: nine in x out
/// matrices, one per tap, each in its own panels.
struct conv3x3_weights {
    std::size_t in = 0;
    std::size_t out = 0;
    packed_floats packed;         ///< direct: [panel][k in + i][16] (in < 16) or [k][panel][i][16]
    winograd3x3_weights winograd; ///< Winograd: the transformed weights; else empty

    [[nodiscard]] bool is_winograd() const { return !winograd.packed.empty(); }
    /// Whether the direct products gather the nine taps into one matrix (few inputs).
    [[nodiscard]] bool gathers_taps() const { return in < 16; }
    [[nodiscard]] std::size_t panels() const { return (out + 15) / 16; }
    /// Direct: the panels of tap k (per-tap layout) or of the gathered matrix (k = 0).
    [[nodiscard]] const float* tap(std::size_t k) const {
        return packed.data() + k * panels() * in * 16;
    }
};

/// 2x2 stride-2 transposed convolution weights: for each of the four output positions, the
/// in x out matrix packed in panels for gemm_packed (micro_gemm.hpp).
struct conv_transpose2x2_weights {
    std::size_t in = 0;
    std::size_t out = 0;
    packed_floats packed; ///< [2 dy + dx][panel][in][16]; outputs past `out` are zero

    /// The panels of output position k = 2 dy + dx.
    [[nodiscard]] const float* position(std::size_t k) const {
        return packed.data() + k * ((out + 15) / 16) * in * 16;
    }
};

/// 1x1 convolution weights (in x out, in 16-output panels for gemm_packed) and bias.
struct conv1x1_weights {
    std::size_t in = 0;
    std::size_t out = 0;
    packed_floats packed;    ///< [panel][in][16]; outputs past `out` are zero
    std::vector<float> bias; ///< [out]
};

namespace detail {

/// The direct layout of conv3x3_weights for a Conv2d weight [out, in, 3, 3] whose shape was
/// checked: w[o][i][k] goes to panel o / 16, lane o % 16, row k in + i of the gathered matrix
/// (in < 16) or row i of tap k's matrix. Blocks of 256 outputs; the inputs of a block are shared
/// among the threads for a large layer (the first write of each page of the packed weights, a
/// page fault, costs as much as the copy). `done(part)` is called with the source values of each
/// block of outputs once packed (a mapped file drops their pages). With `all_finite`, it
/// receives whether every source value was finite (checked as read).
template <class Done>
conv3x3_weights pack_conv3x3_direct_checked(const weight_tensor& t, std::size_t in, std::size_t out,
                                            Done&& done, bool* all_finite = nullptr) {
    const std::size_t panels = (out + 15) / 16;
    conv3x3_weights w{in, out, packed_floats(9 * in * panels * 16), {}};
    const float* from = t.floats().data();
    float* to = w.packed.data();
    const bool gathered = w.gathers_taps();
    constexpr std::size_t outputs = 256;
    constexpr std::size_t inputs = 16;
    const std::size_t stride = 9 * in;
    const auto input_tiles = static_cast<std::ptrdiff_t>((in + inputs - 1) / inputs);
    std::uint32_t bad = 0;
    for (std::size_t o0 = 0; o0 < panels * 16; o0 += outputs) {
        const std::size_t o1 = std::min(panels * 16, o0 + outputs);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)                                                          \
    reduction(|                                                                                    \
              : bad) if (9 * in * (o1 - o0) >= layer_parallel_threshold)
#endif
        for (std::ptrdiff_t tile = 0; tile < input_tiles; ++tile) {
            const std::size_t i0 = static_cast<std::size_t>(tile) * inputs;
            const std::size_t i1 = std::min(in, i0 + inputs);
            for (std::size_t k = 0; k < 9; ++k) {
                for (std::size_t i = i0; i < i1; ++i) {
                    const float* column = from + i * 9 + k; // w[o][i][k] = column[o stride]
                    for (std::size_t p = o0 / 16; p < o1 / 16; ++p) {
                        float* row = gathered ? to + (p * 9 * in + k * in + i) * 16
                                              : to + ((k * panels + p) * in + i) * 16;
                        for (std::size_t j = 0; j < 16; ++j) {
                            const std::size_t o = 16 * p + j;
                            const float v = o < out ? column[o * stride] : 0.0F;
                            bad |= not_finite_bit(v);
                            row[j] = v;
                        }
                    }
                }
            }
        }
        const std::size_t last = std::min(out, o1);
        if (last > o0) {
            done(std::span<const float>(from + o0 * stride, (last - o0) * stride));
        }
    }
    if (all_finite != nullptr) {
        *all_finite = bad == 0;
    }
    return w;
}

/// The Winograd output tile `method` means for a layer of `in` x `out` channels (0: direct).
inline std::size_t winograd_tile(conv3x3_method method, std::size_t in, std::size_t out) {
    switch (method) {
    case conv3x3_method::winograd_2x2:
        return 2;
    case conv3x3_method::winograd_4x4:
        return 4;
    case conv3x3_method::automatic:
        return in >= 16 ? winograd_tile_for(in, out) : 0;
    case conv3x3_method::direct:
        break;
    }
    return 0;
}

/// The weights of a Conv2d weight [out, in, 3, 3] whose shape was checked, packed for `method`;
/// `done(part)` as for pack_conv3x3_direct_checked.
template <class Done>
conv3x3_weights pack_conv3x3_checked(const weight_tensor& t, std::size_t in, std::size_t out,
                                     Done&& done, conv3x3_method method = conv3x3_method::automatic,
                                     bool* all_finite = nullptr) {
    if (const std::size_t tile = winograd_tile(method, in, out); tile != 0) {
        return conv3x3_weights{
            in, out, {}, pack_winograd3x3_checked(t, in, out, tile, done, all_finite)};
    }
    return pack_conv3x3_direct_checked(t, in, out, done, all_finite);
}

inline conv3x3_weights pack_conv3x3_checked(const weight_tensor& t, std::size_t in, std::size_t out,
                                            conv3x3_method method = conv3x3_method::automatic) {
    return pack_conv3x3_checked(
        t, in, out, [](std::span<const float>) {}, method);
}

/// The panels of a ConvTranspose2d weight w [in, out, 2, 2] whose shape was checked: position
/// k's matrix is M_k[i][o] = w[(i out + o) 4 + k].
inline conv_transpose2x2_weights pack_conv_transpose2x2_checked(const weight_tensor& t,
                                                                std::size_t in, std::size_t out) {
    const std::size_t panels = (out + 15) / 16;
    conv_transpose2x2_weights w{in, out, packed_floats(4 * panels * in * 16)};
    const float* values = t.floats().data();
    const auto jobs = static_cast<std::ptrdiff_t>(4 * panels);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (4 * in * out >= layer_parallel_threshold)
#endif
    for (std::ptrdiff_t job = 0; job < jobs; ++job) {
        const std::size_t k = static_cast<std::size_t>(job) / panels;
        const std::size_t p = static_cast<std::size_t>(job) % panels;
        float* to = w.packed.data() + (k * panels + p) * in * 16;
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < 16; ++j) {
                const std::size_t o = 16 * p + j;
                to[i * 16 + j] = o < out ? values[(i * out + o) * 4 + k] : 0.0F;
            }
        }
    }
    return w;
}

/// The panels of a Conv2d weight [out, in, 1, 1] (w[o][i] to panel o / 16, row i, lane o % 16)
/// and its bias [out], whose shapes were checked.
inline conv1x1_weights pack_conv1x1_checked(const weight_tensor& weight, const weight_tensor& bias,
                                            std::size_t in, std::size_t out) {
    const std::span<const float> b = bias.floats();
    const std::size_t panels = (out + 15) / 16;
    conv1x1_weights w{in, out, packed_floats(panels * in * 16),
                      std::vector<float>(b.begin(), b.end())};
    const std::span<const float> values = weight.floats();
    for (std::size_t p = 0; p < panels; ++p) {
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < 16; ++j) {
                const std::size_t o = 16 * p + j;
                w.packed[(p * in + i) * 16 + j] = o < out ? values[o * in + i] : 0.0F;
            }
        }
    }
    return w;
}

} // namespace detail

/// Pack a PyTorch Conv2d weight [out, in, 3, 3] for `method`; `name` is used in error messages.
inline conv3x3_weights pack_conv3x3(const weight_tensor& t, std::string_view name, std::size_t in,
                                    std::size_t out,
                                    conv3x3_method method = conv3x3_method::automatic) {
    detail::require_shape(t, name, {out, in, 3, 3});
    return detail::pack_conv3x3_checked(t, in, out, method);
}

/// Repack a PyTorch ConvTranspose2d weight [in, out, 2, 2].
inline conv_transpose2x2_weights pack_conv_transpose2x2(const weight_tensor& t,
                                                        std::string_view name, std::size_t in,
                                                        std::size_t out) {
    detail::require_shape(t, name, {in, out, 2, 2});
    return detail::pack_conv_transpose2x2_checked(t, in, out);
}

/// Repack a PyTorch Conv2d weight [out, in, 1, 1] and its bias [out].
inline conv1x1_weights pack_conv1x1(const weight_tensor& weight, std::string_view weight_name,
                                    const weight_tensor& bias, std::string_view bias_name,
                                    std::size_t in, std::size_t out) {
    detail::require_shape(weight, weight_name, {out, in, 1, 1});
    detail::require_shape(bias, bias_name, {out});
    return detail::pack_conv1x1_checked(weight, bias, in, out);
}

namespace detail {

/// Add channels [0, n) of `rows` consecutive rows of a flattened padded grid (row q is pixel
/// (q / pw, q % pw) counted from `base`) to sum / sum_sq, skipping columns >= w. Float partial
/// sums within one image row, double across rows.
inline void accumulate_moments(const float* base, std::size_t stride, std::size_t pw, std::size_t w,
                               std::size_t q0, std::size_t rows, std::size_t n, double* sum,
                               double* sum_sq, std::vector<float>& partial) {
    partial.assign(2 * n, 0.0F);
    float* __restrict ps = partial.data();
    float* __restrict pq = partial.data() + n;
    auto flush = [&] {
        for (std::size_t c = 0; c < n; ++c) {
            sum[c] += ps[c];
            sum_sq[c] += pq[c];
            ps[c] = 0.0F;
            pq[c] = 0.0F;
        }
    };
    for (std::size_t q = q0; q < q0 + rows; ++q) {
        const std::size_t x = q % pw;
        if (x >= w) {
            if (x == w) {
                flush();
            }
            continue;
        }
        const float* __restrict p = base + q * stride;
        for (std::size_t c = 0; c < n; ++c) {
            ps[c] += p[c];
            pq[c] += p[c] * p[c];
        }
    }
    flush();
}

} // namespace detail

/// out = conv3x3(in) with zero padding 1 and no bias. `in` must have a zero border. Weights
/// packed for Winograd go to conv3x3_winograd (winograd.hpp); the direct method follows.
///
/// With the padded grid flattened, output row q = y (W + 2) + x reads input row q + dy (W + 2)
/// + dx for tap (dy, dx): each tap is one matrix product over contiguous rows. The two border
/// columns per row computed along the way land in out's border, which is cleared afterwards.
/// When `moments` is given, it receives out's per-channel sums, taken while each tile is still
/// in cache (this saves instance normalisation a pass over the map).
inline void conv3x3(const feature_map& in, const conv3x3_weights& w, const feature_map& out,
                    channel_moments* moments = nullptr) {
    if (w.is_winograd()) {
        conv3x3_winograd(in, w.winograd, out, moments);
        return;
    }
    constexpr std::string_view where = "conv3x3";
    detail::require_same_size(in, out, where);
    detail::require_channels(in, w.in, where, "input");
    detail::require_channels(out, w.out, where, "output");
    const std::size_t pw = in.padded_width();
    const std::size_t rows = in.height * pw - 2; // q = 0 .. rows - 1
    const float* a0 = in.pixel(-1, -1);
    float* c0 = out.pixel(0, 0);
    const std::size_t cin = w.in;
    const std::size_t cout = w.out;
    // Small inputs (the first layer): gather the 9 taps into one (rows x 9 in) tile, one product.
    const bool gather = w.gathers_taps();

    // Tiles: row blocks sized to keep A and C in cache across the nine taps; output-channel
    // blocks (whole pairs of 16-output panels) when there are too few row blocks to keep every
    // thread busy.
    const std::size_t threads = detail::max_threads();
    const std::size_t row_block =
        std::clamp<std::size_t>((std::size_t{1} << 17) / (cin + cout), 64, 4096);
    const std::size_t row_tiles = (rows + row_block - 1) / row_block;
    std::size_t col_tiles = 1;
    if (row_tiles < 2 * threads && cout >= 64) {
        col_tiles = std::min<std::size_t>(cout / 32, 2 * threads);
    }
    const std::size_t col_block = ((cout + col_tiles - 1) / col_tiles + 31) / 32 * 32;
    col_tiles = (cout + col_block - 1) / col_block;
    const auto tiles = static_cast<std::ptrdiff_t>(row_tiles * col_tiles);
    [[maybe_unused]] const bool parallel = rows * (cin + cout) >= detail::layer_parallel_threshold;
    // Per-tile moment slots, summed in tile order afterwards so results never depend on threads.
    std::vector<double> slots(moments != nullptr ? 2 * static_cast<std::size_t>(tiles) * cout : 0,
                              0.0);

#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
#else
    (void)parallel;
#endif
    for (std::ptrdiff_t t = 0; t < tiles; ++t) {
        const std::size_t r0 = static_cast<std::size_t>(t) / col_tiles * row_block;
        const std::size_t n0 = static_cast<std::size_t>(t) % col_tiles * col_block;
        const std::size_t m = std::min(row_block, rows - r0);
        const std::size_t n = std::min(col_block, cout - n0);
        const std::size_t first_panel = n0 / 16;
        float* c = c0 + r0 * out.stride + n0;
        if (gather) {
            std::vector<float>& tile = detail::thread_scratch(m * 9 * cin);
            for (std::size_t r = 0; r < m; ++r) {
                float* dst = tile.data() + r * 9 * cin;
                for (std::size_t k = 0; k < 9; ++k) {
                    const float* src = a0 + (r0 + r + (k / 3) * pw + k % 3) * in.stride;
                    std::copy_n(src, cin, dst + k * cin);
                }
            }
            gemm_packed(m, n, 9 * cin, tile.data(), 9 * cin, w.tap(0) + first_panel * 9 * cin * 16,
                        c, out.stride);
        } else {
            for (std::size_t k = 0; k < 9; ++k) {
                const float* a = a0 + (r0 + (k / 3) * pw + k % 3) * in.stride;
                gemm_packed(m, n, cin, a, in.stride, w.tap(k) + first_panel * cin * 16, c,
                            out.stride, k != 0);
            }
        }
        if (moments != nullptr) {
            thread_local std::vector<float> partial;
            double* slot = slots.data() + 2 * static_cast<std::size_t>(t) * cout;
            detail::accumulate_moments(c0 + n0, out.stride, pw, out.width, r0, m, n, slot + n0,
                                       slot + cout + n0, partial);
        }
    }
    zero_border(out);
    if (moments != nullptr) {
        moments->sum.assign(cout, 0.0);
        moments->sum_sq.assign(cout, 0.0);
        moments->count = out.height * out.width;
        for (std::size_t t = 0; t < static_cast<std::size_t>(tiles); ++t) {
            for (std::size_t o = 0; o < cout; ++o) {
                moments->sum[o] += slots[2 * t * cout + o];
                moments->sum_sq[o] += slots[(2 * t + 1) * cout + o];
            }
        }
    }
}

/// Per-channel moments of the h x w pixels of `m` from pixel (y0, x0) on, deterministic for any
/// thread count.
inline channel_moments compute_moments(const feature_map& m, std::size_t y0, std::size_t x0,
                                       std::size_t h, std::size_t w) {
    const std::size_t channels = m.channels;
    const std::size_t pw = m.padded_width();
    constexpr std::size_t rows_per_chunk = 8;
    const std::size_t chunks = (h + rows_per_chunk - 1) / rows_per_chunk;
    std::vector<double> slots(2 * chunks * channels, 0.0);
    [[maybe_unused]] const bool parallel = h * w * channels >= detail::layer_parallel_threshold;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#else
    (void)parallel;
#endif
    for (std::ptrdiff_t k = 0; k < static_cast<std::ptrdiff_t>(chunks); ++k) {
        const std::size_t r0 = static_cast<std::size_t>(k) * rows_per_chunk;
        const std::size_t r1 = std::min(h, r0 + rows_per_chunk);
        thread_local std::vector<float> partial;
        double* slot = slots.data() + 2 * static_cast<std::size_t>(k) * channels;
        const float* base =
            m.pixel(static_cast<std::ptrdiff_t>(y0), static_cast<std::ptrdiff_t>(x0));
        detail::accumulate_moments(base, m.stride, pw, w, r0 * pw, (r1 - r0) * pw, channels, slot,
                                   slot + channels, partial);
    }
    channel_moments moments{std::vector<double>(channels, 0.0), std::vector<double>(channels, 0.0),
                            h * w};
    for (std::size_t k = 0; k < chunks; ++k) {
        for (std::size_t c = 0; c < channels; ++c) {
            moments.sum[c] += slots[2 * k * channels + c];
            moments.sum_sq[c] += slots[(2 * k + 1) * channels + c];
        }
    }
    return moments;
}

/// Per-channel moments of the top-left h x w pixels of `m`, deterministic for any thread count.
inline channel_moments compute_moments(const feature_map& m, std::size_t h, std::size_t w) {
    return compute_moments(m, 0, 0, h, w);
}

/// In place on the top-left h x w pixels of `m`: y = (x - mean) / sqrt(var + eps) per channel
/// with the biased variance from `moments`, then LeakyReLU with negative slope `slope`.
inline void normalise_leaky_relu(const feature_map& m, std::size_t h, std::size_t w,
                                 const channel_moments& moments, float eps = 1e-5F,
                                 float slope = 0.2F) {
    require(slope >= 0.0F && slope <= 1.0F, "normalise_leaky_relu", "slope", "in [0, 1]", slope);
    const std::size_t channels = m.channels;
    if (moments.sum.size() != channels || moments.sum_sq.size() != channels || moments.count == 0) {
        throw shape_error(xrestore::detail::concat("normalise_leaky_relu: moments of ",
                                                   moments.sum.size(), " channels for a map of ",
                                                   channels));
    }
    const double n = static_cast<double>(moments.count);
    std::vector<float> shift(channels);
    std::vector<float> scale(channels);
    for (std::size_t c = 0; c < channels; ++c) {
        const double mean = moments.sum[c] / n;
        const double var = std::max(0.0, moments.sum_sq[c] / n - mean * mean);
        scale[c] = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        shift[c] = static_cast<float>(-mean) * scale[c];
    }
    const auto rows = static_cast<std::ptrdiff_t>(h);
    [[maybe_unused]] const bool parallel = h * w * channels >= detail::layer_parallel_threshold;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#else
    (void)parallel;
#endif
    for (std::ptrdiff_t y = 0; y < rows; ++y) {
        const float* __restrict sc = scale.data();
        const float* __restrict sh = shift.data();
        for (std::size_t x = 0; x < w; ++x) {
            float* __restrict p = m.pixel(y, static_cast<std::ptrdiff_t>(x));
            for (std::size_t c = 0; c < channels; ++c) {
                const float v = p[c] * sc[c] + sh[c];
                p[c] = std::max(v, v * slope); // LeakyReLU for 0 <= slope <= 1
            }
        }
    }
}

/// In place: instance normalisation over the top-left `h` x `w` pixels of each channel
/// (biased variance, `eps`), then LeakyReLU with negative slope `slope`.
inline void instance_norm_leaky_relu(const feature_map& m, std::size_t h, std::size_t w,
                                     float eps = 1e-5F, float slope = 0.2F) {
    normalise_leaky_relu(m, h, w, compute_moments(m, h, w), eps, slope);
}

/// out = 2x2 average pooling of in, stride 2 (out is floor(H / 2) x floor(W / 2)).
inline void avg_pool2(const feature_map& in, const feature_map& out) {
    if (out.height != in.height / 2 || out.width != in.width / 2 || out.channels != in.channels) {
        throw shape_error(xrestore::detail::concat(
            "avg_pool2: output must be ", in.height / 2, " x ", in.width / 2, " x ", in.channels,
            ", got ", out.height, " x ", out.width, " x ", out.channels));
    }
    const auto rows = static_cast<std::ptrdiff_t>(out.height);
    const std::size_t channels = in.channels;
    [[maybe_unused]] const bool parallel =
        out.height * out.width * channels >= detail::layer_parallel_threshold;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#else
    (void)parallel;
#endif
    for (std::ptrdiff_t y = 0; y < rows; ++y) {
        for (std::ptrdiff_t x = 0; x < static_cast<std::ptrdiff_t>(out.width); ++x) {
            const float* a = in.pixel(2 * y, 2 * x);
            const float* b = in.pixel(2 * y, 2 * x + 1);
            const float* c = in.pixel(2 * y + 1, 2 * x);
            const float* d = in.pixel(2 * y + 1, 2 * x + 1);
            float* o = out.pixel(y, x);
            for (std::size_t k = 0; k < channels; ++k) {
                o[k] = ((a[k] + b[k]) + (c[k] + d[k])) * 0.25F;
            }
        }
    }
    zero_border(out);
}

/// Transposed 2x2 stride-2 convolution of `in` (h x w) into the top-left 2h x 2w pixels of
/// `out`: out(2y + dy, 2x + dx, o) = sum_i in(y, x, i) W[i, o, dy, dx]. Each input row and
/// output position is one product written straight into its output pixels (every other one of
/// a row). out's other pixels and its border are left as they are.
inline void conv_transpose2x2(const feature_map& in, const conv_transpose2x2_weights& w,
                              const feature_map& out) {
    constexpr std::string_view where = "conv_transpose2x2";
    detail::require_channels(in, w.in, where, "input");
    detail::require_channels(out, w.out, where, "output");
    if (out.height < 2 * in.height || out.width < 2 * in.width) {
        throw shape_error(xrestore::detail::concat(where, ": output ", out.height, " x ", out.width,
                                                   " cannot hold 2 x ", in.height, " x ",
                                                   in.width));
    }
    const auto rows = static_cast<std::ptrdiff_t>(in.height);
    [[maybe_unused]] const bool parallel =
        in.height * in.width * (w.in + 4 * w.out) >= detail::layer_parallel_threshold;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
    for (std::ptrdiff_t y = 0; y < rows; ++y) {
        for (std::size_t k = 0; k < 4; ++k) {
            const auto dy = static_cast<std::ptrdiff_t>(k / 2);
            const auto dx = static_cast<std::ptrdiff_t>(k % 2);
            gemm_packed(in.width, w.out, w.in, in.pixel(y, 0), in.stride, w.position(k),
                        out.pixel(2 * y + dy, dx), 2 * out.stride);
        }
    }
}

/// Reflect-pad the top-left `h` x `w` pixels of `m` to its full size, which may exceed them by
/// at most one row and one column (PyTorch's F.pad(..., [0, 1, 0, 1], "reflect")).
inline void reflect_pad_to(const feature_map& m, std::size_t h, std::size_t w) {
    if (m.height < h || m.height > h + 1 || m.width < w || m.width > w + 1 || h < 2 || w < 2) {
        throw shape_error(xrestore::detail::concat("reflect_pad_to: cannot pad ", h, " x ", w,
                                                   " to ", m.height, " x ", m.width));
    }
    const auto hh = static_cast<std::ptrdiff_t>(h);
    const auto ww = static_cast<std::ptrdiff_t>(w);
    if (m.width == w + 1) {
        for (std::ptrdiff_t y = 0; y < hh; ++y) {
            std::copy_n(m.pixel(y, ww - 2), m.channels, m.pixel(y, ww));
        }
    }
    if (m.height == h + 1) {
        for (std::ptrdiff_t x = 0; x < static_cast<std::ptrdiff_t>(m.width); ++x) {
            std::copy_n(m.pixel(hh - 2, x), m.channels, m.pixel(hh, x));
        }
    }
}

/// out (C x H x W, planar) = 1x1 convolution of `in` plus bias.
inline void conv1x1(const feature_map& in, const conv1x1_weights& w, float* out,
                    std::vector<float>& scratch) {
    detail::require_channels(in, w.in, "conv1x1", "input");
    const std::size_t pw = in.padded_width();
    const std::size_t rows = in.height * pw - 2;
    if (scratch.size() < rows * w.out) {
        scratch.resize(rows * w.out);
    }
    gemm_packed(rows, w.out, w.in, in.pixel(0, 0), in.stride, w.packed.data(), scratch.data(),
                w.out);
    const std::size_t plane = in.height * in.width;
    for (std::size_t y = 0; y < in.height; ++y) {
        for (std::size_t x = 0; x < in.width; ++x) {
            const float* src = scratch.data() + (y * pw + x) * w.out;
            for (std::size_t o = 0; o < w.out; ++o) {
                out[o * plane + y * in.width + x] = src[o] + w.bias[o];
            }
        }
    }
}

/// Copy a planar C x H x W image into map `m` (channels-last) and zero its border.
inline void load_planar(const float* planar, const feature_map& m) {
    const std::size_t plane = m.height * m.width;
    for (std::size_t y = 0; y < m.height; ++y) {
        for (std::size_t x = 0; x < m.width; ++x) {
            float* p = m.pixel(static_cast<std::ptrdiff_t>(y), static_cast<std::ptrdiff_t>(x));
            for (std::size_t c = 0; c < m.channels; ++c) {
                p[c] = planar[c * plane + y * m.width + x];
            }
        }
    }
    zero_border(m);
}

} // namespace xrestore::nn
