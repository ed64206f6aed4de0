#pragma once
/// @file conv_transpose2d.hpp
/// 2x2 stride-2 transposed convolution with reverse mode, as PyTorch's ConvTranspose2d(in, out,
/// kernel_size=2, stride=2, bias): every input pixel spreads to a 2x2 block of the output,
/// N x in x H x W -> N x out x 2H x 2W; weight in x out x 2 x 2, bias out. Per image the four
/// taps are one matrix product, weight^T (4 out x in) times the image (in x H W), spread into the
/// output blocks; backward gathers dy back into taps for the two gradient products.
///
/// @code
/// xrestore::train::conv_transpose2d<float> up("up_transpose_conv.0.layers.0", 64, 32);
/// auto y = up.forward(x);     // N x 64 x H x W -> N x 32 x 2H x 2W
/// auto dx = up.backward(dy);  // adds to up.weight.grad and up.bias.grad
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
#include <vector>

namespace xrestore::train {

/// Shape of a conv_transpose2d layer.
struct conv_transpose2d_options {
    bool bias = true;       ///< whether a bias per output channel is added
    std::uint64_t seed = 0; ///< seed of the uniform initialisation
};

/// 2x2 stride-2 transposed convolution layer with explicit forward and backward.
template <class T>
class conv_transpose2d {
public:
    parameter<T> weight; ///< in x out x 2 x 2, state_dict name prefix + ".weight"
    parameter<T> bias;   ///< out (empty without bias), state_dict name prefix + ".bias"

    /// A layer whose parameters are named `prefix` + ".weight" / ".bias", initialised as
    /// PyTorch does: uniform in [-1/sqrt(4 out), 1/sqrt(4 out)) (its fan_in is weight dim 1
    /// times the kernel area).
    conv_transpose2d(std::string prefix, std::size_t in_channels, std::size_t out_channels,
                     conv_transpose2d_options options = {})
        : in_(in_channels), out_(out_channels), o_(options) {
        constexpr const char* where = "conv_transpose2d";
        require(in_ >= 1, where, "in_channels", "at least 1", in_);
        require(out_ >= 1, where, "out_channels", "at least 1", out_);
        const double bound = 1.0 / std::sqrt(static_cast<double>(4 * out_));
        weight = parameter<T>(prefix + ".weight",
                              detail::uniform_init<T>({in_, out_, 2, 2}, bound, o_.seed));
        if (o_.bias) {
            bias =
                parameter<T>(prefix + ".bias", detail::uniform_init<T>({out_}, bound, o_.seed + 1));
        }
    }

    /// y[n, o, 2r + a, 2c + b] = bias[o] + sum_i x[n, i, r, c] w[i, o, a, b]; saves x.
    tensor4<T> forward(const tensor4<T>& x) {
        constexpr const char* where = "conv_transpose2d";
        check_parameters(where);
        detail::require_input_channels(x, in_, where);
        input_ = x;
        const std::size_t h = x.shape(2);
        const std::size_t w = x.shape(3);
        const std::size_t n = x.shape(0);
        const std::size_t pixels = h * w;
        tensor4<T> y = tensor4<T>::from_shape({n, out_, 2 * h, 2 * w});
        // per image taps (4 out x h w) = weight^T (4 out x in) * x_n (in x h w), spread into
        // the 2x2 blocks of y_n
        std::vector<T> taps(4 * out_ * pixels);
        for (std::size_t b = 0; b < n; ++b) {
            detail::parallel_gemm<T>(4 * out_, pixels, in_, {weight.value.data(), 4 * out_, true},
                                     {input_.data() + b * in_ * pixels, pixels, false}, T(0),
                                     taps.data(), pixels);
            cpu_backend::for_each_index(
                2 * out_ * h,
                kernels::taps_to_blocks_body<T>{taps.data(), o_.bias ? bias.value.data() : nullptr,
                                                h, w, y.data() + b * 4 * out_ * pixels},
                2 * w);
        }
        output_shape_ = y.shape();
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy; adds dL/dw and dL/db to the parameters' gradients.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "conv_transpose2d";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, output_shape_, where);
        check_parameters(where);
        const std::size_t n = input_.shape(0);
        const std::size_t h = input_.shape(2);
        const std::size_t w = input_.shape(3);
        const std::size_t pixels = h * w;
        // db[o] += sum_{n, pixels} dy[n, o, pixel]
        if (o_.bias) {
            cpu_backend::for_each_index(
                out_,
                kernels::channel_sum_grad_body<T>{dy.data(), n, out_, 4 * pixels, bias.grad.data()},
                4 * n * pixels);
        }
        tensor4<T> dx = tensor4<T>::from_shape(input_.shape());
        std::vector<T> dtaps(4 * out_ * pixels);
        for (std::size_t b = 0; b < n; ++b) {
            // dtaps[o 4 + 2 a + b][r w + c] = dy[n, o, 2 r + a, 2 c + b]
            cpu_backend::for_each_index(2 * out_ * h,
                                        kernels::blocks_to_taps_body<T>{
                                            dy.data() + b * 4 * out_ * pixels, h, w, dtaps.data()},
                                        2 * w);
            const T* xb = input_.data() + b * in_ * pixels;
            // dw[i, o, a, b] += sum_{r, c} x[n, i, r, c] dy[n, o, 2r + a, 2c + b]:
            // dweight (in x 4 out) += x_n (in x h w) * dtaps^T
            detail::parallel_gemm<T>(in_, 4 * out_, pixels, {xb, pixels, false},
                                     {dtaps.data(), pixels, true}, T(1), weight.grad.data(),
                                     4 * out_);
            // dx_n (in x h w) = weight (in x 4 out) * dtaps
            detail::parallel_gemm<T>(in_, pixels, 4 * out_, {weight.value.data(), 4 * out_, false},
                                     {dtaps.data(), pixels, false}, T(0),
                                     dx.data() + b * in_ * pixels, pixels);
        }
        return dx;
    }

    /// The trained tensors: weight, then bias when the layer has one.
    std::vector<parameter<T>*> parameters() {
        if (o_.bias) {
            return {&weight, &bias};
        }
        return {&weight};
    }

    [[nodiscard]] const conv_transpose2d_options& options() const { return o_; }
    [[nodiscard]] std::size_t in_channels() const { return in_; }
    [[nodiscard]] std::size_t out_channels() const { return out_; }

private:
    std::size_t in_;
    std::size_t out_;
    conv_transpose2d_options o_;
    tensor4<T> input_;
    typename tensor4<T>::shape_type output_shape_{};
    bool forward_done_ = false;

    void check_parameters(const char* where) const {
        detail::require_parameter_shape(weight, {in_, out_, 2, 2}, where);
        if (o_.bias) {
            detail::require_parameter_shape(bias, {out_}, where);
        }
    }
};

} // namespace xrestore::train
