#pragma once
/// @file winograd.hpp
/// 3x3 convolution (zero padding 1, stride 1, no bias) by Winograd's minimal filtering
/// algorithms F(2x2, 3x3) and F(4x4, 3x3) over zero-bordered channels-last maps
/// (feature_map.hpp), for inference. Each m x m output tile (m = 2 or 4) is
/// Y = A^T [sum_i (G g_oi G^T) .* (B^T d_i B)] A for its (m + 2) x (m + 2) input window d_i:
/// per output and channel pair, (m + 2)^2 / m^2 multiplications (4 for m = 2, 2.25 for m = 4)
/// instead of 9. The kernel transforms U = G g G^T are computed once when the weights are packed
/// (64-byte aligned panels of 16 outputs, the layout of micro_gemm.hpp); a call transforms the
/// input tiles (V = B^T d B), multiplies in the transform domain ((m + 2)^2 products M = V U per
/// block of tiles, each block in cache), and transforms the products back (Y = A^T M A), taking
/// the output's per-channel sums for instance normalisation on the way.
///
/// The transformed weights take (m + 2)^2 / 9 of the 3x3 weights' memory (16/9 for m = 2, 4 for
/// m = 4), which is why the largest layers use m = 2 (winograd_tile_for). The larger tile also
/// rounds more (its matrices hold 4, 5 and 8): about 4e-6 of the largest output against 3e-7 for
/// m = 2 and for the direct method (test_nn_winograd); through the U-Net, outputs within 4e-5
/// of PyTorch's (direct: 1e-5).
///
/// m = 2: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
///        G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1].
/// m = 4: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
///               0 4 0 -5 0 1],
///        G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
///        A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
///
/// @code
/// auto w = xrestore::nn::pack_winograd3x3(state.at("conv.weight"), "conv.weight", in, out, 4);
/// xrestore::nn::conv3x3_winograd(in_map, w, out_map);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/nn/feature_map.hpp"
#include "xrestore/nn/layer_support.hpp"
#include "xrestore/nn/micro_gemm.hpp"
#include "xrestore/nn/weight_checks.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#if defined(_OPENMP)
#define XRESTORE_NN_SIMD_LOOP _Pragma("omp simd")
#else
#define XRESTORE_NN_SIMD_LOOP
#endif

namespace xrestore::nn {

/// 3x3 convolution weights in the F(m x m, 3x3) transform domain.
struct winograd3x3_weights {
    std::size_t in = 0;
    std::size_t out = 0;
    std::size_t panels = 0; ///< ceil(out / 16)
    std::size_t tile = 2;   ///< m, the output tile's side: 2 or 4
    packed_floats packed;   ///< [position][panel][in][16]; outputs past `out` are zero

