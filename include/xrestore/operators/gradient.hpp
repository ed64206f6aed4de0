#pragma once
/// @file gradient.hpp
/// The discrete image gradient by forward differences with Neumann boundaries (the difference
/// that would leave the image is 0), and the divergence, its negative adjoint: div = -grad^T.
/// The range is a rank-4 tensor 2 x C x H x W: [0] = vertical, [1] = horizontal differences.
/// `basic_gradient<V>` runs on any dense array type V (`cuda::gradient` on device images).
///
/// @code
/// xrestore::gradient D({3, 64, 64});
/// xrestore::tensor<4> g = D.apply(x);            // g(0,c,i,j) = x(c,i+1,j) - x(c,i,j)
/// xrestore::image d = xrestore::divergence(g);    // d = -D^T g
/// @endcode

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <string_view>

namespace xrestore {

namespace kernels {

/// Forward differences at pixel index p = (c, i, j) of a C x H x W image x:
///   g[0](c,i,j) = x(c,i+1,j) - x(c,i,j) for i < H-1, else 0
///   g[1](c,i,j) = x(c,i,j+1) - x(c,i,j) for j < W-1, else 0
/// g holds the two components one after the other (2 x C x H x W).
struct forward_difference_body {
    const float* x;
    float* g;
    std::size_t count; ///< C * H * W
    std::size_t height;
    std::size_t width;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        const float v = x[p];
        g[p] = i + 1 < height ? x[p + width] - v : 0.0f;
        g[count + p] = j + 1 < width ? x[p + 1] - v : 0.0f;
    }
};

/// Divergence at pixel index p = (c, i, j), times `sign` (sign = -1 gives grad^T g):
///   div(c,i,j) = g0(c,i,j) [i < H-1] - g0(c,i-1,j) [i > 0] + g1(c,i,j) [j < W-1] - g1(c,i,j-1) [j
///   > 0]
struct divergence_body {
    const float* g;
    float* out;
    std::size_t count; ///< C * H * W
    std::size_t height;
    std::size_t width;
    float sign;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        const float* g0 = g;
        const float* g1 = g + count;
        float d = 0.0f;
        d += i + 1 < height ? g0[p] : 0.0f;
        d -= i > 0 ? g0[p - width] : 0.0f;
        d += j + 1 < width ? g1[p] : 0.0f;
        d -= j > 0 ? g1[p - 1] : 0.0f;
        out[p] = sign * d;
    }
};

} // namespace kernels

namespace detail {

/// A rank-4 dense array: the type of a gradient field.
template <class F>
concept dense_field = dense_vector<F> && dense_array_traits<F>::rank == 4;

/// Shape check of a 2 x C x H x W field; returns {C, H, W}.
template <class Field>
shape3 field_image_shape(const Field& p, std::string_view where, std::string_view argument) {
    if (p.shape()[0] != 2) {
        throw shape_error(detail::concat(where, ": ", argument,
                                         " must have shape 2 x C x H x W, got ",
                                         shape_string(p.shape())));
    }
    return {p.shape()[1], p.shape()[2], p.shape()[3]};
}

/// out = sign div p on the backend of the field (sign = -1 gives grad^T p).
template <class Field>
void divergence_into(const Field& p, const shape3& shape, float sign,
                     rebind_rank_t<Field, 3>& out) {
    dense_array_traits<rebind_rank_t<Field, 3>>::resize(out, shape);
    const std::size_t count = element_count(shape);
    for_each_index_on<Field>(
        count, kernels::divergence_body{p.data(), out.data(), count, shape[1], shape[2], sign});
}

} // namespace detail

/// The gradient D : C x H x W image -> 2 x C x H x W field, forward differences with Neumann
/// boundary (the last row of the vertical and the last column of the horizontal component are 0),
/// on the dense arrays V (the field is V's rank-4 array on the same backend). The adjoint is
/// D^T = -div exactly. ||D||_2 < sqrt(8), approaching it for large images.
template <class V>
class basic_gradient {
public:
    using domain_type = V;
    using range_type = rebind_rank_t<V, 4>;
    XRESTORE_ARRAY_ARGUMENT_CHECKS(domain_type, range_type)

    /// `shape` must have every extent > 0 (a 1-pixel dimension has zero difference).
    explicit basic_gradient(shape3 shape) : shape_(shape) {
        for (auto extent : shape) {
            if (extent == 0) {
                throw value_error(detail::describe(
                    "gradient", "shape", "non-empty (every extent > 0)", shape_string(shape)));
            }
        }
    }

    /// The same operator on V from one on another array type.
    template <class W>
    explicit basic_gradient(const basic_gradient<W>& other) : shape_(other.domain_shape()) {}

    /// g = D x
    range_type apply(const V& x) const {
        range_type g;
        apply_into(x, g);
        return g;
    }
    /// out = D x
    void apply_into(const V& x, range_type& out) const {
        check_shape(x, shape_, "gradient::apply", "x");
        dense_array_traits<range_type>::resize(out, range_shape());
        const std::size_t count = element_count(shape_);
        for_each_index_on<V>(count, kernels::forward_difference_body{x.data(), out.data(), count,
                                                                     shape_[1], shape_[2]});
    }
    /// x = D^T g = -div g
    V adjoint(const range_type& g) const {
        V x;
        adjoint_into(g, x);
        return x;
    }
    /// out = D^T g = -div g
    void adjoint_into(const range_type& g, V& out) const {
        check_shape(g, range_shape(), "gradient::adjoint", "g");
        detail::divergence_into(g, shape_, -1.0f, out);
    }

    shape3 domain_shape() const { return shape_; }
    std::array<std::size_t, 4> range_shape() const { return {2, shape_[0], shape_[1], shape_[2]}; }

private:
    shape3 shape_;
};

/// The gradient of images.
using gradient = basic_gradient<image>;

/// The gradient operator type acting on images V, constructible from a gradient: basic_gradient
/// of V for every dense array of C x H x W images, so generic solvers (TV) find the finite
/// differences of their backend.
template <class V>
struct gradient_operator_for {};
template <dense_vector V>
requires std::same_as<shape_t<V>, shape3>
struct gradient_operator_for<V> {
    using type = basic_gradient<V>;
};
template <class V>
using gradient_operator_t = typename gradient_operator_for<V>::type;

/// div p = -D^T p for a 2 x C x H x W field p (backward differences, the exact negative adjoint of
/// the gradient): <D x, p> = -<x, div p>. Runs on the field's backend and returns an image of it.
template <detail::dense_field Field>
rebind_rank_t<Field, 3> divergence(const Field& p) {
    const shape3 shape = detail::field_image_shape(p, "divergence", "p");
    rebind_rank_t<Field, 3> out;
    detail::divergence_into(p, shape, 1.0f, out);
    return out;
}

/// div p of a host field (also any xtensor expression of one).
inline image divergence(const tensor<4>& p) {
    return divergence<tensor<4>>(p);
}

} // namespace xrestore
