#pragma once
/// @file vector_space.hpp
/// Vector-space operations that solvers are written against: zeros, copy, axpy, axpby, scal,
/// dot (accumulated in double), norm. Each vector type names its backend tag through
/// `vector_space<V>::backend`. One implementation serves every dense float array (xtensor
/// containers, device arrays, a user's array type with `dense_array_traits`): it runs the shared
/// kernel bodies on the array's backend (`backend_kernels<Tag>`); `product_vector` (the range of a
/// stacked operator) forwards to its parts.
///
/// @code
/// xrestore::image x = ..., y = ...;
/// xrestore::axpy(0.5f, x, y);            // y += 0.5 x
/// double d = xrestore::dot(x, y);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <random>
#include <string_view>
#include <type_traits>
#include <utility>

namespace xrestore {

/// Operations of a vector type V. Every dense array type (below) gets the generic one; specialise
/// it to make another vector type usable by every solver.
template <class V>
struct vector_space;

template <class V>
double cg_step(float a, const V& d, const V& z, V& x, V& r);
template <class V>
void combine(float a, const V& x, float b, const V& y, V& out);

/// What a contiguous row-major float32 array type tells the library. Specialise it for a new
/// array type (xrestore does for tensor<N> here and for device_array<N> in the CUDA backend); the
/// generic vector space, operators and metrics then run on it through its backend's kernels:
///   using backend = Tag;                           the backend whose kernels reach its memory
///   static constexpr std::size_t rank = N;
///   template <std::size_t M> using rebind = ...;   the array type of rank M on that backend
///   static A allocate(const std::array<std::size_t, N>&)   storage, contents unspecified
///   static std::array<std::size_t, N> shape(const A&)
///   static void resize(A&, const std::array<std::size_t, N>&)  contents unspecified after it
///   static A from_host(tensor<N>)                   the array holding host values (an upload)
///   static tensor<N> to_host(const A&)              its values in host memory (a download)
template <class A>
struct dense_array_traits;

/// A type with a dense_array_traits specialisation.
template <class A>
concept dense_array = requires {
    typename dense_array_traits<A>::backend;
    dense_array_traits<A>::rank;
};

/// Float32 xtensor containers of any rank are the CPU backend's arrays.
template <std::size_t N>
struct dense_array_traits<tensor<N>> {
    using backend = cpu_tag;
    static constexpr std::size_t rank = N;
    template <std::size_t M>
    using rebind = tensor<M>;
    using shape_type = std::array<std::size_t, N>;

    static tensor<N> allocate(const shape_type& shape) { return tensor<N>(shape); }
    static shape_type shape(const tensor<N>& a) { return shape_of<N>(a); }
    static void resize(tensor<N>& a, const shape_type& shape) {
        if (a.shape() != shape) {
            a.resize(shape);
        }
    }
    static tensor<N> from_host(tensor<N> host) { return host; }
    static tensor<N> to_host(const tensor<N>& a) { return a; }
};

/// The vector space of a dense array: every operation is a shared kernel body
/// (core/kernel_bodies.hpp) run by the array's backend, dot a reduction in double; `random`
/// draws on the host (the same numbers on every backend for one seed) and moves them over.
template <dense_array V>
struct vector_space<V> {
    using traits = dense_array_traits<V>;
    using backend = typename traits::backend;
    using shape_type = std::array<std::size_t, traits::rank>;
    using kernels_type = backend_kernels<backend>;

