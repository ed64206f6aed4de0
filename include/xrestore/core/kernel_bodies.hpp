#pragma once
/// @file kernel_bodies.hpp
/// Element-wise kernel bodies shared by every backend. Each is a small functor whose call
/// operator handles one index; the CPU backend runs it in an OpenMP loop, the CUDA backend in a
/// grid-stride kernel. CPU tests therefore execute the exact arithmetic of the device kernels.

#include "xrestore/core/host_device.hpp"

#include <cstddef>

namespace xrestore::kernels {

/// y[i] += a * x[i]
struct axpy_body {
    float a;
    const float* x;
    float* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] += a * x[i]; }
};

/// y[i] = a * x[i] + b * y[i]
struct axpby_body {
    float a;
    const float* x;
    float b;
    float* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] = a * x[i] + b * y[i]; }
};

/// x[i] *= a
struct scal_body {
    float a;
    float* x;
    XRESTORE_HD void operator()(std::size_t i) const { x[i] *= a; }
};

/// y[i] = x[i]
struct copy_body {
    const float* x;
    float* y;
    XRESTORE_HD void operator()(std::size_t i) const { y[i] = x[i]; }
};

/// x[i] = value
struct fill_body {
    float value;
    float* x;
    XRESTORE_HD void operator()(std::size_t i) const { x[i] = value; }
};

/// x[i] = min(max(x[i], lo), hi)
struct clip_body {
    float lo;
    float hi;
    float* x;
    XRESTORE_HD void operator()(std::size_t i) const {
        float v = x[i];
        v = v < lo ? lo : v;
        x[i] = v > hi ? hi : v;
    }
};

/// x[i] * y[i] in double precision (the term of a dot product)
struct dot_term {
    const float* x;
    const float* y;
    XRESTORE_HD double operator()(std::size_t i) const {
        return static_cast<double>(x[i]) * static_cast<double>(y[i]);
    }
};

/// out[i] = a * x[i] + b * y[i]
struct combine_body {
    float a;
    const float* x;
    float b;
    const float* y;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const { out[i] = a * x[i] + b * y[i]; }
};

/// The update of a conjugate-gradient step, x[i] += a d[i] and r[i] -= a z[i] (z = C d), whose
/// term is the new r[i]^2 in double: summed over i it is <r, r>, so one pass does what two axpys
/// and a dot did, with the same arithmetic (each index is visited once by every backend's sum).
struct cg_step_term {
    float a;
    const float* d;
    const float* z;
    float* x;
    float* r;
    XRESTORE_HD double operator()(std::size_t i) const {
        x[i] += a * d[i];
        const float next = r[i] + -a * z[i];
        r[i] = next;
        return static_cast<double>(next) * static_cast<double>(next);
    }
};

/// x[i] in double precision (the term of a plain sum)
struct value_term {
    const float* x;
    XRESTORE_HD double operator()(std::size_t i) const { return static_cast<double>(x[i]); }
};

/// x[i] - x[i] in double: 0 for a finite value, NaN for NaN or an infinity, so a sum of these
/// terms is NaN exactly when some entry is not finite
struct nonfinite_probe_term {
    const float* x;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double v = x[i];
        return v - v;
    }
};

/// (x[i] - y[i])^2 in double (the term of a squared error)
struct squared_difference_term {
    const float* x;
    const float* y;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
        return d * d;
    }
};

/// out[i] = (float)(sums[i] / count): means from double sums (per channel, say)
struct mean_from_sum_body {
    const double* sums;
    double count;
    float* out;
    XRESTORE_HD void operator()(std::size_t i) const {
        out[i] = static_cast<float>(sums[i] / count);
    }
};

} // namespace xrestore::kernels
