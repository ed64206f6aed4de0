#pragma once
/// @file fft.hpp
/// A small header-only FFT: complex float or double, any length (iterative radix-2 for powers of
/// two, Bluestein's chirp-z through a power-of-two transform otherwise), and 2-D transforms of
/// row-major arrays by rows then columns. numpy's conventions: the forward transform is
/// X_k = sum_j x_j e^{-2 pi i j k / n}, the inverse divides by n (so inverse(forward(x)) = x).
///
/// @code
/// std::vector<std::complex<double>> a(100, 1.0);
/// xrestore::fft(a);                                   // a[0] = 100, the rest 0
/// xrestore::fft2(a, 10, 10, xrestore::fft_direction::inverse);
/// @endcode
///
/// A plan (`fft_plan`, `fft2_plan`) precomputes twiddles, the bit-reversal permutation and the
/// Bluestein chirp for one size and may be reused from several threads (its methods are const and
/// allocate their own scratch). Twiddles are computed in double (long double for the chirp phase
/// j^2 mod 2n), so float transforms carry only the float rounding of the butterflies.
/// `fft_plan::transform_many` transforms many vectors of planar data (separate real and imaginary
/// arrays, any strides) at once, the butterflies running across batches of vectors: the fast way
/// to do the rows and columns of 2-D arrays.

#include "xrestore/core/error.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <utility>
#include <vector>

// Hot loops get a second copy compiled for AVX2, chosen at run time, when the compiler supports
// function-level targets and the build does not already assume AVX2 (x86-64 only).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__) &&    \
    !defined(__AVX2__) && !defined(XRESTORE_NO_DISPATCH)
#define XRESTORE_DETAIL_FFT_X86_DISPATCH 1
#else
#define XRESTORE_DETAIL_FFT_X86_DISPATCH 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define XRESTORE_DETAIL_FFT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define XRESTORE_DETAIL_FFT_ALWAYS_INLINE
#endif

