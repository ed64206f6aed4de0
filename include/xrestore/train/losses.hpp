#pragma once
/// @file losses.hpp
/// Losses with their gradient with respect to the prediction: MSE and L1 (means over all
/// elements, nn.MSELoss() / nn.L1Loss()), masked MSE (mean of the squared error over the mask's
/// total weight), softmax cross-entropy over N x K logits with integer labels (mean over N,
/// nn.CrossEntropyLoss()). Each returns a `loss_result`: the value (summed in double, returned
/// in T) and dL/dprediction (the dy that starts a backward pass). Gradient arithmetic is in
/// host-device kernel bodies.
///
/// @code
/// auto [value, dy] = xrestore::train::mse_loss(net.forward(x), target);
/// net.backward(dy);
/// auto ce = xrestore::train::softmax_cross_entropy(logits, labels);  // logits N x K x 1 x 1
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/detail/same_shape.hpp"
#include "xrestore/train/parameter.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xrestore::train {

/// A loss value and its gradient with respect to the prediction (same shape).
template <class T>
struct loss_result {
    T value;
    tensor4<T> grad;
};

namespace kernels {

/// g[i] = scale (p[i] - t[i]) (MSE with scale 2 / count).
template <class T>
struct scaled_difference_body {
    const T* p;
    const T* t;
    T* g;
    T scale;
    XRESTORE_HD void operator()(std::size_t i) const { g[i] = scale * (p[i] - t[i]); }
};

/// g[i] = scale sign(p[i] - t[i]), 0 where they are equal (L1 with scale 1 / count).
template <class T>
struct scaled_sign_body {
    const T* p;
    const T* t;
    T* g;
    T scale;
    XRESTORE_HD void operator()(std::size_t i) const {
        const T d = p[i] - t[i];
        g[i] = d > T(0) ? scale : (d < T(0) ? -scale : T(0));
    }
};

/// g[i] = scale m[i] (p[i] - t[i]) (masked MSE with scale 2 / sum(m)).
template <class T>
struct masked_difference_body {
    const T* p;
    const T* t;
    const T* m;
    T* g;
    T scale;
    XRESTORE_HD void operator()(std::size_t i) const { g[i] = scale * m[i] * (p[i] - t[i]); }
};

/// Softmax cross-entropy of row n of N x K logits z with label y[n]: writes the row's gradient
/// g = (softmax(z) - onehot(y)) / N and its loss log-sum-exp(z) - z[y] (to loss[n]), with the
/// maximum subtracted before exp so that nothing overflows.
template <class T>
struct softmax_cross_entropy_body {
    const T* z;
    const std::int64_t* y;
    T* g;
    double* loss;
    std::size_t k;
    T inv_n;
    XRESTORE_HD void operator()(std::size_t n) const {
        using std::exp;
        using std::log;
        const T* row = z + n * k;
        T top = row[0];
        for (std::size_t j = 1; j < k; ++j) {
            top = row[j] > top ? row[j] : top;
        }
        T sum = T(0);
        for (std::size_t j = 0; j < k; ++j) {
            sum += exp(row[j] - top);
        }
        const std::size_t label = static_cast<std::size_t>(y[n]);
        for (std::size_t j = 0; j < k; ++j) {
            const T softmax = exp(row[j] - top) / sum;
            g[n * k + j] = (softmax - (j == label ? T(1) : T(0))) * inv_n;
        }
        loss[n] = static_cast<double>(top + log(sum) - row[label]); // lse(z) - z_y
    }
};

} // namespace kernels

/// Mean squared error mean((p - t)^2); gradient 2 (p - t) / count.
template <class T>
loss_result<T> mse_loss(const tensor4<T>& prediction, const tensor4<T>& target) {
    detail::require_same_shape(prediction, target, "mse_loss", "prediction", "target");
    double sum = 0.0;
    for (std::size_t i = 0; i < prediction.size(); ++i) {
        const double d = static_cast<double>(prediction.data()[i] - target.data()[i]);
        sum += d * d;
    }
    const double count = static_cast<double>(prediction.size());
    loss_result<T> r{static_cast<T>(sum / count), tensor4<T>(prediction.shape())};
    cpu_backend::for_each_index(r.grad.size(), kernels::scaled_difference_body<T>{
                                                   prediction.data(), target.data(), r.grad.data(),
                                                   static_cast<T>(2.0 / count)});
    return r;
}

