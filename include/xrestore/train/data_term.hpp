#pragma once
/// @file data_term.hpp
/// The data term of a restoration loss for any linear operator A of the library (a
/// `linear_operator` over xrestore::image, the CPU float32 C x H x W array: blur, inpainting,
/// downsampling, compositions...), applied per batch element of a network output f
/// (N x C x H x W):
///   L(f) = sum_n ||A f_n - y_n||^2         (no factor 1/2)
///   dL/df_n = 2 A^T (A f_n - y_n)          (the adjoint gives the gradient)
/// This is the loss of Deep Image Prior and of unrolled or self-supervised training. A works in
/// float32 whatever T is: f_n is rounded to float, A f_n - y_n and its adjoint are computed in
/// float, the value is summed in double and the gradient converted back to T. With T = double
/// the result is therefore accurate to float precision only (the tests check it against central
/// differences in double with a large step, exact for a quadratic, and a float-level tolerance).
///
/// @code
/// xrestore::convolution blur(xrestore::gaussian_kernel(1.5, 9), {3, 64, 64});
/// auto [value, df] = xrestore::train::data_term_loss(blur, net.forward(z), {y});
/// net.backward(df);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/train/losses.hpp"
#include "xrestore/train/parameter.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::train {

/// L(f) = sum_n ||A f_n - y_n||^2 and its gradient 2 A^T (A f_n - y_n) per batch element n
/// (see the file comment). y holds one measurement per batch element, each of A's range shape;
/// f's C x H x W must be A's domain shape.
template <linear_operator Op, class T>
requires std::same_as<typename Op::domain_type, image> loss_result<T>
data_term_loss(const Op& A, const tensor4<T>& f, const std::vector<typename Op::range_type>& y) {
    using range = typename Op::range_type;
    const shape3 domain = A.domain_shape();
    if (f.shape(1) != domain[0] || f.shape(2) != domain[1] || f.shape(3) != domain[2]) {
        throw shape_error(xrestore::detail::describe(
            "data_term_loss", "f", "N x " + shape_string(domain) + " (the operator's domain)",
            shape_string(f.shape())));
    }
    if (y.size() != f.shape(0)) {
        throw shape_error(xrestore::detail::describe(
            "data_term_loss", "y",
            "one measurement per batch element (" + std::to_string(f.shape(0)) + ")", y.size()));
    }
    const std::size_t plane = domain[0] * domain[1] * domain[2];
    loss_result<T> r{T(0), tensor4<T>(f.shape())};
    double sum = 0.0;
    image fn(domain);
    for (std::size_t n = 0; n < f.shape(0); ++n) {
        if (!(vector_space<range>::shape(y[n]) == A.range_shape())) {
            throw shape_error("data_term_loss: y[" + std::to_string(n) +
                              "] must have the operator's range shape");
        }
        const T* src = f.data() + n * plane;
        std::transform(src, src + plane, fn.data(), [](T v) { return static_cast<float>(v); });
        range residual = A.apply(fn);          // A f_n
        xrestore::axpy(-1.0F, y[n], residual); // A f_n - y_n
        sum += xrestore::dot(residual, residual);
        const image back = A.adjoint(residual); // A^T (A f_n - y_n)
        T* dst = r.grad.data() + n * plane;
        std::transform(back.data(), back.data() + plane, dst,
                       [](float v) { return static_cast<T>(2.0 * static_cast<double>(v)); });
    }
    r.value = static_cast<T>(sum);
    return r;
}

} // namespace xrestore::train
