#pragma once
/// @file residual_add.hpp
/// Reverse mode for the residual addition y = a + b of two inputs of one shape. A layer with two
/// inputs: `backward(dy)` returns the gradients of both, each equal to dy.
///
/// @code
/// xrestore::train::residual_add<float> add;
/// auto y = add.forward(x, block_out);          // x + block_out
/// auto [dx, d_block] = add.backward(dy);       // dy, dy
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/train/detail/same_shape.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// y[i] = a[i] + b[i].
template <class T>
struct add_body {
    const T* a;
    const T* b;
    T* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] = a[i] + b[i]; }
};

} // namespace kernels

/// y = a + b (no parameters).
template <class T>
class residual_add {
public:
    tensor4<T> forward(const tensor4<T>& a, const tensor4<T>& b) {
        detail::require_same_shape(a, b, "residual_add::forward", "a", "b");
        shape_ = {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
        has_forward_ = true;
        tensor4<T> y(shape_);
        cpu_backend::for_each_index(y.size(), kernels::add_body<T>{a.data(), b.data(), y.data()});
        return y;
    }
    /// dL/da = dL/db = dy.
    std::pair<tensor4<T>, tensor4<T>> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "residual_add::backward");
        detail::require_gradient_shape(dy, shape_, "residual_add::backward");
        return {dy, dy};
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    std::array<std::size_t, 4> shape_{};
    bool has_forward_ = false;
};

} // namespace xrestore::train
