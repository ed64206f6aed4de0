#pragma once
/// @file winograd_bodies.hpp
/// The transforms of the Winograd F(2x2, 3x3) convolution (3x3 kernel, stride 1) and their
/// adjoints, as host-device kernel bodies; train/conv2d.hpp runs them around 16 matrix products.
///
/// A padded input plane is cut into overlapping 4x4 tiles d at (2 ty, 2 tx) (positions past the
/// plane read 0), each giving the 2x2 outputs y[2 ty + a, 2 tx + b] = sum_{u, v} g[u, v]
/// d[a + u, b + v] of the cross-correlation with the 3x3 kernel g as
///
///     y = A^T [(G g G^T) .* (B^T d B)] A,
///
///     B^T = | 1  0 -1  0 |    G = | 1    0    0   |    A^T = | 1  1  1  0 |
///           | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
///           | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
///           | 0  1  0 -1 |        | 0    0    1   |
///
/// exact in exact arithmetic (16 products per tile instead of 36). Over channels, the
/// element-wise product becomes, for each of the 16 positions xi of the 4x4 transformed tile,
/// a matrix product M_xi (out x tiles) = U_xi (out x in) V_xi (in x tiles), with U = G g G^T
/// (winograd_weight_body) and V = B^T d B (winograd_input_body); winograd_output_body applies
/// A^T . A. The backward runs the adjoint of each step: dM = A dy A^T
/// (winograd_output_adjoint_body), dV_xi = U_xi^T dM_xi, B dV B^T (winograd_input_adjoint_body,
/// in place) summed over the tiles that cover each padded pixel (winograd_gather_body), and for
/// the weight dU_xi = dM_xi V_xi^T taken back by G^T dU G (winograd_weight_adjoint_body).
///
/// Layouts (row-major): a transformed buffer holds 16 blocks, one per position xi = 4 i + j of
/// the 4x4 tile, `stride` elements apart (at least the block's size; train/conv2d.hpp pads it
/// so that the 16 runs a body writes do not fall on the same cache sets); a block is channels x
/// tiles, tile p = (image th + ty) tw + tx of a group of images (th x tw tiles per image). Every
/// body writes only its own outputs (no atomics).
///
/// @code
/// using namespace xrestore::train::kernels;
/// for (std::size_t j = 0; j < images * in * th; ++j)   // tile rows
///     winograd_input_body<float>{xp, in, hp, wp, th, tw, images * th * tw, stride, v}(j);
/// @endcode

#include "xrestore/core/host_device.hpp"

#include <cstddef>

namespace xrestore::train::kernels {

/// u = G g G^T for each (out, in) kernel: weight out x in x 3 x 3 to u (16 x out x in). Index
/// runs over out x in.
template <class T>
struct winograd_weight_body {
    const T* weight;
    std::size_t stride; ///< elements between the 16 out x in blocks of u (at least out in)
    T* u;

    XRESTORE_HD void operator()(std::size_t j) const {
        const T* g = weight + 9 * j;
        const T half(0.5);
        T r[4][3]; // G g
        for (std::size_t c = 0; c < 3; ++c) {
            r[0][c] = g[c];
            r[1][c] = half * (g[c] + g[3 + c] + g[6 + c]);
            r[2][c] = half * (g[c] - g[3 + c] + g[6 + c]);
            r[3][c] = g[6 + c];
        }
        for (std::size_t i = 0; i < 4; ++i) { // (G g) G^T
            u[(4 * i + 0) * stride + j] = r[i][0];
            u[(4 * i + 1) * stride + j] = half * (r[i][0] + r[i][1] + r[i][2]);
            u[(4 * i + 2) * stride + j] = half * (r[i][0] - r[i][1] + r[i][2]);
            u[(4 * i + 3) * stride + j] = r[i][2];
        }
    }
};

/// The adjoint of winograd_weight_body, added: grad[j] (3 x 3) += G^T du_j G. Index runs over
/// out x in.
template <class T>
struct winograd_weight_adjoint_body {
    const T* du;        ///< 16 blocks of out x in
    std::size_t stride; ///< elements between the blocks
    T* grad;            ///< out x in x 3 x 3

