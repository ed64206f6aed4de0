#pragma once
/// @file micro_gemm.hpp
/// C = A B for a B packed once ahead of time (a network's weights): B (k x n) is stored as
/// ceil(n / 16) panels of k x 16 floats (columns past n zero), one after the other, each 64-byte
/// aligned, so that the kernel reads it as one contiguous stream and nothing is packed per call.
/// A is read in place (any row stride), C is written or added to, its n columns only: each C
/// block of up to 12 rows x 32 columns lives in 24 vector registers for the whole of k. The
/// training layers' float products pack both operands per call and run on the same kernel
/// (train/detail/gemm.hpp).
///
/// On x86-64 processors with AVX-512 the kernel is an AVX-512 one (compiled for that
/// instruction set whatever the build's flags, chosen when the program runs); elsewhere a
/// portable one computes the same sums in the same order (k ascending), so both give the same
/// values up to the rounding of fused multiply-adds.
///
/// @code
/// // b: 2 panels of 64 x 16 floats; c: 100 rows of 32 floats
/// xrestore::nn::gemm_packed(100, 32, 64, a, lda, b, c, 32);
/// @endcode

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <utility>

// Full unrolling of the kernels' short fixed loops (GCC and Clang; nvcc's front end, which also
// reads these headers in .cu files, rejects the pragma).
#define XRESTORE_NN_PRAGMA(text) _Pragma(#text)
#if defined(__GNUC__) && !defined(__CUDACC__)
#define XRESTORE_NN_UNROLL(n) XRESTORE_NN_PRAGMA(GCC unroll n)
#else
#define XRESTORE_NN_UNROLL(n)
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define XRESTORE_NN_AVX512 1
#include <immintrin.h>
#else
#define XRESTORE_NN_AVX512 0
#endif