    /// Transform positions, (m + 2)^2.
    [[nodiscard]] std::size_t positions() const { return (tile + 2) * (tile + 2); }
    /// Panel `p` of transform position `xi` (in x 16 floats; the panels of one position follow
    /// each other).
    [[nodiscard]] const float* panel(std::size_t xi, std::size_t p) const {
        return packed.data() + (xi * panels + p) * in * 16;
    }
};

/// The output tile a layer of `in` x `out` channels uses by default: 4 up to 256 x 256 channels
/// (transformed weights of at most 9.4 MB), else 2. The deeper layers run on small maps, where
/// F(4x4) saves less (few tiles, more of them cut by the map's edge) and streaming its weights,
/// 4 times their size instead of 16/9, costs more than it saves (c32 U-Net on 32 x 32: 5.6 ms
/// with F(4x4) up to 512 x 512, 4.0 ms with this rule); they also hold most of the weights.
inline std::size_t winograd_tile_for(std::size_t in, std::size_t out) {
    return in * out <= 65536 ? 4 : 2;
}

namespace detail {

/// G for F(m x m, 3x3), (m + 2) x 3, row-major.
inline const double* winograd_g(std::size_t tile) {
    static constexpr double g2[12] = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
    static constexpr double g4[18] = {1.0 / 4,  0,         0,        -1.0 / 6, -1.0 / 6, -1.0 / 6,
                                      -1.0 / 6, 1.0 / 6,   -1.0 / 6, 1.0 / 24, 1.0 / 12, 1.0 / 6,
                                      1.0 / 24, -1.0 / 12, 1.0 / 6,  0,        0,        1};
    return tile == 4 ? g4 : g2;
}

/// G g G^T for the 16 kernels g of outputs o0 .. o0 + 15 (zero past `out`) and input i of a
/// Conv2d weight w [out, in, 3, 3], the 16 outputs side by side (vectorised over them), in
/// double, rounded once: position xi goes to to[xi stride + lane]. Returns nonzero when a
/// source value is not finite (the packer checks the values as it reads them).
template <std::size_t Tile>
[[gnu::always_inline]] inline std::uint32_t
winograd_transform_lanes_body(const float* w, std::size_t in, std::size_t out, std::size_t o0,
                              std::size_t i, float* to, std::size_t stride) {
    constexpr std::size_t tile = Tile;
    constexpr std::size_t alpha = tile + 2;
    const double* gm = winograd_g(tile);
    double g[9][16];
    std::uint32_t bad = 0;
    for (std::size_t k = 0; k < 9; ++k) {
        for (std::size_t j = 0; j < 16; ++j) {
            const float v = o0 + j < out ? w[((o0 + j) * in + i) * 9 + k] : 0.0F;
            bad |= not_finite_bit(v);
            g[k][j] = v;
        }
    }
    double t[6][3][16]; // G g
    for (std::size_t a = 0; a < alpha; ++a) {
        for (std::size_t b = 0; b < 3; ++b) {
            for (std::size_t j = 0; j < 16; ++j) {
                t[a][b][j] =
                    gm[3 * a] * g[b][j] + gm[3 * a + 1] * g[3 + b][j] + gm[3 * a + 2] * g[6 + b][j];
            }
        }
    }
    for (std::size_t a = 0; a < alpha; ++a) {
        for (std::size_t c = 0; c < alpha; ++c) {
            float* row = to + (a * alpha + c) * stride;
            for (std::size_t j = 0; j < 16; ++j) {
                row[j] = static_cast<float>(t[a][0][j] * gm[3 * c] + t[a][1][j] * gm[3 * c + 1] +
                                            t[a][2][j] * gm[3 * c + 2]);
            }
        }
    }
    return bad;
}

/// winograd_transform_lanes_body for the inputs i0 .. i1 - 1 of a panel: input i goes to
/// to + i 16 (as pack_winograd3x3_checked lays them out).
template <std::size_t Tile>
[[gnu::always_inline]] inline std::uint32_t
winograd_transform_inputs_body(const float* w, std::size_t in, std::size_t out, std::size_t o0,
                               std::size_t i0, std::size_t i1, float* to, std::size_t stride) {
    std::uint32_t bad = 0;
    for (std::size_t i = i0; i < i1; ++i) {
        bad |= winograd_transform_lanes_body<Tile>(w, in, out, o0, i, to + i * 16, stride);
    }
    return bad;
}

#if XRESTORE_NN_AVX512
template <std::size_t Tile>
[[gnu::target("avx512f")]] inline std::uint32_t
winograd_transform_inputs_avx512(const float* w, std::size_t in, std::size_t out, std::size_t o0,
                                 std::size_t i0, std::size_t i1, float* to, std::size_t stride) {
    return winograd_transform_inputs_body<Tile>(w, in, out, o0, i0, i1, to, stride);
}
#endif

template <std::size_t Tile>
inline std::uint32_t
winograd_transform_inputs_portable(const float* w, std::size_t in, std::size_t out, std::size_t o0,
                                   std::size_t i0, std::size_t i1, float* to, std::size_t stride) {
    return winograd_transform_inputs_body<Tile>(w, in, out, o0, i0, i1, to, stride);
}

/// The transformed weights of inputs i0 .. i1 - 1 for outputs o0 .. o0 + 15, with the
/// AVX-512 clone where the kernels are active (the same double arithmetic, on 8 lanes);
/// nonzero when a source value is not finite.
inline std::uint32_t winograd_transform_inputs(std::size_t tile, const float* w, std::size_t in,
                                               std::size_t out, std::size_t o0, std::size_t i0,
                                               std::size_t i1, float* to, std::size_t stride) {
#if XRESTORE_NN_AVX512
    if (avx512_kernels_active()) {
        if (tile == 4) {
            return winograd_transform_inputs_avx512<4>(w, in, out, o0, i0, i1, to, stride);
        } else {
            return winograd_transform_inputs_avx512<2>(w, in, out, o0, i0, i1, to, stride);
        }
    }
#endif
    if (tile == 4) {
        return winograd_transform_inputs_portable<4>(w, in, out, o0, i0, i1, to, stride);
    } else {
        return winograd_transform_inputs_portable<2>(w, in, out, o0, i0, i1, to, stride);
    }
}

/// The transformed weights of a Conv2d weight [out, in, 3, 3] whose shape was checked, for
/// output tile `tile`, in blocks of 256 outputs (the inputs of a block shared among the threads
/// for a large layer); `done(part)` is called with the source values of each block once packed.
/// With `all_finite`, it receives whether every source value was finite (checked as read).
template <class Done>
winograd3x3_weights pack_winograd3x3_checked(const weight_tensor& t, std::size_t in,
                                             std::size_t out, std::size_t tile, Done&& done,
                                             bool* all_finite = nullptr) {
    const std::size_t panels = (out + 15) / 16;
    const std::size_t positions = (tile + 2) * (tile + 2);
    winograd3x3_weights w{in, out, panels, tile, packed_floats(positions * panels * in * 16)};
    const float* from = t.floats().data();
    float* to = w.packed.data();
    constexpr std::size_t panels_per_block = 16;
    constexpr std::size_t inputs = 32;
    const std::size_t input_tiles = (in + inputs - 1) / inputs;
    std::uint32_t bad = 0;
    for (std::size_t p0 = 0; p0 < panels; p0 += panels_per_block) {
        const std::size_t p1 = std::min(panels, p0 + panels_per_block);
        const auto jobs = static_cast<std::ptrdiff_t>((p1 - p0) * input_tiles);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)                                                          \
    reduction(|                                                                                    \
              : bad) if (positions * 16 * (p1 - p0) * in >= layer_parallel_threshold)
#endif
        for (std::ptrdiff_t job = 0; job < jobs; ++job) {
            const std::size_t p = p0 + static_cast<std::size_t>(job) / input_tiles;
            const std::size_t i0 = static_cast<std::size_t>(job) % input_tiles * inputs;
            const std::size_t i1 = std::min(in, i0 + inputs);
            bad |= winograd_transform_inputs(tile, from, in, out, 16 * p, i0, i1, to + p * in * 16,
                                             panels * in * 16);
        }
        const std::size_t o0 = 16 * p0;
        const std::size_t o1 = std::min(out, 16 * p1);
        done(std::span<const float>(from + o0 * 9 * in, (o1 - o0) * 9 * in));
    }
    if (all_finite != nullptr) {
        *all_finite = bad == 0;
    }
    return w;
}

inline winograd3x3_weights pack_winograd3x3_checked(const weight_tensor& t, std::size_t in,
                                                    std::size_t out, std::size_t tile) {
    return pack_winograd3x3_checked(t, in, out, tile, [](std::span<const float>) {});
}

/// One piece of a Winograd convolution: tiles [t0, t0 + count) and output panels [p0, p1).
struct winograd_piece {
    const feature_map* in;
    const feature_map* out;
    const winograd3x3_weights* w;
    std::size_t tile_columns; ///< tiles per row of tiles
    std::size_t t0;
    std::size_t count;
    std::size_t p0;
    std::size_t p1;
    double* sum;    ///< [out] this piece's sums (its channels only)
    double* sum_sq; ///< [out]
};

/// Floats of scratch a piece of `count` tiles needs.
inline std::size_t winograd_scratch_size(std::size_t positions, std::size_t count, std::size_t in,
                                         std::size_t padded_out) {
    return positions * (count * (in + padded_out) + in) + 3 * padded_out;
}

/// The input and output transforms of F(m x m, 3x3), vectorised over channels: `input` writes
/// v[xi stride + c] = (B^T d B)[xi] for the window whose pixel (r, s) channel c is
/// d[r row + s pixel + c], channels [0, n); `output` writes y[k][c] = (A^T M A)[k] (k = m row +
/// column) from the products m[xi stride + c], channels [c0, c1), and adds weight[k] y (weight 1
/// inside the map, 0 for outputs written to scratch) to s[c] and its square to q[c].
template <std::size_t M>
struct winograd_transforms;

template <>
struct winograd_transforms<2> {
    [[gnu::always_inline]] static inline void input(const float* __restrict d, std::size_t row,
                                                    std::size_t pixel, std::size_t n,
                                                    float* __restrict v, std::size_t stride) {
        XRESTORE_NN_SIMD_LOOP
        for (std::size_t c = 0; c < n; ++c) {
            float t[4][4]; // B^T d: combine rows
            XRESTORE_NN_UNROLL(4)
            for (std::size_t j = 0; j < 4; ++j) {
                const float* x = d + j * pixel + c;
                t[0][j] = x[0] - x[2 * row];
                t[1][j] = x[row] + x[2 * row];
                t[2][j] = x[2 * row] - x[row];
                t[3][j] = x[row] - x[3 * row];
            }
            XRESTORE_NN_UNROLL(4)
            for (std::size_t i = 0; i < 4; ++i) { // (B^T d) B: combine columns
                v[(4 * i + 0) * stride + c] = t[i][0] - t[i][2];
                v[(4 * i + 1) * stride + c] = t[i][1] + t[i][2];
                v[(4 * i + 2) * stride + c] = t[i][2] - t[i][1];
                v[(4 * i + 3) * stride + c] = t[i][1] - t[i][3];
            }
        }
    }