namespace xrestore {

/// Which transform: forward (e^{-2 pi i jk/n}, no scaling) or inverse (e^{+2 pi i jk/n}, / n).
enum class fft_direction { forward, inverse };

namespace detail {

/// The largest length fft_plan accepts (Bluestein needs a power of two >= 2n - 1).
inline constexpr std::size_t max_fft_length = std::size_t{1} << 40;

inline bool is_power_of_two(std::size_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}

/// The smallest power of two >= n (n >= 1).
inline std::size_t next_power_of_two(std::size_t n) {
    std::size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

/// In-place iterative radix-2 FFT (decimation in time) of length n = 2^m with the given
/// twiddles tw[k] = e^{-2 pi i k / n}, k < n / 2, and bit-reversal permutation; `conjugate`
/// runs the transform with conj(tw) (the unscaled inverse).
template <std::floating_point T>
void radix2_transform(std::complex<T>* a, std::size_t n, const std::vector<std::complex<T>>& tw,
                      const std::vector<std::size_t>& reversed, bool conjugate) {
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t j = reversed[i];
        if (i < j) {
            std::swap(a[i], a[j]);
        }
    }
    for (std::size_t length = 2; length <= n; length <<= 1) {
        const std::size_t half = length / 2;
        const std::size_t stride = n / length;
        for (std::size_t start = 0; start < n; start += length) {
            for (std::size_t k = 0; k < half; ++k) {
                std::complex<T> w = tw[k * stride];
                if (conjugate) {
                    w = std::conj(w);
                }
                // (a, b) <- (a + w b, a - w b)
                const std::complex<T> u = a[start + k];
                const std::complex<T> v = a[start + k + half] * w;
                a[start + k] = u + v;
                a[start + k + half] = u - v;
            }
        }
    }
}

/// f(r, c, r * element_stride + c * vector_stride) for r < n, c < width, in the order that walks
/// memory contiguously: c innermost when the vectors are adjacent, r innermost otherwise.
template <class F>
void for_each_element(std::size_t n, std::size_t width, std::size_t element_stride,
                      std::size_t vector_stride, const F& f) {
    if (vector_stride <= element_stride) {
        for (std::size_t r = 0; r < n; ++r) {
            for (std::size_t c = 0; c < width; ++c) {
                f(r, c, r * element_stride + c * vector_stride);
            }
        }
    } else {
        for (std::size_t c = 0; c < width; ++c) {
            for (std::size_t r = 0; r < n; ++r) {
                f(r, c, r * element_stride + c * vector_stride);
            }
        }
    }
}

/// One radix-2 butterfly on `width` columns: (a, b) <- (a + w b, a - w b), w = wr + i wi.
template <std::floating_point T>
XRESTORE_DETAIL_FFT_ALWAYS_INLINE inline void butterfly_rows(T* __restrict ar, T* __restrict ai,
                                                             T* __restrict br, T* __restrict bi,
                                                             T wr, T wi, std::size_t width) {
    for (std::size_t c = 0; c < width; ++c) {
        const T vr = br[c] * wr - bi[c] * wi;
        const T vi = br[c] * wi + bi[c] * wr;
        br[c] = ar[c] - vr;
        bi[c] = ai[c] - vi;
        ar[c] += vr;
        ai[c] += vi;
    }
}

/// The butterflies of radix2_columns (after the bit reversal). Two consecutive stages (lengths
/// 2q and 4q) run together on each quadruple of rows r, r + q, r + 2q, r + 3q while they are in
/// registers; each butterfly is the one the stage-by-stage order computes, so the values are
/// the same.
template <std::floating_point T>
XRESTORE_DETAIL_FFT_ALWAYS_INLINE inline void
radix2_columns_stages(T* re, T* im, std::size_t n, std::size_t stride, std::size_t width,
                      const std::complex<T>* tw, bool conjugate) {
    const T sign = conjugate ? T(-1) : T(1);
    std::size_t length = 2;
    if ((std::countr_zero(n) & 1) == 1) { // an odd number of stages: the first one alone
        for (std::size_t start = 0; start < n; start += 2) {
            butterfly_rows(re + start * stride, im + start * stride, re + (start + 1) * stride,
                           im + (start + 1) * stride, tw[0].real(), sign * tw[0].imag(), width);
        }
        length = 4;
    }
    for (; length * 2 <= n; length *= 4) {
        const std::size_t q = length / 2; // stage length 2q, then 4q
        const std::size_t step1 = n / length;
        const std::size_t step2 = step1 / 2;
        for (std::size_t start = 0; start < n; start += 4 * q) {
            for (std::size_t k = 0; k < q; ++k) {
                T* r0 = re + (start + k) * stride;
                T* i0 = im + (start + k) * stride;
                T* r1 = r0 + q * stride;
                T* i1 = i0 + q * stride;
                T* r2 = r1 + q * stride;
                T* i2 = i1 + q * stride;
                T* r3 = r2 + q * stride;
                T* i3 = i2 + q * stride;
                const std::complex<T> w1 = tw[k * step1];
                const std::complex<T> w2 = tw[k * step2];
                const std::complex<T> w3 = tw[(k + q) * step2];
                butterfly_rows(r0, i0, r1, i1, w1.real(), sign * w1.imag(), width);
                butterfly_rows(r2, i2, r3, i3, w1.real(), sign * w1.imag(), width);
                butterfly_rows(r0, i0, r2, i2, w2.real(), sign * w2.imag(), width);
                butterfly_rows(r1, i1, r3, i3, w3.real(), sign * w3.imag(), width);
            }
        }
    }
}

#if XRESTORE_DETAIL_FFT_X86_DISPATCH
/// The same butterflies compiled for AVX2 (without FMA, so they round as the default ones),
/// chosen at run time on CPUs that have it.
template <std::floating_point T>
__attribute__((target("avx2"))) void
radix2_columns_stages_avx2(T* re, T* im, std::size_t n, std::size_t stride, std::size_t width,
                           const std::complex<T>* tw, bool conjugate) {
    radix2_columns_stages(re, im, n, stride, width, tw, conjugate);
}

inline bool cpu_has_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}
#endif

/// The radix-2 transform of radix2_transform applied to `width` columns at once: column c of
/// the block whose row r starts at re + r * stride (real parts) and im + r * stride (imaginary
/// parts), n rows. Every butterfly runs along a row, so the inner loops are contiguous.
template <std::floating_point T>
void radix2_columns(T* re, T* im, std::size_t n, std::size_t stride, std::size_t width,
                    const std::vector<std::complex<T>>& tw,
                    const std::vector<std::size_t>& reversed, bool conjugate) {
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t j = reversed[i];
        if (i < j) {
            std::swap_ranges(re + i * stride, re + i * stride + width, re + j * stride);
            std::swap_ranges(im + i * stride, im + i * stride + width, im + j * stride);
        }
    }
#if XRESTORE_DETAIL_FFT_X86_DISPATCH
    if (cpu_has_avx2()) {
        radix2_columns_stages_avx2(re, im, n, stride, width, tw.data(), conjugate);
        return;
    }
#endif
    radix2_columns_stages(re, im, n, stride, width, tw.data(), conjugate);
}

} // namespace detail

