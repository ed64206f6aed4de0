#pragma once
/// @file cudnn.cuh
/// cuDNN primitives for networks on the device: owned handles and descriptors, and one float32
/// 2-D convolution at one size whose algorithm is chosen once. A convolution is PyTorch's
/// (cross-correlation, zero padding, stride) or its transposed (PyTorch ConvTranspose2d, run as
/// cuDNN's backward-data of the convolution it transposes); both choose their algorithm the same
/// way, from cuDNN's heuristic ranking (cudnnGet*Algorithm_v7): the first entry that cuDNN
/// reports deterministic, that uses FMA math (no TF32 unless options::allow_tf32) and whose
/// workspace fits options::workspace_limit, else the first such entry that is not deterministic.
///
/// @code
/// xrestore::cuda::cudnn::handle h("my network");
/// auto f = xrestore::cuda::cudnn::filter(16, 32, 3, false, "conv1"); // 16 -> 32, 3x3
/// xrestore::cuda::cudnn::convolution conv(h.get(), f.get(), {1, 16, 64, 64, 32, 3, 1, 1}, {},
///                                         "conv1");                  // 1 x 16 x 64 x 64 input
/// @endcode

#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"

#include <cudnn.h>

#include <climits>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore::cuda::cudnn {

/// How convolutions choose their algorithm.
struct options {
    /// Most bytes of device memory cuDNN may use as workspace for one convolution.
    std::size_t workspace_limit = std::size_t{256} << 20;
    /// Let cuDNN use TF32 tensor cores for the float32 convolutions (Ampere and newer): faster,
    /// but results then differ from a float32 CPU computation by about 1e-3 instead of 1e-6.
    bool allow_tf32 = false;
};

/// Throw cuda_error naming the cuDNN call and what it was for when `status` is not success.
inline void check(cudnnStatus_t status, std::string_view call, std::string_view what) {
    if (status != CUDNN_STATUS_SUCCESS) {
        throw cuda_error(xrestore::detail::concat("cudnn: ", call, " failed for ", what, ": ",
                                                  cudnnGetErrorString(status)));
    }
}

/// An owned cuDNN object (handle or descriptor), created on construction, move-only.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class object {
public:
    explicit object(std::string_view what) {
        check(Create(&handle_), "creating a cuDNN object", what);
    }
    object(object&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    object& operator=(object&& other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    object(const object&) = delete;
    object& operator=(const object&) = delete;
    ~object() { release(); }

    [[nodiscard]] Handle get() const { return handle_; }

private:
    void release() noexcept {
        if (handle_ != nullptr) {
            static_cast<void>(Destroy(handle_));
            handle_ = nullptr;
        }
    }
    Handle handle_ = nullptr;
};

using handle = object<cudnnHandle_t, cudnnCreate, cudnnDestroy>;
using tensor_descriptor =
    object<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using filter_descriptor =
    object<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using convolution_descriptor =
    object<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
           cudnnDestroyConvolutionDescriptor>;

/// `value` as a cuDNN dimension (int); value_error when it does not fit.
inline int dimension(std::size_t value, std::string_view what) {
    if (value > static_cast<std::size_t>(INT_MAX)) {
        throw value_error(xrestore::detail::concat("cudnn: ", what, " ", value,
                                                   " exceeds cuDNN's limit of ", INT_MAX));
    }
    return static_cast<int>(value);
}

/// A planar float32 N x C x H x W descriptor.
inline tensor_descriptor nchw_descriptor(std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                                         std::string_view what) {
    tensor_descriptor d(what);
    check(cudnnSetTensor4dDescriptor(d.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                     dimension(n, "batch"), dimension(c, "channels"),
                                     dimension(h, "height"), dimension(w, "width")),
          "cudnnSetTensor4dDescriptor", what);
    return d;
}

/// The filter of a kernel x kernel convolution from `in` to `out` channels on PyTorch weights
/// (KCRS). Conv2d [out, in, k, k]: K = out, C = in. A transposed convolution's weight
/// ConvTranspose2d [in, out, k, k] is the filter of the convolution it transposes: K = in,
/// C = out.
inline filter_descriptor filter(std::size_t in, std::size_t out, std::size_t kernel,
                                bool transposed, std::string_view what) {
    filter_descriptor f(what);
    const int k = dimension(transposed ? in : out, "channels");
    const int c = dimension(transposed ? out : in, "channels");
    const int size = dimension(kernel, "kernel size");
    check(
        cudnnSetFilter4dDescriptor(f.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, size, size),
        "cudnnSetFilter4dDescriptor", what);
    return f;
}

/// The sizes of one convolution: batch x in_channels x height x width in, out_channels out, a
/// kernel x kernel filter with zero padding `pad` and stride `stride`. `transposed`: the
/// transposed convolution (ConvTranspose2d with the same kernel, padding and stride), whose
/// output is the input of the convolution it transposes.
struct convolution_shape {
    std::size_t batch = 0;
    std::size_t in_channels = 0;
    std::size_t height = 0;
    std::size_t width = 0;
    std::size_t out_channels = 0;
    std::size_t kernel = 1;
    std::size_t pad = 0;
    std::size_t stride = 1;
    bool transposed = false;

    /// Output rows: (H + 2 pad - k) / stride + 1, transposed (H - 1) stride - 2 pad + k.
    [[nodiscard]] std::size_t out_height() const { return out_extent(height); }
    [[nodiscard]] std::size_t out_width() const { return out_extent(width); }

private:
    [[nodiscard]] std::size_t out_extent(std::size_t n) const {
        return transposed ? (n - 1) * stride + kernel - 2 * pad
                          : (n + 2 * pad - kernel) / stride + 1;
    }
};

namespace detail {

/// Whether a cuDNN ranking entry may be used: it ran the heuristics successfully, fits the
/// workspace limit, is deterministic when `deterministic_only`, and uses no tensor-core (TF32)
/// math unless allowed.
template <class Perf>
bool acceptable(const Perf& perf, const options& o, bool deterministic_only) {
    if (perf.status != CUDNN_STATUS_SUCCESS || perf.memory > o.workspace_limit) {
        return false;
    }
    if (deterministic_only && perf.determinism != CUDNN_DETERMINISTIC) {
        return false;
    }
    const bool tensor_cores = perf.mathType == CUDNN_TENSOR_OP_MATH ||
                              perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    return o.allow_tf32 || !tensor_cores;
}

/// The algorithm queries of the forward convolution, x its input and y its output.
struct forward_search {
    using perf = cudnnConvolutionFwdAlgoPerf_t;
    using algorithm = cudnnConvolutionFwdAlgo_t;
    static constexpr std::string_view max_count_call =
        "cudnnGetConvolutionForwardAlgorithmMaxCount";
    static constexpr std::string_view ranking_call = "cudnnGetConvolutionForwardAlgorithm_v7";

    static cudnnStatus_t max_count(cudnnHandle_t h, int* count) {
        return cudnnGetConvolutionForwardAlgorithmMaxCount(h, count);
    }
    static cudnnStatus_t ranking(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                 cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                 cudnnTensorDescriptor_t y, int requested, int* returned,
                                 perf* out) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, c, y, requested, returned, out);
    }
    static cudnnStatus_t workspace(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                   cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                   cudnnTensorDescriptor_t y, algorithm a, std::size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, x, w, c, y, a, bytes);
    }
};