    [[gnu::always_inline]] static inline void output(const float* __restrict m, std::size_t stride,
                                                     std::size_t c0, std::size_t c1,
                                                     float* const* y, const float* weight,
                                                     float* __restrict s, float* __restrict q) {
        float* __restrict y0 = y[0];
        float* __restrict y1 = y[1];
        float* __restrict y2 = y[2];
        float* __restrict y3 = y[3];
        const float w1 = weight[1];
        const float w2 = weight[2];
        const float w3 = weight[3];
        XRESTORE_NN_SIMD_LOOP
        for (std::size_t c = c0; c < c1; ++c) {
            float u[2][4]; // A^T m: combine rows
            XRESTORE_NN_UNROLL(4)
            for (std::size_t j = 0; j < 4; ++j) {
                u[0][j] = m[j * stride + c] + m[(4 + j) * stride + c] + m[(8 + j) * stride + c];
                u[1][j] =
                    m[(4 + j) * stride + c] - m[(8 + j) * stride + c] - m[(12 + j) * stride + c];
            }
            // (A^T m) A: combine columns
            const float r00 = u[0][0] + u[0][1] + u[0][2];
            const float r01 = u[0][1] - u[0][2] - u[0][3];
            const float r10 = u[1][0] + u[1][1] + u[1][2];
            const float r11 = u[1][1] - u[1][2] - u[1][3];
            y0[c] = r00;
            y1[c] = r01;
            y2[c] = r10;
            y3[c] = r11;
            s[c] += r00 + w1 * r01 + w2 * r10 + w3 * r11;
            q[c] += r00 * r00 + w1 * (r01 * r01) + w2 * (r10 * r10) + w3 * (r11 * r11);
        }
    }
};

template <>
struct winograd_transforms<4> {
    // Written out in scalars (the compiler vectorises the channel loop only without arrays):
    // B^T on the columns of d, then on the rows (t = B^T d, v = t B); A^T on the columns of m,
    // then on the rows (u = A^T m, r = u A).
    [[gnu::always_inline]] static inline void input(const float* __restrict d, std::size_t row,
                                                    std::size_t pixel, std::size_t n,
                                                    float* __restrict v, std::size_t stride) {
        XRESTORE_NN_SIMD_LOOP
        for (std::size_t c = 0; c < n; ++c) {
            const float d00 = d[c];
            const float d01 = d[0 * row + 1 * pixel + c];
            const float d02 = d[0 * row + 2 * pixel + c];
            const float d03 = d[0 * row + 3 * pixel + c];
            const float d04 = d[0 * row + 4 * pixel + c];
            const float d05 = d[0 * row + 5 * pixel + c];
            const float d10 = d[1 * row + 0 * pixel + c];
            const float d11 = d[1 * row + 1 * pixel + c];
            const float d12 = d[1 * row + 2 * pixel + c];
            const float d13 = d[1 * row + 3 * pixel + c];
            const float d14 = d[1 * row + 4 * pixel + c];
            const float d15 = d[1 * row + 5 * pixel + c];
            const float d20 = d[2 * row + 0 * pixel + c];
            const float d21 = d[2 * row + 1 * pixel + c];
            const float d22 = d[2 * row + 2 * pixel + c];
            const float d23 = d[2 * row + 3 * pixel + c];
            const float d24 = d[2 * row + 4 * pixel + c];
            const float d25 = d[2 * row + 5 * pixel + c];
            const float d30 = d[3 * row + 0 * pixel + c];
            const float d31 = d[3 * row + 1 * pixel + c];
            const float d32 = d[3 * row + 2 * pixel + c];
            const float d33 = d[3 * row + 3 * pixel + c];
            const float d34 = d[3 * row + 4 * pixel + c];
            const float d35 = d[3 * row + 5 * pixel + c];
            const float d40 = d[4 * row + 0 * pixel + c];
            const float d41 = d[4 * row + 1 * pixel + c];
            const float d42 = d[4 * row + 2 * pixel + c];
            const float d43 = d[4 * row + 3 * pixel + c];
            const float d44 = d[4 * row + 4 * pixel + c];
            const float d45 = d[4 * row + 5 * pixel + c];
            const float d50 = d[5 * row + 0 * pixel + c];
            const float d51 = d[5 * row + 1 * pixel + c];
            const float d52 = d[5 * row + 2 * pixel + c];
            const float d53 = d[5 * row + 3 * pixel + c];
            const float d54 = d[5 * row + 4 * pixel + c];
            const float d55 = d[5 * row + 5 * pixel + c];
            const float t00 = 4.0F * d00 - 5.0F * d20 + d40;
            const float t10 = -4.0F * (d10 + d20) + (d30 + d40);
            const float t20 = 4.0F * (d10 - d20) + (d40 - d30);
            const float t30 = 2.0F * (d30 - d10) + (d40 - d20);
            const float t40 = 2.0F * (d10 - d30) + (d40 - d20);
            const float t50 = 4.0F * d10 - 5.0F * d30 + d50;
            const float t01 = 4.0F * d01 - 5.0F * d21 + d41;
            const float t11 = -4.0F * (d11 + d21) + (d31 + d41);
            const float t21 = 4.0F * (d11 - d21) + (d41 - d31);
            const float t31 = 2.0F * (d31 - d11) + (d41 - d21);
            const float t41 = 2.0F * (d11 - d31) + (d41 - d21);
            const float t51 = 4.0F * d11 - 5.0F * d31 + d51;
            const float t02 = 4.0F * d02 - 5.0F * d22 + d42;
            const float t12 = -4.0F * (d12 + d22) + (d32 + d42);
            const float t22 = 4.0F * (d12 - d22) + (d42 - d32);
            const float t32 = 2.0F * (d32 - d12) + (d42 - d22);
            const float t42 = 2.0F * (d12 - d32) + (d42 - d22);
            const float t52 = 4.0F * d12 - 5.0F * d32 + d52;
            const float t03 = 4.0F * d03 - 5.0F * d23 + d43;
            const float t13 = -4.0F * (d13 + d23) + (d33 + d43);
            const float t23 = 4.0F * (d13 - d23) + (d43 - d33);
            const float t33 = 2.0F * (d33 - d13) + (d43 - d23);
            const float t43 = 2.0F * (d13 - d33) + (d43 - d23);
            const float t53 = 4.0F * d13 - 5.0F * d33 + d53;
            const float t04 = 4.0F * d04 - 5.0F * d24 + d44;
            const float t14 = -4.0F * (d14 + d24) + (d34 + d44);
            const float t24 = 4.0F * (d14 - d24) + (d44 - d34);
            const float t34 = 2.0F * (d34 - d14) + (d44 - d24);
            const float t44 = 2.0F * (d14 - d34) + (d44 - d24);
            const float t54 = 4.0F * d14 - 5.0F * d34 + d54;
            const float t05 = 4.0F * d05 - 5.0F * d25 + d45;
            const float t15 = -4.0F * (d15 + d25) + (d35 + d45);
            const float t25 = 4.0F * (d15 - d25) + (d45 - d35);
            const float t35 = 2.0F * (d35 - d15) + (d45 - d25);
            const float t45 = 2.0F * (d15 - d35) + (d45 - d25);
            const float t55 = 4.0F * d15 - 5.0F * d35 + d55;
            v[0 * stride + c] = 4.0F * t00 - 5.0F * t02 + t04;
            v[1 * stride + c] = -4.0F * (t01 + t02) + (t03 + t04);
            v[2 * stride + c] = 4.0F * (t01 - t02) + (t04 - t03);
            v[3 * stride + c] = 2.0F * (t03 - t01) + (t04 - t02);
            v[4 * stride + c] = 2.0F * (t01 - t03) + (t04 - t02);
            v[5 * stride + c] = 4.0F * t01 - 5.0F * t03 + t05;
            v[6 * stride + c] = 4.0F * t10 - 5.0F * t12 + t14;
            v[7 * stride + c] = -4.0F * (t11 + t12) + (t13 + t14);
            v[8 * stride + c] = 4.0F * (t11 - t12) + (t14 - t13);
            v[9 * stride + c] = 2.0F * (t13 - t11) + (t14 - t12);
            v[10 * stride + c] = 2.0F * (t11 - t13) + (t14 - t12);
            v[11 * stride + c] = 4.0F * t11 - 5.0F * t13 + t15;
            v[12 * stride + c] = 4.0F * t20 - 5.0F * t22 + t24;
            v[13 * stride + c] = -4.0F * (t21 + t22) + (t23 + t24);
            v[14 * stride + c] = 4.0F * (t21 - t22) + (t24 - t23);
            v[15 * stride + c] = 2.0F * (t23 - t21) + (t24 - t22);
            v[16 * stride + c] = 2.0F * (t21 - t23) + (t24 - t22);
            v[17 * stride + c] = 4.0F * t21 - 5.0F * t23 + t25;
            v[18 * stride + c] = 4.0F * t30 - 5.0F * t32 + t34;
            v[19 * stride + c] = -4.0F * (t31 + t32) + (t33 + t34);
            v[20 * stride + c] = 4.0F * (t31 - t32) + (t34 - t33);
            v[21 * stride + c] = 2.0F * (t33 - t31) + (t34 - t32);
            v[22 * stride + c] = 2.0F * (t31 - t33) + (t34 - t32);
            v[23 * stride + c] = 4.0F * t31 - 5.0F * t33 + t35;
            v[24 * stride + c] = 4.0F * t40 - 5.0F * t42 + t44;
            v[25 * stride + c] = -4.0F * (t41 + t42) + (t43 + t44);
            v[26 * stride + c] = 4.0F * (t41 - t42) + (t44 - t43);
            v[27 * stride + c] = 2.0F * (t43 - t41) + (t44 - t42);
            v[28 * stride + c] = 2.0F * (t41 - t43) + (t44 - t42);
            v[29 * stride + c] = 4.0F * t41 - 5.0F * t43 + t45;
            v[30 * stride + c] = 4.0F * t50 - 5.0F * t52 + t54;
            v[31 * stride + c] = -4.0F * (t51 + t52) + (t53 + t54);
            v[32 * stride + c] = 4.0F * (t51 - t52) + (t54 - t53);
            v[33 * stride + c] = 2.0F * (t53 - t51) + (t54 - t52);
            v[34 * stride + c] = 2.0F * (t51 - t53) + (t54 - t52);
            v[35 * stride + c] = 4.0F * t51 - 5.0F * t53 + t55;
        }
    }

