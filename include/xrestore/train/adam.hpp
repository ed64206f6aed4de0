#pragma once
/// @file adam.hpp
/// Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW (amsgrad off, maximize off): per
/// parameter the first and second moments m, v and a step count t; at each step, with gradient g
///   Adam:  g <- g + weight_decay * p                 (L2 in the gradient)
///   AdamW: p <- p * (1 - lr * weight_decay)          (decoupled weight decay)
///   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
///   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// The state (m, v, t of every parameter) is saved next to the weights as named tensors
/// "adam.<name>.exp_avg", "adam.<name>.exp_avg_sq" (float32) and "adam.<name>.step" (int64), so
/// a run resumed from a checkpoint continues bit-identically.
///
/// @code
/// xrestore::train::adam<float> opt(net.parameters(), {.lr = 1e-3, .weight_decay = 1e-2,
///                                                     .decoupled_weight_decay = true}); // AdamW
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

/// Hyperparameters of Adam (torch.optim.Adam's defaults); decoupled_weight_decay = true gives
/// AdamW (whose PyTorch default weight_decay is 1e-2).
struct adam_options {
    double lr = 1e-3;                    ///< learning rate, >= 0
    double beta1 = 0.9;                  ///< first-moment decay, in [0, 1)
    double beta2 = 0.999;                ///< second-moment decay, in [0, 1)
    double eps = 1e-8;                   ///< added to the denominator, >= 0
    double weight_decay = 0.0;           ///< >= 0: L2 added to the gradient, or decoupled (AdamW)
    bool decoupled_weight_decay = false; ///< true: AdamW
};

namespace kernels {

/// One Adam/AdamW update of element i (the header's formulas, in torch's order of operations).
template <class T>
struct adam_update_body {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    T l2;     ///< weight_decay for Adam, 0 for AdamW
    T shrink; ///< 1 - lr * weight_decay for AdamW, 1 for Adam
    T beta1;
    T one_minus_beta1;
    T beta2;
    T one_minus_beta2;
    T step_size;             ///< lr / (1 - beta1^t)
    T bias_correction2_sqrt; ///< sqrt(1 - beta2^t)
    T eps;
    XRESTORE_HD void operator()(std::size_t i) const {
        const T g = l2 != T(0) ? grad[i] + l2 * param[i] : grad[i];  // g + wd p (Adam)
        const T p = param[i] * shrink;                               // p (1 - lr wd) (AdamW)
        const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;        // m = b1 m + (1 - b1) g
        const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g; // v = b2 v + (1 - b2) g^2
        const T denom = std::sqrt(v) / bias_correction2_sqrt + eps;  // sqrt(v / bc2) + eps
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = p + (-step_size) * (m / denom); // p - lr / bc1 * m / denom
    }
};

} // namespace kernels

namespace detail {

inline void validate(const adam_options& o, const char* where) {
    require(std::isfinite(o.lr) && o.lr >= 0.0, where, "lr", "a finite number >= 0", o.lr);
    require(o.beta1 >= 0.0 && o.beta1 < 1.0, where, "beta1", "in [0, 1)", o.beta1);
    require(o.beta2 >= 0.0 && o.beta2 < 1.0, where, "beta2", "in [0, 1)", o.beta2);
    require(std::isfinite(o.eps) && o.eps >= 0.0, where, "eps", "a finite number >= 0", o.eps);
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0, where, "weight_decay",
            "a finite number >= 0", o.weight_decay);
}

} // namespace detail

/// Adam (or AdamW) over a list of parameters it updates in place from their gradients.
template <class T>
class adam {
public:
    /// The moments start at zero and the step counts at 0; the parameters must outlive the
    /// optimiser and have distinct non-empty names. Throws value_error for bad options.
    explicit adam(std::vector<parameter<T>*> params, adam_options options = {})
        : params_(std::move(params)), options_(options) {
        detail::validate(options_, "adam");
        detail::require_named_parameters(params_, "adam");
        for (const parameter<T>* p : params_) {
            state_.push_back({xt::zeros<T>(p->value.shape()), xt::zeros<T>(p->value.shape()), 0});
        }
    }

