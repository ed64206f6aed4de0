#pragma once
/// @file layer_support.hpp
/// What the network layers share: `packed_floats` (repacked weights and scratch, 64-byte
/// aligned so that the vector kernels' loads never straddle cache lines), the per-channel
/// statistics of a map (`channel_moments`), `zero_border`, the thread count and size checks.
///
/// @code
/// xrestore::nn::packed_floats w(9 * in * out);   // uninitialised, 64-byte aligned
/// w[0] = 1.0F;
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/nn/feature_map.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace xrestore::nn {

/// `n` floats, 64-byte aligned, left uninitialised on allocation (a packer writes every one;
/// zero-filling first would write the whole network twice while loading).
class packed_floats {
public:
    static constexpr std::size_t alignment = 64;

    packed_floats() = default;
    explicit packed_floats(std::size_t n) : values_(allocate(n)), size_(n) {}
    packed_floats(const packed_floats& other) : packed_floats(other.size_) {
        std::copy_n(other.data(), size_, data());
    }
    packed_floats(packed_floats&&) noexcept = default;
    packed_floats& operator=(packed_floats other) noexcept {
        std::swap(values_, other.values_);
        std::swap(size_, other.size_);
        return *this;
    }
    ~packed_floats() = default;

    [[nodiscard]] float* data() { return values_.get(); }
    [[nodiscard]] const float* data() const { return values_.get(); }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    float& operator[](std::size_t i) { return values_[i]; }
    const float& operator[](std::size_t i) const { return values_[i]; }

private:
    struct aligned_delete {
        void operator()(float* p) const { ::operator delete[](p, std::align_val_t(alignment)); }
    };
    using storage = std::unique_ptr<float[], aligned_delete>;

    static storage allocate(std::size_t n) {
        if (n == 0) {
            return storage(nullptr, aligned_delete{});
        }
        auto* p =
            static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(alignment)));
        return storage(p, aligned_delete{});
    }

    storage values_{nullptr, aligned_delete{}};
    std::size_t size_ = 0;
};

/// Per-channel sums of a map's values, the statistics of instance normalisation.
struct channel_moments {
    std::vector<double> sum;
    std::vector<double> sum_sq;
    std::size_t count = 0; ///< values per channel
};

/// Set the border pixels of map `m` (its channels only) to zero.
inline void zero_border(const feature_map& m) {
    const auto h = static_cast<std::ptrdiff_t>(m.height);
    const auto w = static_cast<std::ptrdiff_t>(m.width);
    auto clear = [&](std::ptrdiff_t y, std::ptrdiff_t x) {
        std::fill_n(m.pixel(y, x), m.channels, 0.0F);
    };
    for (std::ptrdiff_t x = -1; x <= w; ++x) {
        clear(-1, x);
        clear(h, x);
    }
    for (std::ptrdiff_t y = 0; y < h; ++y) {
        clear(y, -1);
        clear(y, w);
    }
}

namespace detail {

inline std::size_t max_threads() {
#if defined(_OPENMP)
    return static_cast<std::size_t>(omp_get_max_threads());
#else
    return 1;
#endif
}

/// Work below this many floats runs on one thread.
inline constexpr std::size_t layer_parallel_threshold = std::size_t{1} << 15;

inline void require_same_size(const feature_map& a, const feature_map& b, std::string_view where) {
    if (a.height != b.height || a.width != b.width) {
        throw shape_error(xrestore::detail::concat(where, ": input is ", a.height, " x ", a.width,
                                                   " but output is ", b.height, " x ", b.width));
    }
}

inline void require_channels(const feature_map& m, std::size_t channels, std::string_view where,
                             std::string_view which) {
    if (m.channels != channels) {
        throw shape_error(xrestore::detail::concat(where, ": ", which, " must have ", channels,
                                                   " channels, got ", m.channels));
    }
}

/// Grow a per-thread scratch vector (no allocation once warm).
inline std::vector<float>& thread_scratch(std::size_t size) {
    thread_local std::vector<float> scratch;
    if (scratch.size() < size) {
        scratch.resize(size);
    }
    return scratch;
}

/// A per-thread 64-byte aligned scratch of at least `size` floats (contents unspecified; no
/// allocation once warm).
inline float* aligned_thread_scratch(std::size_t size) {
    thread_local packed_floats scratch;
    if (scratch.size() < size) {
        scratch = packed_floats(size);
    }
    return scratch.data();
}

} // namespace detail

} // namespace xrestore::nn