    static V zeros(const shape_type& shape) {
        V v = traits::allocate(shape);
        fill(0.0f, v);
        return v;
    }
    static shape_type shape(const V& v) { return traits::shape(v); }
    static void check_same(const V& x, const V& y, std::string_view where) {
        if (shape(x) != shape(y)) {
            throw shape_error(detail::concat(where, ": second operand must have shape ",
                                             shape_string(shape(x)), ", got ",
                                             shape_string(shape(y))));
        }
    }
    static void copy(const V& x, V& y) {
        if (&x == &y) {
            return;
        }
        traits::resize(y, shape(x));
        kernels_type::for_each_index(x.size(), kernels::copy_body{x.data(), y.data()});
    }
    static void axpy(float a, const V& x, V& y) {
        check_same(x, y, "axpy");
        kernels_type::for_each_index(x.size(), kernels::axpy_body{a, x.data(), y.data()});
    }
    static void axpby(float a, const V& x, float b, V& y) {
        check_same(x, y, "axpby");
        kernels_type::for_each_index(x.size(), kernels::axpby_body{a, x.data(), b, y.data()});
    }
    static void scal(float a, V& x) {
        kernels_type::for_each_index(x.size(), kernels::scal_body{a, x.data()});
    }
    static void fill(float value, V& x) {
        kernels_type::for_each_index(x.size(), kernels::fill_body{value, x.data()});
    }
    static double dot(const V& x, const V& y) {
        check_same(x, y, "dot");
        return kernels_type::sum_over_indices(x.size(), kernels::dot_term{x.data(), y.data()});
    }
    /// out = a x + b y in one pass (out is resized when needed).
    static void combine(float a, const V& x, float b, const V& y, V& out) {
        check_same(x, y, "combine");
        traits::resize(out, shape(x));
        kernels_type::for_each_index(x.size(),
                                     kernels::combine_body{a, x.data(), b, y.data(), out.data()});
    }
    /// x += a d, r -= a z, returning <r, r>, in one pass (kernels::cg_step_term).
    static double cg_step(float a, const V& d, const V& z, V& x, V& r) {
        check_same(d, z, "cg_step");
        check_same(d, x, "cg_step");
        check_same(d, r, "cg_step");
        return kernels_type::sum_over_indices(
            d.size(), kernels::cg_step_term{a, d.data(), z.data(), x.data(), r.data()});
    }
    /// Standard normal entries from a seeded generator (for adjoint checks and power iteration).
    static V random(const shape_type& shape, std::mt19937_64& rng) {
        tensor<traits::rank> host(shape);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (auto& value : host) {
            value = normal(rng);
        }
        return traits::from_host(std::move(host));
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
    static void combine(float a, const vector& x, float b, const vector& y, vector& out) {
        xrestore::combine(a, x.first, b, y.first, out.first);
        xrestore::combine(a, x.second, b, y.second, out.second);
    }
    static double cg_step(float a, const vector& d, const vector& z, vector& x, vector& r) {
        return xrestore::cg_step(a, d.first, z.first, x.first, r.first) +
               xrestore::cg_step(a, d.second, z.second, x.second, r.second);
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
/// type of a gradient field of an image, say. Dense arrays name it in their traits.
template <class V, std::size_t M>
struct rebind_rank;
template <dense_array V, std::size_t M>
struct rebind_rank<V, M> {
    using type = typename dense_array_traits<V>::template rebind<M>;
};
template <class V, std::size_t M>
using rebind_rank_t = typename rebind_rank<V, M>::type;

/// Typed storage on the backend of V (kernel weights, index maps, partial sums of an operator).
template <class V, class T>
using buffer_on = backend_buffer_t<backend_t<V>, T>;

/// out[s] = sum of term(s * length + i) for i < length, in double, on the backend of V; `out`
/// holds `segments` doubles in that backend's memory.
template <class V, class Term>
void segment_sums_on(std::size_t segments, std::size_t length, const Term& term, double* out) {
    backend_kernels<backend_t<V>>::segment_sums(segments, length, term, out);
}

/// The array of type To holding the values of `from` (a dense array of the same rank on any
/// backend): a copy, an upload, a download, or both through host memory.
template <dense_array To, dense_array From>
To convert_array(const From& from) {
    static_assert(dense_array_traits<To>::rank == dense_array_traits<From>::rank,
                  "convert_array: both arrays must have the same rank");
    if constexpr (std::same_as<To, From>) {
        return from;
    } else if constexpr (std::same_as<From, tensor<dense_array_traits<From>::rank>>) {
        return dense_array_traits<To>::from_host(from);
    } else {
        return dense_array_traits<To>::from_host(dense_array_traits<From>::to_host(from));
    }
}

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
/// out = a x + b y: one pass where the vector space has `combine` (dense arrays, product
/// vectors), else a copy, a scaling (unless a is 1) and an axpy. `out` may not be x or y.
template <class V>
void combine(float a, const V& x, float b, const V& y, V& out) {
    if constexpr (requires { vector_space<V>::combine(a, x, b, y, out); }) {
        vector_space<V>::combine(a, x, b, y, out);
    } else {
        vector_space<V>::copy(x, out);
        if (a != 1.0F) {
            vector_space<V>::scal(a, out);
        }
        vector_space<V>::axpy(b, y, out);
    }
}
/// The update of a conjugate-gradient step: x += a d, r -= a z, returning the new <r, r> (in
/// double). One pass over the four vectors where the vector space has `cg_step` (dense arrays,
/// product vectors), else two axpys and a dot, with the same arithmetic either way.
template <class V>
double cg_step(float a, const V& d, const V& z, V& x, V& r) {
    if constexpr (requires { vector_space<V>::cg_step(a, d, z, x, r); }) {
        return vector_space<V>::cg_step(a, d, z, x, r);
    } else {
        vector_space<V>::axpy(a, d, x);
        vector_space<V>::axpy(-a, z, r);
        return vector_space<V>::dot(r, r);
    }
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