    XRESTORE_HD void operator()(std::size_t j) const {
        const T half(0.5);
        T r[4][3]; // du G, row by row
        for (std::size_t i = 0; i < 4; ++i) {
            const T d0 = du[(4 * i + 0) * stride + j];
            const T d1 = du[(4 * i + 1) * stride + j];
            const T d2 = du[(4 * i + 2) * stride + j];
            const T d3 = du[(4 * i + 3) * stride + j];
            r[i][0] = d0 + half * (d1 + d2);
            r[i][1] = half * (d1 - d2);
            r[i][2] = half * (d1 + d2) + d3;
        }
        T* g = grad + 9 * j;
        for (std::size_t c = 0; c < 3; ++c) { // G^T (du G)
            g[c] += r[0][c] + half * (r[1][c] + r[2][c]);
            g[3 + c] += half * (r[1][c] - r[2][c]);
            g[6 + c] += half * (r[1][c] + r[2][c]) + r[3][c];
        }
    }
};

/// v = B^T d B for each tile of each input channel of a group of padded images (xp: images x
/// channels x hp x wp; window positions past the plane read 0). Index runs over the tile rows
/// of the group (images x channels x th): one row of tiles of one plane, so the loop over its
/// tiles reads rows of the plane and writes 16 contiguous runs.
template <class T>
struct winograd_input_body {
    const T* xp;
    std::size_t channels;
    std::size_t hp;
    std::size_t wp;
    std::size_t th; ///< tiles per column of an image
    std::size_t tw; ///< tiles per row of an image
    std::size_t tiles;
    std::size_t stride; ///< elements between the 16 channels x tiles blocks of v
    T* v;

    /// Tiles transformed together from rows kept on the stack.
    static constexpr std::size_t chunk_tiles = 64;

    XRESTORE_HD static void transform(const T (&d)[4][4], T* out, std::size_t stride) {
        T r[4][4]; // B^T d
        for (std::size_t b = 0; b < 4; ++b) {
            r[0][b] = d[0][b] - d[2][b];
            r[1][b] = d[1][b] + d[2][b];
            r[2][b] = d[2][b] - d[1][b];
            r[3][b] = d[1][b] - d[3][b];
        }
        for (std::size_t a = 0; a < 4; ++a) { // (B^T d) B
            out[(4 * a + 0) * stride] = r[a][0] - r[a][2];
            out[(4 * a + 1) * stride] = r[a][1] + r[a][2];
            out[(4 * a + 2) * stride] = r[a][2] - r[a][1];
            out[(4 * a + 3) * stride] = r[a][1] - r[a][3];
        }
    }

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t ty = j % th;
        const std::size_t c = (j / th) % channels;
        const std::size_t image = j / th / channels;
        const T* plane = xp + (image * channels + c) * hp * wp;
        const std::size_t y0 = 2 * ty;
        T* out = v + c * tiles + (image * th + ty) * tw;
        // tiles whose window lies inside the plane, then the (at most one) that reaches past it
        const std::size_t fit = wp >= 4 ? (wp - 4) / 2 + 1 : 0;
        const std::size_t whole = y0 + 4 <= hp ? (fit < tw ? fit : tw) : 0;
        const T* r0 = plane + y0 * wp;
        const T* r1 = r0 + wp;
        const T* r2 = r1 + wp;
        const T* r3 = r2 + wp;
        // B^T d on whole rows (chunk_tiles tiles at a time), then . B on each tile's columns:
        // plain loops over contiguous and stride-2 runs that vectorise
        for (std::size_t t0 = 0; t0 < whole; t0 += chunk_tiles) {
            const std::size_t count = whole - t0 < chunk_tiles ? whole - t0 : chunk_tiles;
            const std::size_t x0 = 2 * t0;
            T rows[4][2 * chunk_tiles + 2];
            for (std::size_t x = 0; x < 2 * count + 2; ++x) {
                rows[0][x] = r0[x0 + x] - r2[x0 + x];
                rows[1][x] = r1[x0 + x] + r2[x0 + x];
                rows[2][x] = r2[x0 + x] - r1[x0 + x];
                rows[3][x] = r1[x0 + x] - r3[x0 + x];
            }
            for (std::size_t a = 0; a < 4; ++a) {
                const T* t = rows[a];
                T* o0 = out + t0 + (4 * a + 0) * stride;
                T* o1 = out + t0 + (4 * a + 1) * stride;
                T* o2 = out + t0 + (4 * a + 2) * stride;
                T* o3 = out + t0 + (4 * a + 3) * stride;
                for (std::size_t tx = 0; tx < count; ++tx) {
                    o0[tx] = t[2 * tx] - t[2 * tx + 2];
                    o1[tx] = t[2 * tx + 1] + t[2 * tx + 2];
                    o2[tx] = t[2 * tx + 2] - t[2 * tx + 1];
                    o3[tx] = t[2 * tx + 1] - t[2 * tx + 3];
                }
            }
        }
        for (std::size_t tx = whole; tx < tw; ++tx) {
            T d[4][4];
            for (std::size_t a = 0; a < 4; ++a) {
                for (std::size_t b = 0; b < 4; ++b) {
                    const std::size_t y = y0 + a;
                    const std::size_t x = 2 * tx + b;
                    d[a][b] = (y < hp && x < wp) ? plane[y * wp + x] : T(0);
                }
            }
            transform(d, out + tx, stride);
        }
    }
};