/// The algorithm queries of the transposed convolution, cuDNN's backward data: x is its input
/// (cuDNN's dy) and y its output (cuDNN's dx).
struct backward_data_search {
    using perf = cudnnConvolutionBwdDataAlgoPerf_t;
    using algorithm = cudnnConvolutionBwdDataAlgo_t;
    static constexpr std::string_view max_count_call =
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount";
    static constexpr std::string_view ranking_call = "cudnnGetConvolutionBackwardDataAlgorithm_v7";

    static cudnnStatus_t max_count(cudnnHandle_t h, int* count) {
        return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, count);
    }
    static cudnnStatus_t ranking(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                 cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                 cudnnTensorDescriptor_t y, int requested, int* returned,
                                 perf* out) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, x, c, y, requested, returned, out);
    }
    static cudnnStatus_t workspace(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                   cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                   cudnnTensorDescriptor_t y, algorithm a, std::size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, x, c, y, a, bytes);
    }
};

/// The first acceptable entry of cuDNN's ranking (fastest first) whose workspace, asked after
/// the descriptor's math type is set, fits the limit; deterministic entries first. Leaves the
/// chosen math type on `c` and its workspace in `workspace`.
template <class Search>
typename Search::algorithm
choose_algorithm(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                 cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, const options& o,
                 std::size_t& workspace, std::string_view what) {
    int count = 0;
    check(Search::max_count(h, &count), Search::max_count_call, what);
    std::vector<typename Search::perf> ranking(static_cast<std::size_t>(count > 0 ? count : 1));
    int returned = 0;
    check(
        Search::ranking(h, x, w, c, y, static_cast<int>(ranking.size()), &returned, ranking.data()),
        Search::ranking_call, what);
    ranking.resize(static_cast<std::size_t>(returned < 0 ? 0 : returned));
    for (const bool deterministic_only : {true, false}) {
        for (const typename Search::perf& perf : ranking) {
            if (!acceptable(perf, o, deterministic_only)) {
                continue;
            }
            const cudnnMathType_t math = o.allow_tf32 ? perf.mathType : CUDNN_FMA_MATH;
            if (cudnnSetConvolutionMathType(c, math) != CUDNN_STATUS_SUCCESS) {
                continue;
            }
            std::size_t bytes = 0;
            if (Search::workspace(h, x, w, c, y, perf.algo, &bytes) != CUDNN_STATUS_SUCCESS ||
                bytes > o.workspace_limit) {
                continue;
            }
            workspace = bytes;
            return perf.algo;
        }
    }
    throw cuda_error(xrestore::detail::concat(
        "cudnn: no usable algorithm for ", what, " (", ranking.size(), " ranked; workspace limit ",
        o.workspace_limit, " bytes", o.allow_tf32 ? "" : ", FMA math only", ")"));
}

} // namespace detail

