#pragma once
/// @file wavelet_bands.hpp
/// Which coefficients of a multi-level Haar transform (Mallat layout: the final low-pass block
/// at the top left of every channel) a wavelet-L1 term penalises, and the low-pass block itself.
///
/// @code
/// xrestore::haar_wavelet w({3, 64, 64}, 3);
/// xrestore::image c = w.apply(x);
/// xrestore::zero_lowpass_block(c, w);  // the 8 x 8 approximation block of each channel = 0
/// @endcode

#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <cstddef>

namespace xrestore {

/// Which Haar coefficients a wavelet-L1 term penalises.
enum class wavelet_bands {
    all,    ///< every coefficient: lambda ||W x||_1 exactly
    details ///< all but the final low-pass (approximation) block: the mean is not shrunk
};

namespace kernels {

/// x[p] = 0 inside the top-left `rows` x `cols` block of every channel of a C x H x W array
struct zero_block_body {
    float* x;
    std::size_t height;
    std::size_t width;
    std::size_t rows;
    std::size_t cols;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t j = p % width;
        const std::size_t i = (p / width) % height;
        if (i < rows && j < cols) {
            x[p] = 0.0f;
        }
    }
};

} // namespace kernels

namespace detail {

/// The low-pass block {rows, cols} left after `levels` Haar levels on an H x W channel.
inline std::array<std::size_t, 2> haar_lowpass_block(const shape3& shape, std::size_t levels) {
    std::size_t h = shape[1];
    std::size_t w = shape[2];
    for (std::size_t l = 0; l < levels; ++l) {
        h -= h / 2;
        w -= w / 2;
    }
    return {h, w};
}

} // namespace detail

/// Set the final low-pass (approximation) block of Haar coefficients `w` to 0 in place (any
/// backend: `transform` is a basic_haar_wavelet of any array type).
template <dense_vector V, class Transform>
void zero_lowpass_block(V& w, const Transform& transform) {
    const shape3 shape = transform.domain_shape();
    check_shape(w, shape, "zero_lowpass_block", "w");
    const auto block = detail::haar_lowpass_block(shape, transform.levels());
    for_each_index_on<V>(
        w.size(), kernels::zero_block_body{w.data(), shape[1], shape[2], block[0], block[1]});
}

} // namespace xrestore
