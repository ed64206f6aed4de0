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

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <concepts>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

namespace kernels {

inline constexpr float haar_inv_sqrt2 = 0.70710678118654752440f;

/// One forward Haar step along a line of `n` elements with stride `stride`, at output index k of
/// that line: reads the line from `in`, writes element k of the transformed line to `out`.
XRESTORE_HD inline float haar_forward_at(const float* in, std::size_t n, std::size_t stride,
                                         std::size_t k) {
    const std::size_t half = n / 2;
    const std::size_t low = n - half; // ceil(n / 2)
    if (k < half) {
        return (in[2 * k * stride] + in[(2 * k + 1) * stride]) * haar_inv_sqrt2;
    }
    if (k < low) { // odd n: the last element passes through
        return in[(n - 1) * stride];
    }
    const std::size_t d = k - low;
    return (in[2 * d * stride] - in[(2 * d + 1) * stride]) * haar_inv_sqrt2;
}

/// One inverse Haar step along a line of `n` coefficients: element k of the reconstructed line.
XRESTORE_HD inline float haar_inverse_at(const float* in, std::size_t n, std::size_t stride,
                                         std::size_t k) {
    const std::size_t half = n / 2;
    const std::size_t low = n - half;
    if (k >= 2 * half) { // odd n, last element: the pass-through coefficient
        return in[half * stride];
    }
    const std::size_t pair = k / 2;
    const float a = in[pair * stride];
    const float d = in[(low + pair) * stride];
    return (k % 2 == 0 ? a + d : a - d) * haar_inv_sqrt2;
}

/// One 1-D Haar step (forward or inverse) over the top-left `rows` x `cols` block of every
/// channel of a C x H x W array, along the rows (direction W) or the columns (direction H).
/// Index p runs over C * rows * cols; only the block is read and written.
struct haar_step_body {
    const float* in;
    float* out;
    std::size_t height; ///< H of the whole array
    std::size_t width;  ///< W of the whole array
    std::size_t rows;   ///< block height
    std::size_t cols;   ///< block width
    bool along_width;
    bool inverse;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % cols;
        const std::size_t i = (p / cols) % rows;
        const std::size_t c = p / (cols * rows);
        const std::size_t base = c * height * width;
        const float* line = along_width ? in + base + i * width : in + base + j;
        const std::size_t n = along_width ? cols : rows;
        const std::size_t stride = along_width ? 1 : width;
        const std::size_t k = along_width ? j : i;
        out[base + i * width + j] =
            inverse ? haar_inverse_at(line, n, stride, k) : haar_forward_at(line, n, stride, k);
    }
};

} // namespace kernels

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
        V out;
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
        V out;
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
    void transform(const V& in, V& out, bool inverse) const {
        vector_space<V>::copy(in, out); // nothing to do when out is in
        // scratch holds the half-transformed block; only the block of out is rewritten
        V scratch = dense_array_traits<V>::allocate(shape_);
        const std::size_t levels = blocks_.size();
        for (std::size_t step = 0; step < levels; ++step) {
            const auto [h, w] = blocks_[inverse ? levels - 1 - step : step];
            const std::size_t count = shape_[0] * h * w;
            // forward: rows then columns; inverse: columns then rows
            const bool first_along_width = !inverse;
            for_each_index_on<V>(count, kernels::haar_step_body{out.data(), scratch.data(),
                                                                shape_[1], shape_[2], h, w,
                                                                first_along_width, inverse});
            for_each_index_on<V>(count, kernels::haar_step_body{scratch.data(), out.data(),
                                                                shape_[1], shape_[2], h, w,
                                                                !first_along_width, inverse});
        }
    }

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
