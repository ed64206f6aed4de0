#pragma once
/// @file haar.hpp
/// The multi-level orthonormal 2-D Haar wavelet transform, per channel, with coefficients stored
/// in place in the Mallat layout (an image of the same C x H x W shape). `basic_haar_wavelet<V>`
/// runs on any dense array type V (`cuda::haar_wavelet` on device images).
///
/// @code
/// xrestore::haar_wavelet W({3, 37, 45}, 3);
/// xrestore::image w = W.apply(x);           // coefficients, ||w|| = ||x||
/// xrestore::image back = W.inverse(w);       // == x up to rounding
/// @endcode
///
/// One level on the current low-pass block of h x w pixels works along rows, then along
/// columns. Along a line v of length n, with n2 = floor(n / 2) and a = ceil(n / 2):
///   approximation  out[k]     = (v[2k] + v[2k+1]) / sqrt(2),  k < n2
///   detail         out[a + k] = (v[2k] - v[2k+1]) / sqrt(2),  k < n2
///   odd n:         out[n2]    = v[n - 1]   (passed through, stays in the low-pass block)
/// Each line transform is orthogonal, so the whole transform is orthonormal for any size. After
/// a level the top-left ceil(h/2) x ceil(w/2) block is the low-pass part (the next level's
/// block); top-right holds the horizontal details (differences along W), bottom-left the
/// vertical ones and bottom-right the diagonal ones. A level needs a block of at least 2 x 2.
///
/// A level of rows then columns is one step on each 2 x 2 block of the current block (the
/// kernels below, with the two 1/sqrt(2) factors of a block taken together as one 1/2), so a
/// level reads its block once and writes its coefficients once: its low-pass block goes to a
/// compact scratch buffer (at the last level, to its place in the output) that the next level
/// reads, its details straight to their places. On xtensor images each (channel, band of rows)
/// runs all levels in turn, the bands in one OpenMP loop (serial below
/// cpu_backend::parallel_threshold values), with scratch owned by the calling thread and reused
/// by its later calls; on other arrays (device images...) one kernel body per level and 2 x 2
/// block runs on the array's backend. An input that is also the output is copied first.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

namespace kernels {

inline constexpr float haar_inv_sqrt2 = 0.70710678118654752440f;

/// One 1-D Haar step on a pair: sum = (a + b) / sqrt(2), difference = (a - b) / sqrt(2).
XRESTORE_HD inline void haar_pair(float a, float b, float& sum, float& difference) {
    sum = (a + b) * haar_inv_sqrt2;
    difference = (a - b) * haar_inv_sqrt2;
}

/// Four values in 2 x 2 positions: a block of pixels, or its four coefficients placed as their
/// bands are in the Mallat layout (v00 low-pass, v01 horizontal detail, v10 vertical detail,
/// v11 diagonal detail).
struct haar_2x2 {
    float v00;
    float v01;
    float v10;
    float v11;
};

/// The row steps then the column steps on a 2 x 2 block, the two 1/sqrt(2) factors taken
/// together as 1/2:
///   ll = (x00 + x01 + x10 + x11) / 2    hl = (x00 - x01 + x10 - x11) / 2
///   lh = (x00 + x01 - x10 - x11) / 2    hh = (x00 - x01 - x10 + x11) / 2
/// The matrix is symmetric and orthogonal, so the same function inverts it.
XRESTORE_HD inline haar_2x2 haar_block_step(float x00, float x01, float x10, float x11) {
    const float s0 = x00 + x01;
    const float d0 = x00 - x01;
    const float s1 = x10 + x11;
    const float d1 = x10 - x11;
    return {(s0 + s1) * 0.5f, (d0 + d1) * 0.5f, (s0 - s1) * 0.5f, (d0 - d1) * 0.5f};
}

/// The forward steps on two rows of a block (2i and 2i + 1), for the column pairs k < n:
/// low[k] = ll, horizontal[k] = hl, vertical[k] = lh, diagonal[k] = hh of columns 2k, 2k + 1.
XRESTORE_HD inline void haar_forward_rows(const float* __restrict__ row0,
                                          const float* __restrict__ row1, float* __restrict__ low,
                                          float* __restrict__ horizontal,
                                          float* __restrict__ vertical,
                                          float* __restrict__ diagonal, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        const haar_2x2 q =
            haar_block_step(row0[2 * k], row0[2 * k + 1], row1[2 * k], row1[2 * k + 1]);
        low[k] = q.v00;
        horizontal[k] = q.v01;
        vertical[k] = q.v10;
        diagonal[k] = q.v11;
    }
}

