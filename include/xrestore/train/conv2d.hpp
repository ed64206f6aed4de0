#pragma once
/// @file conv2d.hpp
/// 2-D convolution with reverse mode, as PyTorch's Conv2d(in, out, k, stride, padding=k/2,
/// padding_mode="zeros"/"reflect", bias): odd kernel sizes k (1 for a 1x1 convolution), any
/// stride, weight out x in x k x k, bias out. The output is N x out x floor((H + 2p - k) / s)
/// + 1 x floor((W + 2p - k) / s) + 1 with p = k / 2. forward pads the input (saved for the
/// weight gradient) and convolves without padding, image by image as weight (out x in k k)
/// times the im2col matrix of the image; backward runs the same steps in reverse: the weight
/// gradient dy cols^T, the column gradient weight^T dy folded back by col2im, then the adjoint
/// of the padding. The products run in parallel tiles (train/detail/gemm.hpp), bit-identical
/// for any thread count.
///
/// @code
/// xrestore::train::conv2d<float> conv("down_sample_layers.0.layers.0", 3, 32, {.kernel_size = 3});
/// auto y = conv.forward(x);            // x: N x 3 x H x W
/// auto dx = conv.backward(dy);         // adds to conv.weight.grad (and conv.bias.grad)
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/detail/gemm.hpp"
#include "xrestore/train/detail/layer_checks.hpp"
#include "xrestore/train/kernels/conv_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// How a convolution fills the border it pads (PyTorch's padding_mode).
enum class padding_mode {
    zeros,  ///< zeros outside the input
    reflect ///< mirror about the edge without repeating it (row -1 is row 1); needs p < H, W
};

/// Shape of a conv2d layer.
struct conv2d_options {
    std::size_t kernel_size = 3;                ///< odd k; padding is k / 2 on every side
    std::size_t stride = 1;                     ///< stride s >= 1 (1 and 2 in the U-Nets)
    padding_mode padding = padding_mode::zeros; ///< how the border is filled
    bool bias = true;                           ///< whether a bias per output channel is added
    std::uint64_t seed = 0;                     ///< seed of the uniform initialisation
};

/// 2-D convolution layer with explicit forward and backward (see the file comment).
template <class T>
class conv2d {
public:
    parameter<T> weight; ///< out x in x k x k, state_dict name prefix + ".weight"
    parameter<T> bias;   ///< out (empty without bias), state_dict name prefix + ".bias"

