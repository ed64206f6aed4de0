#pragma once
/// @file sgd.hpp
/// Stochastic gradient descent with momentum, as torch.optim.SGD with dampening 0 (maximize
/// off): with gradient g of parameter p and momentum buffer b,
///   g <- g + weight_decay * p
///   b <- g at the first step, b <- momentum * b + g after   (when momentum > 0)
///   g <- g + momentum * b (nesterov)  or  g <- b            (when momentum > 0)
///   p <- p - lr * g
/// The momentum buffers are saved next to the weights as "sgd.<name>.momentum_buffer" (float32)
/// with "sgd.<name>.step" (int64, 0 before the first step, when there is no buffer yet).
///
/// @code
/// xrestore::train::sgd<float> opt(net.parameters(), {.lr = 0.01, .momentum = 0.9});
/// opt.step();   // after backward filled each parameter's grad
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/train/parameter.hpp"
#include "xrestore/train/state.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// Hyperparameters of SGD (torch.optim.SGD's, dampening 0).
struct sgd_options {
    double lr = 1e-2;          ///< learning rate, >= 0
    double momentum = 0.0;     ///< >= 0; 0: plain gradient steps
    double weight_decay = 0.0; ///< >= 0: L2 added to the gradient
    bool nesterov = false;     ///< Nesterov momentum (needs momentum > 0)
};

namespace kernels {

/// One SGD update of element i (the header's formulas, in torch's order of operations).
template <class T>
struct sgd_update_body {
    T* param;
    const T* grad;
    T* buffer; ///< momentum buffer (unused when momentum is 0)
    T lr;
    T momentum;
    T weight_decay;
    bool first; ///< the first step: the buffer starts as the gradient
    bool nesterov;
    XRESTORE_HD void operator()(std::size_t i) const {
        T g = weight_decay != T(0) ? grad[i] + weight_decay * param[i] : grad[i]; // g + wd p
        if (momentum != T(0)) {
            const T b = first ? g : buffer[i] * momentum + g; // b = mu b + g
            buffer[i] = b;
            g = nesterov ? g + momentum * b : b; // g + mu b, or b
        }
        param[i] = param[i] + (-lr) * g; // p - lr g
    }
};

} // namespace kernels

namespace detail {

inline void validate(const sgd_options& o, const char* where) {
    require(std::isfinite(o.lr) && o.lr >= 0.0, where, "lr", "a finite number >= 0", o.lr);
    require(std::isfinite(o.momentum) && o.momentum >= 0.0, where, "momentum",
            "a finite number >= 0", o.momentum);
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0, where, "weight_decay",
            "a finite number >= 0", o.weight_decay);
    require(!o.nesterov || o.momentum > 0.0, where, "momentum", "> 0 with nesterov", o.momentum);
}

} // namespace detail

/// SGD with optional (Nesterov) momentum over a list of parameters it updates in place.
template <class T>
class sgd {
public:
    /// The parameters must outlive the optimiser and have distinct non-empty names. Throws
    /// value_error for bad options.
    explicit sgd(std::vector<parameter<T>*> params, sgd_options options = {})
        : params_(std::move(params)), options_(options) {
        detail::validate(options_, "sgd");
        detail::require_named_parameters(params_, "sgd");
        for (const parameter<T>* p : params_) {
            state_.push_back({xt::zeros<T>(p->value.shape()), 0});
        }
    }

    /// One update of every parameter from its grad (which is left as it is).
    void step() {
        for (std::size_t k = 0; k < params_.size(); ++k) {
            parameter<T>& p = *params_[k];
            detail::require_gradient_like_value(p, "sgd::step");
            const kernels::sgd_update_body<T> body{p.value.data(),
                                                   p.grad.data(),
                                                   state_[k].buffer.data(),
                                                   static_cast<T>(options_.lr),
                                                   static_cast<T>(options_.momentum),
                                                   static_cast<T>(options_.weight_decay),
                                                   state_[k].step == 0,
                                                   options_.nesterov};
            cpu_backend::for_each_index(p.value.size(), body);
            state_[k].step += 1;
        }
    }

    /// The learning rate of the next steps (a schedule sets it before each step).
    [[nodiscard]] double lr() const { return options_.lr; }
    void set_lr(double lr) {
        require(std::isfinite(lr) && lr >= 0.0, "sgd::set_lr", "lr", "a finite number >= 0", lr);
        options_.lr = lr;
    }
    [[nodiscard]] const sgd_options& options() const { return options_; }
    [[nodiscard]] const std::vector<parameter<T>*>& parameters() const { return params_; }
    /// Steps taken by parameter k.
    [[nodiscard]] std::int64_t steps(std::size_t k = 0) const { return state_.at(k).step; }

    /// Add the state to `sd`: "sgd.<name>.momentum_buffer" (float32, the parameter's shape) and
    /// "sgd.<name>.step" (int64 scalar) for every parameter.
    void save_state(state_dict& sd) const {
        for (std::size_t k = 0; k < params_.size(); ++k) {
            const std::string key = "sgd." + params_[k]->name;
            sd.insert(key + ".momentum_buffer", detail::to_weight_tensor(state_[k].buffer));
            sd.insert(key + ".step", detail::count_tensor(state_[k].step));
        }
    }

    /// Replace the state by the one save_state wrote into `sd` (every parameter's two tensors
    /// must be there); other tensors of `sd` are ignored. On error (value_error, shape_error
    /// naming the tensor) the state is left as it was.
    void load_state(const state_dict& sd) {
        std::vector<buffer_state> loaded;
        for (const parameter<T>* p : params_) {
            const std::string key = "sgd." + p->name;
            loaded.push_back({detail::take_tensor<T>(sd, key + ".momentum_buffer", p->value.shape(),
                                                     "sgd::load_state"),
                              detail::take_count(sd, key + ".step", "sgd::load_state")});
        }
        state_ = std::move(loaded);
    }

private:
    struct buffer_state {
        xt::xarray<T> buffer;
        std::int64_t step = 0;
    };

    std::vector<parameter<T>*> params_;
    sgd_options options_;
    std::vector<buffer_state> state_;
};

} // namespace xrestore::train
