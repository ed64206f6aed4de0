#pragma once
/// @file clip.hpp
/// Gradient clipping by norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2): the total norm
/// N = sqrt(sum over parameters of ||grad||^2); when max_norm / (N + 1e-6) < 1 every gradient is
/// multiplied by that factor, so the clipped total norm is just under max_norm.
///
/// @code
/// const double norm = xrestore::train::clip_grad_norm(params, 1.0);   // before clipping
/// if (std::isfinite(norm)) opt.step();
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/train/parameter.hpp"

#include <cmath>
#include <cstddef>
#include <vector>

namespace xrestore::train {

/// The L2 norm of all gradients of `params` together, sum accumulated in double.
template <class T>
double grad_norm(const std::vector<parameter<T>*>& params) {
    double total = 0.0;
    for (const parameter<T>* p : params) {
        double sum = 0.0;
        for (const T& g : p->grad) {
            sum += static_cast<double>(g) * static_cast<double>(g); // ||grad||^2
        }
        total += sum;
    }
    return std::sqrt(total);
}

/// Scale the gradients of `params` so that their total L2 norm is at most max_norm (> 0), by
/// max_norm / (norm + 1e-6) when that is below 1; returns the norm before clipping. A non-finite
/// norm (an overflow, a NaN gradient) is returned with the gradients left as they are, for the
/// caller to skip the step.
template <class T>
double clip_grad_norm(const std::vector<parameter<T>*>& params, double max_norm) {
    require(std::isfinite(max_norm) && max_norm > 0.0, "clip_grad_norm", "max_norm",
            "a finite number > 0", max_norm);
    const double norm = grad_norm(params);
    const double factor = max_norm / (norm + 1e-6); // torch's epsilon
    if (std::isfinite(norm) && factor < 1.0) {
        for (parameter<T>* p : params) {
            for (T& g : p->grad) {
                g *= static_cast<T>(factor);
            }
        }
    }
    return norm;
}

} // namespace xrestore::train