    [[gnu::always_inline]] static inline void output(const float* __restrict m, std::size_t stride,
                                                     std::size_t c0, std::size_t c1,
                                                     float* const* y, const float* weight,
                                                     float* __restrict s, float* __restrict q) {
        float* __restrict y0 = y[0];
        float* __restrict y1 = y[1];
        float* __restrict y2 = y[2];
        float* __restrict y3 = y[3];
        float* __restrict y4 = y[4];
        float* __restrict y5 = y[5];
        float* __restrict y6 = y[6];
        float* __restrict y7 = y[7];
        float* __restrict y8 = y[8];
        float* __restrict y9 = y[9];
        float* __restrict y10 = y[10];
        float* __restrict y11 = y[11];
        float* __restrict y12 = y[12];
        float* __restrict y13 = y[13];
        float* __restrict y14 = y[14];
        float* __restrict y15 = y[15];
        const float w0 = weight[0];
        const float w1 = weight[1];
        const float w2 = weight[2];
        const float w3 = weight[3];
        const float w4 = weight[4];
        const float w5 = weight[5];
        const float w6 = weight[6];
        const float w7 = weight[7];
        const float w8 = weight[8];
        const float w9 = weight[9];
        const float w10 = weight[10];
        const float w11 = weight[11];
        const float w12 = weight[12];
        const float w13 = weight[13];
        const float w14 = weight[14];
        const float w15 = weight[15];
        XRESTORE_NN_SIMD_LOOP
        for (std::size_t c = c0; c < c1; ++c) {
            const float m00 = m[0 * stride + c];
            const float m01 = m[1 * stride + c];
            const float m02 = m[2 * stride + c];
            const float m03 = m[3 * stride + c];
            const float m04 = m[4 * stride + c];
            const float m05 = m[5 * stride + c];
            const float m10 = m[6 * stride + c];
            const float m11 = m[7 * stride + c];
            const float m12 = m[8 * stride + c];
            const float m13 = m[9 * stride + c];
            const float m14 = m[10 * stride + c];
            const float m15 = m[11 * stride + c];
            const float m20 = m[12 * stride + c];
            const float m21 = m[13 * stride + c];
            const float m22 = m[14 * stride + c];
            const float m23 = m[15 * stride + c];
            const float m24 = m[16 * stride + c];
            const float m25 = m[17 * stride + c];
            const float m30 = m[18 * stride + c];
            const float m31 = m[19 * stride + c];
            const float m32 = m[20 * stride + c];
            const float m33 = m[21 * stride + c];
            const float m34 = m[22 * stride + c];
            const float m35 = m[23 * stride + c];
            const float m40 = m[24 * stride + c];
            const float m41 = m[25 * stride + c];
            const float m42 = m[26 * stride + c];
            const float m43 = m[27 * stride + c];
            const float m44 = m[28 * stride + c];
            const float m45 = m[29 * stride + c];
            const float m50 = m[30 * stride + c];
            const float m51 = m[31 * stride + c];
            const float m52 = m[32 * stride + c];
            const float m53 = m[33 * stride + c];
            const float m54 = m[34 * stride + c];
            const float m55 = m[35 * stride + c];
            const float u00 = m00 + (m10 + m20) + (m30 + m40);
            const float u10 = (m10 - m20) + 2.0F * (m30 - m40);
            const float u20 = (m10 + m20) + 4.0F * (m30 + m40);
            const float u30 = (m10 - m20) + 8.0F * (m30 - m40) + m50;
            const float u01 = m01 + (m11 + m21) + (m31 + m41);
            const float u11 = (m11 - m21) + 2.0F * (m31 - m41);
            const float u21 = (m11 + m21) + 4.0F * (m31 + m41);
            const float u31 = (m11 - m21) + 8.0F * (m31 - m41) + m51;
            const float u02 = m02 + (m12 + m22) + (m32 + m42);
            const float u12 = (m12 - m22) + 2.0F * (m32 - m42);
            const float u22 = (m12 + m22) + 4.0F * (m32 + m42);
            const float u32 = (m12 - m22) + 8.0F * (m32 - m42) + m52;
            const float u03 = m03 + (m13 + m23) + (m33 + m43);
            const float u13 = (m13 - m23) + 2.0F * (m33 - m43);
            const float u23 = (m13 + m23) + 4.0F * (m33 + m43);
            const float u33 = (m13 - m23) + 8.0F * (m33 - m43) + m53;
            const float u04 = m04 + (m14 + m24) + (m34 + m44);
            const float u14 = (m14 - m24) + 2.0F * (m34 - m44);
            const float u24 = (m14 + m24) + 4.0F * (m34 + m44);
            const float u34 = (m14 - m24) + 8.0F * (m34 - m44) + m54;
            const float u05 = m05 + (m15 + m25) + (m35 + m45);
            const float u15 = (m15 - m25) + 2.0F * (m35 - m45);
            const float u25 = (m15 + m25) + 4.0F * (m35 + m45);
            const float u35 = (m15 - m25) + 8.0F * (m35 - m45) + m55;
            const float r00 = u00 + (u01 + u02) + (u03 + u04);
            const float r01 = (u01 - u02) + 2.0F * (u03 - u04);
            const float r02 = (u01 + u02) + 4.0F * (u03 + u04);
            const float r03 = (u01 - u02) + 8.0F * (u03 - u04) + u05;
            const float r10 = u10 + (u11 + u12) + (u13 + u14);
            const float r11 = (u11 - u12) + 2.0F * (u13 - u14);
            const float r12 = (u11 + u12) + 4.0F * (u13 + u14);
            const float r13 = (u11 - u12) + 8.0F * (u13 - u14) + u15;
            const float r20 = u20 + (u21 + u22) + (u23 + u24);
            const float r21 = (u21 - u22) + 2.0F * (u23 - u24);
            const float r22 = (u21 + u22) + 4.0F * (u23 + u24);
            const float r23 = (u21 - u22) + 8.0F * (u23 - u24) + u25;
            const float r30 = u30 + (u31 + u32) + (u33 + u34);
            const float r31 = (u31 - u32) + 2.0F * (u33 - u34);
            const float r32 = (u31 + u32) + 4.0F * (u33 + u34);
            const float r33 = (u31 - u32) + 8.0F * (u33 - u34) + u35;
            y0[c] = r00;
            y1[c] = r01;
            y2[c] = r02;
            y3[c] = r03;
            y4[c] = r10;
            y5[c] = r11;
            y6[c] = r12;
            y7[c] = r13;
            y8[c] = r20;
            y9[c] = r21;
            y10[c] = r22;
            y11[c] = r23;
            y12[c] = r30;
            y13[c] = r31;
            y14[c] = r32;
            y15[c] = r33;
            s[c] += w0 * r00 + w1 * r01 + w2 * r02 + w3 * r03 + w4 * r10 + w5 * r11 + w6 * r12 +
                    w7 * r13 + w8 * r20 + w9 * r21 + w10 * r22 + w11 * r23 + w12 * r30 + w13 * r31 +
                    w14 * r32 + w15 * r33;
            q[c] += w0 * (r00 * r00) + w1 * (r01 * r01) + w2 * (r02 * r02) + w3 * (r03 * r03) +
                    w4 * (r10 * r10) + w5 * (r11 * r11) + w6 * (r12 * r12) + w7 * (r13 * r13) +
                    w8 * (r20 * r20) + w9 * (r21 * r21) + w10 * (r22 * r22) + w11 * (r23 * r23) +
                    w12 * (r30 * r30) + w13 * (r31 * r31) + w14 * (r32 * r32) + w15 * (r33 * r33);
        }
    }
};

/// Compute one piece: transform its tiles, multiply, transform back into the output map.
template <std::size_t M, bool Avx512>
[[gnu::always_inline]] inline void winograd_piece_body(const winograd_piece& piece) {
    constexpr std::size_t alpha = M + 2;
    constexpr std::size_t positions = alpha * alpha;
    const feature_map& in = *piece.in;
    const feature_map& out = *piece.out;
    const winograd3x3_weights& w = *piece.w;
    const std::size_t cin = w.in;
    const std::size_t cpad = 16 * w.panels;
    const std::size_t count = piece.count;
    const auto h = static_cast<std::ptrdiff_t>(in.height);
    const auto wd = static_cast<std::ptrdiff_t>(in.width);
    constexpr auto side = static_cast<std::ptrdiff_t>(M);

    float* v = aligned_thread_scratch(winograd_scratch_size(positions, count, cin, cpad));
    float* m = v + positions * count * cin;
    float* window = m + positions * count * cpad; // [positions][cin]
    float* trash = window + positions * cin;      // [cpad]
    float* s = trash + cpad;                      // [cpad]
    float* q = s + cpad;                          // [cpad]

    // V[xi][t][c] for the piece's tiles; a window that reaches past the padded map is copied
    // with zeros for the pixels outside
    const std::size_t row = in.padded_width() * in.stride;
    for (std::size_t t = 0; t < count; ++t) {
        const std::size_t tile = piece.t0 + t;
        const auto y0 = side * static_cast<std::ptrdiff_t>(tile / piece.tile_columns) - 1;
        const auto x0 = side * static_cast<std::ptrdiff_t>(tile % piece.tile_columns) - 1;
        constexpr auto last = static_cast<std::ptrdiff_t>(alpha) - 1;
        if (y0 + last <= h && x0 + last <= wd) {
            winograd_transforms<M>::input(in.pixel(y0, x0), row, in.stride, cin, v + t * cin,
                                          count * cin);
            continue;
        }
        for (std::ptrdiff_t r = 0; r <= last; ++r) {
            for (std::ptrdiff_t c = 0; c <= last; ++c) {
                float* to =
                    window +
                    (static_cast<std::size_t>(r) * alpha + static_cast<std::size_t>(c)) * cin;
                if (y0 + r <= h && x0 + c <= wd) {
                    std::copy_n(in.pixel(y0 + r, x0 + c), cin, to);
                } else {
                    std::fill_n(to, cin, 0.0F);
                }
            }
        }
        winograd_transforms<M>::input(window, alpha * cin, cin, cin, v + t * cin, count * cin);
    }
    // M[xi] (count x cpad) = V[xi] U[xi] for the piece's panels
    for (std::size_t xi = 0; xi < positions; ++xi) {
        const float* a = v + xi * count * cin;
        float* c = m + xi * count * cpad + 16 * piece.p0;
        const std::size_t columns = 16 * (piece.p1 - piece.p0);
        if constexpr (Avx512) {
#if XRESTORE_NN_AVX512
            gemm_packed_avx512(count, columns, cin, a, cin, w.panel(xi, piece.p0), c, cpad, false);
#endif
        } else {
            gemm_packed_portable(count, columns, cin, a, cin, w.panel(xi, piece.p0), c, cpad,
                                 false);
        }
    }
    // Y = A^T M A into the output, with the channel sums
    const std::size_t c0 = 16 * piece.p0;
    const std::size_t c1 = std::min(w.out, 16 * piece.p1);
    std::fill(s + c0, s + c1, 0.0F);
    std::fill(q + c0, q + c1, 0.0F);
    for (std::size_t t = 0; t < count; ++t) {
        const std::size_t tile = piece.t0 + t;
        const auto y0 = side * static_cast<std::ptrdiff_t>(tile / piece.tile_columns);
        const auto x0 = side * static_cast<std::ptrdiff_t>(tile % piece.tile_columns);
        float* y[M * M];
        float weight[M * M];
        for (std::ptrdiff_t k = 0; k < side * side; ++k) {
            const bool inside = y0 + k / side < h && x0 + k % side < wd;
            y[k] = inside ? out.pixel(y0 + k / side, x0 + k % side) : trash;
            weight[k] = inside ? 1.0F : 0.0F;
        }
        winograd_transforms<M>::output(m + t * cpad, count * cpad, c0, c1, y, weight, s, q);
    }
    for (std::size_t c = c0; c < c1; ++c) {
        piece.sum[c] = s[c];
        piece.sum_sq[c] = q[c];
    }
}

#if XRESTORE_NN_AVX512
template <std::size_t M>
[[gnu::target("avx512f")]] inline void winograd_piece_avx512(const winograd_piece& piece) {
    winograd_piece_body<M, true>(piece);
}
#endif

template <std::size_t M>
inline void winograd_piece_portable(const winograd_piece& piece) {
    winograd_piece_body<M, false>(piece);
}

} // namespace detail

