#pragma once
/// @file downsampling.hpp
/// Downsampling by an integer factor f: keep every f-th pixel in both directions, starting at
/// the top-left pixel,
///   y(c, i, j) = x(c, f i, f j),   i < floor(H / f),  j < floor(W / f)   (H, W >= f),
/// optionally after an anti-aliasing Gaussian blur: S = D K with D the decimation and K a
/// `convolution` with reflect boundary. The adjoint is K^T D^T, where D^T is zero-filled
/// upsampling: each sample goes back to its pixel, every other pixel is 0. `basic_decimation<V>`
/// and `basic_downsampling<V>` run on any dense array type V (`cuda::downsampling` on device
/// images, its blur the device convolution).
///
/// @code
/// xrestore::downsampling S({3, 256, 256}, 4, {.antialias = true});   // 3 x 64 x 64 samples
/// xrestore::image y = S.apply(x);
/// xrestore::image up = S.adjoint(y);
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/boundary.hpp"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/operators/convolution.hpp"
#include "xrestore/operators/kernels.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>

namespace xrestore {

namespace kernels {

/// y(c, i, j) = x(c, f i, f j) at output index p over C x h x w
struct decimate_body {
    const float* x;
    float* y;
    std::size_t height; ///< input H
    std::size_t width;  ///< input W
    std::size_t out_height;
    std::size_t out_width;
    std::size_t factor;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % out_width;
        const std::size_t i = (p / out_width) % out_height;
        const std::size_t c = p / (out_width * out_height);
        y[p] = x[(c * height + factor * i) * width + factor * j];
    }
};

/// out(c, r, s) = y(c, r / f, s / f) where f divides r and s and the sample exists, else 0, at
/// input index p over C x H x W (zero-filled upsampling, the adjoint of decimate_body)
struct zero_fill_upsample_body {
    const float* y;
    float* out;
    std::size_t height;
    std::size_t width;
    std::size_t out_height;
    std::size_t out_width;
    std::size_t factor;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t s = p % width;
        const std::size_t r = (p / width) % height;
        const std::size_t c = p / (width * height);
        const std::size_t i = r / factor;
        const std::size_t j = s / factor;
        const bool sampled = r % factor == 0 && s % factor == 0 && i < out_height && j < out_width;
        out[p] = sampled ? y[(c * out_height + i) * out_width + j] : 0.0f;
    }
};

} // namespace kernels

/// Plain decimation y(c, i, j) = x(c, f i, f j) from C x H x W to C x floor(H/f) x floor(W/f)
/// on the dense arrays V; the adjoint is zero-filled upsampling. Error messages name it
/// "downsampling".
template <class V>
class basic_decimation {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `factor` must be >= 1 and at most min(H, W); C must be >= 1.
    basic_decimation(shape3 in_shape, std::size_t factor) : in_shape_(in_shape), factor_(factor) {
        constexpr std::string_view where = "downsampling";
        require(factor >= 1, where, "factor", ">= 1", factor);
        require(in_shape[0] >= 1, where, "the number of channels", ">= 1", in_shape[0]);
        if (in_shape[1] < factor || in_shape[2] < factor) {
            throw value_error(detail::concat(where, ": factor must be at most ",
                                             in_shape[1] < in_shape[2] ? in_shape[1] : in_shape[2],
                                             " (the image is ", shape_string(in_shape), "), got ",
                                             factor));
        }
        out_shape_ = {in_shape[0], in_shape[1] / factor, in_shape[2] / factor};
    }

    /// The same operator on V from one on another array type.
    template <class W>
    explicit basic_decimation(const basic_decimation<W>& other)
        : in_shape_(other.domain_shape()), out_shape_(other.range_shape()),
          factor_(other.factor()) {}

    /// y = S x
    V apply(const V& x) const {
        V y;
        apply_into(x, y);
        return y;
    }
    /// out = S x (out may be x)
    void apply_into(const V& x, V& out) const {
        check_shape(x, in_shape_, "downsampling::apply", "x");
        if (&x == &out) {
            const V copy = x;
            apply_into(copy, out);
            return;
        }
        dense_array_traits<V>::resize(out, out_shape_);
        for_each_index_on<V>(element_count(out_shape_),
                             kernels::decimate_body{x.data(), out.data(), in_shape_[1],
                                                    in_shape_[2], out_shape_[1], out_shape_[2],
                                                    factor_});
    }
    /// x = S^T y (zero-filled upsampling)
    V adjoint(const V& y) const {
        V x;
        adjoint_into(y, x);
        return x;
    }
    /// out = S^T y (out may be y)
    void adjoint_into(const V& y, V& out) const {
        check_shape(y, out_shape_, "downsampling::adjoint", "y");
        if (&y == &out) {
            const V copy = y;
            adjoint_into(copy, out);
            return;
        }
        dense_array_traits<V>::resize(out, in_shape_);
        for_each_index_on<V>(element_count(in_shape_),
                             kernels::zero_fill_upsample_body{y.data(), out.data(), in_shape_[1],
                                                              in_shape_[2], out_shape_[1],
                                                              out_shape_[2], factor_});
    }

