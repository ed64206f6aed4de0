#pragma once
/// @file feature_map.hpp
/// The U-Net's activation layout: one image's features stored channels-last (H x W x C) with a
/// one-pixel zero border, so a 3x3 convolution with zero padding reads its nine taps as nine
/// shifted row-major matrices and no im2col copy is needed. Several maps can share one buffer
/// (`stride` floats per pixel, this map's channels start at `offset`): a decoder level keeps
/// [upsampled | skip] side by side, so the channel concatenation costs nothing.
///
/// @code
/// xrestore::nn::padded_buffer buf(16, 16, 8);           // 16 x 16 pixels, 8 floats per pixel
/// auto up = buf.map(0, 4), skip = buf.map(4, 4);          // two 4-channel maps in one buffer
/// float v = skip.at(3, 5, 2);                             // pixel (3, 5), channel 2 of skip
/// @endcode

#include "xrestore/core/error.hpp"

#include <cstddef>
#include <vector>

namespace xrestore::nn {

/// A view of `channels` channels of a zero-bordered channels-last buffer.
struct feature_map {
    float* data = nullptr;    ///< buffer start: pixel (-1, -1) of the border
    std::size_t height = 0;   ///< interior rows
    std::size_t width = 0;    ///< interior columns
    std::size_t channels = 0; ///< channels of this map
    std::size_t stride = 0;   ///< floats per pixel in the buffer
    std::size_t offset = 0;   ///< first channel of this map within a pixel

    /// Columns of the padded grid (width + 2).
    [[nodiscard]] std::size_t padded_width() const { return width + 2; }
    /// Pointer to channel 0 of interior pixel (y, x); y and x may be -1 or height / width.
    [[nodiscard]] float* pixel(std::ptrdiff_t y, std::ptrdiff_t x) const {
        const auto row = static_cast<std::size_t>(y + 1);
        const auto col = static_cast<std::size_t>(x + 1);
        return data + (row * padded_width() + col) * stride + offset;
    }
    [[nodiscard]] float& at(std::size_t y, std::size_t x, std::size_t c) const {
        return pixel(static_cast<std::ptrdiff_t>(y), static_cast<std::ptrdiff_t>(x))[c];
    }
    /// Floats spanned by the whole padded grid.
    [[nodiscard]] std::size_t buffer_size() const { return (height + 2) * padded_width() * stride; }
};

/// Floats a zero-bordered map of `height` x `width` pixels and `stride` floats per pixel needs.
inline std::size_t padded_size(std::size_t height, std::size_t width, std::size_t stride) {
    return (height + 2) * (width + 2) * stride;
}

/// A map laid over scratch memory `values` (which must be large enough). The border is not
/// touched here: every layer that writes a map also zeroes that map's border.
inline feature_map scratch_map(std::vector<float>& values, std::size_t height, std::size_t width,
                               std::size_t channels) {
    if (padded_size(height, width, channels) > values.size()) {
        throw value_error(xrestore::detail::concat("scratch_map: ", height, " x ", width, " x ",
                                                   channels, " map does not fit a scratch of ",
                                                   values.size(), " floats"));
    }
    return feature_map{values.data(), height, width, channels, channels, 0};
}

/// An owning zero-initialised buffer of (height + 2) x (width + 2) pixels x `stride` floats.
class padded_buffer {
public:
    padded_buffer() = default;
    padded_buffer(std::size_t height, std::size_t width, std::size_t stride)
        : height_(height), width_(width), stride_(stride),
          values_((height + 2) * (width + 2) * stride, 0.0F) {}

    /// A map of `channels` channels starting at channel `offset`.
    [[nodiscard]] feature_map map(std::size_t offset, std::size_t channels) {
        if (offset + channels > stride_) {
            throw value_error(xrestore::detail::concat("padded_buffer::map: channels ", offset,
                                                       "..", offset + channels,
                                                       " exceed the buffer's ", stride_));
        }
        return feature_map{values_.data(), height_, width_, channels, stride_, offset};
    }
    /// A map of all channels.
    [[nodiscard]] feature_map map() { return map(0, stride_); }
    [[nodiscard]] std::size_t size() const { return values_.size(); }

private:
    std::size_t height_ = 0;
    std::size_t width_ = 0;
    std::size_t stride_ = 0;
    std::vector<float> values_;
};

} // namespace xrestore::nn
