#pragma once
/// @file convolution.cuh
/// The blur operator on the device: `cuda::convolution` is the device twin of
/// xrestore::convolution (same kernel, shape, boundary mode and flip), with the same definition
/// and an exact adjoint in every boundary mode.
///
/// @code
/// xrestore::convolution blur(xrestore::gaussian_kernel(1.6, 9), {3, 512, 512},
///                            {.boundary = xrestore::boundary::reflect});
/// xrestore::cuda::convolution device_blur(blur);        // uploads the kernel once
/// xrestore::device_array<3> y = device_blur.apply(x);    // x on the device
/// @endcode
///
/// Kernels: the forward map and the full transpose run `correlation_tiled_kernel`: a block of
/// 16 x 16 threads loads its output tile plus the (kh - 1) x (kw - 1) halo of the padded image
/// into shared memory (through kernels::padded_value, so every boundary mode is handled while
/// loading) together with the weights, then each thread sums its taps with
/// kernels::correlate_taps: the arithmetic of kernels::correlation_pixel_body, which CPU tests
/// check against the CPU operator. Kernels up to 32 x 32 are tiled (17 x 17 needs 5.2 KiB of
/// shared memory); larger ones run the pixel body in a grid-stride kernel. The adjoint of the
/// padding gathers (kernels::fold_padding_body), so nothing needs atomics and results are
/// deterministic; the mean mode's per-channel sums are block reductions left on the device.

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/operators/convolution.hpp"

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace xrestore::cuda {

/// Output tile edge of the tiled correlation (threads per block: tile x tile).
inline constexpr int correlation_tile = 16;
/// Largest kernel extent (rows or columns) that runs the shared-memory tiled kernel.
inline constexpr std::int64_t max_tiled_kernel_extent = 32;

namespace detail {

/// One block computes a Tile x Tile tile of channel blockIdx.z (kernels::correlation_tile).
template <int Tile>
__global__ void correlation_tiled_kernel(kernels::correlation_tile tile) {
    extern __shared__ float shared[];
    const kernels::correlation_pixel_body& body = tile.body;
    const std::int64_t taps = body.kernel_height * body.kernel_width;
    float* weights = shared;
    float* patch = shared + taps;
    const int thread = threadIdx.y * Tile + threadIdx.x;
    for (std::int64_t k = thread; k < taps; k += Tile * Tile) {
        weights[k] = body.weights[k];
    }
    const std::int64_t c = blockIdx.z;
    const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.y) * Tile;
    const std::int64_t j0 = static_cast<std::int64_t>(blockIdx.x) * Tile;
    for (std::int64_t k = thread; k < tile.patch_size(); k += Tile * Tile) {
        tile.load_patch_element(c, i0, j0, k, patch);
    }
    __syncthreads();
    tile.tile_output(c, i0, j0, threadIdx.y, threadIdx.x, weights, patch);
}

/// Run a correlation body over all C x out_height x out_width outputs: tiled when the kernel
/// fits, the pixel body otherwise.
inline void run_correlation(const kernels::correlation_pixel_body& body, std::size_t channels) {
    const auto count = channels * static_cast<std::size_t>(body.out_height * body.out_width);
    if (count == 0) {
        return;
    }
    const bool tiled = body.kernel_height <= max_tiled_kernel_extent &&
                       body.kernel_width <= max_tiled_kernel_extent && channels <= 65535;
    if (!tiled) {
        for_each_index(count, body);
        return;
    }
    constexpr int tile = correlation_tile;
    const dim3 threads(tile, tile);
    const dim3 blocks(static_cast<unsigned>((body.out_width + tile - 1) / tile),
                      static_cast<unsigned>((body.out_height + tile - 1) / tile),
                      static_cast<unsigned>(channels));
    const std::size_t shared =
        static_cast<std::size_t>(body.kernel_height * body.kernel_width +
                                 (tile + body.kernel_height - 1) * (tile + body.kernel_width - 1)) *
        sizeof(float);
    correlation_tiled_kernel<tile>
        <<<blocks, threads, shared, current_stream()>>>(kernels::correlation_tile{body, tile});
    check_launch("cuda::convolution");
}

inline std::vector<float> host_values(const matrix& m) {
    return std::vector<float>(m.data(), m.data() + m.size());
}

/// What a device convolution uploads once (shared by its copies).
struct convolution_buffers {
    device_buffer<float> forward_weights;
    device_buffer<float> backward_weights;
    device_buffer<std::int64_t> row_offsets;
    device_buffer<std::int64_t> row_positions;
    device_buffer<std::int64_t> col_offsets;
    device_buffer<std::int64_t> col_positions;
};

} // namespace detail

/// Depthwise 2-D blur on C x H x W device arrays: the device twin of xrestore::convolution.
/// Copies share the uploaded kernel and maps.
class convolution {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<3>;

    /// The device version of `host` (same kernel, shape and options); uploads the kernel and
    /// the boundary maps once.
    explicit convolution(const xrestore::convolution& host)
        : shape_(host.domain_shape()), options_(host.options()) {
        const matrix& kernel = host.kernel();
        kernel_height_ = static_cast<std::int64_t>(kernel.shape()[0]);
        kernel_width_ = static_cast<std::int64_t>(kernel.shape()[1]);
        top_ = (kernel_height_ - 1) / 2;
        left_ = (kernel_width_ - 1) / 2;
        const matrix forward =
            options_.flip_kernel ? xrestore::detail::rotate_180(kernel) : matrix(kernel);
        auto buffers = std::make_shared<detail::convolution_buffers>();
        buffers->forward_weights = device_buffer<float>(detail::host_values(forward));
        buffers->backward_weights =
            device_buffer<float>(detail::host_values(xrestore::detail::rotate_180(forward)));
        if (options_.boundary != boundary::zero) {
            const auto rows = xrestore::detail::make_padding_gather_map(
                shape_[1], static_cast<std::size_t>(top_), shape_[1] + kernel.shape()[0] - 1,
                options_.boundary);
            const auto cols = xrestore::detail::make_padding_gather_map(
                shape_[2], static_cast<std::size_t>(left_), shape_[2] + kernel.shape()[1] - 1,
                options_.boundary);
            buffers->row_offsets = device_buffer<std::int64_t>(rows.offsets);
            buffers->row_positions = device_buffer<std::int64_t>(rows.positions);
            buffers->col_offsets = device_buffer<std::int64_t>(cols.offsets);
            buffers->col_positions = device_buffer<std::int64_t>(cols.positions);
        }
        buffers_ = std::move(buffers);
    }