/// Mean absolute error mean(|p - t|); gradient sign(p - t) / count (the subgradient 0 at p = t).
template <class T>
loss_result<T> l1_loss(const tensor4<T>& prediction, const tensor4<T>& target) {
    detail::require_same_shape(prediction, target, "l1_loss", "prediction", "target");
    double sum = 0.0;
    for (std::size_t i = 0; i < prediction.size(); ++i) {
        sum += std::abs(static_cast<double>(prediction.data()[i] - target.data()[i]));
    }
    const double count = static_cast<double>(prediction.size());
    loss_result<T> r{static_cast<T>(sum / count), tensor4<T>(prediction.shape())};
    cpu_backend::for_each_index(
        r.grad.size(), kernels::scaled_sign_body<T>{prediction.data(), target.data(), r.grad.data(),
                                                    static_cast<T>(1.0 / count)});
    return r;
}

/// Masked MSE sum(m (p - t)^2) / sum(m) with a mask of nonnegative weights (0/1 for a plain
/// mask) of the prediction's shape; gradient 2 m (p - t) / sum(m). sum(m) must be positive.
template <class T>
loss_result<T> masked_mse_loss(const tensor4<T>& prediction, const tensor4<T>& target,
                               const tensor4<T>& mask) {
    detail::require_same_shape(prediction, target, "masked_mse_loss", "prediction", "target");
    detail::require_same_shape(prediction, mask, "masked_mse_loss", "prediction", "mask");
    double weight = 0.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < prediction.size(); ++i) {
        const double m = static_cast<double>(mask.data()[i]);
        if (!(m >= 0.0)) {
            throw value_error(
                xrestore::detail::describe("masked_mse_loss", "every mask weight", ">= 0", m));
        }
        const double d = static_cast<double>(prediction.data()[i] - target.data()[i]);
        weight += m;
        sum += m * d * d;
    }
    if (!(weight > 0.0)) {
        throw value_error(xrestore::detail::describe("masked_mse_loss", "the mask's total weight",
                                                     "positive", weight));
    }
    loss_result<T> r{static_cast<T>(sum / weight), tensor4<T>(prediction.shape())};
    cpu_backend::for_each_index(r.grad.size(), kernels::masked_difference_body<T>{
                                                   prediction.data(), target.data(), mask.data(),
                                                   r.grad.data(), static_cast<T>(2.0 / weight)});
    return r;
}

/// Softmax cross-entropy mean_n (log sum_j exp z[n, j] - z[n, y[n]]) over logits N x K x 1 x 1
/// (what `linear` gives) and N labels in [0, K); gradient (softmax(z) - onehot(y)) / N.
template <class T>
loss_result<T> softmax_cross_entropy(const tensor4<T>& logits,
                                     const std::vector<std::int64_t>& labels) {
    const std::size_t n = logits.shape(0);
    const std::size_t k = logits.shape(1);
    if (k == 0 || n == 0 || logits.shape(2) != 1 || logits.shape(3) != 1) {
        throw shape_error(xrestore::detail::describe("softmax_cross_entropy", "logits",
                                                     "N x K x 1 x 1 with N, K >= 1",
                                                     shape_string(logits.shape())));
    }
    if (labels.size() != n) {
        throw shape_error(xrestore::detail::describe(
            "softmax_cross_entropy", "labels", "one per row of logits (" + std::to_string(n) + ")",
            labels.size()));
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k) {
            throw value_error(xrestore::detail::describe(
                "softmax_cross_entropy", "labels[" + std::to_string(i) + "]",
                "in [0, " + std::to_string(k) + ")", labels[i]));
        }
    }
    loss_result<T> r{T(0), tensor4<T>(logits.shape())};
    std::vector<double> rows(n);
    cpu_backend::for_each_index(n, kernels::softmax_cross_entropy_body<T>{
                                       logits.data(), labels.data(), r.grad.data(), rows.data(), k,
                                       static_cast<T>(1.0 / static_cast<double>(n))});
    double sum = 0.0;
    for (double v : rows) {
        sum += v;
    }
    r.value = static_cast<T>(sum / static_cast<double>(n));
    return r;
}

} // namespace xrestore::train