    shape3 domain_shape() const { return in_shape_; }
    shape3 range_shape() const { return out_shape_; }
    std::size_t factor() const { return factor_; }

private:
    shape3 in_shape_;
    shape3 out_shape_{};
    std::size_t factor_;
};

/// Decimation of images.
using decimation = basic_decimation<image>;

/// Options of a downsampling operator.
struct downsampling_options {
    /// Blur with a Gaussian (reflect boundary) before decimating.
    bool antialias = false;
    /// Standard deviation of the anti-aliasing Gaussian in input pixels; 0 picks
    /// (factor - 1) / 2, scikit-image's `resize(..., anti_aliasing=True)` default. The kernel is
    /// 2 r + 1 pixels wide with r = floor(4 sigma + 0.5) (scipy's truncate = 4). A sigma of 0
    /// (factor 1 with the default) means no blur. Ignored when antialias is false.
    double antialias_sigma = 0.0;
};

/// Downsampling S : C x H x W -> C x floor(H/f) x floor(W/f), y(c,i,j) = (K x)(c, f i, f j) with
/// K the anti-aliasing blur (or the identity), on the dense arrays V; the adjoint is K^T applied
/// to the zero-filled upsampling of y. Copies share the blur's data.
template <class V>
class basic_downsampling {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `factor` must be in [1, min(H, W)]; `options.antialias_sigma` finite, >= 0 and below
    /// 511 (the kernel must fit in 4096 pixels).
    basic_downsampling(shape3 in_shape, std::size_t factor, downsampling_options options = {})
        : decimate_(in_shape, factor), options_(options) {
        if (!options.antialias) {
            return;
        }
        constexpr std::string_view where = "downsampling";
        const double requested = options.antialias_sigma;
        require(std::isfinite(requested) && requested >= 0.0 && requested < 511.0, where,
                "options.antialias_sigma", "finite and in [0, 511)", requested);
        sigma_ = requested > 0.0 ? requested : (static_cast<double>(factor) - 1.0) / 2.0;
        if (sigma_ == 0.0) {
            return;
        }
        const auto radius = static_cast<std::size_t>(std::floor(4.0 * sigma_ + 0.5));
        basic_convolution<V> blur(gaussian_kernel(sigma_, 2 * radius + 1), in_shape,
                                  {.boundary = boundary::reflect});
        antialiased_.emplace(decimate_, std::move(blur));
    }

    /// The same operator on V from one on another array type (moves its blur's kernel over).
    template <class W>
    explicit basic_downsampling(const basic_downsampling<W>& other)
        : decimate_(other.decimator()), options_(other.options()), sigma_(other.antialias_sigma()) {
        if (other.blur() != nullptr) {
            antialiased_.emplace(decimate_, basic_convolution<V>(*other.blur()));
        }
    }

    /// y = D K x
    V apply(const V& x) const {
        V y;
        apply_into(x, y);
        return y;
    }
    /// out = D K x (out may be x)
    void apply_into(const V& x, V& out) const {
        if (antialiased_) {
            antialiased_->apply_into(x, out);
        } else {
            decimate_.apply_into(x, out);
        }
    }
    /// x = K^T D^T y
    V adjoint(const V& y) const {
        V x;
        adjoint_into(y, x);
        return x;
    }
    /// out = K^T D^T y (out may be y)
    void adjoint_into(const V& y, V& out) const {
        if (antialiased_) {
            antialiased_->adjoint_into(y, out);
        } else {
            decimate_.adjoint_into(y, out);
        }
    }

    shape3 domain_shape() const { return decimate_.domain_shape(); }
    shape3 range_shape() const { return decimate_.range_shape(); }
    std::size_t factor() const { return decimate_.factor(); }
    const downsampling_options& options() const { return options_; }
    /// The standard deviation of the anti-aliasing blur actually used; 0 when there is none.
    double antialias_sigma() const { return sigma_; }
    /// The anti-aliasing blur K, or nullptr when there is none.
    const basic_convolution<V>* blur() const {
        return antialiased_ ? &antialiased_->second() : nullptr;
    }
    /// The decimation D alone.
    const basic_decimation<V>& decimator() const { return decimate_; }

private:
    basic_decimation<V> decimate_;
    downsampling_options options_;
    double sigma_ = 0.0;
    std::optional<composed_operator<basic_decimation<V>, basic_convolution<V>>> antialiased_;
};

/// Downsampling of images.
using downsampling = basic_downsampling<image>;

} // namespace xrestore