/// Vectors of complex numbers in planar form for fft_plan::transform_many: element r of vector
/// v has its real part at re[r * element_stride + v * vector_stride] and its imaginary part at
/// im[r * element_stride + v * vector_stride].
template <class T>
struct planar_vectors {
    T* re = nullptr;
    T* im = nullptr;
    std::size_t element_stride = 1;
    std::size_t vector_stride = 1;
};

/// A reusable 1-D transform of one length n >= 1.
template <std::floating_point T>
class fft_plan {
public:
    using value_type = std::complex<T>;

    /// Throws value_error for n = 0 or n > 2^40.
    explicit fft_plan(std::size_t n) : n_(n) {
        require(n >= 1 && n <= detail::max_fft_length, "fft_plan", "n", "in [1, 2^40]", n);
        if (detail::is_power_of_two(n)) {
            init_radix2(n, twiddles_, reversed_);
            return;
        }
        // Bluestein: X_k = w_k sum_j (x_j w_j) conj(w_{k-j}), w_j = e^{-pi i j^2 / n}
        bluestein_length_ = detail::next_power_of_two(2 * n - 1);
        init_radix2(bluestein_length_, twiddles_, reversed_);
        chirp_.resize(n);
        const std::uint64_t period = 2 * static_cast<std::uint64_t>(n);
        std::uint64_t r = 0; // j^2 mod 2n, updated as (j+1)^2 = j^2 + 2j + 1: exact for any n
        for (std::size_t j = 0; j < n; ++j) {
            const long double angle = -std::numbers::pi_v<long double> *
                                      static_cast<long double>(r) / static_cast<long double>(n);
            chirp_[j] =
                value_type(static_cast<T>(std::cos(angle)), static_cast<T>(std::sin(angle)));
            r = (r + 2 * static_cast<std::uint64_t>(j) + 1) % period;
        }
        // B = FFT_m(b), b_j = conj(w_j) for j < n, b_{m-j} = conj(w_j) for 0 < j < n, else 0
        chirp_spectrum_.assign(bluestein_length_, value_type(0));
        for (std::size_t j = 0; j < n; ++j) {
            chirp_spectrum_[j] = std::conj(chirp_[j]);
            if (j > 0) {
                chirp_spectrum_[bluestein_length_ - j] = std::conj(chirp_[j]);
            }
        }
        detail::radix2_transform(chirp_spectrum_.data(), bluestein_length_, twiddles_, reversed_,
                                 false);
    }

    std::size_t size() const { return n_; }

    /// data[0..n) <- its forward transform.
    void forward(value_type* data) const { run(data, false); }
    /// data[0..n) <- its inverse transform (divided by n).
    void inverse(value_type* data) const {
        run(data, true);
        const T scale = T(1) / static_cast<T>(n_);
        for (std::size_t i = 0; i < n_; ++i) {
            data[i] *= scale;
        }
    }
    /// The transform in `direction` of `data`, whose size must be n (shape_error otherwise).
    void transform(std::span<value_type> data, fft_direction direction) const {
        if (data.size() != n_) {
            throw shape_error(detail::concat("fft_plan::transform: data must have ", n_,
                                             " elements (the plan's length), got ", data.size()));
        }
        if (direction == fft_direction::forward) {
            forward(data.data());
        } else {
            inverse(data.data());
        }
    }