/// The inverse of haar_forward_rows: rows 2i and 2i + 1 of the block from the four bands.
XRESTORE_HD inline void
haar_inverse_rows(const float* __restrict__ low, const float* __restrict__ horizontal,
                  const float* __restrict__ vertical, const float* __restrict__ diagonal,
                  float* __restrict__ row0, float* __restrict__ row1, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        const haar_2x2 x = haar_block_step(low[k], horizontal[k], vertical[k], diagonal[k]);
        row0[2 * k] = x.v00;
        row0[2 * k + 1] = x.v01;
        row1[2 * k] = x.v10;
        row1[2 * k + 1] = x.v11;
    }
}

/// C planes of strided values: element (c, i, j) at data[c * plane + i * row + j].
template <class T>
struct haar_planes {
    T* data;
    std::size_t row;
    std::size_t plane;
    XRESTORE_HD T* at(std::size_t c, std::size_t i) const { return data + c * plane + i * row; }
};

/// One level of the forward transform on an h x w block per channel: reads the block from
/// `source`, writes its ceil(h/2) x ceil(w/2) low-pass block to `low` and its details to their
/// places in the Mallat layout of `image` (the output image). Index p runs over
/// C * ceil(h/2) * ceil(w/2), one 2 x 2 block (or odd edge) each; rows(c, i) does the whole
/// block row i of channel c.
struct haar_forward_level_body {
    haar_planes<const float> source;
    haar_planes<float> low;
    haar_planes<float> image;
    std::size_t h;
    std::size_t w;

    /// Block (i, k) of channel c. Odd sides: the last row or column of the block passes its
    /// step (the pass-through value stays in the low-pass block).
    XRESTORE_HD void block(std::size_t c, std::size_t i, std::size_t k) const {
        const std::size_t h2 = h / 2;
        const std::size_t w2 = w / 2;
        const std::size_t ha = h - h2;
        const std::size_t wa = w - w2;
        const float* x0 = source.at(c, 2 * i);
        float* l = low.at(c, i);
        if (i < h2) {
            const float* x1 = x0 + source.row;
            float* lower = image.at(c, ha + i);
            if (k < w2) {
                const haar_2x2 q =
                    haar_block_step(x0[2 * k], x0[2 * k + 1], x1[2 * k], x1[2 * k + 1]);
                l[k] = q.v00;
                image.at(c, i)[wa + k] = q.v01;
                lower[k] = q.v10;
                lower[wa + k] = q.v11;
            } else { // odd w: the last column, a column step only
                haar_pair(x0[w - 1], x1[w - 1], l[k], lower[k]);
            }
        } else if (k < w2) { // odd h: the last row, a row step only
            haar_pair(x0[2 * k], x0[2 * k + 1], l[k], image.at(c, i)[wa + k]);
        } else { // both odd: the corner passes through
            l[k] = x0[w - 1];
        }
    }

    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t wa = w - w / 2;
        const std::size_t ha = h - h / 2;
        const std::size_t k = p % wa;
        const std::size_t q = p / wa;
        block(q / ha, q % ha, k);
    }

    XRESTORE_HD void rows(std::size_t c, std::size_t i) const {
        const std::size_t h2 = h / 2;
        const std::size_t w2 = w / 2;
        const std::size_t wa = w - w2;
        if (i < h2) {
            float* lower = image.at(c, h - h2 + i);
            haar_forward_rows(source.at(c, 2 * i), source.at(c, 2 * i + 1), low.at(c, i),
                              image.at(c, i) + wa, lower, lower + wa, w2);
        } else {
            for (std::size_t k = 0; k < w2; ++k) {
                block(c, i, k);
            }
        }
        if (w2 < wa) {
            block(c, i, w2);
        }
    }
};

/// One level of the inverse transform (the transpose of haar_forward_level_body): the h x w
/// block per channel, written to `target`, from its low-pass block at `low` and its details at
/// their places in `image` (the input coefficients). Index p as in the forward body.
struct haar_inverse_level_body {
    haar_planes<const float> low;
    haar_planes<const float> image;
    haar_planes<float> target;
    std::size_t h;
    std::size_t w;

