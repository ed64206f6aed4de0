#pragma once
/// @file flatten.hpp
/// Reverse mode for flatten (nn.Flatten()): N x C x H x W becomes N x (C H W) x 1 x 1, the
/// layout `linear` takes (features in the channel axis, row-major C, H, W order as PyTorch's
/// flatten). The backward restores the input shape.
///
/// @code
/// xrestore::train::flatten<float> flat;
/// auto f = flat.forward(x);      // N x (C H W) x 1 x 1
/// auto dx = flat.backward(df);   // N x C x H x W
/// @endcode

#include "xrestore/train/parameter.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

namespace xrestore::train {

/// N x C x H x W <-> N x (C H W) x 1 x 1 (no parameters; a reshape, no arithmetic).
template <class T>
class flatten {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        in_ = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
        has_forward_ = true;
        tensor4<T> y(out_shape());
        std::copy(x.begin(), x.end(), y.begin());
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "flatten::backward");
        detail::require_gradient_shape(dy, out_shape(), "flatten::backward");
        tensor4<T> dx(in_);
        std::copy(dy.begin(), dy.end(), dx.begin());
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    std::array<std::size_t, 4> out_shape() const {
        return {in_[0], in_[1] * in_[2] * in_[3], 1, 1};
    }
    std::array<std::size_t, 4> in_{};
    bool has_forward_ = false;
};

} // namespace xrestore::train