namespace xrestore::nn {

/// Which kernels gemm_packed and the layers built on it use.
enum class gemm_kernels {
    best,    ///< AVX-512 where the processor has it, else portable
    portable ///< the portable kernels (to test them, or to compare)
};

/// The process-wide kernel choice (for tests and benchmarks; set it before the layers run).
inline std::atomic<gemm_kernels>& gemm_kernel_choice() {
    static std::atomic<gemm_kernels> choice{gemm_kernels::best};
    return choice;
}

/// True when the processor has AVX-512 (F) and this build has the AVX-512 kernels.
inline bool cpu_has_avx512() {
#if XRESTORE_NN_AVX512
    static const bool has = __builtin_cpu_supports("avx512f") != 0;
    return has;
#else
    return false;
#endif
}

/// True when gemm_packed runs the AVX-512 kernels now.
inline bool avx512_kernels_active() {
    return cpu_has_avx512() &&
           gemm_kernel_choice().load(std::memory_order_relaxed) == gemm_kernels::best;
}

namespace detail {

/// Rows of C per kernel call.
inline constexpr std::size_t gemm_block_rows = 12;

/// C rows [0, m) x `cols` columns (at most 16 p; p = 1 or 2 panels b0, b1), portable.
template <int P>
inline void gemm_rows_portable(std::size_t m, std::size_t cols, std::size_t k, const float* a,
                               std::size_t lda, const float* b0, const float* b1, float* c,
                               std::size_t ldc, bool accumulate) {
    for (std::size_t r = 0; r < m; ++r) {
        float acc[16 * P] = {};
        if (accumulate) {
            std::copy(c + r * ldc, c + r * ldc + cols, acc);
        }
        const float* row = a + r * lda;
        for (std::size_t i = 0; i < k; ++i) {
            const float x = row[i];
            const float* p0 = b0 + 16 * i;
            for (std::size_t j = 0; j < 16; ++j) {
                acc[j] += x * p0[j];
            }
            if constexpr (P == 2) {
                const float* p1 = b1 + 16 * i;
                for (std::size_t j = 0; j < 16; ++j) {
                    acc[16 + j] += x * p1[j];
                }
            }
        }
        std::copy(acc, acc + cols, c + r * ldc);
    }
}

inline void gemm_packed_portable(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                 std::size_t lda, const float* b, float* c, std::size_t ldc,
                                 bool accumulate) {
    const std::size_t panels = (n + 15) / 16;
    for (std::size_t p = 0; p < panels; p += 2) {
        const float* b0 = b + p * k * 16;
        const std::size_t cols = std::min<std::size_t>(32, n - 16 * p);
        if (p + 1 < panels) {
            gemm_rows_portable<2>(m, cols, k, a, lda, b0, b0 + k * 16, c + 16 * p, ldc, accumulate);
        } else {
            gemm_rows_portable<1>(m, cols, k, a, lda, b0, b0, c + 16 * p, ldc, accumulate);
        }
    }
}

#if XRESTORE_NN_AVX512

/// The lanes of the panel starting at column `first` that lie before column `cols` (< 16 if the
/// panel is in part; first < cols).
inline __mmask16 panel_mask(std::size_t cols, std::size_t first) {
    const std::size_t part = std::min<std::size_t>(16, cols - first);
    return static_cast<__mmask16>((1U << part) - 1U);
}

/// C (R rows x `cols` columns, cols <= 16 P) = A (R x k) [b0 | b1] with both panels 64-byte
/// aligned.
template <int R, int P>
[[gnu::target("avx512f")]] inline void
gemm_block_avx512(std::size_t k, const float* a, std::size_t lda, const float* b0, const float* b1,
                  float* c, std::size_t ldc, std::size_t cols, bool accumulate) {
    __m512 acc[R][P];
    XRESTORE_NN_UNROLL(12)
    for (int r = 0; r < R; ++r) {
        XRESTORE_NN_UNROLL(2)
        for (int p = 0; p < P; ++p) {
            acc[r][p] = _mm512_setzero_ps();
        }
    }
    if (accumulate) { // start from C's columns (masked loads for a panel in part)
        for (int p = 0; p < P && 16 * static_cast<std::size_t>(p) < cols; ++p) {
            const std::size_t first = 16 * static_cast<std::size_t>(p);
            const __mmask16 mask = panel_mask(cols, first);
            XRESTORE_NN_UNROLL(12)
            for (int r = 0; r < R; ++r) {
                acc[r][p] =
                    _mm512_maskz_loadu_ps(mask, c + static_cast<std::size_t>(r) * ldc + first);
            }
        }
    }
    for (std::size_t i = 0; i < k; ++i) {
        const __m512 v0 = _mm512_load_ps(b0 + 16 * i);
        const __m512 v1 = P == 2 ? _mm512_load_ps(b1 + 16 * i) : v0;
        XRESTORE_NN_UNROLL(12)
        for (int r = 0; r < R; ++r) {
            const __m512 x = _mm512_set1_ps(a[static_cast<std::size_t>(r) * lda + i]);
            acc[r][0] = _mm512_fmadd_ps(x, v0, acc[r][0]);
            if constexpr (P == 2) {
                acc[r][P - 1] = _mm512_fmadd_ps(x, v1, acc[r][P - 1]);
            }
        }
    }
    if (cols == 16 * P) {
        XRESTORE_NN_UNROLL(12)
        for (int r = 0; r < R; ++r) {
            XRESTORE_NN_UNROLL(2)
            for (int p = 0; p < P; ++p) {
                _mm512_storeu_ps(c + static_cast<std::size_t>(r) * ldc +
                                     16 * static_cast<std::size_t>(p),
                                 acc[r][p]);
            }
        }
        return;
    }
    // a panel in part: masked stores write its first columns only
    for (int p = 0; p < P && 16 * static_cast<std::size_t>(p) < cols; ++p) {
        const std::size_t first = 16 * static_cast<std::size_t>(p);
        const __mmask16 mask = panel_mask(cols, first);
        XRESTORE_NN_UNROLL(12)
        for (int r = 0; r < R; ++r) {
            _mm512_mask_storeu_ps(c + static_cast<std::size_t>(r) * ldc + first, mask, acc[r][p]);
        }
    }
}

using gemm_block_fn = void (*)(std::size_t, const float*, std::size_t, const float*, const float*,
                               float*, std::size_t, std::size_t, bool);

template <int P, std::size_t... R>
constexpr std::array<gemm_block_fn, sizeof...(R)> gemm_block_table(std::index_sequence<R...>) {
    return {&gemm_block_avx512<static_cast<int>(R) + 1, P>...};
}

[[gnu::target("avx512f")]] inline void gemm_packed_avx512(std::size_t m, std::size_t n,
                                                          std::size_t k, const float* a,
                                                          std::size_t lda, const float* b, float* c,
                                                          std::size_t ldc, bool accumulate) {
    const std::size_t panels = (n + 15) / 16;
    static constexpr auto one = gemm_block_table<1>(std::make_index_sequence<gemm_block_rows>());
    static constexpr auto two = gemm_block_table<2>(std::make_index_sequence<gemm_block_rows>());
    // Rows in blocks of nearly equal size (16 rows: 8 + 8, not 12 + 4: a block of few rows
    // keeps too few products in flight to fill the vector units).
    const std::size_t blocks = (m + gemm_block_rows - 1) / gemm_block_rows;
    for (std::size_t p = 0; p < panels; p += 2) {
        const float* b0 = b + p * k * 16;
        const bool pair = p + 1 < panels;
        const auto& table = pair ? two : one;
        const std::size_t cols = std::min<std::size_t>(32, n - 16 * p);
        std::size_t r = 0;
        for (std::size_t block = 0; block < blocks; ++block) {
            const std::size_t rows = m / blocks + (block < m % blocks ? 1 : 0);
            table[rows - 1](k, a + r * lda, lda, b0, pair ? b0 + k * 16 : b0, c + r * ldc + 16 * p,
                            ldc, cols, accumulate);
            r += rows;
        }
    }
}

#endif

} // namespace detail

/// C (m x n, row stride ldc) = A (m x k, row stride lda) B, where B is ceil(n / 16) panels of
/// k x 16 floats stored one after the other from `b` (64-byte aligned). Only C's n columns of
/// each row are written (read too with `accumulate`: C += A B, the sum starting from C's value).
inline void gemm_packed(std::size_t m, std::size_t n, std::size_t k, const float* a,
                        std::size_t lda, const float* b, float* c, std::size_t ldc,
                        bool accumulate = false) {
#if XRESTORE_NN_AVX512
    if (avx512_kernels_active()) {
        detail::gemm_packed_avx512(m, n, k, a, lda, b, c, ldc, accumulate);
        return;
    }
#endif
    detail::gemm_packed_portable(m, n, k, a, lda, b, c, ldc, accumulate);
}

namespace detail {

inline void pack_gemm_panels_portable(std::size_t k, std::size_t n, const float* b, std::size_t ldb,
                                      float* to) {
    const std::size_t panels = (n + 15) / 16;
    for (std::size_t p = 0; p < panels; ++p) {
        for (std::size_t i = 0; i < k; ++i) {
            float* row = to + (p * k + i) * 16;
            for (std::size_t j = 0; j < 16; ++j) {
                const std::size_t col = 16 * p + j;
                row[j] = col < n ? b[i * ldb + col] : 0.0F;
            }
        }
    }
}

/// to[c * ldt + r] = from[r * ldf + c] for r < rows, c < cols (at most 16 each), portable.
inline void transpose_block_portable(std::size_t rows, std::size_t cols, const float* from,
                                     std::size_t ldf, float* to, std::size_t ldt) {
    for (std::size_t c = 0; c < cols; ++c) {
        for (std::size_t r = 0; r < rows; ++r) {
            to[c * ldt + r] = from[r * ldf + c];
        }
    }
}

#if XRESTORE_NN_AVX512

[[gnu::target("avx512f")]] inline void
pack_gemm_panels_avx512(std::size_t k, std::size_t n, const float* b, std::size_t ldb, float* to) {
    const std::size_t panels = (n + 15) / 16;
    for (std::size_t p = 0; p < panels; ++p) {
        const std::size_t part = std::min<std::size_t>(16, n - 16 * p);
        const auto mask = static_cast<__mmask16>((1U << part) - 1U);
        const float* from = b + 16 * p;
        float* panel = to + p * k * 16;
        for (std::size_t i = 0; i < k; ++i) {
            _mm512_store_ps(panel + 16 * i, _mm512_maskz_loadu_ps(mask, from + i * ldb));
        }
    }
}

/// The 16 x 16 block in rows[0..15] transposed in place (rows[c] becomes column c). The
/// shuffles are written in their zero-masking form with every lane selected: the plain forms
/// start from an undefined register that GCC 12 reports as used uninitialised.
[[gnu::target("avx512f")]] inline void transpose_16x16(__m512 (&rows)[16]) {
    constexpr auto all = static_cast<__mmask16>(0xFFFF);
    constexpr auto all8 = static_cast<__mmask8>(0xFF);
    __m512 t[16];
    for (int q = 0; q < 8; ++q) { // 32-bit interleave of row pairs within 128-bit lanes
        t[2 * q] = _mm512_maskz_unpacklo_ps(all, rows[2 * q], rows[2 * q + 1]);
        t[2 * q + 1] = _mm512_maskz_unpackhi_ps(all, rows[2 * q], rows[2 * q + 1]);
    }
    __m512 u[16]; // u[4 q + c], lane L: column 4 L + c of rows 4 q .. 4 q + 3
    for (int q = 0; q < 4; ++q) {
        const __m512d a0 = _mm512_castps_pd(t[4 * q]);
        const __m512d a1 = _mm512_castps_pd(t[4 * q + 1]);
        const __m512d a2 = _mm512_castps_pd(t[4 * q + 2]);
        const __m512d a3 = _mm512_castps_pd(t[4 * q + 3]);
        u[4 * q] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all8, a0, a2));
        u[4 * q + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all8, a0, a2));
        u[4 * q + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all8, a1, a3));
        u[4 * q + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all8, a1, a3));
    }
    for (int c = 0; c < 4; ++c) { // gather lane L of u[c], u[4 + c], u[8 + c], u[12 + c]
        const __m512 v0 = _mm512_maskz_shuffle_f32x4(all, u[c], u[4 + c], 0x88);
        const __m512 v1 = _mm512_maskz_shuffle_f32x4(all, u[c], u[4 + c], 0xdd);
        const __m512 w0 = _mm512_maskz_shuffle_f32x4(all, u[8 + c], u[12 + c], 0x88);
        const __m512 w1 = _mm512_maskz_shuffle_f32x4(all, u[8 + c], u[12 + c], 0xdd);
        rows[c] = _mm512_maskz_shuffle_f32x4(all, v0, w0, 0x88);
        rows[4 + c] = _mm512_maskz_shuffle_f32x4(all, v1, w1, 0x88);
        rows[8 + c] = _mm512_maskz_shuffle_f32x4(all, v0, w0, 0xdd);
        rows[12 + c] = _mm512_maskz_shuffle_f32x4(all, v1, w1, 0xdd);
    }
}

