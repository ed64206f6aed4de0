#pragma once
/// @file dropout.hpp
/// Reverse mode for dropout (nn.Dropout(p)): in training mode each forward draws a fresh keep
/// mask from the layer's seeded generator (an element is kept with probability 1 - p) and scales
/// the kept elements by 1 / (1 - p); backward multiplies by the same mask. In eval mode forward
/// and backward are the identity. The same seed gives the same sequence of masks: the k-th
/// forward after construction or `reseed(s)` draws the same mask on every platform (the keep
/// test u >= p uses the top 53 bits of a std::mt19937_64 draw, not a library distribution).
///
/// @code
/// xrestore::train::dropout<float> drop(0.1, 42);
/// auto y = drop.forward(x);     // training: x .* mask / 0.9
/// drop.eval();                  // identity from now on
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// y[i] = x[i] * m[i] (the mask holds 0 or 1 / (1 - p); the backward is the same product).
template <class T>
struct multiply_body {
    const T* x;
    const T* m;
    T* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] = x[i] * m[i]; }
};

} // namespace kernels

/// Dropout with drop probability p in [0, 1) and a seed (no parameters).
template <class T>
class dropout {
public:
    explicit dropout(double p, std::uint64_t seed = 0) : p_(p), rng_(seed) {
        if (!(p >= 0.0 && p < 1.0)) {
            throw value_error(xrestore::detail::describe("dropout", "p", "in [0, 1)", p));
        }
    }
    tensor4<T> forward(const tensor4<T>& x) {
        shape_ = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
        has_forward_ = true;
        if (!training_) {
            return x;
        }
        mask_ = tensor4<T>(shape_);
        const T kept = static_cast<T>(1.0 / (1.0 - p_));
        for (std::size_t i = 0; i < mask_.size(); ++i) {
            const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53; // uniform in [0, 1)
            mask_.data()[i] = u >= p_ ? kept : T(0);
        }
        tensor4<T> y(shape_);
        cpu_backend::for_each_index(y.size(),
                                    kernels::multiply_body<T>{x.data(), mask_.data(), y.data()});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "dropout::backward");
        detail::require_gradient_shape(dy, shape_, "dropout::backward");
        if (!training_) {
            return dy;
        }
        tensor4<T> dx(shape_);
        cpu_backend::for_each_index(dx.size(),
                                    kernels::multiply_body<T>{dy.data(), mask_.data(), dx.data()});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

    /// Training mode (masks drawn) or not (identity); a backward follows the mode of its forward.
    void train(bool on = true) {
        training_ = on;
        has_forward_ = false;
    }
    void eval() { train(false); }
    bool training() const { return training_; }
    /// Restart the sequence of masks from `seed`.
    void reseed(std::uint64_t seed) { rng_.seed(seed); }
    double p() const { return p_; }
    /// The mask of the last training forward (0 or 1 / (1 - p) per element).
    const tensor4<T>& mask() const { return mask_; }

private:
    double p_;
    std::mt19937_64 rng_;
    bool training_ = true;
    tensor4<T> mask_;
    std::array<std::size_t, 4> shape_{};
    bool has_forward_ = false;
};

} // namespace xrestore::train