    /// The transform in `direction` of `count` vectors of length n (the plan's) stored in planar
    /// form: element r of vector v is read at in.re[r * in.element_stride + v * in.vector_stride]
    /// (and in.im likewise) and its transform written at the same place of `out`. `out` may be
    /// `in` itself (same arrays and strides: in place); otherwise they must not overlap. Vectors
    /// are gathered a cache line at a time into contiguous scratch and transformed together, the
    /// butterflies running across them; the values are those of transform() on each vector.
    void transform_many(planar_vectors<const T> in, planar_vectors<T> out, std::size_t count,
                        fft_direction direction) const {
        constexpr std::size_t batch = 64 / sizeof(T);
        const bool conjugate = direction == fft_direction::inverse;
        const std::size_t rows = bluestein_length_ == 0 ? n_ : bluestein_length_;
        std::vector<T> sr(rows * batch);
        std::vector<T> si(rows * batch);
        const T scale = T(1) / static_cast<T>(n_);
        for (std::size_t v0 = 0; v0 < count; v0 += batch) {
            const std::size_t width = std::min(batch, count - v0);
            const T* xr = in.re + v0 * in.vector_stride;
            const T* xi = in.im + v0 * in.vector_stride;
            T* yr = out.re + v0 * out.vector_stride;
            T* yi = out.im + v0 * out.vector_stride;
            if (bluestein_length_ == 0) {
                detail::for_each_element(n_, width, in.element_stride, in.vector_stride,
                                         [&](std::size_t r, std::size_t c, std::size_t at) {
                                             sr[r * batch + c] = xr[at];
                                             si[r * batch + c] = xi[at];
                                         });
                detail::radix2_columns(sr.data(), si.data(), n_, batch, width, twiddles_, reversed_,
                                       conjugate);
                const T factor = conjugate ? scale : T(1);
                detail::for_each_element(n_, width, out.element_stride, out.vector_stride,
                                         [&](std::size_t r, std::size_t c, std::size_t at) {
                                             yr[at] = sr[r * batch + c] * factor;
                                             yi[at] = si[r * batch + c] * factor;
                                         });
                continue;
            }
            // Bluestein, as run(): a_j = x_j w_j (x conjugated for the inverse), A .* B, back,
            // X_k = w_k (a * b)_k / m (conjugated for the inverse, then / n)
            const std::size_t m = bluestein_length_;
            std::fill(sr.begin(), sr.end(), T(0));
            std::fill(si.begin(), si.end(), T(0));
            detail::for_each_element(n_, width, in.element_stride, in.vector_stride,
                                     [&](std::size_t j, std::size_t c, std::size_t at) {
                                         const value_type x(xr[at], conjugate ? -xi[at] : xi[at]);
                                         const value_type w = chirp_[j];
                                         sr[j * batch + c] =
                                             x.real() * w.real() - x.imag() * w.imag();
                                         si[j * batch + c] =
                                             x.real() * w.imag() + x.imag() * w.real();
                                     });
            detail::radix2_columns(sr.data(), si.data(), m, batch, width, twiddles_, reversed_,
                                   false);
            for (std::size_t k = 0; k < m; ++k) {
                const value_type b = chirp_spectrum_[k];
                for (std::size_t c = 0; c < width; ++c) {
                    const T a = sr[k * batch + c];
                    const T d = si[k * batch + c];
                    sr[k * batch + c] = a * b.real() - d * b.imag();
                    si[k * batch + c] = a * b.imag() + d * b.real();
                }
            }
            detail::radix2_columns(sr.data(), si.data(), m, batch, width, twiddles_, reversed_,
                                   true);
            const T inv_m = T(1) / static_cast<T>(m);
            detail::for_each_element(n_, width, out.element_stride, out.vector_stride,
                                     [&](std::size_t k, std::size_t c, std::size_t at) {
                                         const T a = sr[k * batch + c] * inv_m;
                                         const T d = si[k * batch + c] * inv_m;
                                         const value_type w = chirp_[k];
                                         const T vr = a * w.real() - d * w.imag();
                                         const T vi = a * w.imag() + d * w.real();
                                         yr[at] = conjugate ? vr * scale : vr;
                                         yi[at] = conjugate ? -vi * scale : vi;
                                     });
        }
    }

private:
    static void init_radix2(std::size_t m, std::vector<value_type>& tw,
                            std::vector<std::size_t>& reversed) {
        tw.resize(m / 2);
        for (std::size_t k = 0; k < m / 2; ++k) {
            // tw_k = e^{-2 pi i k / m}, in double
            const double angle =
                -2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(m);
            tw[k] = value_type(static_cast<T>(std::cos(angle)), static_cast<T>(std::sin(angle)));
        }
        reversed.resize(m);
        std::size_t bits = 0;
        while ((std::size_t{1} << bits) < m) {
            ++bits;
        }
        for (std::size_t i = 0; i < m; ++i) {
            std::size_t r = 0;
            for (std::size_t b = 0; b < bits; ++b) {
                r |= ((i >> b) & 1u) << (bits - 1 - b);
            }
            reversed[i] = r;
        }
    }