/// to[c * ldt + r] = from[r * ldf + c] for r < rows, c < cols (at most 16 each); with `full`,
/// each of the `cols` rows of `to` is written 16 wide (zeros past `rows`).
[[gnu::target("avx512f")]] inline void transpose_block_avx512(std::size_t rows, std::size_t cols,
                                                              const float* from, std::size_t ldf,
                                                              float* to, std::size_t ldt,
                                                              bool full) {
    const auto col_mask = static_cast<__mmask16>((1U << cols) - 1U);
    __m512 block[16];
    for (std::size_t r = 0; r < 16; ++r) {
        block[r] = r < rows ? _mm512_maskz_loadu_ps(col_mask, from + r * ldf) : _mm512_setzero_ps();
    }
    transpose_16x16(block);
    const auto row_mask =
        full ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1U << rows) - 1U);
    for (std::size_t c = 0; c < cols; ++c) {
        _mm512_mask_storeu_ps(to + c * ldt, row_mask, block[c]);
    }
}

#endif

} // namespace detail

/// B (k x n, row-major, row stride ldb) packed for gemm_packed into `to`, which holds
/// ceil(n / 16) k 16 floats (64-byte aligned; columns past n written as zeros).
inline void pack_gemm_panels(std::size_t k, std::size_t n, const float* b, std::size_t ldb,
                             float* to) {
#if XRESTORE_NN_AVX512
    if (avx512_kernels_active()) {
        detail::pack_gemm_panels_avx512(k, n, b, ldb, to);
        return;
    }
#endif
    detail::pack_gemm_panels_portable(k, n, b, ldb, to);
}