/// One convolution at one size with its descriptors and chosen algorithm. `run` queues it on the
/// stream the handle is bound to.
class convolution {
public:
    /// Describe `shape` on `filter` (see cudnn::filter) and choose the algorithm; `what` names
    /// the convolution in error messages.
    convolution(cudnnHandle_t h, cudnnFilterDescriptor_t filter, const convolution_shape& shape,
                const options& o, std::string what)
        : shape_(shape), what_(std::move(what)),
          input_(nchw_descriptor(shape.batch, shape.in_channels, shape.height, shape.width, what_)),
          output_(nchw_descriptor(shape.batch, shape.out_channels, shape.out_height(),
                                  shape.out_width(), what_)),
          convolution_(what_) {
        const int pad = dimension(shape.pad, "padding");
        const int stride = dimension(shape.stride, "stride");
        check(cudnnSetConvolution2dDescriptor(convolution_.get(), pad, pad, stride, stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
              "cudnnSetConvolution2dDescriptor", what_);
        check(cudnnSetConvolutionMathType(convolution_.get(),
                                          o.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
              "cudnnSetConvolutionMathType", what_);
        // The forward convolution must map the input (transposed: the output) onto the other.
        const cudnnTensorDescriptor_t from = shape.transposed ? output_.get() : input_.get();
        const std::size_t to[4] = {shape.batch,
                                   shape.transposed ? shape.in_channels : shape.out_channels,
                                   shape.transposed ? shape.height : shape.out_height(),
                                   shape.transposed ? shape.width : shape.out_width()};
        int dims[4] = {};
        check(cudnnGetConvolution2dForwardOutputDim(convolution_.get(), from, filter, &dims[0],
                                                    &dims[1], &dims[2], &dims[3]),
              "cudnnGetConvolution2dForwardOutputDim", what_);
        for (std::size_t i = 0; i < 4; ++i) {
            if (static_cast<std::size_t>(dims[i]) != to[i]) {
                throw cuda_error(
                    xrestore::detail::concat("cudnn: cuDNN maps ", what_, " to ", dims[0], " x ",
                                             dims[1], " x ", dims[2], " x ", dims[3], ", expected ",
                                             to[0], " x ", to[1], " x ", to[2], " x ", to[3]));
            }
        }
        if (shape.transposed) {
            backward_data_algorithm_ = detail::choose_algorithm<detail::backward_data_search>(
                h, input_.get(), filter, convolution_.get(), output_.get(), o, workspace_, what_);
        } else {
            forward_algorithm_ = detail::choose_algorithm<detail::forward_search>(
                h, input_.get(), filter, convolution_.get(), output_.get(), o, workspace_, what_);
        }
    }

    [[nodiscard]] const convolution_shape& shape() const { return shape_; }
    /// Bytes of workspace `run` needs.
    [[nodiscard]] std::size_t workspace() const { return workspace_; }

    /// out = conv(in) (or its transposed) with the filter's weights (PyTorch layout) on device;
    /// `workspace` holds at least workspace() bytes.
    void run(cudnnHandle_t h, cudnnFilterDescriptor_t filter, const float* weight, const float* in,
             float* out, void* workspace) const {
        const float one = 1.0F;
        const float zero = 0.0F;
        if (shape_.transposed) {
            // y = W^T x: cuDNN's data gradient with dy = x
            check(cudnnConvolutionBackwardData(h, &one, filter, weight, input_.get(), in,
                                               convolution_.get(), backward_data_algorithm_,
                                               workspace, workspace_, &zero, output_.get(), out),
                  "cudnnConvolutionBackwardData", what_);
        } else {
            check(cudnnConvolutionForward(h, &one, input_.get(), in, filter, weight,
                                          convolution_.get(), forward_algorithm_, workspace,
                                          workspace_, &zero, output_.get(), out),
                  "cudnnConvolutionForward", what_);
        }
    }

private:
    convolution_shape shape_;
    std::string what_;
    tensor_descriptor input_;
    tensor_descriptor output_;
    convolution_descriptor convolution_;
    cudnnConvolutionFwdAlgo_t forward_algorithm_{};
    cudnnConvolutionBwdDataAlgo_t backward_data_algorithm_{};
    std::size_t workspace_ = 0;
};

} // namespace xrestore::cuda::cudnn