    XRESTORE_HD void block(std::size_t c, std::size_t i, std::size_t k) const {
        const std::size_t h2 = h / 2;
        const std::size_t w2 = w / 2;
        const std::size_t ha = h - h2;
        const std::size_t wa = w - w2;
        float* x0 = target.at(c, 2 * i);
        const float* l = low.at(c, i);
        if (i < h2) {
            float* x1 = x0 + target.row;
            const float* lower = image.at(c, ha + i);
            if (k < w2) {
                const haar_2x2 x =
                    haar_block_step(l[k], image.at(c, i)[wa + k], lower[k], lower[wa + k]);
                x0[2 * k] = x.v00;
                x0[2 * k + 1] = x.v01;
                x1[2 * k] = x.v10;
                x1[2 * k + 1] = x.v11;
            } else {
                haar_pair(l[k], lower[k], x0[w - 1], x1[w - 1]);
            }
        } else if (k < w2) {
            haar_pair(l[k], image.at(c, i)[wa + k], x0[2 * k], x0[2 * k + 1]);
        } else {
            x0[w - 1] = l[k];
        }
    }

    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t wa = w - w / 2;
        const std::size_t ha = h - h / 2;
        const std::size_t k = p % wa;
        const std::size_t q = p / wa;
        block(q / ha, q % ha, k);
    }

    XRESTORE_HD void rows(std::size_t c, std::size_t i) const {
        const std::size_t h2 = h / 2;
        const std::size_t w2 = w / 2;
        const std::size_t wa = w - w2;
        if (i < h2) {
            const float* lower = image.at(c, h - h2 + i);
            haar_inverse_rows(low.at(c, i), image.at(c, i) + wa, lower, lower + wa,
                              target.at(c, 2 * i), target.at(c, 2 * i + 1), w2);
        } else {
            for (std::size_t k = 0; k < w2; ++k) {
                block(c, i, k);
            }
        }
        if (w2 < wa) {
            block(c, i, w2);
        }
    }
};

} // namespace kernels

namespace detail {

/// Scratch owned by the calling thread, grown on demand and reused by every Haar transform it
/// runs (compact low-pass blocks, the copy of an input that is also the output).
inline float* haar_workspace(std::size_t count) {
    static thread_local std::vector<float> buffer;
    if (buffer.size() < count) {
        buffer.resize(count);
    }
    return buffer.data();
}

} // namespace detail

/// The orthonormal multi-level 2-D Haar transform W of C x H x W images on the dense arrays V
/// (see the file comment for the layout and the handling of odd sizes). apply = forward,
/// adjoint = inverse = W^T.
template <class V>
class basic_haar_wavelet {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `levels` must be in [1, max_levels(shape)], the number of times the low-pass block can be
    /// split while both its sides are at least 2 (each split takes a side n to ceil(n / 2)).
    basic_haar_wavelet(shape3 shape, std::size_t levels) : shape_(shape) {
        constexpr std::string_view where = "haar_wavelet";
        if (shape[0] == 0) {
            throw value_error(
                detail::describe(where, "shape", "at least 1 channel", shape_string(shape)));
        }
        const std::size_t most = max_levels(shape);
        if (most == 0) {
            throw value_error(detail::concat(where, ": shape must be at least 2 x 2 per channel (",
                                             "one level splits 2 x 2 blocks), got ",
                                             shape_string(shape)));
        }
        if (levels < 1 || levels > most) {
            throw value_error(detail::concat(
                where, ": levels must be in [1, ", most, "] for a ", shape_string(shape),
                " image (each level needs a low-pass block of at least 2 x 2), got ", levels));
        }
        std::size_t h = shape[1];
        std::size_t w = shape[2];
        for (std::size_t l = 0; l < levels; ++l) {
            blocks_.push_back({h, w});
            h -= h / 2;
            w -= w / 2;
        }
    }

    /// The same transform on V from one on another array type (same shape and levels).
    template <class W>
    explicit basic_haar_wavelet(const basic_haar_wavelet<W>& other)
        : shape_(other.domain_shape()), blocks_(other.blocks()) {}

