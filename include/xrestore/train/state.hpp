#pragma once
/// @file state.hpp
/// Parameters and optimiser state as named tensors, for checkpoints: `to_state_dict` lists the
/// parameters' values under their state_dict names (what io/pth_writer.hpp and
/// write_safetensors write and load_weights reads back), `load_state_dict` copies them back, and
/// the optimisers (train/adam.hpp, train/sgd.hpp) add their state next to them with
/// `save_state` / `load_state`. Values are stored as float32 (the weight files' type): exact for
/// parameters of float, rounded for double ones.
///
/// @code
/// xrestore::state_dict sd = xrestore::train::to_state_dict(params); // "conv.weight", ...
/// opt.save_state(sd);                          // "adam.conv.weight.exp_avg", ...
/// xrestore::train::load_state_dict(params, sd); // the values back
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::train {

namespace detail {

/// `value` as a float32 weight tensor of the same shape.
template <class T>
weight_tensor to_weight_tensor(const xt::xarray<T>& value) {
    weight_tensor t;
    t.shape.assign(value.shape().begin(), value.shape().end());
    t.values.reserve(value.size());
    for (const T& v : value) {
        t.values.push_back(static_cast<float>(v));
    }
    return t;
}

/// A one-element int64 tensor of shape [] (a step count).
inline weight_tensor count_tensor(std::int64_t n) {
    weight_tensor t;
    t.stored_as = weight_dtype::int64;
    t.integers = {n};
    return t;
}

/// The floating-point tensor `name` of `sd`, which must have `shape`, as an array of T.
template <class T, class Shape>
xt::xarray<T> take_tensor(const state_dict& sd, const std::string& name, const Shape& shape,
                          std::string_view where) {
    const weight_tensor* t = sd.find(name);
    if (t == nullptr) {
        throw value_error(
            xrestore::detail::describe(where, "the state", "a tensor '" + name + "'", "none"));
    }
    if (t->is_integer() ||
        !std::equal(shape.begin(), shape.end(), t->shape.begin(), t->shape.end())) {
        throw shape_error(xrestore::detail::describe(
            where, "tensor '" + name + "'", "floating-point of shape " + shape_string(shape),
            std::string(t->is_integer() ? "integers" : "floating-point") + " of shape " +
                shape_string(t->shape)));
    }
    std::vector<std::size_t> extents(shape.begin(), shape.end());
    xt::xarray<T> out = xt::zeros<T>(extents);
    std::transform(t->values.begin(), t->values.end(), out.begin(),
                   [](float v) { return static_cast<T>(v); });
    return out;
}

/// The one-element integer tensor `name` of `sd` (a step count), which must be >= 0.
inline std::int64_t take_count(const state_dict& sd, const std::string& name,
                               std::string_view where) {
    const weight_tensor* t = sd.find(name);
    if (t == nullptr) {
        throw value_error(
            xrestore::detail::describe(where, "the state", "a tensor '" + name + "'", "none"));
    }
    if (!t->is_integer() || t->integers.size() != 1 || t->integers[0] < 0) {
        throw value_error(xrestore::detail::describe(
            where, "tensor '" + name + "'", "one integer >= 0",
            t->is_integer()
                ? std::to_string(t->integers.size()) + " integers" +
                      (t->integers.empty() ? "" : ", first " + std::to_string(t->integers[0]))
                : std::string("floating-point values")));
    }
    return t->integers[0];
}

/// Parameters for an optimiser: none null, names non-empty and distinct (they key the state).
template <class T>
void require_named_parameters(const std::vector<parameter<T>*>& params, std::string_view where) {
    std::set<std::string> seen;
    for (std::size_t k = 0; k < params.size(); ++k) {
        if (params[k] == nullptr) {
            throw value_error(xrestore::detail::describe(where, "parameter " + std::to_string(k),
                                                         "non-null", "a null pointer"));
        }
        const std::string& name = params[k]->name;
        if (name.empty() || !seen.insert(name).second) {
            throw value_error(xrestore::detail::describe(
                where, "parameter " + std::to_string(k) + "'s name", "non-empty and unique",
                name.empty() ? std::string("an empty name") : "a second '" + name + "'"));
        }
    }
}

/// The gradient must have the value's shape.
template <class T>
void require_gradient_like_value(const parameter<T>& p, std::string_view where) {
    if (!std::equal(p.value.shape().begin(), p.value.shape().end(), p.grad.shape().begin(),
                    p.grad.shape().end())) {
        throw shape_error(xrestore::detail::describe(
            where, "the gradient of '" + p.name + "'",
            "of its value's shape " + shape_string(p.value.shape()), shape_string(p.grad.shape())));
    }
}

} // namespace detail

/// The parameters' values under their names, in order, as float32 tensors.
template <class T>
state_dict to_state_dict(const std::vector<parameter<T>*>& params) {
    detail::require_named_parameters(params, "to_state_dict");
    state_dict sd;
    for (const parameter<T>* p : params) {
        sd.insert(p->name, detail::to_weight_tensor(p->value));
    }
    return sd;
}

/// Set each parameter's value from the tensor of its name in `sd` (which must be there, with the
/// parameter's shape); other tensors of `sd` (an optimiser's state) are ignored.
template <class T>
void load_state_dict(const std::vector<parameter<T>*>& params, const state_dict& sd) {
    detail::require_named_parameters(params, "load_state_dict");
    for (parameter<T>* p : params) {
        p->value = detail::take_tensor<T>(sd, p->name, p->value.shape(), "load_state_dict");
    }
}

} // namespace xrestore::train