/// B = S^T (k x n) packed for gemm_packed into `to` (as pack_gemm_panels), where S (n x k) is
/// stored row-major with row stride lds: the transposition is done 16 x 16 blocks at a time.
inline void pack_gemm_panels_transposed(std::size_t k, std::size_t n, const float* s,
                                        std::size_t lds, float* to) {
    const std::size_t panels = (n + 15) / 16;
    for (std::size_t p = 0; p < panels; ++p) {
        const std::size_t part = std::min<std::size_t>(16, n - 16 * p);
        float* panel = to + p * k * 16;
        for (std::size_t i0 = 0; i0 < k; i0 += 16) {
            const std::size_t depth = std::min<std::size_t>(16, k - i0);
            const float* from = s + 16 * p * lds + i0;
#if XRESTORE_NN_AVX512
            if (avx512_kernels_active()) {
                detail::transpose_block_avx512(part, depth, from, lds, panel + 16 * i0, 16, true);
                continue;
            }
#endif
            for (std::size_t i = 0; i < depth; ++i) {
                for (std::size_t j = 0; j < 16; ++j) {
                    panel[16 * (i0 + i) + j] = j < part ? from[j * lds + i] : 0.0F;
                }
            }
        }
    }
}

/// to (cols x rows, row stride ldt) = from^T, from (rows x cols, row stride ldf) row-major.
inline void transpose_floats(std::size_t rows, std::size_t cols, const float* from, std::size_t ldf,
                             float* to, std::size_t ldt) {
    for (std::size_t r0 = 0; r0 < rows; r0 += 16) {
        const std::size_t r = std::min<std::size_t>(16, rows - r0);
        for (std::size_t c0 = 0; c0 < cols; c0 += 16) {
            const std::size_t c = std::min<std::size_t>(16, cols - c0);
            const float* block = from + r0 * ldf + c0;
            float* target = to + c0 * ldt + r0;
#if XRESTORE_NN_AVX512
            if (avx512_kernels_active()) {
                detail::transpose_block_avx512(r, c, block, ldf, target, ldt, false);
                continue;
            }
#endif
            detail::transpose_block_portable(r, c, block, ldf, target, ldt);
        }
    }
}

} // namespace xrestore::nn
