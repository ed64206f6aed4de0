#pragma once
/// @file vector_space.hpp
/// Vector-space operations that solvers are written against: zeros, copy, axpy, axpby, scal,
/// dot (accumulated in double), norm. Each vector type names its backend tag through
/// `vector_space<V>::backend`; the xtensor specialisation runs the shared kernel bodies on the CPU
/// backend, and `product_vector` (the range of a stacked operator) forwards to its parts.
///
/// @code
/// xrestore::image x = ..., y = ...;
/// xrestore::axpy(0.5f, x, y);            // y += 0.5 x
/// double d = xrestore::dot(x, y);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"

#include <cmath>
#include <concepts>
#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Operations of a vector type V. Specialise it to make a new array type usable by every solver.
template <class V>
struct vector_space;

/// Float32 xtensor containers of any rank live on the CPU backend.
template <std::size_t N>
struct vector_space<tensor<N>> {
    using backend = cpu_tag;
    using shape_type = std::array<std::size_t, N>;

    static tensor<N> zeros(const shape_type& shape) {
        tensor<N> v(shape);
        v.fill(0.0f);
        return v;
    }
    static shape_type shape(const tensor<N>& v) { return shape_of<N>(v); }
    static void check_same(const tensor<N>& x, const tensor<N>& y, std::string_view where) {
        check_shape(y, shape(x), where, "second operand");
    }
    static void copy(const tensor<N>& x, tensor<N>& y) {
        if (y.shape() != x.shape()) {
            y.resize(x.shape());
        }
        cpu_backend::for_each_index(x.size(), kernels::copy_body{x.data(), y.data()});
    }
    static void axpy(float a, const tensor<N>& x, tensor<N>& y) {
        check_same(x, y, "axpy");
        cpu_backend::for_each_index(x.size(), kernels::axpy_body{a, x.data(), y.data()});
    }
    static void axpby(float a, const tensor<N>& x, float b, tensor<N>& y) {
        check_same(x, y, "axpby");
        cpu_backend::for_each_index(x.size(), kernels::axpby_body{a, x.data(), b, y.data()});
    }
    static void scal(float a, tensor<N>& x) {
        cpu_backend::for_each_index(x.size(), kernels::scal_body{a, x.data()});
    }
    static void fill(float value, tensor<N>& x) {
        cpu_backend::for_each_index(x.size(), kernels::fill_body{value, x.data()});
    }
    static double dot(const tensor<N>& x, const tensor<N>& y) {
        check_same(x, y, "dot");
        return cpu_backend::sum_over_indices(x.size(), kernels::dot_term{x.data(), y.data()});
    }
    /// Standard normal entries from a seeded generator (for adjoint checks and power iteration).
    static tensor<N> random(const shape_type& shape, std::mt19937_64& rng) {
        tensor<N> v(shape);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (auto& value : v) {
            value = normal(rng);
        }
        return v;
    }
};

/// An element of the product space X1 x X2: the range of a vertically stacked operator.
template <class First, class Second>
struct product_vector {
    First first;
    Second second;
};

template <class First, class Second>
struct vector_space<product_vector<First, Second>> {
    using vector = product_vector<First, Second>;
    using first_space = vector_space<First>;
    using second_space = vector_space<Second>;
    using backend = typename first_space::backend;
    static_assert(std::is_same_v<backend, typename second_space::backend>,
                  "product_vector: both parts must live on the same backend");
    using shape_type =
        std::pair<typename first_space::shape_type, typename second_space::shape_type>;

    static vector zeros(const shape_type& s) {
        return {first_space::zeros(s.first), second_space::zeros(s.second)};
    }
    static shape_type shape(const vector& v) {
        return {first_space::shape(v.first), second_space::shape(v.second)};
    }
    static void copy(const vector& x, vector& y) {
        first_space::copy(x.first, y.first);
        second_space::copy(x.second, y.second);
    }
    static void axpy(float a, const vector& x, vector& y) {
        first_space::axpy(a, x.first, y.first);
        second_space::axpy(a, x.second, y.second);
    }
    static void axpby(float a, const vector& x, float b, vector& y) {
        first_space::axpby(a, x.first, b, y.first);
        second_space::axpby(a, x.second, b, y.second);
    }
    static void scal(float a, vector& x) {
        first_space::scal(a, x.first);
        second_space::scal(a, x.second);
    }
    static void fill(float value, vector& x) {
        first_space::fill(value, x.first);
        second_space::fill(value, x.second);
    }
    static double dot(const vector& x, const vector& y) {
        return first_space::dot(x.first, y.first) + second_space::dot(x.second, y.second);
    }
    static vector random(const shape_type& s, std::mt19937_64& rng) {
        auto a = first_space::random(s.first, rng);
        auto b = second_space::random(s.second, rng);
        return {std::move(a), std::move(b)};
    }
};