    /// y = K x
    device_array<3> apply(const device_array<3>& x) const {
        device_array<3> out(shape_);
        apply_into(x, out);
        return out;
    }

    /// out = K x (out is resized when its shape is wrong; out may be x itself).
    void apply_into(const device_array<3>& x, device_array<3>& out) const {
        check_shape(x, shape_, "cuda::convolution::apply", "x");
        if (&x == &out) {
            const device_array<3> copy = x;
            apply_into(copy, out);
            return;
        }
        out.resize(shape_);
        device_buffer<float> means;
        if (options_.boundary == boundary::mean) {
            means = channel_means(x);
        }
        detail::run_correlation(body(x.data(), buffers_->forward_weights.data(), means.data(),
                                     out.data(), top_, left_, shape_[1], shape_[2],
                                     options_.boundary),
                                shape_[0]);
    }

    /// x = K^T y
    device_array<3> adjoint(const device_array<3>& y) const {
        device_array<3> out(shape_);
        adjoint_into(y, out);
        return out;
    }

    /// out = K^T y (out is resized when its shape is wrong; out may be y itself).
    void adjoint_into(const device_array<3>& y, device_array<3>& out) const {
        check_shape(y, shape_, "cuda::convolution::adjoint", "y");
        if (&y == &out) {
            const device_array<3> copy = y;
            adjoint_into(copy, out);
            return;
        }
        out.resize(shape_);
        const auto height = static_cast<std::int64_t>(shape_[1]);
        const auto width = static_cast<std::int64_t>(shape_[2]);
        if (options_.boundary == boundary::zero) {
            // K^T y: correlation with the rotated kernel, zero padding kh - 1 - top before
            detail::run_correlation(body(y.data(), buffers_->backward_weights.data(), nullptr,
                                         out.data(), kernel_height_ - 1 - top_,
                                         kernel_width_ - 1 - left_, shape_[1], shape_[2],
                                         boundary::zero),
                                    shape_[0]);
            return;
        }
        // g = C^T y on the padded grid (H + kh - 1) x (W + kw - 1), then out = P^T g
        const std::int64_t padded_height = height + kernel_height_ - 1;
        const std::int64_t padded_width = width + kernel_width_ - 1;
        device_array<3> padded({shape_[0], static_cast<std::size_t>(padded_height),
                                static_cast<std::size_t>(padded_width)});
        detail::run_correlation(body(y.data(), buffers_->backward_weights.data(), nullptr,
                                     padded.data(), kernel_height_ - 1, kernel_width_ - 1,
                                     static_cast<std::size_t>(padded_height),
                                     static_cast<std::size_t>(padded_width), boundary::zero),
                                shape_[0]);
        device_buffer<double> outside;
        if (options_.boundary == boundary::mean) {
            outside = device_buffer<double>(shape_[0]);
            segment_sums(shape_[0], static_cast<std::size_t>(padded_height * padded_width),
                         kernels::padding_border_term{padded.data(), padded_height, padded_width,
                                                      top_, left_, height, width},
                         outside.data());
        }
        for_each_index(out.size(), kernels::fold_padding_body{
                                       padded.data(), out.data(), buffers_->row_offsets.data(),
                                       buffers_->row_positions.data(), buffers_->col_offsets.data(),
                                       buffers_->col_positions.data(), outside.data(), height,
                                       width, padded_height, padded_width});
    }

    shape3 domain_shape() const { return shape_; }
    shape3 range_shape() const { return shape_; }
    const convolution_options& options() const { return options_; }

private:
    kernels::correlation_pixel_body body(const float* x, const float* weights, const float* fill,
                                         float* out, std::int64_t pad_top, std::int64_t pad_left,
                                         std::size_t out_height, std::size_t out_width,
                                         boundary mode) const {
        return {x,
                weights,
                fill,
                out,
                static_cast<std::int64_t>(shape_[1]),
                static_cast<std::int64_t>(shape_[2]),
                kernel_height_,
                kernel_width_,
                pad_top,
                pad_left,
                static_cast<std::int64_t>(out_height),
                static_cast<std::int64_t>(out_width),
                mode};
    }

    /// Per-channel means of x, as floats on the device (the mean mode's pad values).
    device_buffer<float> channel_means(const device_array<3>& x) const {
        const std::size_t plane = shape_[1] * shape_[2];
        device_buffer<double> sums(shape_[0]);
        segment_sums(shape_[0], plane, kernels::value_term{x.data()}, sums.data());
        device_buffer<float> means(shape_[0]);
        for_each_index(shape_[0], kernels::mean_from_sum_body{
                                      sums.data(), static_cast<double>(plane), means.data()});
        return means;
    }

    shape3 shape_;
    convolution_options options_;
    std::int64_t kernel_height_ = 0;
    std::int64_t kernel_width_ = 0;
    std::int64_t top_ = 0;
    std::int64_t left_ = 0;
    std::shared_ptr<const detail::convolution_buffers> buffers_;
};

} // namespace xrestore::cuda
