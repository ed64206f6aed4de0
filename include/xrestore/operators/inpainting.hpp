#pragma once
/// @file inpainting.hpp
/// The inpainting (masking) operator A x = m .* x with a 0/1 mask m, and the mask factories.
/// A is diagonal and idempotent, so A^T = A and A^T A = A. `basic_inpainting<V>` runs on any
/// dense array type V (`cuda::inpainting` on device images); `inpainting` is the one on images.
///
/// @code
/// auto m = xrestore::random_mask({3, 256, 256}, 0.2, 42);   // keep 20 % of the pixels
/// xrestore::inpainting A(m);
/// xrestore::image y = A.apply(x);                            // y = m .* x
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <utility>

namespace xrestore {

/// How random_mask draws its mask over the channels.
enum class mask_sharing {
    per_channel, ///< an independent draw per channel and pixel (the study's rand(1,C,H,W) < keep)
    shared       ///< one H x W mask used for every channel (whole pixels missing)
};

namespace kernels {

/// y[i] = m[i] * x[i]
struct mask_multiply_body {
    const float* m;
    const float* x;
    float* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] = m[i] * x[i]; }
};

} // namespace kernels

namespace detail {

/// Throw value_error unless every extent of `shape` is positive.
template <std::size_t N>
void require_positive_extents(const std::array<std::size_t, N>& shape, std::string_view where,
                              std::string_view argument) {
    for (auto extent : shape) {
        if (extent == 0) {
            throw value_error(detail::describe(where, argument, "non-empty (every extent > 0)",
                                               shape_string(shape)));
        }
    }
}

/// A uniform double in [0, 1) from the top 53 bits of one 64-bit draw: the same sequence on every
/// platform (std::uniform_real_distribution is implementation-defined).
inline double uniform_01(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

} // namespace detail

/// A random 0/1 mask of the given shape: each entry is 1 with probability `keep_probability`
/// (entry = u < keep, u uniform in [0, 1) from a std::mt19937_64 seeded with `seed`, drawn in
/// C, H, W order). With mask_sharing::shared one H x W mask is drawn and copied to every channel.
/// per_channel has the distribution of the study's `torch.rand(1, C, H, W) < keep`, not its
/// numbers (a different generator). Throws value_error for keep outside [0, 1] or an empty shape.
inline image random_mask(shape3 shape, double keep_probability, std::uint64_t seed,
                         mask_sharing sharing = mask_sharing::per_channel) {
    require(keep_probability >= 0.0 && keep_probability <= 1.0, "random_mask", "keep_probability",
            "in [0, 1]", keep_probability);
    detail::require_positive_extents(shape, "random_mask", "shape");
    std::mt19937_64 rng(seed);
    image mask(shape);
    const std::size_t plane = shape[1] * shape[2];
    float* m = mask.data();
    if (sharing == mask_sharing::per_channel) {
        for (std::size_t i = 0; i < mask.size(); ++i) {
            m[i] = detail::uniform_01(rng) < keep_probability ? 1.0f : 0.0f;
        }
    } else {
        for (std::size_t i = 0; i < plane; ++i) {
            m[i] = detail::uniform_01(rng) < keep_probability ? 1.0f : 0.0f;
        }
        for (std::size_t c = 1; c < shape[0]; ++c) {
            for (std::size_t i = 0; i < plane; ++i) {
                m[c * plane + i] = m[i];
            }
        }
    }
    return mask;
}

/// A 0/1 mask of shape `shape` from an image: 1 where m > threshold, 0 elsewhere. `m` is either
/// 1 x H x W (used for every channel) or C x H x W. NaN entries are refused.
inline image mask_from_image(const image& m, shape3 shape, double threshold = 0.5) {
    constexpr std::string_view where = "mask_from_image";
    detail::require_positive_extents(shape, where, "shape");
    require(std::isfinite(threshold), where, "threshold", "finite", threshold);
    const bool broadcast = m.shape()[0] == 1;
    if (!(m.shape()[0] == 1 || m.shape()[0] == shape[0]) || m.shape()[1] != shape[1] ||
        m.shape()[2] != shape[2]) {
        throw shape_error(detail::concat(where, ": m must have shape 1 x ", shape[1], " x ",
                                         shape[2], " or ", shape_string(shape), ", got ",
                                         shape_string(m.shape())));
    }
    check_finite(m, where, "m");
    image mask(shape);
    const std::size_t plane = shape[1] * shape[2];
    for (std::size_t c = 0; c < shape[0]; ++c) {
        const float* src = m.data() + (broadcast ? 0 : c * plane);
        float* dst = mask.data() + c * plane;
        for (std::size_t i = 0; i < plane; ++i) {
            dst[i] = static_cast<double>(src[i]) > threshold ? 1.0f : 0.0f;
        }
    }
    return mask;
}

/// The inpainting operator A x = m .* x for a fixed 0/1 mask m (C x H x W) on the dense arrays V
/// (images, device images...), the mask kept in V on V's backend. Self-adjoint and idempotent:
/// adjoint(y) = m .* y and normal(x) = A^T A x = m .* x. Copies share the mask.
template <class V>
class basic_inpainting {
public:
    using domain_type = V;
    using range_type = V;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `mask` must be non-empty, finite and contain only 0 and 1 (checked on the host, then
    /// moved to V's backend).
    explicit basic_inpainting(image mask) {
        constexpr std::string_view where = "inpainting";
        detail::require_positive_extents(shape_of<3>(mask), where, "mask shape");
        check_finite(mask, where, "mask");
        std::size_t index = 0;
        std::size_t missing = 0;
        for (float v : mask) {
            if (v != 0.0f && v != 1.0f) {
                throw value_error(detail::concat(where, ": mask must contain only 0 and 1, got ", v,
                                                 " at flat index ", index));
            }
            missing += v == 0.0f ? 1 : 0;
            ++index;
        }
        missing_fraction_ = static_cast<double>(missing) / static_cast<double>(mask.size());
        mask_ = std::make_shared<const V>(dense_array_traits<V>::from_host(std::move(mask)));
    }

    /// The same operator on V from one on another array type (uploads or downloads the mask).
    template <class W>
    explicit basic_inpainting(const basic_inpainting<W>& other)
        : mask_(std::make_shared<const V>(convert_array<V>(other.mask()))),
          missing_fraction_(other.missing_fraction()) {}

    /// y = m .* x
    V apply(const V& x) const {
        V y;
        apply_into(x, y);
        return y;
    }
    /// out = m .* x (out may be x).
    void apply_into(const V& x, V& out) const { multiply(x, out, "inpainting::apply", "x"); }
    /// x = m .* y (A is self-adjoint)
    V adjoint(const V& y) const {
        V x;
        adjoint_into(y, x);
        return x;
    }
    /// out = m .* y (out may be y).
    void adjoint_into(const V& y, V& out) const { multiply(y, out, "inpainting::adjoint", "y"); }
    /// A^T A x = m .* m .* x = m .* x
    V normal(const V& x) const {
        V y;
        multiply(x, y, "inpainting::normal", "x");
        return y;
    }

    shape3 domain_shape() const { return dense_array_traits<V>::shape(*mask_); }
    shape3 range_shape() const { return dense_array_traits<V>::shape(*mask_); }
    /// The 0/1 mask.
    const V& mask() const { return *mask_; }
    /// Fraction of entries whose mask is 0.
    double missing_fraction() const { return missing_fraction_; }

private:
    void multiply(const V& x, V& out, std::string_view where, std::string_view argument) const {
        check_shape(x, domain_shape(), where, argument);
        dense_array_traits<V>::resize(out, domain_shape());
        for_each_index_on<V>(x.size(),
                             kernels::mask_multiply_body{mask_->data(), x.data(), out.data()});
    }

    std::shared_ptr<const V> mask_;
    double missing_fraction_ = 0.0;
};

/// The inpainting operator on images.
using inpainting = basic_inpainting<image>;

} // namespace xrestore
