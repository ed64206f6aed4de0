#pragma once
/// @file gemm.hpp
/// Matrix products of the training layers (convolutions as im2col + GEMM), in float or double,
/// split into fixed tiles that run in parallel (OpenMP), each tile one single-threaded product.
/// In float on a processor with AVX-512, a tile packs op(B) into 16-column panels (and op(A)
/// into rows when it is transposed) in per-thread buffers and runs on the inference kernel
/// (nn/micro_gemm.hpp), which does not depend on the kernel set OpenBLAS picked when it
/// loaded; in double, and in float elsewhere, it is one OpenBLAS call.
///
/// The tiles depend on the shapes only, never on the number of threads, and a product split
/// along its inner dimension sums its partial products in a fixed order: the result is
/// bit-identical for any thread count, which keeps training runs and their resumption
/// reproducible.
///
/// @code
/// using xrestore::train::detail::gemm_operand;
/// // C (m x n) = A^T B + beta C, A stored k x m, B stored k x n, all row-major
/// xrestore::train::detail::parallel_gemm<float>(m, n, k, {a, m, true}, {b, n, false}, 0.0F,
///                                               c, n);
/// @endcode

#include "xrestore/nn/gemm.hpp"
#include "xrestore/nn/layer_support.hpp"
#include "xrestore/nn/micro_gemm.hpp"
#include "xrestore/train/detail/scratch.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace xrestore::train::detail {

/// A row-major matrix operand of a product: its data, leading dimension (elements between
/// rows as stored) and whether the product uses its transpose.
template <class T>
struct gemm_operand {
    const T* data;
    std::size_t ld;
    bool transposed;

    /// Pointer to logical element (row, col) of op(matrix).
    [[nodiscard]] const T* at(std::size_t row, std::size_t col) const {
        return transposed ? data + col * ld + row : data + row * ld + col;
    }
};

/// C = A B + beta C on the calling thread (one BLAS call), op(A) m x k, op(B) k x n.
template <class T>
void blas_gemm(std::size_t m, std::size_t n, std::size_t k, const gemm_operand<T>& a,
               const gemm_operand<T>& b, T beta, T* c, std::size_t ldc) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "train::detail::blas_gemm: float or double");
    const auto ta = a.transposed ? CblasTrans : CblasNoTrans;
    const auto tb = b.transposed ? CblasTrans : CblasNoTrans;
    const auto im = static_cast<int>(m);
    const auto in = static_cast<int>(n);
    const auto ik = static_cast<int>(k);
    if constexpr (std::is_same_v<T, float>) {
        cblas_sgemm(CblasRowMajor, ta, tb, im, in, ik, 1.0F, a.data, static_cast<int>(a.ld), b.data,
                    static_cast<int>(b.ld), beta, c, static_cast<int>(ldc));
    } else {
        cblas_dgemm(CblasRowMajor, ta, tb, im, in, ik, 1.0, a.data, static_cast<int>(a.ld), b.data,
                    static_cast<int>(b.ld), beta, c, static_cast<int>(ldc));
    }
}

/// Per-thread 64-byte aligned buffers for the packed operands of kernel_gemm.
struct packed_operand_buffers {
    nn::packed_floats a;
    nn::packed_floats b;

    static float* reserve(nn::packed_floats& buffer, std::size_t size) {
        if (buffer.size() < size) {
            buffer = nn::packed_floats(size);
        }
        return buffer.data();
    }
};

inline packed_operand_buffers& thread_packed_operands() {
    thread_local packed_operand_buffers buffers;
    return buffers;
}

/// op(B) (k x n) packed into ceil(n / 16) panels of k x 16 floats for nn::gemm_packed.
inline void pack_operand_panels(std::size_t k, std::size_t n, const gemm_operand<float>& b,
                                float* to) {
    if (b.transposed) { // op(B) = S^T with S (n x k) stored
        nn::pack_gemm_panels_transposed(k, n, b.data, b.ld, to);
    } else {
        nn::pack_gemm_panels(k, n, b.data, b.ld, to);
    }
}

/// to (cols x rows, row stride ldt) = from^T, from (rows x cols, row stride ldf).
template <class T>
void transpose_matrix(std::size_t rows, std::size_t cols, const T* from, std::size_t ldf, T* to,
                      std::size_t ldt) {
    if constexpr (std::is_same_v<T, float>) {
        nn::transpose_floats(rows, cols, from, ldf, to, ldt);
    } else {
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < cols; ++c) {
                to[c * ldt + r] = from[r * ldf + c];
            }
        }
    }
}

