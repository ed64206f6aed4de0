#pragma once
/// @file launch.cuh
/// Running kernel bodies on a CUDA device: `for_each_index` launches a grid-stride kernel over a
/// body (the same XRESTORE_HD functors the CPU backend runs in a loop), `sum_over_indices` is a
/// deterministic two-pass reduction in double precision, `segment_sums` one block per segment;
/// `backend_kernels<cuda_tag>` hands them (with device buffers and tiles) to generic code. The
/// launch geometry depends only on the element count, never on the device, so a sum is
/// bit-identical from run to run and from one GPU model to another.
///
/// @code
/// xrestore::cuda::for_each_index(n, xrestore::kernels::axpy_body{a, x, y}); // y += a x
/// double d = xrestore::cuda::sum_over_indices(n, xrestore::kernels::dot_term{x, y});
/// @endcode

#include "xrestore/backend/cuda/device_buffer.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/backend/cuda/tiled.cuh"
#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace xrestore {

namespace cuda {

/// Threads per block of every element-wise and reduction launch.
inline constexpr unsigned block_size = 256;
/// Upper bound on the blocks of a grid-stride launch (each thread then handles several indices).
inline constexpr std::size_t max_blocks = 4096;
/// Blocks of the first reduction pass (partial sums per block), at most.
inline constexpr std::size_t reduction_blocks = 1024;

namespace detail {

template <class Body>
__global__ void grid_stride_kernel(Body body, std::size_t n) {
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += stride) {
        body(i);
    }
}

/// Blocks for n indices: one index per thread up to max_blocks blocks.
inline unsigned blocks_for(std::size_t n, std::size_t cap) {
    const std::size_t blocks = (n + block_size - 1) / block_size;
    return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, cap));
}

/// Sum of the block's `value`s in a fixed tree order; the result is valid in thread 0.
__device__ inline double block_sum(double value) {
    __shared__ double partial[block_size];
    partial[threadIdx.x] = value;
    __syncthreads();
    for (unsigned half = block_size / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            partial[threadIdx.x] += partial[threadIdx.x + half];
        }
        __syncthreads();
    }
    return partial[0];
}

/// Pass 1: block b writes the sum of term(i) over the indices its threads visit (thread t of
/// block b visits i = b * block_size + t + k * stride, in increasing k).
template <class Term>
__global__ void partial_sum_kernel(Term term, std::size_t n, double* partials) {
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    double value = 0.0;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += stride) {
        value += term(i);
    }
    const double total = block_sum(value);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = total;
    }
}

/// Pass 2: one block adds the partial sums in a fixed order. (A template, so that the header can
/// be included by several translation units.)
template <class Partial>
__global__ void final_sum_kernel(const Partial* partials, std::size_t count, Partial* out) {
    Partial value = 0.0;
    for (std::size_t i = threadIdx.x; i < count; i += blockDim.x) {
        value += partials[i];
    }
    const double total = block_sum(value);
    if (threadIdx.x == 0) {
        *out = total;
    }
}

/// One block per segment s: out[s] = sum of term(s * length + i) for i < length.
template <class Term>
__global__ void segment_sum_kernel(Term term, std::size_t length, double* out) {
    const std::size_t base = static_cast<std::size_t>(blockIdx.x) * length;
    double value = 0.0;
    for (std::size_t i = threadIdx.x; i < length; i += blockDim.x) {
        value += term(base + i);
    }
    const double total = block_sum(value);
    if (threadIdx.x == 0) {
        out[blockIdx.x] = total;
    }
}

} // namespace detail

/// Run body(i) for i in [0, n) on the current stream (asynchronously).
template <class Body>
void for_each_index(std::size_t n, const Body& body) {
    if (n == 0) {
        return;
    }
    detail::
        grid_stride_kernel<<<detail::blocks_for(n, max_blocks), block_size, 0, current_stream()>>>(
            body, n);
    check_launch("cuda::for_each_index");
}

/// Sum of term(i) for i in [0, n), accumulated in double by a two-pass reduction whose order
/// depends only on n. Waits for the current stream (the sum is returned to the host).
template <class Term>
double sum_over_indices(std::size_t n, const Term& term) {
    if (n == 0) {
        return 0.0;
    }
    const cudaStream_t stream = current_stream();
    const unsigned blocks = detail::blocks_for(n, reduction_blocks);
    double* scratch = nullptr;
    check(
        cudaMallocAsync(reinterpret_cast<void**>(&scratch), (blocks + 1) * sizeof(double), stream),
        "cuda::sum_over_indices: allocating the partial sums");
    detail::partial_sum_kernel<<<blocks, block_size, 0, stream>>>(term, n, scratch);
    detail::final_sum_kernel<<<1, block_size, 0, stream>>>(scratch, blocks, scratch + blocks);
    const cudaError_t launched = cudaPeekAtLastError();
    double result = 0.0;
    const cudaError_t copied = launched == cudaSuccess
                                   ? cudaMemcpyAsync(&result, scratch + blocks, sizeof(double),
                                                     cudaMemcpyDeviceToHost, stream)
                                   : launched;
    const cudaError_t freed = cudaFreeAsync(scratch, stream);
    check(copied, "cuda::sum_over_indices");
    check(freed, "cuda::sum_over_indices: freeing the partial sums");
    check(cudaStreamSynchronize(stream), "cuda::sum_over_indices");
    return result;
}

/// out[s] = sum of term(s * length + i) for i < length, s < segments (per-channel sums, say),
/// in double, left on the device (no host synchronisation); one block per segment, in a fixed
/// order. `out` must hold `segments` doubles.
template <class Term>
void segment_sums(std::size_t segments, std::size_t length, const Term& term, double* out) {
    if (segments == 0) {
        return;
    }
    if (segments > 0x7fffffffu) {
        throw value_error(xrestore::detail::concat(
            "cuda::segment_sums: segments must be at most 2^31 - 1, got ", segments));
    }
    detail::
        segment_sum_kernel<<<static_cast<unsigned>(segments), block_size, 0, current_stream()>>>(
            term, length, out);
    check_launch("cuda::segment_sums");
}

} // namespace cuda

/// The CUDA backend as the generic vector space, operators and metrics see it (see
/// core/cpu_backend.hpp): grid-stride launches, deterministic reductions, device buffers, the
/// download, and shared-memory tiles.
template <>
struct backend_kernels<cuda_tag> {
    template <class T>
    using buffer = device_buffer<T>;

    template <class Body>
    static void for_each_index(std::size_t n, const Body& body) {
        cuda::for_each_index(n, body);
    }
    template <class Term>
    static double sum_over_indices(std::size_t n, const Term& term) {
        return cuda::sum_over_indices(n, term);
    }
    template <class Term>
    static void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                             double* out) {
        cuda::segment_sums(segments, length, term, out);
    }
    template <class T>
    static void copy_to_host(const T* from, std::size_t count, T* to, std::string_view what) {
        cuda::copy_to_host(from, count, to, what);
    }
    template <int Tile, class Body>
    static void for_each_tile(std::size_t planes, std::size_t rows, std::size_t cols,
                              const Body& body) {
        cuda::for_each_tile<Tile>(planes, rows, cols, body);
    }
};

} // namespace xrestore
