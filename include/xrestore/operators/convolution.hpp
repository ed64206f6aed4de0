#pragma once
/// @file convolution.hpp
/// Depthwise 2-D blur: the same kernel on every channel of a C x H x W image, with a choice of
/// boundary mode, and its exact adjoint.
///
/// @code
/// xrestore::convolution blur(xrestore::box_kernel(13), {3, 256, 256},
///                            {.boundary = xrestore::boundary::reflect});
/// xrestore::image y = blur.apply(x);   // y = K x (same size as x)
/// xrestore::image z = blur.adjoint(y); // z = K^T y, exact in every boundary mode
/// @endcode
///
/// Definition (PyTorch's): pad x by the boundary mode, then take the "valid" cross-correlation
///   y(c, i, j) = sum_{u < kh, v < kw} w(u, v) xpad(c, i + u - top, j + v - left)
/// with top = (kh - 1) / 2 and left = (kw - 1) / 2 (integer division). For an odd p x p kernel
/// and zero boundary this is exactly `nn.Conv2d(C, C, p, groups=C, bias=False, padding=p//2)`;
/// for even kernels it is `F.conv2d(x, w, padding='same', groups=C)` (PyTorch pads (k-1)//2
/// before and k//2 after). With `flip_kernel` the kernel is rotated by 180 degrees first, which
/// gives the true convolution with a PSF (same padding).
///
/// The adjoint is the full convolution with zero padding (for the zero mode exactly
/// `nn.ConvTranspose2d` with the same weights and padding) followed by the adjoint of the padding:
/// the contributions that landed on a padded position are folded back onto the pixel that
/// position copied (circular, reflect, replicate) or spread as sum / (H W) over the channel (mean).
///
/// `basic_convolution<V>` is the operator on any dense array type V; `convolution` is the one on
/// images, `cuda::convolution` the one on device images (`cuda::convolution d(blur)`).
///
/// Implementation on images: row blocks of each channel are padded into a per-thread buffer, then
/// every output row is a weighted sum of shifted rows of that buffer over the nonzero taps
/// (contiguous, vectorised, register-blocked). Rank-one kernels (box, Gaussian) run as a vertical
/// then a horizontal 1-D pass when that needs fewer taps. OpenMP spreads channels x row blocks
/// when the `xrestore::openmp` target is linked. On other arrays: the kernel bodies below on the
/// array's backend (shared-memory tiles where the backend has them; see detail::body_correlation).

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/boundary.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace xrestore {

/// Options of a convolution operator.
struct convolution_options {
    /// How the image is extended beyond its edges.
    xrestore::boundary boundary = xrestore::boundary::zero;
    /// false: cross-correlation as PyTorch conv2d; true: convolution with the PSF (the kernel
    /// rotated by 180 degrees).
    bool flip_kernel = false;
};

namespace kernels {

/// The value of the padded plane at (row, col) (source coordinates, possibly outside): the pixel
/// the boundary mode copies there, or `constant` where the mode pads with a constant.
XRESTORE_HD inline float padded_value(const float* plane, std::int64_t row, std::int64_t col,
                                      std::int64_t height, std::int64_t width, boundary mode,
                                      float constant) {
    const std::int64_t si = boundary_source_index(row, height, mode);
    const std::int64_t sj = boundary_source_index(col, width, mode);
    return (si < 0 || sj < 0) ? constant : plane[si * width + sj];
}

/// sum_{u < kh, v < kw} w(u, v) value(u, v), accumulated in float in row-major tap order: the
/// arithmetic of every correlation kernel (reference body, CUDA tiled kernel).
template <class Value>
XRESTORE_HD float correlate_taps(const float* weights, std::int64_t kernel_height,
                                 std::int64_t kernel_width, const Value& value) {
    float sum = 0.0f;
    for (std::int64_t u = 0; u < kernel_height; ++u) {
        for (std::int64_t v = 0; v < kernel_width; ++v) {
            sum += weights[u * kernel_width + v] * value(u, v);
        }
    }
    return sum;
}

/// One output pixel p = (c, i, j) of a padded cross-correlation, for any boundary mode:
///   out(c, i, j) = sum_{u, v} w(u, v) xpad(c, i + u - pad_top, j + v - pad_left)
/// where xpad copies x through boundary_source_index, or takes fill[c] (0 if fill is null) where
/// the mode pads with a constant. x is C x height x width, out is C x out_height x out_width.
/// The CPU operator uses a blocked fast path; this body is the reference it is tested against and
/// the arithmetic the device kernels run.
struct correlation_pixel_body {
    const float* x;
    const float* weights; ///< kernel_height x kernel_width, row-major
    const float* fill;    ///< per-channel constant of the zero/mean modes, or null for 0
    float* out;
    std::int64_t height;
    std::int64_t width;
    std::int64_t kernel_height;
    std::int64_t kernel_width;
    std::int64_t pad_top;
    std::int64_t pad_left;
    std::int64_t out_height;
    std::int64_t out_width;
    boundary mode;
    XRESTORE_HD void operator()(std::size_t p) const {
        const auto index = static_cast<std::int64_t>(p);
        const std::int64_t j = index % out_width;
        const std::int64_t i = (index / out_width) % out_height;
        const std::int64_t c = index / (out_width * out_height);
        const float constant = fill != nullptr ? fill[c] : 0.0f;
        const float* plane = x + c * height * width;
        out[p] = correlate_taps(weights, kernel_height, kernel_width,
                                [&](std::int64_t u, std::int64_t v) {
                                    return padded_value(plane, i + u - pad_top, j + v - pad_left,
                                                        height, width, mode, constant);
                                });
    }
};

/// The shared-memory tiled form of correlation_pixel_body (a tile body for a backend's
/// for_each_tile, see backend/cuda/tiled.cuh): a tile of tile x tile outputs of channel c with
/// top-left output (i0, j0) reads the kh x kw weights and a patch of (tile + kh - 1) x
/// (tile + kw - 1) padded values from shared memory (weights first, then the patch).
/// load_patch_element fills patch entry k, tile_output computes output (i0 + ty, j0 + tx) from
/// the patch; both are run by CPU tests block by block, so the tiling's index arithmetic is
/// checked without a GPU.
struct correlation_tile {
    correlation_pixel_body body;
    std::int64_t tile;
    XRESTORE_HD std::int64_t patch_width() const { return tile + body.kernel_width - 1; }
    XRESTORE_HD std::int64_t patch_height() const { return tile + body.kernel_height - 1; }
    XRESTORE_HD std::int64_t patch_size() const { return patch_width() * patch_height(); }
    XRESTORE_HD void load_patch_element(std::int64_t c, std::int64_t i0, std::int64_t j0,
                                        std::int64_t k, float* patch) const {
        const std::int64_t r = k / patch_width();
        const std::int64_t q = k % patch_width();
        const float constant = body.fill != nullptr ? body.fill[c] : 0.0f;
        const float* plane = body.x + c * body.height * body.width;
        patch[k] = padded_value(plane, i0 + r - body.pad_top, j0 + q - body.pad_left, body.height,
                                body.width, body.mode, constant);
    }
    XRESTORE_HD void tile_output(std::int64_t c, std::int64_t i0, std::int64_t j0, std::int64_t ty,
                                 std::int64_t tx, const float* weights, const float* patch) const {
        const std::int64_t i = i0 + ty;
        const std::int64_t j = j0 + tx;
        if (i >= body.out_height || j >= body.out_width) {
            return;
        }
        const std::int64_t width = patch_width();
        const float* corner = patch + ty * width + tx;
        body.out[(c * body.out_height + i) * body.out_width + j] =
            correlate_taps(weights, body.kernel_height, body.kernel_width,
                           [&](std::int64_t u, std::int64_t v) { return corner[u * width + v]; });
    }
    // The tile-body interface of for_each_tile: shared = weights (kh kw), then the patch.
    XRESTORE_HD std::int64_t taps() const { return body.kernel_height * body.kernel_width; }
    XRESTORE_HD std::int64_t shared_size() const { return taps() + patch_size(); }
    XRESTORE_HD void load_shared(std::int64_t c, std::int64_t i0, std::int64_t j0, std::int64_t k,
                                 float* shared) const {
        if (k < taps()) {
            shared[k] = body.weights[k];
        } else {
            load_patch_element(c, i0, j0, k - taps(), shared + taps());
        }
    }
    XRESTORE_HD void compute(std::int64_t c, std::int64_t i0, std::int64_t j0, std::int64_t ty,
                             std::int64_t tx, const float* shared) const {
        tile_output(c, i0, j0, ty, tx, shared, shared + taps());
    }
};

/// Pixel p = (c, i, j) of the adjoint of the padding, x = P^T g, gathered (no scatter, so a
/// device runs it without atomics): g lives on the padded grid (padded_height x padded_width),
/// and pixel (i, j) receives every padded position (r, q) that copied it, r from the rows
/// row_positions[row_offsets[i] .. row_offsets[i + 1]) and q likewise (see
/// detail::padding_gather_map), plus outside[c] / (height width) when outside is not null (the
/// mean mode: the sum of channel c's constant-padded positions, spread over the channel).
struct fold_padding_body {
    const float* padded;
    float* out;
    const std::int64_t* row_offsets;   ///< height + 1 entries
    const std::int64_t* row_positions; ///< padded rows, grouped by the source row they copy
    const std::int64_t* col_offsets;   ///< width + 1 entries
    const std::int64_t* col_positions; ///< padded columns, grouped by source column
    const double* outside;             ///< per-channel sum outside the copied positions, or null
    std::int64_t height;
    std::int64_t width;
    std::int64_t padded_height;
    std::int64_t padded_width;
    XRESTORE_HD void operator()(std::size_t p) const {
        const auto index = static_cast<std::int64_t>(p);
        const std::int64_t j = index % width;
        const std::int64_t i = (index / width) % height;
        const std::int64_t c = index / (width * height);
        const float* g = padded + c * padded_height * padded_width;
        float sum = 0.0f;
        for (std::int64_t a = row_offsets[i]; a < row_offsets[i + 1]; ++a) {
            const float* row = g + row_positions[a] * padded_width;
            for (std::int64_t b = col_offsets[j]; b < col_offsets[j + 1]; ++b) {
                sum += row[col_positions[b]];
            }
        }
        if (outside != nullptr) {
            sum += static_cast<float>(outside[c] / static_cast<double>(height * width));
        }
        out[p] = sum;
    }
};

/// Term i of channel c's sum over the padded positions that copy no pixel (the mean mode's
/// constant border): g(c, r, q) when (r, q) lies outside the interior block, else 0. Index i runs
/// over the whole C x padded_height x padded_width grid; sum it per channel.
struct padding_border_term {
    const float* padded;
    std::int64_t padded_height;
    std::int64_t padded_width;
    std::int64_t top;
    std::int64_t left;
    std::int64_t height;
    std::int64_t width;
    XRESTORE_HD double operator()(std::size_t p) const {
        const auto index = static_cast<std::int64_t>(p);
        const std::int64_t q = index % padded_width;
        const std::int64_t r = (index / padded_width) % padded_height;
        const bool inside = r >= top && r < top + height && q >= left && q < left + width;
        return inside ? 0.0 : static_cast<double>(padded[p]);
    }
};

} // namespace kernels

namespace detail {

/// The padded positions of one axis grouped by the source index they copy, for
/// kernels::fold_padding_body: padded position t in [0, padded) lies at source coordinate
/// t - before and copies boundary_source_index of it (none for the constant modes' border).
/// offsets has n + 1 entries; positions[offsets[s] .. offsets[s + 1]) copy source index s, in
/// increasing order.
struct padding_gather_map {
    std::vector<std::int64_t> offsets;
    std::vector<std::int64_t> positions;
};

inline padding_gather_map make_padding_gather_map(std::size_t n, std::size_t before,
                                                  std::size_t padded, boundary mode) {
    padding_gather_map map;
    map.offsets.assign(n + 1, 0);
    std::vector<std::int64_t> source(padded);
    for (std::size_t t = 0; t < padded; ++t) {
        source[t] =
            boundary_source_index(static_cast<std::int64_t>(t) - static_cast<std::int64_t>(before),
                                  static_cast<std::int64_t>(n), mode);
        if (source[t] >= 0) {
            ++map.offsets[static_cast<std::size_t>(source[t]) + 1];
        }
    }
    for (std::size_t s = 0; s < n; ++s) {
        map.offsets[s + 1] += map.offsets[s];
    }
    map.positions.resize(static_cast<std::size_t>(map.offsets[n]));
    std::vector<std::int64_t> next(map.offsets.begin(), map.offsets.end() - 1);
    for (std::size_t t = 0; t < padded; ++t) {
        if (source[t] >= 0) {
            map.positions[static_cast<std::size_t>(next[static_cast<std::size_t>(source[t])]++)] =
                static_cast<std::int64_t>(t);
        }
    }
    return map;
}

#if defined(__GNUC__) || defined(__clang__)
#define XRESTORE_CONVOLUTION_VECTOR_EXTENSIONS 1
#if defined(__AVX__)
inline constexpr std::size_t vector_lanes = 8; ///< floats per native vector register
#else
inline constexpr std::size_t vector_lanes = 4;
#endif
/// A native vector of floats (SSE: 4, AVX: 8) through the GCC/Clang vector extensions.
typedef float float_vector __attribute__((vector_size(vector_lanes * sizeof(float))));

/// Unaligned load and store (memcpy compiles to one movups / vmovups).
inline float_vector load_vector(const float* p) {
    float_vector v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store_vector(float* p, float_vector v) {
    std::memcpy(p, &v, sizeof v);
}
#else
#define XRESTORE_CONVOLUTION_VECTOR_EXTENSIONS 0
#endif

/// out[k] = sum_t weights[t] * base[offsets[t] + k] for k < n: a weighted sum of shifted
/// streams, the inner loop of every pass. Register-blocked over 8 native vectors, so each tap
/// costs one load and one multiply-add per vector and the sums stay in registers.
inline void weighted_sum(const float* base, const std::ptrdiff_t* offsets, const float* weights,
                         std::size_t taps, float* out, std::size_t n) {
    std::size_t k = 0;
#if XRESTORE_CONVOLUTION_VECTOR_EXTENSIONS
    using vec = float_vector;
    constexpr std::size_t lanes = vector_lanes;
    constexpr std::size_t chunk = 8 * lanes;
    // eight named accumulators: they stay in registers at -O2 as well as at -O3
    for (; k + chunk <= n; k += chunk) {
        vec a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {};
        for (std::size_t t = 0; t < taps; ++t) {
            const float* p = base + offsets[t] + k;
            const vec w = vec{} + weights[t];
            a0 += w * load_vector(p);
            a1 += w * load_vector(p + lanes);
            a2 += w * load_vector(p + 2 * lanes);
            a3 += w * load_vector(p + 3 * lanes);
            a4 += w * load_vector(p + 4 * lanes);
            a5 += w * load_vector(p + 5 * lanes);
            a6 += w * load_vector(p + 6 * lanes);
            a7 += w * load_vector(p + 7 * lanes);
        }
        float* o = out + k;
        store_vector(o, a0);
        store_vector(o + lanes, a1);
        store_vector(o + 2 * lanes, a2);
        store_vector(o + 3 * lanes, a3);
        store_vector(o + 4 * lanes, a4);
        store_vector(o + 5 * lanes, a5);
        store_vector(o + 6 * lanes, a6);
        store_vector(o + 7 * lanes, a7);
    }
    for (; k + lanes <= n; k += lanes) {
        vec acc = {};
        for (std::size_t t = 0; t < taps; ++t) {
            acc += (vec{} + weights[t]) * load_vector(base + offsets[t] + k);
        }
        store_vector(out + k, acc);
    }
#endif
    for (; k < n; ++k) {
        float acc = 0.0f;
        for (std::size_t t = 0; t < taps; ++t) {
            acc += weights[t] * base[offsets[t] + static_cast<std::ptrdiff_t>(k)];
        }
        out[k] = acc;
    }
}

/// A cross-correlation of C planes (height x width) padded by a boundary mode, precomputed for
/// one geometry: out (out_height x out_width) = valid correlation of the padded plane, whose
/// padded row r copies source row row_source[r] (or the constant when -1), likewise columns.
struct correlation_plan {
    std::size_t height = 0;
    std::size_t width = 0;
    std::size_t kernel_height = 0;
    std::size_t kernel_width = 0;
    std::size_t pad_top = 0;
    std::size_t pad_left = 0;
    std::size_t out_height = 0;
    std::size_t out_width = 0;
    std::size_t padded_height = 0; ///< out_height + kernel_height - 1
    std::size_t padded_width = 0;  ///< out_width + kernel_width - 1
    boundary mode = boundary::zero;
    matrix weights;                       ///< the kernel as correlated (already oriented)
    std::vector<std::int64_t> row_source; ///< padded row -> source row, -1 for the constant
    std::vector<std::int64_t> col_source; ///< padded column -> source column, -1 for the constant
    // Direct path: the nonzero taps, offset u * padded_width + v into the padded block.
    std::vector<std::ptrdiff_t> tap_offsets;
    std::vector<float> tap_weights;
    // Separable path, w = a b^T: vertical taps (offset u * padded_width), horizontal taps (v).
    bool separable = false;
    std::vector<std::ptrdiff_t> vertical_offsets;
    std::vector<float> vertical_weights;
    std::vector<std::ptrdiff_t> horizontal_offsets;
    std::vector<float> horizontal_weights;
};

/// w rotated by 180 degrees: r(u, v) = w(kh - 1 - u, kw - 1 - v).
inline matrix rotate_180(const matrix& w) {
    const std::size_t kh = w.shape()[0];
    const std::size_t kw = w.shape()[1];
    matrix r({kh, kw});
    for (std::size_t u = 0; u < kh; ++u) {
        for (std::size_t v = 0; v < kw; ++v) {
            r(u, v) = w(kh - 1 - u, kw - 1 - v);
        }
    }
    return r;
}

/// If w = a b^T within float rounding, its factors (a: kh, b: kw); otherwise empty vectors.
inline std::pair<std::vector<float>, std::vector<float>> rank_one_factors(const matrix& w) {
    const std::size_t kh = w.shape()[0];
    const std::size_t kw = w.shape()[1];
    std::size_t pivot_row = 0;
    std::size_t pivot_col = 0;
    float largest = 0.0f;
    for (std::size_t u = 0; u < kh; ++u) {
        for (std::size_t v = 0; v < kw; ++v) {
            if (std::abs(w(u, v)) > largest) {
                largest = std::abs(w(u, v));
                pivot_row = u;
                pivot_col = v;
            }
        }
    }
    if (largest == 0.0f) {
        return {};
    }
    // a = w(:, pivot_col), b = w(pivot_row, :) / w(pivot_row, pivot_col)
    std::vector<float> a(kh);
    std::vector<float> b(kw);
    const double pivot = w(pivot_row, pivot_col);
    for (std::size_t u = 0; u < kh; ++u) {
        a[u] = w(u, pivot_col);
    }
    for (std::size_t v = 0; v < kw; ++v) {
        b[v] = static_cast<float>(w(pivot_row, v) / pivot);
    }
    const double tolerance = 8.0 * std::numeric_limits<float>::epsilon() * largest;
    for (std::size_t u = 0; u < kh; ++u) {
        for (std::size_t v = 0; v < kw; ++v) {
            const double product = static_cast<double>(a[u]) * b[v];
            if (std::abs(product - w(u, v)) > tolerance) {
                return {};
            }
        }
    }
    return {std::move(a), std::move(b)};
}

/// The plan of a correlation of `height x width` planes with `weights`, padded by `mode` with
/// pad_top / pad_left before, producing out_height x out_width.
inline correlation_plan make_correlation_plan(std::size_t height, std::size_t width,
                                              const matrix& weights, std::size_t pad_top,
                                              std::size_t pad_left, std::size_t out_height,
                                              std::size_t out_width, boundary mode) {
    correlation_plan plan;
    plan.height = height;
    plan.width = width;
    plan.kernel_height = weights.shape()[0];
    plan.kernel_width = weights.shape()[1];
    plan.pad_top = pad_top;
    plan.pad_left = pad_left;
    plan.out_height = out_height;
    plan.out_width = out_width;
    plan.padded_height = out_height + plan.kernel_height - 1;
    plan.padded_width = out_width + plan.kernel_width - 1;
    plan.mode = mode;
    plan.weights = weights;
    const auto h = static_cast<std::int64_t>(height);
    const auto w = static_cast<std::int64_t>(width);
    plan.row_source.resize(plan.padded_height);
    for (std::size_t r = 0; r < plan.padded_height; ++r) {
        plan.row_source[r] = boundary_source_index(
            static_cast<std::int64_t>(r) - static_cast<std::int64_t>(pad_top), h, mode);
    }
    plan.col_source.resize(plan.padded_width);
    for (std::size_t q = 0; q < plan.padded_width; ++q) {
        plan.col_source[q] = boundary_source_index(
            static_cast<std::int64_t>(q) - static_cast<std::int64_t>(pad_left), w, mode);
    }
    const auto stride = static_cast<std::ptrdiff_t>(plan.padded_width);
    for (std::size_t u = 0; u < plan.kernel_height; ++u) {
        for (std::size_t v = 0; v < plan.kernel_width; ++v) {
            if (weights(u, v) != 0.0f) {
                plan.tap_offsets.push_back(static_cast<std::ptrdiff_t>(u) * stride +
                                           static_cast<std::ptrdiff_t>(v));
                plan.tap_weights.push_back(weights(u, v));
            }
        }
    }
    auto [a, b] = rank_one_factors(weights);
    if (!a.empty()) {
        for (std::size_t u = 0; u < a.size(); ++u) {
            if (a[u] != 0.0f) {
                plan.vertical_offsets.push_back(static_cast<std::ptrdiff_t>(u) * stride);
                plan.vertical_weights.push_back(a[u]);
            }
        }
        for (std::size_t v = 0; v < b.size(); ++v) {
            if (b[v] != 0.0f) {
                plan.horizontal_offsets.push_back(static_cast<std::ptrdiff_t>(v));
                plan.horizontal_weights.push_back(b[v]);
            }
        }
        // Two passes cost (a taps) * padded_width + (b taps) * out_width per row, the direct
        // one (nonzero taps) * out_width.
        const double two_pass =
            static_cast<double>(plan.vertical_weights.size()) *
                static_cast<double>(plan.padded_width) +
            static_cast<double>(plan.horizontal_weights.size()) * static_cast<double>(out_width);
        const double direct =
            static_cast<double>(plan.tap_weights.size()) * static_cast<double>(out_width);
        plan.separable = two_pass < direct;
    }
    return plan;
}

/// A buffer owned by the calling thread, grown on demand and reused across calls.
inline float* thread_workspace(std::size_t count) {
    static thread_local std::vector<float> buffer;
    if (buffer.size() < count) {
        buffer.assign(count, 0.0f);
    }
    return buffer.data();
}

/// Output rows of a block; chosen so the padded block stays in the L2 cache.
inline std::size_t correlation_block_rows(const correlation_plan& plan) {
    const std::size_t budget = (std::size_t{1} << 16) / std::max<std::size_t>(plan.padded_width, 1);
    return std::clamp<std::size_t>(budget, 8, 64);
}

/// Rows [first, last) of one output plane: pad the needed source rows into `block`, then each
/// output row is a weighted sum of shifted padded rows.
inline void correlate_rows(const correlation_plan& plan, const float* source, float constant,
                           float* target, std::size_t first, std::size_t last, float* block) {
    const std::size_t pw = plan.padded_width;
    const std::size_t rows = last - first + plan.kernel_height - 1;
    const std::size_t left = std::min(plan.pad_left, pw);
    const std::size_t inner = std::min(plan.width, pw - left);
    for (std::size_t r = 0; r < rows; ++r) {
        float* row = block + r * pw;
        const std::int64_t s = plan.row_source[first + r];
        if (s < 0) {
            std::fill(row, row + pw, constant);
            continue;
        }
        const float* src = source + static_cast<std::size_t>(s) * plan.width;
        // interior columns copy the source row; the rest go through the column map
        std::memcpy(row + left, src, inner * sizeof(float));
        for (std::size_t q = 0; q < left; ++q) {
            const std::int64_t sq = plan.col_source[q];
            row[q] = sq < 0 ? constant : src[sq];
        }
        for (std::size_t q = left + inner; q < pw; ++q) {
            const std::int64_t sq = plan.col_source[q];
            row[q] = sq < 0 ? constant : src[sq];
        }
    }
    float* scratch = block + rows * pw; // one padded row for the separable path
    for (std::size_t i = first; i < last; ++i) {
        const float* base = block + (i - first) * pw;
        float* out = target + i * plan.out_width;
        if (plan.separable) {
            // t(q) = sum_u a(u) xpad(i + u, q); out(j) = sum_v b(v) t(j + v)
            weighted_sum(base, plan.vertical_offsets.data(), plan.vertical_weights.data(),
                         plan.vertical_weights.size(), scratch, pw);
            weighted_sum(scratch, plan.horizontal_offsets.data(), plan.horizontal_weights.data(),
                         plan.horizontal_weights.size(), out, plan.out_width);
        } else {
            // out(j) = sum_{u,v} w(u, v) xpad(i + u, j + v)
            weighted_sum(base, plan.tap_offsets.data(), plan.tap_weights.data(),
                         plan.tap_weights.size(), out, plan.out_width);
        }
    }
}

/// Run a plan on `channels` planes: target(c) = correlate(pad(source(c))), with the constant
/// fill[c] (or 0 when fill is null) where the mode pads with a constant.
inline void run_correlation(const correlation_plan& plan, const float* source, std::size_t channels,
                            const float* fill, float* target) {
    const std::size_t block_rows = correlation_block_rows(plan);
    const std::size_t blocks = (plan.out_height + block_rows - 1) / block_rows;
    const auto tasks = static_cast<std::int64_t>(channels * blocks);
    const std::size_t workspace = (block_rows + plan.kernel_height) * plan.padded_width;
    [[maybe_unused]] const double work =
        static_cast<double>(channels) * static_cast<double>(plan.out_height) *
        static_cast<double>(plan.padded_width) * static_cast<double>(plan.kernel_height + 1);
    const std::size_t in_plane = plan.height * plan.width;
    const std::size_t out_plane = plan.out_height * plan.out_width;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && work > 2e5)
#endif
    for (std::int64_t task = 0; task < tasks; ++task) {
        const auto t = static_cast<std::size_t>(task);
        const std::size_t c = t / blocks;
        const std::size_t first = (t % blocks) * block_rows;
        const std::size_t last = std::min(first + block_rows, plan.out_height);
        correlate_rows(plan, source + c * in_plane, fill != nullptr ? fill[c] : 0.0f,
                       target + c * out_plane, first, last, thread_workspace(workspace));
    }
}

/// Per-channel means of a C x H x W image (accumulated in double).
inline std::vector<float> channel_means(const image& x) {
    const std::size_t channels = x.shape()[0];
    const std::size_t plane = x.shape()[1] * x.shape()[2];
    std::vector<float> means(channels);
    for (std::size_t c = 0; c < channels; ++c) {
        const float* p = x.data() + c * plane;
        double sum = 0.0;
        for (std::size_t k = 0; k < plane; ++k) {
            sum += p[k];
        }
        means[c] = static_cast<float>(sum / static_cast<double>(plane));
    }
    return means;
}

/// The CPU convolution of images: blocked, vectorised correlation plans (see the file comment)
/// and the scattered fold of the padding.
class blocked_correlation {
public:
    /// `forward` is the kernel as correlated (already flipped when asked).
    blocked_correlation(const matrix& forward, const shape3& shape, boundary mode)
        : shape_(shape), mode_(mode) {
        const std::size_t kh = forward.shape()[0];
        const std::size_t kw = forward.shape()[1];
        const std::size_t height = shape_[1];
        const std::size_t width = shape_[2];
        const std::size_t top = (kh - 1) / 2;
        const std::size_t left = (kw - 1) / 2;
        const matrix backward = rotate_180(forward);
        forward_ = make_correlation_plan(height, width, forward, top, left, height, width, mode);
        if (mode == boundary::zero) {
            // x = K^T y: correlation of y with the rotated kernel, zero padding kh-1-top before
            adjoint_ = make_correlation_plan(height, width, backward, kh - 1 - top, kw - 1 - left,
                                             height, width, boundary::zero);
        } else {
            // the full transpose onto the padded grid (H + kh - 1) x (W + kw - 1), then folded
            adjoint_ = make_correlation_plan(height, width, backward, kh - 1, kw - 1,
                                             height + kh - 1, width + kw - 1, boundary::zero);
        }
    }

    /// out = K x (out has the image's shape and is not x).
    void apply(const image& x, image& out) const {
        std::vector<float> fill;
        if (mode_ == boundary::mean) {
            fill = channel_means(x);
        }
        run_correlation(forward_, x.data(), shape_[0], fill.empty() ? nullptr : fill.data(),
                        out.data());
    }

    /// out = K^T y (out has the image's shape and is not y).
    void adjoint(const image& y, image& out) const {
        if (mode_ == boundary::zero) {
            run_correlation(adjoint_, y.data(), shape_[0], nullptr, out.data());
            return;
        }
        const std::size_t plane = adjoint_.out_height * adjoint_.out_width;
        // g = C^T y on the padded grid (every entry is written), then out = P^T g
        const auto padded = std::make_unique_for_overwrite<float[]>(shape_[0] * plane);
        run_correlation(adjoint_, y.data(), shape_[0], nullptr, padded.get());
        fold_padding(padded.get(), out);
    }

private:
    /// out = P^T g: g lives on the padded grid (H + kh - 1) x (W + kw - 1); interior positions
    /// copy to their pixel, padded positions add onto the pixel they copied (or, for the mean
    /// mode, their sum / (H W) onto every pixel of the channel).
    void fold_padding(const float* padded, image& out) const {
        const std::size_t channels = shape_[0];
        const std::size_t height = shape_[1];
        const std::size_t width = shape_[2];
        const std::size_t ph = forward_.padded_height;
        const std::size_t pw = forward_.padded_width;
        const std::size_t top = forward_.pad_top;
        const std::size_t left = forward_.pad_left;
        const bool mean = mode_ == boundary::mean;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (channels > 1 && height * width > 4096)
#endif
        for (std::int64_t ci = 0; ci < static_cast<std::int64_t>(channels); ++ci) {
            const auto c = static_cast<std::size_t>(ci);
            const float* g = padded + c * ph * pw;
            float* o = out.data() + c * height * width;
            for (std::size_t i = 0; i < height; ++i) {
                std::memcpy(o + i * width, g + (i + top) * pw + left, width * sizeof(float));
            }
            double outside = 0.0;
            for (std::size_t r = 0; r < ph; ++r) {
                const float* row = g + r * pw;
                // the source row this padded row copied (the mean mode's -1 is never used)
                const std::int64_t source_row = std::max<std::int64_t>(forward_.row_source[r], 0);
                float* target = o + static_cast<std::size_t>(source_row) * width;
                // padded columns [from, to) of row r: onto the pixel they copied, or summed
                auto fold = [&](std::size_t from, std::size_t to) {
                    for (std::size_t q = from; q < to; ++q) {
                        if (mean) {
                            outside += row[q];
                        } else {
                            target[forward_.col_source[q]] += row[q];
                        }
                    }
                };
                if (r >= top && r < top + height) {
                    fold(0, left);
                    fold(left + width, pw);
                } else {
                    fold(0, pw);
                }
            }
            if (mean) {
                // the pad value is mean(x) = sum(x) / N, so each pixel receives outside / N
                const auto share =
                    static_cast<float>(outside / static_cast<double>(height * width));
                for (std::size_t k = 0; k < height * width; ++k) {
                    o[k] += share;
                }
            }
        }
    }

    shape3 shape_;
    boundary mode_;
    correlation_plan forward_;
    correlation_plan adjoint_;
};

/// Output tile edge of the tiled correlation (threads per tile on a device: edge x edge).
inline constexpr int correlation_tile_edge = 16;
/// Largest kernel extent (rows or columns) that runs tiled; larger ones run the pixel body.
inline constexpr std::int64_t max_tiled_kernel_extent = 32;

/// What the body path of a convolution keeps in the memory of backend Tag (shared by copies).
template <class Tag>
struct correlation_buffers {
    backend_buffer_t<Tag, float> forward_weights;
    backend_buffer_t<Tag, float> backward_weights;
    backend_buffer_t<Tag, std::int64_t> row_offsets;
    backend_buffer_t<Tag, std::int64_t> row_positions;
    backend_buffer_t<Tag, std::int64_t> col_offsets;
    backend_buffer_t<Tag, std::int64_t> col_positions;
};

/// The convolution of any other dense array type V (device images...): the shared bodies on V's
/// backend. The forward map and the full transpose run kernels::correlation_tile through the
/// backend's for_each_tile when it has one and the kernel is at most 32 x 32 (the pixel body
/// otherwise); the adjoint of the padding gathers (kernels::fold_padding_body), so nothing needs
/// atomics and results are deterministic; the mean mode's per-channel sums are segment sums left
/// in the backend's memory.
template <class V>
class body_correlation {
public:
    /// `forward` is the kernel as correlated (already flipped when asked); uploads it, its
    /// rotation and the padding's gather maps once.
    body_correlation(const matrix& forward, const shape3& shape, boundary mode)
        : shape_(shape), mode_(mode), kernel_height_(static_cast<std::int64_t>(forward.shape()[0])),
          kernel_width_(static_cast<std::int64_t>(forward.shape()[1])),
          top_((kernel_height_ - 1) / 2), left_((kernel_width_ - 1) / 2) {
        auto buffers = std::make_shared<correlation_buffers<backend_t<V>>>();
        buffers->forward_weights = buffer_on<V, float>(values(forward));
        buffers->backward_weights = buffer_on<V, float>(values(rotate_180(forward)));
        if (mode != boundary::zero) {
            const auto rows = make_padding_gather_map(shape[1], static_cast<std::size_t>(top_),
                                                      shape[1] + forward.shape()[0] - 1, mode);
            const auto cols = make_padding_gather_map(shape[2], static_cast<std::size_t>(left_),
                                                      shape[2] + forward.shape()[1] - 1, mode);
            buffers->row_offsets = buffer_on<V, std::int64_t>(rows.offsets);
            buffers->row_positions = buffer_on<V, std::int64_t>(rows.positions);
            buffers->col_offsets = buffer_on<V, std::int64_t>(cols.offsets);
            buffers->col_positions = buffer_on<V, std::int64_t>(cols.positions);
        }
        buffers_ = std::move(buffers);
    }

    /// out = K x (out has the image's shape and is not x).
    void apply(const V& x, V& out) const {
        buffer_on<V, float> means;
        if (mode_ == boundary::mean) {
            means = channel_means_of(x);
        }
        run(body(x.data(), buffers_->forward_weights.data(),
                 mode_ == boundary::mean ? means.data() : nullptr, out.data(), top_, left_,
                 shape_[1], shape_[2], mode_));
    }

    /// out = K^T y (out has the image's shape and is not y).
    void adjoint(const V& y, V& out) const {
        const auto height = static_cast<std::int64_t>(shape_[1]);
        const auto width = static_cast<std::int64_t>(shape_[2]);
        if (mode_ == boundary::zero) {
            // K^T y: correlation with the rotated kernel, zero padding kh - 1 - top before
            run(body(y.data(), buffers_->backward_weights.data(), nullptr, out.data(),
                     kernel_height_ - 1 - top_, kernel_width_ - 1 - left_, shape_[1], shape_[2],
                     boundary::zero));
            return;
        }
        // g = C^T y on the padded grid (H + kh - 1) x (W + kw - 1), then out = P^T g
        const std::int64_t padded_height = height + kernel_height_ - 1;
        const std::int64_t padded_width = width + kernel_width_ - 1;
        V padded =
            dense_array_traits<V>::allocate({shape_[0], static_cast<std::size_t>(padded_height),
                                             static_cast<std::size_t>(padded_width)});
        run(body(y.data(), buffers_->backward_weights.data(), nullptr, padded.data(),
                 kernel_height_ - 1, kernel_width_ - 1, static_cast<std::size_t>(padded_height),
                 static_cast<std::size_t>(padded_width), boundary::zero));
        buffer_on<V, double> outside;
        if (mode_ == boundary::mean) {
            outside = buffer_on<V, double>(shape_[0]);
            segment_sums_on<V>(shape_[0], static_cast<std::size_t>(padded_height * padded_width),
                               kernels::padding_border_term{padded.data(), padded_height,
                                                            padded_width, top_, left_, height,
                                                            width},
                               outside.data());
        }
        for_each_index_on<V>(
            out.size(),
            kernels::fold_padding_body{padded.data(), out.data(), buffers_->row_offsets.data(),
                                       buffers_->row_positions.data(), buffers_->col_offsets.data(),
                                       buffers_->col_positions.data(),
                                       mode_ == boundary::mean ? outside.data() : nullptr, height,
                                       width, padded_height, padded_width});
    }

private:
    static std::vector<float> values(const matrix& m) {
        return std::vector<float>(m.data(), m.data() + m.size());
    }

    kernels::correlation_pixel_body body(const float* x, const float* weights, const float* fill,
                                         float* out, std::int64_t pad_top, std::int64_t pad_left,
                                         std::size_t out_height, std::size_t out_width,
                                         boundary mode) const {
        return {x,
                weights,
                fill,
                out,
                static_cast<std::int64_t>(shape_[1]),
                static_cast<std::int64_t>(shape_[2]),
                kernel_height_,
                kernel_width_,
                pad_top,
                pad_left,
                static_cast<std::int64_t>(out_height),
                static_cast<std::int64_t>(out_width),
                mode};
    }

    /// Run a correlation body over all C x out_height x out_width outputs: in tiles when the
    /// backend launches tiles and the kernel fits, pixel by pixel otherwise.
    void run(const kernels::correlation_pixel_body& body) const {
        const std::size_t channels = shape_[0];
        const auto rows = static_cast<std::size_t>(body.out_height);
        const auto cols = static_cast<std::size_t>(body.out_width);
        using backend = backend_kernels<backend_t<V>>;
        constexpr bool has_tiles = requires(const kernels::correlation_tile& tile) {
            backend::template for_each_tile<correlation_tile_edge>(channels, rows, cols, tile);
        };
        if constexpr (has_tiles) {
            if (body.kernel_height <= max_tiled_kernel_extent &&
                body.kernel_width <= max_tiled_kernel_extent) {
                backend::template for_each_tile<correlation_tile_edge>(
                    channels, rows, cols, kernels::correlation_tile{body, correlation_tile_edge});
                return;
            }
        }
        for_each_index_on<V>(channels * rows * cols, body);
    }

    /// Per-channel means of x in the backend's memory, as floats (the mean mode's pad values).
    buffer_on<V, float> channel_means_of(const V& x) const {
        const std::size_t plane = shape_[1] * shape_[2];
        buffer_on<V, double> sums(shape_[0]);
        segment_sums_on<V>(shape_[0], plane, kernels::value_term{x.data()}, sums.data());
        buffer_on<V, float> means(shape_[0]);
        for_each_index_on<V>(shape_[0], kernels::mean_from_sum_body{
                                            sums.data(), static_cast<double>(plane), means.data()});
        return means;
    }

    shape3 shape_;
    boundary mode_;
    std::int64_t kernel_height_;
    std::int64_t kernel_width_;
    std::int64_t top_;
    std::int64_t left_;
    std::shared_ptr<const correlation_buffers<backend_t<V>>> buffers_;
};

} // namespace detail

/// Depthwise 2-D convolution (blur) operator on C x H x W images held in the dense arrays V; see
/// the file comment for the exact definition. Satisfies linear_operator with domain = range = V
/// of the given shape. On xtensor images it runs the blocked CPU implementation, on every other
/// array type (device images...) the shared kernel bodies on the array's backend.
template <class V>
class basic_convolution {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// The blur of images of `shape` (C x H x W) with `kernel` (kh x kw, any size, also larger
    /// than the image). Throws shape_error for an empty shape or kernel, value_error for a kernel
    /// with NaN or infinite entries.
    basic_convolution(matrix kernel, shape3 shape, convolution_options options = {})
        : kernel_(std::move(kernel)), shape_(shape), options_(options),
          engine_(checked_forward_kernel(kernel_, shape_, options_), shape_, options_.boundary) {}

    /// The same blur on V from one on another array type (same kernel, shape and options; the
    /// kernel and the boundary maps are uploaded once).
    template <class W>
    explicit basic_convolution(const basic_convolution<W>& other)
        : basic_convolution(other.kernel(), other.domain_shape(), other.options()) {}

    /// y = K x
    V apply(const V& x) const {
        V out = dense_array_traits<V>::allocate(shape_);
        apply_into(x, out);
        return out;
    }

    /// out = K x (out is resized when its shape is wrong; out may be x itself).
    void apply_into(const V& x, V& out) const {
        check_shape(x, shape_, "convolution::apply", "x");
        if (&x == &out) {
            const V copy = x;
            apply_into(copy, out);
            return;
        }
        dense_array_traits<V>::resize(out, shape_);
        engine_.apply(x, out);
    }

    /// x = K^T y
    V adjoint(const V& y) const {
        V out = dense_array_traits<V>::allocate(shape_);
        adjoint_into(y, out);
        return out;
    }

    /// out = K^T y (out is resized when its shape is wrong; out may be y itself).
    void adjoint_into(const V& y, V& out) const {
        check_shape(y, shape_, "convolution::adjoint", "y");
        if (&y == &out) {
            const V copy = y;
            adjoint_into(copy, out);
            return;
        }
        dense_array_traits<V>::resize(out, shape_);
        engine_.adjoint(y, out);
    }

    shape3 domain_shape() const { return shape_; }
    shape3 range_shape() const { return shape_; }
    /// The kernel as given (not flipped), on the host.
    const matrix& kernel() const { return kernel_; }
    const convolution_options& options() const { return options_; }

private:
    using engine_type = std::conditional_t<std::same_as<V, image>, detail::blocked_correlation,
                                           detail::body_correlation<V>>;

    /// Validate kernel and shape; the kernel as correlated (rotated when flip_kernel).
    static matrix checked_forward_kernel(const matrix& kernel, const shape3& shape,
                                         const convolution_options& options) {
        if (kernel.shape()[0] == 0 || kernel.shape()[1] == 0) {
            throw shape_error(detail::concat("convolution: kernel must be non-empty, got ",
                                             shape_string(kernel.shape())));
        }
        if (shape[0] == 0 || shape[1] == 0 || shape[2] == 0) {
            throw shape_error(detail::concat(
                "convolution: shape must have positive channels, height and width, got ",
                shape_string(shape)));
        }
        check_finite(kernel, "convolution", "kernel");
        return options.flip_kernel ? detail::rotate_180(kernel) : kernel;
    }

    matrix kernel_;
    shape3 shape_;
    convolution_options options_;
    engine_type engine_;
};

/// The blur of images.
using convolution = basic_convolution<image>;

} // namespace xrestore