    /// One update of every parameter from its grad (which is left as it is).
    void step() {
        for (std::size_t k = 0; k < params_.size(); ++k) {
            parameter<T>& p = *params_[k];
            moments& s = state_[k];
            detail::require_gradient_like_value(p, "adam::step");
            s.step += 1;
            const double t = static_cast<double>(s.step);
            const double decoupled = options_.decoupled_weight_decay ? options_.weight_decay : 0;
            const kernels::adam_update_body<T> body{
                p.value.data(),
                p.grad.data(),
                s.exp_avg.data(),
                s.exp_avg_sq.data(),
                static_cast<T>(options_.decoupled_weight_decay ? 0.0 : options_.weight_decay),
                static_cast<T>(1.0 - options_.lr * decoupled),
                static_cast<T>(options_.beta1),
                static_cast<T>(1.0 - options_.beta1),
                static_cast<T>(options_.beta2),
                static_cast<T>(1.0 - options_.beta2),
                static_cast<T>(options_.lr / (1.0 - std::pow(options_.beta1, t))),
                static_cast<T>(std::sqrt(1.0 - std::pow(options_.beta2, t))),
                static_cast<T>(options_.eps)};
            cpu_backend::for_each_index(p.value.size(), body);
        }
    }

    /// The learning rate of the next steps (a schedule sets it before each step).
    [[nodiscard]] double lr() const { return options_.lr; }
    void set_lr(double lr) {
        require(std::isfinite(lr) && lr >= 0.0, "adam::set_lr", "lr", "a finite number >= 0", lr);
        options_.lr = lr;
    }
    [[nodiscard]] const adam_options& options() const { return options_; }
    [[nodiscard]] const std::vector<parameter<T>*>& parameters() const { return params_; }
    /// Steps taken by parameter k (all equal unless a state was loaded for some only).
    [[nodiscard]] std::int64_t steps(std::size_t k = 0) const { return state_.at(k).step; }

    /// Add the state to `sd`: "adam.<name>.exp_avg", "adam.<name>.exp_avg_sq" (float32, the
    /// parameter's shape) and "adam.<name>.step" (int64 scalar) for every parameter.
    void save_state(state_dict& sd) const {
        for (std::size_t k = 0; k < params_.size(); ++k) {
            const std::string key = "adam." + params_[k]->name;
            sd.insert(key + ".exp_avg", detail::to_weight_tensor(state_[k].exp_avg));
            sd.insert(key + ".exp_avg_sq", detail::to_weight_tensor(state_[k].exp_avg_sq));
            sd.insert(key + ".step", detail::count_tensor(state_[k].step));
        }
    }

    /// Replace the state by the one save_state wrote into `sd` (every parameter's three tensors
    /// must be there, with the parameter's shape); other tensors of `sd` are ignored. On error
    /// (value_error, shape_error naming the tensor) the state is left as it was.
    void load_state(const state_dict& sd) {
        std::vector<moments> loaded;
        for (const parameter<T>* p : params_) {
            const std::string key = "adam." + p->name;
            loaded.push_back(
                {detail::take_tensor<T>(sd, key + ".exp_avg", p->value.shape(), "adam::load_state"),
                 detail::take_tensor<T>(sd, key + ".exp_avg_sq", p->value.shape(),
                                        "adam::load_state"),
                 detail::take_count(sd, key + ".step", "adam::load_state")});
        }
        state_ = std::move(loaded);
    }

private:
    struct moments {
        xt::xarray<T> exp_avg;
        xt::xarray<T> exp_avg_sq;
        std::int64_t step = 0;
    };

    std::vector<parameter<T>*> params_;
    adam_options options_;
    std::vector<moments> state_;
};

} // namespace xrestore::train
