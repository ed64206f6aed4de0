#pragma once
/// @file parameter.hpp
/// Reverse mode for networks: the tensors a layer trains. A `parameter<T>` is a named value with
/// a gradient of the same shape; layers own theirs, list them with `parameters()`, add to the
/// gradient in `backward` (so gradients of several passes accumulate until `zero_grad`), and the
/// optimisers (train/adam.hpp, train/sgd.hpp) update `value` from `grad`. Names are the
/// `state_dict` names the loaders use ("down_sample_layers.0.layers.0.weight"), so trained
/// weights are written and read back under the same keys.
///
/// Every layer of train/ follows one shape, written out so that each backward reads next to
/// its forward (no tape):
///   tensor4<T> forward(const tensor4<T>& x);   // saves what its backward needs
///   tensor4<T> backward(const tensor4<T>& dy); // dL/dx from dL/dy; adds dL/dtheta to .grad
///   std::vector<parameter<T>*> parameters();   // empty for layers without weights
/// T is float for training and double for the finite-difference gradient checks.
///
/// @code
/// xrestore::train::parameter<double> w{"conv.weight", xt::zeros<double>({4, 3, 3, 3})};
/// w.grad += 1.0;   // gradients accumulate
/// w.zero_grad();   // until cleared
/// @endcode

#include "xrestore/core/error.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// A batch of feature maps, N x C x H x W.
template <class T>
using tensor4 = xt::xtensor<T, 4>;

/// A trained tensor: its state_dict name, its value and the gradient of the loss with respect
/// to it (same shape, accumulated by backward passes until zero_grad).
template <class T>
struct parameter {
    std::string name;
    xt::xarray<T> value;
    xt::xarray<T> grad;

    parameter() = default;
    parameter(std::string n, xt::xarray<T> v)
        : name(std::move(n)), value(std::move(v)), grad(xt::zeros<T>(value.shape())) {}

    void zero_grad() { grad = xt::zeros<T>(value.shape()); }
    std::size_t size() const { return value.size(); }
};

/// Clear the gradients of every parameter in `params`.
template <class T>
void zero_grad(const std::vector<parameter<T>*>& params) {
    for (parameter<T>* p : params) {
        p->zero_grad();
    }
}

/// The parameters of several layers in one list (in the order given), for an optimiser.
template <class T, class... Layers>
std::vector<parameter<T>*> collect_parameters(Layers&... layers) {
    std::vector<parameter<T>*> all;
    (
        [&] {
            for (parameter<T>* p : layers.parameters()) {
                all.push_back(p);
            }
        }(),
        ...);
    return all;
}

namespace detail {

/// dy must have the shape of the forward output the layer saved.
template <class T, class Shape>
void require_gradient_shape(const tensor4<T>& dy, const Shape& expected, const char* where) {
    if (dy.dimension() != 4 || !std::equal(expected.begin(), expected.end(), dy.shape().begin())) {
        std::string got;
        for (std::size_t d : dy.shape()) {
            got += (got.empty() ? "" : " x ") + std::to_string(d);
        }
        std::string want;
        for (std::size_t d : expected) {
            want += (want.empty() ? "" : " x ") + std::to_string(d);
        }
        throw shape_error(std::string(where) + ": the output gradient must have shape " + want +
                          " (the forward output's), got " + got);
    }
}

/// backward needs a forward first.
inline void require_forward(bool done, const char* where) {
    if (!done) {
        throw value_error(std::string(where) + ": backward must follow a forward pass");
    }
}

} // namespace detail

} // namespace xrestore::train