/// Columns of op(B) packed at a time by packed_kernel_gemm: the packed block (k x 256 floats,
/// 1.2 MB for k = 1152) stays in the core's cache while every row block of A passes over it,
/// and the per-thread buffer stays bounded whatever the product's width.
inline constexpr std::size_t packed_gemm_columns = 256;

/// C = op(A) op(B) + beta C in float on the calling thread through nn::gemm_packed: op(B)
/// packed packed_gemm_columns columns at a time, a transposed A copied into rows, beta 0 writes
/// C, beta 1 adds to it, any other beta scales C first.
inline void packed_kernel_gemm(std::size_t m, std::size_t n, std::size_t k,
                               const gemm_operand<float>& a, const gemm_operand<float>& b,
                               float beta, float* c, std::size_t ldc) {
    packed_operand_buffers& buffers = thread_packed_operands();
    const float* rows = a.data;
    std::size_t lda = a.ld;
    if (a.transposed) {
        float* copy = packed_operand_buffers::reserve(buffers.a, m * k);
        transpose_matrix(k, m, a.data, a.ld, copy, k); // stored k x m
        rows = copy;
        lda = k;
    }
    if (beta != 0.0F && beta != 1.0F) {
        for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                c[i * ldc + j] *= beta;
            }
        }
    }
    const std::size_t width = std::min(n, packed_gemm_columns);
    float* panels = packed_operand_buffers::reserve(buffers.b, (width + 15) / 16 * 16 * k);
    for (std::size_t j0 = 0; j0 < n; j0 += packed_gemm_columns) {
        const std::size_t cols = std::min(packed_gemm_columns, n - j0);
        pack_operand_panels(k, cols, {b.at(0, j0), b.ld, b.transposed}, panels);
        nn::gemm_packed(m, cols, k, rows, lda, panels, c + j0, ldc, beta != 0.0F);
    }
}

/// Whether float products run on the packed kernel (AVX-512 active) rather than OpenBLAS.
inline bool train_products_on_packed_kernel() {
    return nn::avx512_kernels_active();
}

/// C = op(A) op(B) + beta C on the calling thread: packed_kernel_gemm in float where the
/// AVX-512 kernel is active, else one BLAS call.
template <class T>
void kernel_gemm(std::size_t m, std::size_t n, std::size_t k, const gemm_operand<T>& a,
                 const gemm_operand<T>& b, T beta, T* c, std::size_t ldc) {
    if constexpr (std::is_same_v<T, float>) {
        if (train_products_on_packed_kernel()) {
            packed_kernel_gemm(m, n, k, a, b, beta, c, ldc);
            return;
        }
    }
    blas_gemm(m, n, k, a, b, beta, c, ldc);
}

/// Tile sizes of parallel_gemm: output tiles of gemm_tile_rows rows and at least gemm_tile_cols
/// columns (more for wide products, about gemm_min_tiles tiles in all); when that gives fewer
/// than gemm_min_tiles tiles, the inner dimension is cut into chunks of gemm_chunk_depth (if it
/// is at least twice that long).
inline constexpr std::size_t gemm_tile_rows = 128;
inline constexpr std::size_t gemm_tile_cols = 384;
inline constexpr std::size_t gemm_min_tiles = 8;
inline constexpr std::size_t gemm_chunk_depth = 1024;

