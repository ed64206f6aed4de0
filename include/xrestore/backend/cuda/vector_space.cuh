#pragma once
/// @file vector_space.cuh
/// `device_array<N>` as a vector type: every solver written against vector_space.hpp runs on the
/// device unchanged. The element-wise operations launch the shared kernel bodies
/// (core/kernel_bodies.hpp) in grid-stride kernels; dot and norm are deterministic two-pass
/// reductions in double; `random` draws on the host from the same generator as the CPU backend
/// and uploads, so the same seed gives the same vector on both backends.
///
/// @code
/// auto x = xrestore::to_device(host_x), y = xrestore::to_device(host_y);
/// xrestore::axpy(0.5f, x, y);                // y += 0.5 x, on the device
/// double d = xrestore::dot(x, y);            // returned to the host
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/vector_space.hpp"

#include <random>
#include <string_view>

namespace xrestore {

template <std::size_t N>
struct vector_space<device_array<N>> {
    using backend = cuda_tag;
    using vector = device_array<N>;
    using shape_type = std::array<std::size_t, N>;

    static vector zeros(const shape_type& shape) {
        vector v(shape);
        fill(0.0f, v);
        return v;
    }
    static shape_type shape(const vector& v) { return v.shape(); }
    static void check_same(const vector& x, const vector& y, std::string_view where) {
        if (x.shape() != y.shape()) {
            throw shape_error(xrestore::detail::concat(where, ": second operand must have shape ",
                                                       shape_string(x.shape()), ", got ",
                                                       shape_string(y.shape())));
        }
    }
    static void copy(const vector& x, vector& y) {
        if (&x == &y) {
            return;
        }
        y.resize(x.shape());
        cuda::for_each_index(x.size(), kernels::copy_body{x.data(), y.data()});
    }
    static void axpy(float a, const vector& x, vector& y) {
        check_same(x, y, "axpy");
        cuda::for_each_index(x.size(), kernels::axpy_body{a, x.data(), y.data()});
    }
    static void axpby(float a, const vector& x, float b, vector& y) {
        check_same(x, y, "axpby");
        cuda::for_each_index(x.size(), kernels::axpby_body{a, x.data(), b, y.data()});
    }
    static void scal(float a, vector& x) {
        cuda::for_each_index(x.size(), kernels::scal_body{a, x.data()});
    }
    static void fill(float value, vector& x) {
        cuda::for_each_index(x.size(), kernels::fill_body{value, x.data()});
    }
    static double dot(const vector& x, const vector& y) {
        check_same(x, y, "dot");
        return cuda::sum_over_indices(x.size(), kernels::dot_term{x.data(), y.data()});
    }
    static vector random(const shape_type& shape, std::mt19937_64& rng) {
        return to_device(vector_space<tensor<N>>::random(shape, rng));
    }
};

} // namespace xrestore