/// The first half of the adjoint of winograd_input_body, in place: each tile's 16 values dv
/// become B dv B^T (the gradient of its 4x4 window). Index runs over channels x tiles.
template <class T>
struct winograd_input_adjoint_body {
    std::size_t stride; ///< elements between the 16 blocks
    T* dv;

    XRESTORE_HD void operator()(std::size_t j) const {
        T* at = dv + j;
        T e[4][4];
        for (std::size_t a = 0; a < 4; ++a) {
            for (std::size_t b = 0; b < 4; ++b) {
                e[a][b] = at[(4 * a + b) * stride];
            }
        }
        T r[4][4]; // B e: rows
        for (std::size_t b = 0; b < 4; ++b) {
            r[0][b] = e[0][b];
            r[1][b] = e[1][b] - e[2][b] + e[3][b];
            r[2][b] = e[1][b] + e[2][b] - e[0][b];
            r[3][b] = -e[3][b];
        }
        for (std::size_t a = 0; a < 4; ++a) { // (B e) B^T: columns
            at[(4 * a + 0) * stride] = r[a][0];
            at[(4 * a + 1) * stride] = r[a][1] - r[a][2] + r[a][3];
            at[(4 * a + 2) * stride] = r[a][1] + r[a][2] - r[a][0];
            at[(4 * a + 3) * stride] = -r[a][3];
        }
    }
};