    /// Largest number of levels for `shape`: 0 when H or W is below 2.
    static std::size_t max_levels(const shape3& shape) {
        std::size_t h = shape[1];
        std::size_t w = shape[2];
        std::size_t levels = 0;
        while (h >= 2 && w >= 2) {
            h -= h / 2;
            w -= w / 2;
            ++levels;
        }
        return levels;
    }

    /// w = W x (forward transform)
    V apply(const V& x) const {
        V out = dense_array_traits<V>::allocate(shape_);
        apply_into(x, out);
        return out;
    }
    /// out = W x (out may be x)
    void apply_into(const V& x, V& out) const {
        check_shape(x, shape_, "haar_wavelet::apply", "x");
        transform(x, out, false);
    }
    /// x = W^T w = W^-1 w (inverse transform)
    V adjoint(const V& w) const {
        V out = dense_array_traits<V>::allocate(shape_);
        adjoint_into(w, out);
        return out;
    }
    /// out = W^T w (out may be w)
    void adjoint_into(const V& w, V& out) const {
        check_shape(w, shape_, "haar_wavelet::adjoint", "w");
        transform(w, out, true);
    }
    /// The inverse transform, the same as adjoint (W is orthonormal).
    V inverse(const V& w) const { return adjoint(w); }
    /// W^T W x = x
    V normal(const V& x) const {
        check_shape(x, shape_, "haar_wavelet::normal", "x");
        return x;
    }

    shape3 domain_shape() const { return shape_; }
    shape3 range_shape() const { return shape_; }
    std::size_t levels() const { return blocks_.size(); }
    /// The low-pass block (height, width) that level l (0 = finest) splits.
    const std::vector<std::pair<std::size_t, std::size_t>>& blocks() const { return blocks_; }

private:
    /// Scratch of a transform: the low-pass block of each level l < levels - 1
    /// (ceil(h/2) x ceil(w/2) per channel, compact) at low_offset(l), one after the other, then
    /// (at low_offset(levels - 1)) a copy of the input when it is also the output.
    std::size_t low_offset(std::size_t l) const {
        std::size_t offset = 0;
        for (std::size_t m = 0; m < l; ++m) {
            offset += shape_[0] * blocks_[m + 1].first * blocks_[m + 1].second;
        }
        return offset;
    }

    /// The compact low-pass block of level l in `scratch`.
    kernels::haar_planes<float> low_block(float* scratch, std::size_t l) const {
        const auto [h, w] = blocks_[l + 1];
        return {scratch + low_offset(l), w, h * w};
    }

    /// The body of level l: forward, from `source` (the input image) into `out`; inverse, from
    /// the coefficients `source` into `out`.
    template <class Body>
    Body level_body(float* scratch, const float* source, float* out, std::size_t l) const {
        const std::size_t levels = blocks_.size();
        const auto [h, w] = blocks_[l];
        const std::size_t width = shape_[2];
        const std::size_t plane = shape_[1] * width;
        const kernels::haar_planes<const float> input{source, width, plane};
        const kernels::haar_planes<float> output{out, width, plane};
        auto compact = [&](std::size_t level) {
            const auto b = low_block(scratch, level);
            return kernels::haar_planes<const float>{b.data, b.row, b.plane};
        };
        if constexpr (std::same_as<Body, kernels::haar_forward_level_body>) {
            // level 0 reads the input, level l > 0 the low-pass block of level l - 1; the last
            // level writes its low-pass block into the output
            return {l == 0 ? input : compact(l - 1),
                    l + 1 == levels ? output : low_block(scratch, l), output, h, w};
        } else {
            // level l reads its low-pass block from the coefficients (the coarsest) or from
            // level l + 1, and writes its block into the output (level 0) or for level l - 1
            return {l + 1 == levels ? input : compact(l), input,
                    l == 0 ? output : low_block(scratch, l - 1), h, w};
        }
    }

