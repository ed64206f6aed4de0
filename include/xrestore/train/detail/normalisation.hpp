#pragma once
/// @file normalisation.hpp
/// The normalise step shared by train/instance_norm.hpp and train/batch_norm.hpp, given the
/// group statistics: forward y = gamma (x - m) r + beta saving x^, and its backward (see
/// train/kernels/norm_bodies.hpp for the formulas).
///
/// @code
/// auto y = xrestore::train::detail::normalise_forward<double>(x, gr, mean, inv_std, nullptr,
/// nullptr, xhat); auto dx = xrestore::train::detail::normalise_backward<double>(dy, xhat, gr,
/// nullptr, inv_std, true, nullptr, nullptr);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/train/kernels/norm_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xtensor.hpp>

#include <cstddef>

namespace xrestore::train::detail {

/// y = gamma x^ + beta (y = x^ without gamma) with x^ = (x - mean[g]) inv_std[g], saved in xhat.
template <class T>
tensor4<T> normalise_forward(const tensor4<T>& x, const kernels::norm_groups& gr, const T* mean,
                             const T* inv_std, const T* gamma, const T* beta, tensor4<T>& xhat) {
    xhat = tensor4<T>::from_shape(x.shape());
    tensor4<T> y = tensor4<T>::from_shape(x.shape());
    cpu_backend::for_each_index(gr.batch * gr.channels,
                                kernels::norm_forward_body<T>{x.data(), gr, mean, inv_std, gamma,
                                                              beta, xhat.data(), y.data()},
                                gr.plane);
    return y;
}

/// dL/dx of normalise_forward; with `batch_statistics` the mean and inv_std were computed from
/// x itself (their dependence on x is differentiated), otherwise they were fixed. Adds dL/dgamma
/// and dL/dbeta to dgamma and dbeta when gamma is given.
template <class T>
tensor4<T> normalise_backward(const tensor4<T>& dy, const tensor4<T>& xhat,
                              const kernels::norm_groups& gr, const T* gamma, const T* inv_std,
                              bool batch_statistics, T* dgamma, T* dbeta) {
    if (gamma != nullptr) {
        // dgamma[c] += sum dy x^, dbeta[c] += sum dy
        cpu_backend::for_each_index(gr.channels,
                                    kernels::norm_affine_grad_body<T>{dy.data(), xhat.data(),
                                                                      gr.batch, gr.channels,
                                                                      gr.plane, dgamma, dbeta},
                                    gr.batch * gr.plane);
    }
    xt::xtensor<T, 1> sum_g = xt::xtensor<T, 1>::from_shape({gr.groups()});
    xt::xtensor<T, 1> sum_g_xhat = xt::xtensor<T, 1>::from_shape({gr.groups()});
    if (batch_statistics) {
        // per group: sum g, sum g x^ with g = gamma dy
        cpu_backend::for_each_index(gr.groups(),
                                    kernels::norm_backward_sums_body<T>{dy.data(), xhat.data(), gr,
                                                                        gamma, sum_g.data(),
                                                                        sum_g_xhat.data()},
                                    gr.count());
    }
    // dx = r (g - (sum g + x^ sum g x^) / count), or dx = r g with fixed statistics
    tensor4<T> dx = tensor4<T>::from_shape(dy.shape());
    cpu_backend::for_each_index(
        gr.batch * gr.channels,
        kernels::norm_input_grad_body<T>{dy.data(), xhat.data(), gr, gamma, inv_std,
                                         batch_statistics ? sum_g.data() : nullptr,
                                         sum_g_xhat.data(), dx.data()},
        gr.plane);
    return dx;
}

} // namespace xrestore::train::detail
