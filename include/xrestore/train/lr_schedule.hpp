#pragma once
/// @file lr_schedule.hpp
/// Learning-rate schedules as pure functions of the step t = 0, 1, 2, ... (the learning rate of
/// the t-th optimiser step; set it with `opt.set_lr(learning_rate(schedule, t))` before
/// `opt.step()`):
///   constant_lr:  lr(t) = lr
///   step_lr:      lr(t) = base_lr * gamma^floor(t / step_size)           (torch's StepLR)
///   cosine_lr:    lr(t) = base_lr * (t + 1) / W                            for t < W (warm-up)
///                 lr(t) = min + (base_lr - min) (1 + cos(pi (t - W) / (T - W))) / 2  W <= t <= T
///                 lr(t) = min                                              for t > T
/// with W = warmup_steps, T = total_steps, min = min_lr. Without warm-up the cosine is torch's
/// CosineAnnealingLR(T_max = T, eta_min = min) on 0 <= t <= T (which then rises again; this one
/// stays at min); the warm-up is torch's LinearLR(start_factor = 1/W, total_iters = W - 1)
/// followed by CosineAnnealingLR(T_max = T - W) from step W (SequentialLR).
///
/// @code
/// const xrestore::train::lr_schedule s = xrestore::train::cosine_lr{.base_lr = 1e-3,
///     .warmup_steps = 100, .total_steps = 10000};
/// opt.set_lr(xrestore::train::learning_rate(s, t));
/// @endcode

#include "xrestore/core/error.hpp"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <variant>

namespace xrestore::train {

/// The same learning rate at every step.
struct constant_lr {
    double lr = 1e-3; ///< >= 0
};

/// The learning rate multiplied by gamma every step_size steps.
struct step_lr {
    double base_lr = 1e-3;      ///< >= 0
    std::int64_t step_size = 1; ///< >= 1
    double gamma = 0.1;         ///< >= 0
};

/// Linear warm-up to base_lr over warmup_steps steps, then a half cosine down to min_lr at
/// total_steps, then min_lr.
struct cosine_lr {
    double base_lr = 1e-3;         ///< >= 0
    std::int64_t warmup_steps = 0; ///< >= 0 and < total_steps
    std::int64_t total_steps = 1;  ///< >= 1
    double min_lr = 0.0;           ///< in [0, base_lr]
};

/// One of the schedules.
using lr_schedule = std::variant<constant_lr, step_lr, cosine_lr>;

namespace detail {

inline void require_step(std::int64_t t, const char* where) {
    require(t >= 0, where, "the step", ">= 0", t);
}

inline void require_rate(double lr, const char* where, const char* name) {
    require(std::isfinite(lr) && lr >= 0.0, where, name, "a finite number >= 0", lr);
}

} // namespace detail

/// lr(t) = lr.
inline double learning_rate(const constant_lr& s, std::int64_t t) {
    detail::require_step(t, "constant_lr");
    detail::require_rate(s.lr, "constant_lr", "lr");
    return s.lr;
}

/// lr(t) = base_lr * gamma^floor(t / step_size).
inline double learning_rate(const step_lr& s, std::int64_t t) {
    detail::require_step(t, "step_lr");
    detail::require_rate(s.base_lr, "step_lr", "base_lr");
    require(s.step_size >= 1, "step_lr", "step_size", ">= 1", s.step_size);
    require(std::isfinite(s.gamma) && s.gamma >= 0.0, "step_lr", "gamma", "a finite number >= 0",
            s.gamma);
    return s.base_lr * std::pow(s.gamma, static_cast<double>(t / s.step_size));
}

/// Linear warm-up, then cosine from base_lr to min_lr (the header's formulas).
inline double learning_rate(const cosine_lr& s, std::int64_t t) {
    detail::require_step(t, "cosine_lr");
    detail::require_rate(s.base_lr, "cosine_lr", "base_lr");
    require(s.total_steps >= 1, "cosine_lr", "total_steps", ">= 1", s.total_steps);
    require(s.warmup_steps >= 0 && s.warmup_steps < s.total_steps, "cosine_lr", "warmup_steps",
            "in [0, total_steps)", s.warmup_steps);
    require(std::isfinite(s.min_lr) && s.min_lr >= 0.0 && s.min_lr <= s.base_lr, "cosine_lr",
            "min_lr", "in [0, base_lr]", s.min_lr);
    if (t < s.warmup_steps) {
        return s.base_lr * static_cast<double>(t + 1) / static_cast<double>(s.warmup_steps);
    }
    if (t > s.total_steps) {
        return s.min_lr;
    }
    const double progress = static_cast<double>(t - s.warmup_steps) /
                            static_cast<double>(s.total_steps - s.warmup_steps); // in [0, 1]
    return s.min_lr + (s.base_lr - s.min_lr) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
}

/// The learning rate of step t under schedule s.
inline double learning_rate(const lr_schedule& s, std::int64_t t) {
    return std::visit([t](const auto& schedule) { return learning_rate(schedule, t); }, s);
}

} // namespace xrestore::train