/// The second half of the adjoint of winograd_input_body: dxp[pixel] = sum of the window
/// gradients (winograd_input_adjoint_body's output) of the up to 4 tiles whose window covers
/// the pixel (tile row y / 2 - 1 then y / 2; within each, the tiles in increasing column).
/// Index runs over the padded rows of the group (images x channels x hp), each overwritten.
template <class T>
struct winograd_gather_body {
    const T* dd;
    std::size_t channels;
    std::size_t hp;
    std::size_t wp;
    std::size_t th;
    std::size_t tw;
    std::size_t tiles;
    std::size_t stride; ///< elements between the 16 blocks of dd
    T* dxp;

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t y = j % hp;
        const std::size_t c = (j / hp) % channels;
        const std::size_t image = j / hp / channels;
        T* row = dxp + j * wp;
        for (std::size_t x = 0; x < wp; ++x) {
            row[x] = T(0);
        }
        // tiles tx cover columns 2 tx .. 2 tx + 3 (those past wp read the zero beyond the plane)
        const std::size_t left = tw; // window columns 0 and 1
        const std::size_t right0 = (wp - 3) / 2 + 1 < tw ? (wp - 3) / 2 + 1 : tw; // column 2
        const std::size_t fit3 = wp >= 4 ? (wp - 4) / 2 + 1 : 0;
        const std::size_t right1 = fit3 < tw ? fit3 : tw; // column 3
        for (std::size_t k = 0; k < 2; ++k) {
            if (y / 2 + k < 1 || y / 2 + k - 1 >= th) {
                continue;
            }
            const std::size_t ty = y / 2 + k - 1;
            const std::size_t i = y - 2 * ty; // row of the window: 2 or 3, then 0 or 1
            const T* q = dd + c * tiles + (image * th + ty) * tw;
            const T* c0 = q + (4 * i + 0) * stride;
            const T* c1 = q + (4 * i + 1) * stride;
            const T* c2 = q + (4 * i + 2) * stride;
            const T* c3 = q + (4 * i + 3) * stride;
            for (std::size_t tx = 0; tx < left; ++tx) {
                row[2 * tx] += c0[tx];
                row[2 * tx + 1] += c1[tx];
            }
            for (std::size_t tx = 0; tx < right0; ++tx) {
                row[2 * tx + 2] += c2[tx];
            }
            for (std::size_t tx = 0; tx < right1; ++tx) {
                row[2 * tx + 3] += c3[tx];
            }
        }
    }
};

/// y[2 ty + a, 2 tx + b] = (A^T m A)[a, b] for each tile of each output channel (m: 16 x
/// channels x tiles), the outputs past out_height x out_width dropped; y is images x channels x
/// out_height x out_width. Index runs over the tile rows of the group (images x channels x th).
template <class T>
struct winograd_output_body {
    const T* m;
    std::size_t channels;
    std::size_t out_height;
    std::size_t out_width;
    std::size_t th;
    std::size_t tw;
    std::size_t tiles;
    std::size_t stride; ///< elements between the 16 blocks of m
    T* y;

    /// The 2x2 outputs of tile tx of the run at `at`.
    XRESTORE_HD static void transform(const T* at, std::size_t stride, T (&o)[2][2]) {
        T r[2][4]; // A^T m
        for (std::size_t b = 0; b < 4; ++b) {
            const T m0 = at[(0 + b) * stride];
            const T m1 = at[(4 + b) * stride];
            const T m2 = at[(8 + b) * stride];
            const T m3 = at[(12 + b) * stride];
            r[0][b] = m0 + m1 + m2;
            r[1][b] = m1 - m2 - m3;
        }
        for (std::size_t a = 0; a < 2; ++a) { // (A^T m) A
            o[a][0] = r[a][0] + r[a][1] + r[a][2];
            o[a][1] = r[a][1] - r[a][2] - r[a][3];
        }
    }

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t ty = j % th;
        const std::size_t c = (j / th) % channels;
        const std::size_t image = j / th / channels;
        const T* at = m + c * tiles + (image * th + ty) * tw;
        T* plane = y + (image * channels + c) * out_height * out_width;
        const std::size_t y0 = 2 * ty;
        const std::size_t whole = y0 + 2 <= out_height ? out_width / 2 : 0;
        T* row0 = plane + y0 * out_width;
        for (std::size_t tx = 0; tx < whole; ++tx) {
            T o[2][2];
            transform(at + tx, stride, o);
            row0[2 * tx] = o[0][0];
            row0[2 * tx + 1] = o[0][1];
            row0[out_width + 2 * tx] = o[1][0];
            row0[out_width + 2 * tx + 1] = o[1][1];
        }
        for (std::size_t tx = whole; tx < tw; ++tx) {
            T o[2][2];
            transform(at + tx, stride, o);
            for (std::size_t a = 0; a < 2; ++a) {
                for (std::size_t b = 0; b < 2; ++b) {
                    if (y0 + a < out_height && 2 * tx + b < out_width) {
                        plane[(y0 + a) * out_width + 2 * tx + b] = o[a][b];
                    }
                }
            }
        }
    }
};