    /// Unscaled transform; `conjugate` gives the inverse direction.
    void run(value_type* data, bool conjugate) const {
        if (bluestein_length_ == 0) {
            detail::radix2_transform(data, n_, twiddles_, reversed_, conjugate);
            return;
        }
        // the inverse is conj(F(conj(x)))
        const std::size_t m = bluestein_length_;
        std::vector<value_type> a(m, value_type(0));
        for (std::size_t j = 0; j < n_; ++j) {
            const value_type x = conjugate ? std::conj(data[j]) : data[j];
            a[j] = x * chirp_[j]; // a_j = x_j w_j
        }
        detail::radix2_transform(a.data(), m, twiddles_, reversed_, false);
        for (std::size_t k = 0; k < m; ++k) {
            a[k] *= chirp_spectrum_[k]; // A .* B
        }
        detail::radix2_transform(a.data(), m, twiddles_, reversed_, true);
        const T scale = T(1) / static_cast<T>(m);
        for (std::size_t k = 0; k < n_; ++k) {
            // X_k = w_k (a * b)_k, the circular convolution read back with 1/m
            const value_type v = a[k] * scale * chirp_[k];
            data[k] = conjugate ? std::conj(v) : v;
        }
    }

    std::size_t n_;
    std::size_t bluestein_length_ = 0; ///< 0 for a power-of-two n
    std::vector<value_type> twiddles_; ///< of the radix-2 length (n or bluestein_length_)
    std::vector<std::size_t> reversed_;
    std::vector<value_type> chirp_;          ///< w_j, j < n
    std::vector<value_type> chirp_spectrum_; ///< FFT of the wrapped conj(w)
};

/// A reusable 2-D transform of a rows x cols row-major array: every row, then every column.
template <std::floating_point T>
class fft2_plan {
public:
    using value_type = std::complex<T>;

    /// Throws value_error when rows or cols is 0.
    fft2_plan(std::size_t rows, std::size_t cols)
        : rows_(checked(rows, "rows")), cols_(checked(cols, "cols")), row_plan_(cols),
          column_plan_(rows) {}

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }

    /// data (rows x cols, row-major) <- its 2-D transform in `direction`; shape_error unless
    /// data.size() == rows * cols.
    void transform(std::span<value_type> data, fft_direction direction) const {
        if (data.size() != rows_ * cols_) {
            throw shape_error(detail::concat("fft2_plan::transform: data must have ", rows_, " x ",
                                             cols_, " = ", rows_ * cols_, " elements, got ",
                                             data.size()));
        }
        const bool inverse = direction == fft_direction::inverse;
        for (std::size_t r = 0; r < rows_; ++r) {
            value_type* row = data.data() + r * cols_;
            inverse ? row_plan_.inverse(row) : row_plan_.forward(row);
        }
        std::vector<value_type> column(rows_);
        for (std::size_t c = 0; c < cols_; ++c) {
            for (std::size_t r = 0; r < rows_; ++r) {
                column[r] = data[r * cols_ + c];
            }
            inverse ? column_plan_.inverse(column.data()) : column_plan_.forward(column.data());
            for (std::size_t r = 0; r < rows_; ++r) {
                data[r * cols_ + c] = column[r];
            }
        }
    }
    void forward(std::span<value_type> data) const { transform(data, fft_direction::forward); }
    void inverse(std::span<value_type> data) const { transform(data, fft_direction::inverse); }

private:
    static std::size_t checked(std::size_t extent, const char* name) {
        require(extent >= 1, "fft2_plan", name, "positive", extent);
        return extent;
    }

    std::size_t rows_;
    std::size_t cols_;
    fft_plan<T> row_plan_;
    fft_plan<T> column_plan_;
};

/// data <- its 1-D transform (any length >= 1; value_error for an empty vector).
template <std::floating_point T>
void fft(std::vector<std::complex<T>>& data, fft_direction direction = fft_direction::forward) {
    require(!data.empty(), "fft", "data", "non-empty", "0 elements");
    fft_plan<T>(data.size()).transform(data, direction);
}

/// data (rows x cols, row-major) <- its 2-D transform. value_error for a zero extent,
/// shape_error unless data.size() == rows * cols.
template <std::floating_point T>
void fft2(std::vector<std::complex<T>>& data, std::size_t rows, std::size_t cols,
          fft_direction direction = fft_direction::forward) {
    fft2_plan<T>(rows, cols).transform(data, direction);
}

} // namespace xrestore