    void transform(const V& in, V& out, bool inverse) const {
        if (&in != &out) {
            dense_array_traits<V>::resize(out, shape_);
        }
        // the first level reads all of its input while it writes the output: a copy when the two
        // are the same array
        const bool aliased = in.data() == out.data();
        const std::size_t copy_offset = low_offset(blocks_.size() - 1);
        const std::size_t values = shape_[0] * shape_[1] * shape_[2];
        const std::size_t levels = blocks_.size();
        if constexpr (std::same_as<V, image>) {
            float* scratch = detail::haar_workspace(copy_offset + (aliased ? values : 0));
            const float* source = aliased ? scratch + copy_offset : in.data();
            float* target = out.data();
            const std::size_t channels = shape_[0];
            const std::size_t plane = values / channels;
            // A band of block rows of the coarsest level, and the rows of every finer level it
            // reads (forward) or writes (inverse): 2^(levels-1-l) times its rows at level l. The
            // bands of all levels are disjoint, so each (channel, band) runs all its levels with
            // no barrier between them.
            const std::size_t coarsest_rows = blocks_.back().first - blocks_.back().first / 2;
            const std::size_t band = std::max<std::size_t>(1, band_rows >> (levels - 1));
            const std::size_t bands = (coarsest_rows + band - 1) / band;
            const auto tasks = static_cast<std::int64_t>(channels * bands);
#if defined(_OPENMP)
#pragma omp parallel if (values >= cpu_backend::parallel_threshold)
#endif
            {
                if (aliased) {
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
                    for (std::int64_t c = 0; c < static_cast<std::int64_t>(channels); ++c) {
                        const float* from = in.data() + static_cast<std::size_t>(c) * plane;
                        std::copy(from, from + plane,
                                  scratch + copy_offset + static_cast<std::size_t>(c) * plane);
                    }
                }
                // (the end of the region is the only barrier the bands need)
#if defined(_OPENMP)
#pragma omp for schedule(static) nowait
#endif
                for (std::int64_t task = 0; task < tasks; ++task) {
                    const std::size_t c = static_cast<std::size_t>(task) / bands;
                    const std::size_t first = static_cast<std::size_t>(task) % bands * band;
                    for (std::size_t step = 0; step < levels; ++step) {
                        const std::size_t l = inverse ? levels - 1 - step : step;
                        const std::size_t rows = blocks_[l].first - blocks_[l].first / 2;
                        const std::size_t shift = levels - 1 - l;
                        const std::size_t begin = std::min(first << shift, rows);
                        const std::size_t end = std::min((first + band) << shift, rows);
                        if (inverse) {
                            const auto body = level_body<kernels::haar_inverse_level_body>(
                                scratch, source, target, l);
                            for (std::size_t i = begin; i < end; ++i) {
                                body.rows(c, i);
                            }
                        } else {
                            const auto body = level_body<kernels::haar_forward_level_body>(
                                scratch, source, target, l);
                            for (std::size_t i = begin; i < end; ++i) {
                                body.rows(c, i);
                            }
                        }
                    }
                }
            }
        } else {
            buffer_on<V, float> buffer(copy_offset + (aliased ? values : 0));
            float* scratch = buffer.data();
            const float* source = in.data();
            if (aliased) {
                for_each_index_on<V>(values, kernels::copy_body{in.data(), scratch + copy_offset});
                source = scratch + copy_offset;
            }
            for (std::size_t step = 0; step < levels; ++step) {
                const std::size_t l = inverse ? levels - 1 - step : step;
                const auto [h, w] = blocks_[l];
                const std::size_t count = shape_[0] * (h - h / 2) * (w - w / 2);
                if (inverse) {
                    for_each_index_on<V>(count, level_body<kernels::haar_inverse_level_body>(
                                                    scratch, source, out.data(), l));
                } else {
                    for_each_index_on<V>(count, level_body<kernels::haar_forward_level_body>(
                                                    scratch, source, out.data(), l));
                }
            }
        }
    }

    /// Block rows of the finest level in one band of the CPU transform (more when the coarsest
    /// level would get less than one row per band).
    static constexpr std::size_t band_rows = 16;

    shape3 shape_;
    std::vector<std::pair<std::size_t, std::size_t>> blocks_; ///< low-pass block per level
};

/// The Haar transform of images.
using haar_wavelet = basic_haar_wavelet<image>;

/// The Haar transform type acting on vectors V, constructible from a haar_wavelet:
/// basic_haar_wavelet of V for every dense array of C x H x W images, so generic solvers (FISTA,
/// TV-Haar) find the transform of their backend.
template <class V>
struct haar_transform_for {};
template <dense_vector V>
requires std::same_as<shape_t<V>, shape3>
struct haar_transform_for<V> {
    using type = basic_haar_wavelet<V>;
};
template <class V>
using haar_transform_t = typename haar_transform_for<V>::type;

} // namespace xrestore