    /// A layer whose parameters are named `prefix` + ".weight" / ".bias", initialised as
    /// PyTorch does: uniform in [-1/sqrt(in k^2), 1/sqrt(in k^2)).
    conv2d(std::string prefix, std::size_t in_channels, std::size_t out_channels,
           conv2d_options options = {})
        : in_(in_channels), out_(out_channels), o_(options) {
        constexpr const char* where = "conv2d";
        require(o_.kernel_size % 2 == 1, where, "kernel_size", "odd", o_.kernel_size);
        require(o_.stride >= 1, where, "stride", "at least 1", o_.stride);
        require(in_ >= 1, where, "in_channels", "at least 1", in_);
        require(out_ >= 1, where, "out_channels", "at least 1", out_);
        const std::size_t k = o_.kernel_size;
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_ * k * k));
        weight = parameter<T>(prefix + ".weight",
                              detail::uniform_init<T>({out_, in_, k, k}, bound, o_.seed));
        if (o_.bias) {
            bias =
                parameter<T>(prefix + ".bias", detail::uniform_init<T>({out_}, bound, o_.seed + 1));
        }
    }

    /// y = conv(pad(x)) + bias; saves the padded input.
    tensor4<T> forward(const tensor4<T>& x) {
        constexpr const char* where = "conv2d";
        check_parameters(where);
        detail::require_input_channels(x, in_, where);
        const std::size_t k = o_.kernel_size;
        const std::size_t p = k / 2;
        const std::size_t n = x.shape(0);
        const std::size_t h = x.shape(2);
        const std::size_t w = x.shape(3);
        if (o_.padding == padding_mode::reflect && (p >= h || p >= w)) {
            throw shape_error(
                xrestore::detail::describe(where, "input height and width",
                                           "greater than the reflect padding " + std::to_string(p),
                                           std::to_string(h) + " x " + std::to_string(w)));
        }
        // pad: xp = pad_p(x), N x in x (H + 2p) x (W + 2p)
        padded_ = tensor4<T>::from_shape({n, in_, h + 2 * p, w + 2 * p});
        cpu_backend::for_each_index(n * in_ * (h + 2 * p),
                                    kernels::pad2d_body<T>{x.data(), h, w, p,
                                                           o_.padding == padding_mode::reflect,
                                                           padded_.data()},
                                    w + 2 * p);
        input_shape_ = x.shape();
        // y[n, o, r, c] = b[o] + sum_{i, a, b} w[o, i, a, b] xp[n, i, r s + a, c s + b]:
        // per image y_n (out x oh ow) = weight (out x in k k) * cols_n (in k k x oh ow)
        const std::size_t hp = h + 2 * p;
        const std::size_t wp = w + 2 * p;
        const std::size_t oh = (hp - k) / o_.stride + 1;
        const std::size_t ow = (wp - k) / o_.stride + 1;
        const std::size_t pixels = oh * ow;
        const std::size_t depth = in_ * k * k;
        tensor4<T> y = tensor4<T>::from_shape({n, out_, oh, ow});
        std::vector<T> scratch(direct_columns() ? 0 : depth * pixels);
        for (std::size_t b = 0; b < n; ++b) {
            const T* cols = columns(b, hp, wp, oh, ow, scratch);
            T* yb = y.data() + b * out_ * pixels;
            detail::parallel_gemm<T>(out_, pixels, depth, {weight.value.data(), depth, false},
                                     {cols, pixels, false}, T(0), yb, pixels);
            if (o_.bias) {
                cpu_backend::for_each_index(out_ * pixels, kernels::add_channel_bias_body<T>{
                                                               bias.value.data(), pixels, yb});
            }
        }
        output_shape_ = y.shape();
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy; adds dL/dw and dL/db to the parameters' gradients.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "conv2d";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, output_shape_, where);
        check_parameters(where);
        const std::size_t k = o_.kernel_size;
        const std::size_t n = padded_.shape(0);
        const std::size_t hp = padded_.shape(2);
        const std::size_t wp = padded_.shape(3);
        const std::size_t oh = dy.shape(2);
        const std::size_t ow = dy.shape(3);
        const std::size_t pixels = oh * ow;
        const std::size_t depth = in_ * k * k;
        // db[o] += sum_{n, r, c} dy[n, o, r, c]
        if (o_.bias) {
            cpu_backend::for_each_index(
                out_,
                kernels::channel_sum_grad_body<T>{dy.data(), n, out_, pixels, bias.grad.data()},
                n * pixels);
        }
        tensor4<T> dpadded = tensor4<T>::from_shape(padded_.shape());
        std::vector<T> scratch(direct_columns() ? 0 : depth * pixels);
        std::vector<T> dcols(direct_columns() ? 0 : depth * pixels);
        for (std::size_t b = 0; b < n; ++b) {
            const T* cols = columns(b, hp, wp, oh, ow, scratch);
            const T* dyb = dy.data() + b * out_ * pixels;
            // dw[o, i, a, b] += sum_{r, c} dy[n, o, r, c] xp[n, i, r s + a, c s + b]:
            // dweight (out x in k k) += dy_n (out x oh ow) * cols_n^T, image after image
            detail::parallel_gemm<T>(out_, depth, pixels, {dyb, pixels, false},
                                     {cols, pixels, true}, T(1), weight.grad.data(), depth);
            // dcols_n = weight^T * dy_n, then dxp_n = col2im(dcols_n)
            T* dxp = dpadded.data() + b * in_ * hp * wp;
            T* dc = direct_columns() ? dxp : dcols.data();
            detail::parallel_gemm<T>(depth, pixels, out_, {weight.value.data(), depth, true},
                                     {dyb, pixels, false}, T(0), dc, pixels);
            if (!direct_columns()) {
                cpu_backend::for_each_index(
                    in_ * hp,
                    kernels::col2im_body<T>{dcols.data(), hp, wp, k, o_.stride, oh, ow, dxp},
                    k * wp);
            }
        }
        // dx = pad^T(dxp)
        tensor4<T> dx = tensor4<T>::from_shape(input_shape_);
        cpu_backend::for_each_index(
            input_shape_[0] * input_shape_[1] * input_shape_[2],
            kernels::pad2d_adjoint_body<T>{dpadded.data(), input_shape_[2], input_shape_[3], k / 2,
                                           o_.padding == padding_mode::reflect, dx.data()},
            input_shape_[3]);
        return dx;
    }

    /// The trained tensors: weight, then bias when the layer has one.
    std::vector<parameter<T>*> parameters() {
        if (o_.bias) {
            return {&weight, &bias};
        }
        return {&weight};
    }

    [[nodiscard]] const conv2d_options& options() const { return o_; }
    [[nodiscard]] std::size_t in_channels() const { return in_; }
    [[nodiscard]] std::size_t out_channels() const { return out_; }

private:
    std::size_t in_;
    std::size_t out_;
    conv2d_options o_;
    tensor4<T> padded_;
    typename tensor4<T>::shape_type input_shape_{};
    typename tensor4<T>::shape_type output_shape_{};
    bool forward_done_ = false;

    /// A 1x1 stride-1 convolution multiplies the image itself: no im2col matrix.
    [[nodiscard]] bool direct_columns() const { return o_.kernel_size == 1 && o_.stride == 1; }

    /// The im2col matrix of padded image b (in k k x oh ow), built in scratch, or the image.
    const T* columns(std::size_t b, std::size_t hp, std::size_t wp, std::size_t oh, std::size_t ow,
                     std::vector<T>& scratch) const {
        const T* xp = padded_.data() + b * in_ * hp * wp;
        if (direct_columns()) {
            return xp;
        }
        const std::size_t k = o_.kernel_size;
        cpu_backend::for_each_index(
            in_ * k * k * oh,
            kernels::im2col_body<T>{xp, hp, wp, k, o_.stride, oh, ow, scratch.data()}, ow);
        return scratch.data();
    }

    void check_parameters(const char* where) const {
        const std::size_t k = o_.kernel_size;
        detail::require_parameter_shape(weight, {out_, in_, k, k}, where);
        if (o_.bias) {
            detail::require_parameter_shape(bias, {out_}, where);
        }
    }
};

} // namespace xrestore::train
