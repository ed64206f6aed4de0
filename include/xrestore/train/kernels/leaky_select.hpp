#pragma once
/// @file leaky_select.hpp
/// The one LeakyReLU selection every forward and backward body uses (train/activations.hpp,
/// kernels/norm_bodies.hpp): positive ? a : slope a, written as two selections and a sum of
/// which one term is 0, so that loops over it vectorise without branches under default
/// floating-point flags. The value is that of the selection (only the sign of a zero may
/// differ). Forward: a = x; backward: a = dy, positive taken at the forward's input.
///
/// @code
/// y[i] = xrestore::train::kernels::leaky_select(x[i] > 0.0f, x[i], 0.2f);
/// @endcode

#include "xrestore/core/host_device.hpp"

namespace xrestore::train::kernels {

/// positive ? a : slope a, branch-free.
template <class T>
XRESTORE_HD inline T leaky_select(bool positive, T a, T slope) {
    return (positive ? a : T(0)) + slope * (positive ? T(0) : a);
}

} // namespace xrestore::train::kernels