/// The adjoint of winograd_output_body: dm = A dy A^T for each tile (dy read as 0 past
/// out_height x out_width). Index runs over the tile rows of the group (images x channels x th).
template <class T>
struct winograd_output_adjoint_body {
    const T* dy;
    std::size_t channels;
    std::size_t out_height;
    std::size_t out_width;
    std::size_t th;
    std::size_t tw;
    std::size_t tiles;
    std::size_t stride; ///< elements between the 16 blocks of dm
    T* dm;

    /// Tiles transformed together from rows kept on the stack.
    static constexpr std::size_t chunk_tiles = 64;

    XRESTORE_HD static void transform(const T (&g)[2][2], T* at, std::size_t stride) {
        const T r[4][2] = {// A g: rows
                           {g[0][0], g[0][1]},
                           {g[0][0] + g[1][0], g[0][1] + g[1][1]},
                           {g[0][0] - g[1][0], g[0][1] - g[1][1]},
                           {-g[1][0], -g[1][1]}};
        for (std::size_t i = 0; i < 4; ++i) { // (A g) A^T: columns
            at[(4 * i + 0) * stride] = r[i][0];
            at[(4 * i + 1) * stride] = r[i][0] + r[i][1];
            at[(4 * i + 2) * stride] = r[i][0] - r[i][1];
            at[(4 * i + 3) * stride] = -r[i][1];
        }
    }

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t ty = j % th;
        const std::size_t c = (j / th) % channels;
        const std::size_t image = j / th / channels;
        T* at = dm + c * tiles + (image * th + ty) * tw;
        const T* plane = dy + (image * channels + c) * out_height * out_width;
        const std::size_t y0 = 2 * ty;
        const std::size_t whole = y0 + 2 <= out_height ? out_width / 2 : 0;
        const T* g0 = plane + y0 * out_width;
        const T* g1 = g0 + out_width;
        // A g on whole row pairs (chunk_tiles tiles at a time), then . A^T on each tile's
        // columns: plain loops that vectorise
        for (std::size_t t0 = 0; t0 < whole; t0 += chunk_tiles) {
            const std::size_t count = whole - t0 < chunk_tiles ? whole - t0 : chunk_tiles;
            const std::size_t x0 = 2 * t0;
            T rows[4][2 * chunk_tiles];
            for (std::size_t x = 0; x < 2 * count; ++x) {
                rows[0][x] = g0[x0 + x];
                rows[1][x] = g0[x0 + x] + g1[x0 + x];
                rows[2][x] = g0[x0 + x] - g1[x0 + x];
                rows[3][x] = -g1[x0 + x];
            }
            for (std::size_t i = 0; i < 4; ++i) {
                const T* t = rows[i];
                T* o0 = at + t0 + (4 * i + 0) * stride;
                T* o1 = at + t0 + (4 * i + 1) * stride;
                T* o2 = at + t0 + (4 * i + 2) * stride;
                T* o3 = at + t0 + (4 * i + 3) * stride;
                for (std::size_t tx = 0; tx < count; ++tx) {
                    o0[tx] = t[2 * tx];
                    o1[tx] = t[2 * tx] + t[2 * tx + 1];
                    o2[tx] = t[2 * tx] - t[2 * tx + 1];
                    o3[tx] = -t[2 * tx + 1];
                }
            }
        }
        for (std::size_t tx = whole; tx < tw; ++tx) {
            T g[2][2];
            for (std::size_t a = 0; a < 2; ++a) {
                for (std::size_t b = 0; b < 2; ++b) {
                    const std::size_t r = y0 + a;
                    const std::size_t col = 2 * tx + b;
                    g[a][b] =
                        (r < out_height && col < out_width) ? plane[r * out_width + col] : T(0);
                }
            }
            transform(g, at + tx, stride);
        }
    }
};

} // namespace xrestore::train::kernels