/// C = op(A) op(B) + beta C with op(A) m x k, op(B) k x n, C m x n (leading dimension ldc), in
/// parallel over fixed tiles (see the file comment). With beta == 0 the old contents of C are
/// never read.
template <class T>
void parallel_gemm(std::size_t m, std::size_t n, std::size_t k, const gemm_operand<T>& a,
                   const gemm_operand<T>& b, T beta, T* c, std::size_t ldc) {
    if (m == 0 || n == 0) {
        return;
    }
    if (k == 0) {
        for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
            }
        }
        return;
    }
    const std::size_t row_tiles = (m + gemm_tile_rows - 1) / gemm_tile_rows;
    // wide products get wider tiles, about gemm_min_tiles in all (each BLAS call packs its
    // operands, so fewer, larger calls pack less)
    const std::size_t per_row = std::max<std::size_t>(1, gemm_min_tiles / row_tiles);
    const std::size_t tile_cols =
        std::max(gemm_tile_cols, ((n + per_row - 1) / per_row + 63) / 64 * 64);
    const std::size_t col_tiles = (n + tile_cols - 1) / tile_cols;
    const std::size_t tiles = row_tiles * col_tiles;
    std::size_t chunks = 1;
    if (tiles < gemm_min_tiles && k >= 2 * gemm_chunk_depth) {
        chunks = (k + gemm_chunk_depth - 1) / gemm_chunk_depth;
    }
    const std::size_t depth = (k + chunks - 1) / chunks;
    // chunk 0 writes C (with beta), chunk q > 0 writes partial[q - 1] (m x n, beta 0)
    // (each written whole by its GEMM with beta 0 before it is read: uninitialised is fine)
    scratch<T> partial(chunks > 1 ? (chunks - 1) * m * n : 0);
    nn::blas_single_thread_scope one_thread;
    const auto jobs = static_cast<std::int64_t>(tiles * chunks);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (jobs > 1)
#endif
    for (std::int64_t job = 0; job < jobs; ++job) {
        const auto u = static_cast<std::size_t>(job);
        const std::size_t q = u / tiles;
        const std::size_t i0 = (u % tiles) / col_tiles * gemm_tile_rows;
        const std::size_t j0 = (u % tiles) % col_tiles * tile_cols;
        const std::size_t l0 = q * depth;
        const std::size_t mm = std::min(gemm_tile_rows, m - i0);
        const std::size_t nn_ = std::min(tile_cols, n - j0);
        const std::size_t kk = std::min(depth, k - l0);
        const gemm_operand<T> at{a.at(i0, l0), a.ld, a.transposed};
        const gemm_operand<T> bt{b.at(l0, j0), b.ld, b.transposed};
        if (q == 0) {
            kernel_gemm(mm, nn_, kk, at, bt, beta, c + i0 * ldc + j0, ldc);
        } else {
            kernel_gemm(mm, nn_, kk, at, bt, T(0), partial.data() + (q - 1) * m * n + i0 * n + j0,
                        n);
        }
    }
    if (chunks > 1) {
        const auto rows = static_cast<std::int64_t>(m);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (m * n * chunks >= (1u << 15))
#endif
        for (std::int64_t i = 0; i < rows; ++i) {
            const auto r = static_cast<std::size_t>(i);
            for (std::size_t q = 1; q < chunks; ++q) {
                const T* p = partial.data() + (q - 1) * m * n + r * n;
                T* row = c + r * ldc;
                for (std::size_t j = 0; j < n; ++j) {
                    row[j] += p[j];
                }
            }
        }
    }
}

/// count products C_i = op(A_i) op(B_i) + beta C_i of the same shapes (op(A_i) m x k, op(B_i)
/// k x n, C_i m x n with leading dimension ldc), A_i = a + i a_stride, B_i = b + i b_stride,
/// C_i = c + i c_stride: the products run in parallel, each one single-threaded BLAS call, so
/// the result is bit-identical for any thread count. With beta == 0 the old contents of the C_i
/// are never read.
template <class T>
void gemm_batch(std::size_t count, std::size_t m, std::size_t n, std::size_t k,
                const gemm_operand<T>& a, std::size_t a_stride, const gemm_operand<T>& b,
                std::size_t b_stride, T beta, T* c, std::size_t ldc, std::size_t c_stride) {
    if (count == 0 || m == 0 || n == 0) {
        return;
    }
    if (k == 0) {
        for (std::size_t i = 0; i < count; ++i) {
            parallel_gemm<T>(m, n, 0, a, b, beta, c + i * c_stride, ldc);
        }
        return;
    }
    nn::blas_single_thread_scope one_thread;
    const auto jobs = static_cast<std::int64_t>(count);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (count > 1 && count * m * n * k >= (1u << 18))
#endif
    for (std::int64_t job = 0; job < jobs; ++job) {
        const auto i = static_cast<std::size_t>(job);
        kernel_gemm(m, n, k, {a.data + i * a_stride, a.ld, a.transposed},
                    {b.data + i * b_stride, b.ld, b.transposed}, beta, c + i * c_stride, ldc);
    }
}

} // namespace xrestore::train::detail