/// A type with a complete vector_space specialisation.
template <class V>
concept vector_type = requires(const V& cx, V& x, float a, std::mt19937_64& rng) {
    typename vector_space<V>::backend;
    typename vector_space<V>::shape_type;
    { vector_space<V>::zeros(vector_space<V>::shape(cx)) } -> std::same_as<V>;
    { vector_space<V>::dot(cx, cx) } -> std::convertible_to<double>;
    vector_space<V>::axpy(a, cx, x);
    vector_space<V>::axpby(a, cx, a, x);
    vector_space<V>::scal(a, x);
    vector_space<V>::copy(cx, x);
    vector_space<V>::fill(a, x);
};

/// The backend tag of a vector type.
template <class V>
using backend_t = typename vector_space<std::remove_cvref_t<V>>::backend;

/// A vector type stored as one contiguous float array (xtensor containers, device arrays), so
/// that kernel bodies can run over its elements on its backend.
template <class V>
concept dense_vector = vector_type<V> && requires(V& v, const V& cv) {
    { v.data() } -> std::convertible_to<float*>;
    { cv.data() } -> std::convertible_to<const float*>;
    { cv.size() } -> std::convertible_to<std::size_t>;
    { cv.dimension() } -> std::convertible_to<std::size_t>;
};

/// Run body(i) for i in [0, n) on the backend of V (the CPU loop or a device kernel).
template <class V, class Body>
void for_each_index_on(std::size_t n, const Body& body) {
    backend_kernels<backend_t<V>>::for_each_index(n, body);
}

/// Sum of term(i) for i in [0, n), in double, on the backend of V.
template <class V, class Term>
double sum_over_indices_on(std::size_t n, const Term& term) {
    return backend_kernels<backend_t<V>>::sum_over_indices(n, term);
}

/// The dense array type of rank M on the same backend as V (tensor<3> -> tensor<4>): the
/// type of a gradient field of an image, say. Backends specialise it for their arrays.
template <class V, std::size_t M>
struct rebind_rank;
template <std::size_t N, std::size_t M>
struct rebind_rank<tensor<N>, M> {
    using type = tensor<M>;
};
template <class V, std::size_t M>
using rebind_rank_t = typename rebind_rank<V, M>::type;

/// The shape type of a vector type.
template <class V>
using shape_t = typename vector_space<std::remove_cvref_t<V>>::shape_type;

// Free functions: what solver code calls.

/// A zero vector of the given shape.
template <vector_type V>
V zeros(const shape_t<V>& shape) {
    return vector_space<V>::zeros(shape);
}
/// A zero vector shaped like x.
template <vector_type V>
V zeros_like(const V& x) {
    return vector_space<V>::zeros(vector_space<V>::shape(x));
}
/// y = x (y is resized when needed).
template <vector_type V>
void copy(const V& x, V& y) {
    vector_space<V>::copy(x, y);
}
/// y += a x
template <vector_type V>
void axpy(float a, const V& x, V& y) {
    vector_space<V>::axpy(a, x, y);
}
/// y = a x + b y
template <vector_type V>
void axpby(float a, const V& x, float b, V& y) {
    vector_space<V>::axpby(a, x, b, y);
}
/// x *= a
template <vector_type V>
void scal(float a, V& x) {
    vector_space<V>::scal(a, x);
}
/// <x, y>, accumulated in double.
template <vector_type V>
double dot(const V& x, const V& y) {
    return vector_space<V>::dot(x, y);
}
/// Euclidean norm, accumulated in double.
template <vector_type V>
double norm(const V& x) {
    return std::sqrt(vector_space<V>::dot(x, x));
}

} // namespace xrestore