/// Transform a PyTorch Conv2d weight [out, in, 3, 3] for output tile `tile` (2 or 4; 0 chooses
/// winograd_tile_for); `name` is used in error messages.
inline winograd3x3_weights pack_winograd3x3(const weight_tensor& t, std::string_view name,
                                            std::size_t in, std::size_t out, std::size_t tile = 0) {
    detail::require_shape(t, name, {out, in, 3, 3});
    if (tile == 0) {
        tile = winograd_tile_for(in, out);
    }
    if (tile != 2 && tile != 4) {
        throw value_error(
            xrestore::detail::concat("pack_winograd3x3: output tile must be 2 or 4, got ", tile));
    }
    return detail::pack_winograd3x3_checked(t, in, out, tile);
}

/// out = conv3x3(in) with zero padding 1 and no bias; `in` must have a zero border. out's
/// border is zeroed. When `moments` is given, it receives out's per-channel sums (summed in a
/// fixed order: the same for any thread count).
inline void conv3x3_winograd(const feature_map& in, const winograd3x3_weights& w,
                             const feature_map& out, channel_moments* moments = nullptr) {
    constexpr std::string_view where = "conv3x3_winograd";
    detail::require_same_size(in, out, where);
    detail::require_channels(in, w.in, where, "input");
    detail::require_channels(out, w.out, where, "output");
    const std::size_t side = w.tile;
    const std::size_t tile_rows = (in.height + side - 1) / side;
    const std::size_t tile_columns = (in.width + side - 1) / side;
    const std::size_t tiles = tile_rows * tile_columns;
    const std::size_t cout = w.out;
    const std::size_t cpad = 16 * w.panels;
    const std::size_t positions = w.positions();
    if (tiles == 0) {
        return;
    }
    // Tiles per piece: its transformed inputs and products in about 1 MB (a core's L2 holds
    // them while the products run), a multiple of the kernel's 12 rows.
    const std::size_t budget = (std::size_t{1} << 18) / (positions * (w.in + cpad));
    const std::size_t per_piece = std::min(
        tiles, std::clamp<std::size_t>(budget / detail::gemm_block_rows * detail::gemm_block_rows,
                                       detail::gemm_block_rows, 480));
    const std::size_t chunks = (tiles + per_piece - 1) / per_piece;
    // Too few chunks to keep the threads busy (small maps): split the output panels too.
    const std::size_t threads = detail::max_threads();
    const std::size_t pairs = (w.panels + 1) / 2;
    std::size_t groups = 1;
    if (chunks < 2 * threads) {
        groups = std::min(pairs, (2 * threads + chunks - 1) / chunks);
    }
    const std::size_t pairs_per_group = (pairs + groups - 1) / groups;
    groups = (pairs + pairs_per_group - 1) / pairs_per_group;
    const std::size_t pieces = chunks * groups;
    std::vector<double> slots(2 * pieces * cout, 0.0);
    [[maybe_unused]] const bool parallel =
        tiles * positions * (w.in + cpad) >= detail::layer_parallel_threshold;
    [[maybe_unused]] const bool avx512 = avx512_kernels_active();
    const bool large = side == 4;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
#endif
    for (std::ptrdiff_t k = 0; k < static_cast<std::ptrdiff_t>(pieces); ++k) {
        const std::size_t chunk = static_cast<std::size_t>(k) / groups;
        const std::size_t group = static_cast<std::size_t>(k) % groups;
        const std::size_t t0 = chunk * per_piece;
        const std::size_t p0 = group * 2 * pairs_per_group;
        double* slot = slots.data() + 2 * static_cast<std::size_t>(k) * cout;
        const detail::winograd_piece piece{&in,  &out,
                                           &w,   tile_columns,
                                           t0,   std::min(per_piece, tiles - t0),
                                           p0,   std::min(w.panels, p0 + 2 * pairs_per_group),
                                           slot, slot + cout};
#if XRESTORE_NN_AVX512
        if (avx512) {
            large ? detail::winograd_piece_avx512<4>(piece)
                  : detail::winograd_piece_avx512<2>(piece);
            continue;
        }
#endif
        large ? detail::winograd_piece_portable<4>(piece)
              : detail::winograd_piece_portable<2>(piece);
    }
    zero_border(out);
    if (moments != nullptr) {
        moments->sum.assign(cout, 0.0);
        moments->sum_sq.assign(cout, 0.0);
        moments->count = out.height * out.width;
        for (std::size_t k = 0; k < pieces; ++k) {
            for (std::size_t o = 0; o < cout; ++o) {
                moments->sum[o] += slots[2 * k * cout + o];
                moments->sum_sq[o] += slots[(2 * k + 1) * cout + o];
            }
        }
    }
}

} // namespace xrestore::nn
