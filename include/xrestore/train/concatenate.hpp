#pragma once
/// @file concatenate.hpp
/// Reverse mode for the concatenation of two inputs along channels (torch.cat([a, b], dim=1)).
/// A layer with two inputs: `forward(a, b)` gives N x (Ca + Cb) x H x W and `backward(dy)`
/// returns both input gradients, the first Ca channels of dy and the last Cb.
///
/// @code
/// xrestore::train::concatenate<float> cat;
/// auto y = cat.forward(skip, up);             // channels of skip, then of up
/// auto [d_skip, d_up] = cat.backward(dy);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// Copy a channel block between a tensor of `small` channels and channels [offset, offset +
/// small) of one of `big` channels, both N x . x H x W with plane = H W: to_big copies
/// small -> big (the forward), otherwise big -> small (the backward). i over the N x small planes.
template <class T>
struct channel_block_copy_body {
    const T* from;
    T* to;
    std::size_t small, big, offset, plane;
    bool to_big;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i % small;
        const std::size_t n = i / small;
        const std::size_t j = (n * big + offset + c) * plane; // the same plane in big
        const T* src = from + (to_big ? i * plane : j);
        T* dst = to + (to_big ? j : i * plane);
        for (std::size_t q = 0; q < plane; ++q) {
            dst[q] = src[q];
        }
    }
};

} // namespace kernels

/// Concatenation of two inputs along the channel axis (no parameters).
template <class T>
class concatenate {
public:
    tensor4<T> forward(const tensor4<T>& a, const tensor4<T>& b) {
        if (a.shape(0) != b.shape(0) || a.shape(2) != b.shape(2) || a.shape(3) != b.shape(3)) {
            throw shape_error(xrestore::detail::concat(
                "concatenate::forward: b must have the batch size, height and width of a (",
                shape_string(a.shape()), "), got ", shape_string(b.shape())));
        }
        a_ = {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
        b_ = {b.shape(0), b.shape(1), b.shape(2), b.shape(3)};
        has_forward_ = true;
        tensor4<T> y(out_shape());
        const std::size_t plane = a_[2] * a_[3];
        cpu_backend::for_each_index(a_[0] * a_[1],
                                    kernels::channel_block_copy_body<T>{a.data(), y.data(), a_[1],
                                                                        y.shape(1), 0, plane, true},
                                    plane);
        cpu_backend::for_each_index(b_[0] * b_[1],
                                    kernels::channel_block_copy_body<T>{
                                        b.data(), y.data(), b_[1], y.shape(1), a_[1], plane, true},
                                    plane);
        return y;
    }
    /// dL/da and dL/db: the two channel blocks of dy.
    std::pair<tensor4<T>, tensor4<T>> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "concatenate::backward");
        detail::require_gradient_shape(dy, out_shape(), "concatenate::backward");
        tensor4<T> da(a_);
        tensor4<T> db(b_);
        const std::size_t plane = a_[2] * a_[3];
        cpu_backend::for_each_index(a_[0] * a_[1],
                                    kernels::channel_block_copy_body<T>{
                                        dy.data(), da.data(), a_[1], dy.shape(1), 0, plane, false},
                                    plane);
        cpu_backend::for_each_index(b_[0] * b_[1],
                                    kernels::channel_block_copy_body<T>{dy.data(), db.data(), b_[1],
                                                                        dy.shape(1), a_[1], plane,
                                                                        false},
                                    plane);
        return {std::move(da), std::move(db)};
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    std::array<std::size_t, 4> out_shape() const { return {a_[0], a_[1] + b_[1], a_[2], a_[3]}; }
    std::array<std::size_t, 4> a_{};
    std::array<std::size_t, 4> b_{};
    bool has_forward_ = false;
};

} // namespace xrestore::train
