#pragma once
/// @file unet.cuh
/// The fastMRI U-Net on a CUDA device: `cuda::unet` is the device twin of nn::unet (same
/// state_dict, same architecture inference and checks, the same forward pass step for step) on
/// planar N x C x H x W float32 device arrays, and `cuda::unet_denoiser` applies it with the
/// call conventions of denoisers/unet_denoiser.hpp, so device PnP-ADMM calls d(z) without host
/// round trips.
///
/// @code
/// auto net = xrestore::cuda::load_unet("models/denoiser_unet_c32.pth");  // weights uploaded once
/// xrestore::device_array<3> u = net.forward(xrestore::to_device(x));     // x: in_chans x H x W
/// auto d = xrestore::cuda::load_unet_denoiser("models/denoiser_unet_c32.pth");
/// xrestore::device_array<3> clean = d(noisy_on_device);                  // residual call
/// @endcode
///
/// How it runs: nn::planar_unet_forward (nn/layer_bodies.hpp) is the pass, with an executor that
/// sends convolutions to cuDNN's legacy API and the bodies to cuda::for_each_index /
/// cuda::segment_sums. 3x3 (zero padding 1) and 1x1 layers are cudnnConvolutionForward in
/// cross-correlation mode on the PyTorch [out, in, kh, kw] weights (filter KCRS, K = out); the
/// 2x2 stride-2 transposed convolutions are cudnnConvolutionBackwardData of the stride-2
/// convolution whose filter is the PyTorch [in, out, 2, 2] weight (K = in, C = out). Instance
/// norm takes per-plane sums in double (one block per plane, fixed order: deterministic), then
/// applies scale and shift with the LeakyReLU; pooling, reflect padding, concatenation and the
/// head's bias are bodies too. Per input size, each layer's algorithm is chosen once from
/// cudnnGet*Algorithm_v7's ranking: the first that cuDNN reports deterministic, FMA (no TF32
/// unless unet_options::allow_tf32) and within the workspace limit; plans, one cuDNN workspace
/// and the activation scratch are kept and reused. Everything is ordered on
/// cuda::current_stream() (the cuDNN handle is bound to it on every call) and nothing waits for
/// the device, so a forward pass costs no synchronisation.

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/denoisers/unet_denoiser.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/nn/layer_bodies.hpp"
#include "xrestore/nn/unet.hpp"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore::cuda {

/// How the device U-Net runs its convolutions.
struct unet_options {
    /// Most bytes of device memory cuDNN may use as workspace for one convolution.
    std::size_t workspace_limit = std::size_t{256} << 20;
    /// Let cuDNN use TF32 tensor cores for the float32 convolutions (Ampere and newer): faster,
    /// but the results then differ from the CPU network by about 1e-3 instead of about 1e-6.
    bool allow_tf32 = false;
};

namespace detail {

/// Throw cuda_error naming the cuDNN call and what it was for when `status` is not success.
inline void check_cudnn(cudnnStatus_t status, std::string_view call, std::string_view what) {
    if (status != CUDNN_STATUS_SUCCESS) {
        throw cuda_error(xrestore::detail::concat("cuda::unet: ", call, " failed for ", what, ": ",
                                                  cudnnGetErrorString(status)));
    }
}

/// An owned cuDNN object (handle or descriptor), created on construction, move-only.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class cudnn_object {
public:
    explicit cudnn_object(std::string_view what) {
        check_cudnn(Create(&handle_), "creating a cuDNN object", what);
    }
    cudnn_object(cudnn_object&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    cudnn_object& operator=(cudnn_object&& other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    cudnn_object(const cudnn_object&) = delete;
    cudnn_object& operator=(const cudnn_object&) = delete;
    ~cudnn_object() { release(); }

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

using cudnn_handle = cudnn_object<cudnnHandle_t, cudnnCreate, cudnnDestroy>;
using tensor_descriptor = cudnn_object<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                       cudnnDestroyTensorDescriptor>;
using filter_descriptor = cudnn_object<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                                       cudnnDestroyFilterDescriptor>;
using convolution_descriptor =
    cudnn_object<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                 cudnnDestroyConvolutionDescriptor>;

/// `value` as a cuDNN dimension (int); value_error when it does not fit.
inline int cudnn_dimension(std::size_t value, std::string_view what) {
    if (value > static_cast<std::size_t>(INT_MAX)) {
        throw value_error(xrestore::detail::concat("cuda::unet: ", what, " ", value,
                                                   " exceeds cuDNN's limit of ", INT_MAX));
    }
    return static_cast<int>(value);
}

/// A planar float32 N x C x H x W descriptor.
inline tensor_descriptor nchw_descriptor(std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                                         std::string_view what) {
    tensor_descriptor d(what);
    check_cudnn(
        cudnnSetTensor4dDescriptor(d.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                   cudnn_dimension(n, "batch"), cudnn_dimension(c, "channels"),
                                   cudnn_dimension(h, "height"), cudnn_dimension(w, "width")),
        "cudnnSetTensor4dDescriptor", what);
    return d;
}

/// One layer's weights on the device with their filter descriptor.
struct layer_weights {
    nn::layer_spec spec;
    std::string name; ///< the weight's state_dict name, for messages
    device_buffer<float> weight;
    device_buffer<float> bias;
    filter_descriptor filter;

    layer_weights(const nn::layer_spec& s, const std::string& prefix, const state_dict& sd)
        : spec(s), name(prefix + s.weight), weight(sd.at(name).values),
          filter("filter of '" + name + "'") {
        if (!s.bias.empty()) {
            bias = device_buffer<float>(sd.at(prefix + s.bias).values);
        }
        // Filters are KCRS. Conv2d [out, in, kh, kw]: K = out, C = in. ConvTranspose2d
        // [in, out, 2, 2] is the filter of the stride-2 convolution it transposes: K = in, C = out.
        int k = cudnn_dimension(s.out, "channels");
        int c = cudnn_dimension(s.in, "channels");
        int size = 3;
        if (s.kind == nn::layer_kind::conv_transpose2x2) {
            std::swap(k, c);
            size = 2;
        } else if (s.kind == nn::layer_kind::conv1x1) {
            size = 1;
        }
        check_cudnn(cudnnSetFilter4dDescriptor(filter.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k,
                                               c, size, size),
                    "cudnnSetFilter4dDescriptor", "layer '" + name + "'");
    }
};

/// A layer at one input size: its descriptors and the chosen algorithm.
struct conv_plan {
    tensor_descriptor input;  ///< the layer's input (for the transposed layer: cuDNN's dy)
    tensor_descriptor output; ///< the layer's output (for the transposed layer: cuDNN's dx)
    convolution_descriptor convolution;
    cudnnConvolutionFwdAlgo_t forward_algorithm{};
    cudnnConvolutionBwdDataAlgo_t backward_algorithm{};
    std::size_t workspace = 0;
    std::string what; ///< "layer '<name>' on input N x C x H x W", for messages
};

/// Whether a cuDNN ranking entry may be used: it ran the heuristics successfully, fits the
/// workspace limit, is deterministic when `deterministic_only`, and uses no tensor-core (TF32)
/// math unless allowed.
template <class Perf>
bool acceptable(const Perf& perf, const unet_options& options, bool deterministic_only) {
    if (perf.status != CUDNN_STATUS_SUCCESS || perf.memory > options.workspace_limit) {
        return false;
    }
    if (deterministic_only && perf.determinism != CUDNN_DETERMINISTIC) {
        return false;
    }
    const bool tensor_cores = perf.mathType == CUDNN_TENSOR_OP_MATH ||
                              perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    return options.allow_tf32 || !tensor_cores;
}

/// The first acceptable entry of cuDNN's ranking (fastest first) whose workspace, as
/// `workspace_of(algorithm)` reports it after the descriptor's math type is set, fits the
/// limit; deterministic entries are preferred when there is one. Sets the plan's math type.
template <class Perf, class WorkspaceOf>
const Perf& choose_algorithm(const std::vector<Perf>& ranking, const unet_options& options,
                             conv_plan& plan, WorkspaceOf workspace_of) {
    for (const bool deterministic_only : {true, false}) {
        for (const Perf& perf : ranking) {
            if (!acceptable(perf, options, deterministic_only)) {
                continue;
            }
            const cudnnMathType_t math = options.allow_tf32 ? perf.mathType : CUDNN_FMA_MATH;
            if (cudnnSetConvolutionMathType(plan.convolution.get(), math) != CUDNN_STATUS_SUCCESS) {
                continue;
            }
            std::size_t bytes = 0;
            if (workspace_of(perf.algo, &bytes) != CUDNN_STATUS_SUCCESS ||
                bytes > options.workspace_limit) {
                continue;
            }
            plan.workspace = bytes;
            return perf;
        }
    }
    throw cuda_error(xrestore::detail::concat(
        "cuda::unet: cuDNN offers no usable algorithm for ", plan.what, " (", ranking.size(),
        " ranked; workspace limit ", options.workspace_limit, " bytes",
        options.allow_tf32 ? "" : ", FMA math only", ")"));
}

/// Device memory from cudaMalloc, tied to no stream, grown on demand: the scratch that calls on
/// different streams use in turn (unet_state orders those calls with an event).
class scratch_block {
public:
    scratch_block() = default;
    scratch_block(const scratch_block&) = delete;
    scratch_block& operator=(const scratch_block&) = delete;
    ~scratch_block() {
        if (data_ != nullptr) {
            static_cast<void>(cudaFree(data_));
        }
    }

    /// At least `bytes` bytes (nullptr for none). Growing first waits for `stream`, whose work
    /// is the last to use the old block.
    void* reserve(std::size_t bytes, cudaStream_t stream, std::string_view what) {
        if (bytes <= bytes_) {
            return data_;
        }
        check(cudaStreamSynchronize(stream), what);
        if (data_ != nullptr) {
            check(cudaFree(data_), what);
            data_ = nullptr;
            bytes_ = 0;
        }
        check(cudaMalloc(&data_, bytes),
              xrestore::detail::concat(what, ": allocating ", bytes, " bytes"));
        bytes_ = bytes;
        return data_;
    }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

/// The plans of one input size: per layer, made by a dry run of the pass before the first run.
struct shape_plan {
    std::vector<std::unique_ptr<conv_plan>> layers;
    std::size_t workspace = 0; ///< the largest workspace of any layer
};

/// What every copy of a device U-Net shares: weights, the cuDNN handle, per-size plans and the
/// scratch memory, behind one mutex.
struct unet_state {
    nn::unet_config config;
    unet_options options;
    std::vector<layer_weights> layers;
    cudnn_handle handle{"the cuDNN handle"};
    std::mutex mutex;
    /// (batch, height, width) -> that size's plans
    std::map<std::array<std::size_t, 3>, shape_plan> plans;
    // Scratch shared by the calls; `done` is recorded on the stream of each call's work, and a
    // call on another stream waits for it before touching the scratch.
    scratch_block floats;
    scratch_block doubles;
    scratch_block workspace;
    cudaEvent_t done = nullptr;
    cudaStream_t last_stream = nullptr;

    unet_state(const nn::unet_config& c, const unet_options& o) : config(c), options(o) {}
    unet_state(const unet_state&) = delete;
    unet_state& operator=(const unet_state&) = delete;
    ~unet_state() {
        if (done != nullptr) {
            // the scratch is freed next: let the last call's work finish with it
            static_cast<void>(cudaEventSynchronize(done));
            static_cast<void>(cudaEventDestroy(done));
        }
    }

    /// Order `stream` after the previous call's work (when that ran on another stream).
    void begin(cudaStream_t stream) const {
        if (done != nullptr && stream != last_stream) {
            check(cudaStreamWaitEvent(stream, done, 0), "cuda::unet: waiting for the last call");
        }
    }

    /// Mark the end of this call's work on `stream`.
    void end(cudaStream_t stream) {
        if (done == nullptr) {
            check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming),
                  "cuda::unet: creating an event");
        }
        check(cudaEventRecord(done, stream), "cuda::unet: recording the end of a call");
        last_stream = stream;
    }

    /// The descriptors and algorithm of `call`'s layer at `call`'s size.
    std::unique_ptr<conv_plan> make_plan(const nn::conv_call& call) {
        const layer_weights& layer = layers[call.layer];
        const nn::layer_spec& spec = layer.spec;
        const bool transposed = spec.kind == nn::layer_kind::conv_transpose2x2;
        const std::string what =
            xrestore::detail::concat("layer '", layer.name, "' on input ", call.batch, " x ",
                                     spec.in, " x ", call.height, " x ", call.width);
        const std::size_t scale = transposed ? 2 : 1;
        auto plan = std::unique_ptr<conv_plan>(new conv_plan{
            nchw_descriptor(call.batch, spec.in, call.height, call.width, what),
            nchw_descriptor(call.batch, spec.out, scale * call.height, scale * call.width, what),
            convolution_descriptor(what),
            {},
            {},
            0,
            what});
        // PyTorch's convolutions are cross-correlations: 3x3 with zero padding 1 and 1x1 with
        // stride 1; the transposed layer is the adjoint of the 2x2 stride-2 one without padding.
        const int pad = spec.kind == nn::layer_kind::conv3x3 ? 1 : 0;
        const int stride = transposed ? 2 : 1;
        check_cudnn(cudnnSetConvolution2dDescriptor(plan->convolution.get(), pad, pad, stride,
                                                    stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT),
                    "cudnnSetConvolution2dDescriptor", what);
        check_cudnn(cudnnSetConvolutionMathType(plan->convolution.get(), options.allow_tf32
                                                                             ? CUDNN_DEFAULT_MATH
                                                                             : CUDNN_FMA_MATH),
                    "cudnnSetConvolutionMathType", what);
        // The forward convolution must map the (transposed layer: output) tensor onto the other.
        int dims[4] = {};
        const cudnnTensorDescriptor_t from = transposed ? plan->output.get() : plan->input.get();
        check_cudnn(cudnnGetConvolution2dForwardOutputDim(plan->convolution.get(), from,
                                                          layer.filter.get(), &dims[0], &dims[1],
                                                          &dims[2], &dims[3]),
                    "cudnnGetConvolution2dForwardOutputDim", what);
        const std::size_t to_channels = transposed ? spec.in : spec.out;
        if (static_cast<std::size_t>(dims[0]) != call.batch ||
            static_cast<std::size_t>(dims[1]) != to_channels ||
            static_cast<std::size_t>(dims[2]) != call.height ||
            static_cast<std::size_t>(dims[3]) != call.width) {
            throw cuda_error(xrestore::detail::concat(
                "cuda::unet: cuDNN maps ", what, " to ", dims[0], " x ", dims[1], " x ", dims[2],
                " x ", dims[3], ", expected ", call.batch, " x ", to_channels, " x ", call.height,
                " x ", call.width));
        }
        cudnnHandle_t h = handle.get();
        if (transposed) {
            int count = 0;
            check_cudnn(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count),
                        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", what);
            std::vector<cudnnConvolutionBwdDataAlgoPerf_t> ranking(
                static_cast<std::size_t>(count > 0 ? count : 1));
            int returned = 0;
            check_cudnn(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                            h, layer.filter.get(), plan->input.get(), plan->convolution.get(),
                            plan->output.get(), static_cast<int>(ranking.size()), &returned,
                            ranking.data()),
                        "cudnnGetConvolutionBackwardDataAlgorithm_v7", what);
            ranking.resize(static_cast<std::size_t>(returned < 0 ? 0 : returned));
            conv_plan& p = *plan;
            p.backward_algorithm =
                choose_algorithm(ranking, options, p,
                                 [&](cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
                                     return cudnnGetConvolutionBackwardDataWorkspaceSize(
                                         h, layer.filter.get(), p.input.get(), p.convolution.get(),
                                         p.output.get(), algo, bytes);
                                 })
                    .algo;
        } else {
            int count = 0;
            check_cudnn(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count),
                        "cudnnGetConvolutionForwardAlgorithmMaxCount", what);
            std::vector<cudnnConvolutionFwdAlgoPerf_t> ranking(
                static_cast<std::size_t>(count > 0 ? count : 1));
            int returned = 0;
            check_cudnn(cudnnGetConvolutionForwardAlgorithm_v7(
                            h, plan->input.get(), layer.filter.get(), plan->convolution.get(),
                            plan->output.get(), static_cast<int>(ranking.size()), &returned,
                            ranking.data()),
                        "cudnnGetConvolutionForwardAlgorithm_v7", what);
            ranking.resize(static_cast<std::size_t>(returned < 0 ? 0 : returned));
            conv_plan& p = *plan;
            p.forward_algorithm =
                choose_algorithm(ranking, options, p,
                                 [&](cudnnConvolutionFwdAlgo_t algo, std::size_t* bytes) {
                                     return cudnnGetConvolutionForwardWorkspaceSize(
                                         h, p.input.get(), layer.filter.get(), p.convolution.get(),
                                         p.output.get(), algo, bytes);
                                 })
                    .algo;
        }
        return plan;
    }
};

/// The dry-run executor: makes each layer's plan for the sizes the pass asks for, runs nothing.
class planning_executor {
public:
    planning_executor(unet_state& state, shape_plan& plan) : state_(state), plan_(plan) {}

    void convolve(const nn::conv_call& call) {
        std::unique_ptr<conv_plan>& slot = plan_.layers.at(call.layer);
        if (!slot) {
            slot = state_.make_plan(call);
            plan_.workspace = std::max(plan_.workspace, slot->workspace);
        }
    }
    [[nodiscard]] const float* bias(std::size_t) const { return nullptr; }
    template <class Body>
    void for_each_index(std::size_t, const Body&) const {}
    template <class Term>
    void segment_sums(std::size_t, std::size_t, const Term&, double*) const {}

private:
    unet_state& state_;
    shape_plan& plan_;
};

/// The executor of nn::planar_unet_forward on the device: cuDNN for the convolutions (with the
/// plans of the dry run), the grid-stride launch and the per-segment reduction for the bodies,
/// all on the current stream.
class device_executor {
public:
    device_executor(const unet_state& state, const shape_plan& plan, void* workspace)
        : state_(state), plan_(plan), workspace_(workspace) {}

    void convolve(const nn::conv_call& call) const {
        const conv_plan& plan = *plan_.layers.at(call.layer);
        const layer_weights& layer = state_.layers[call.layer];
        const float one = 1.0F;
        const float zero = 0.0F;
        if (layer.spec.kind == nn::layer_kind::conv_transpose2x2) {
            // dx = W^T dy: the transposed convolution of the layer's input
            check_cudnn(cudnnConvolutionBackwardData(
                            state_.handle.get(), &one, layer.filter.get(), layer.weight.data(),
                            plan.input.get(), call.in, plan.convolution.get(),
                            plan.backward_algorithm, workspace_, plan.workspace, &zero,
                            plan.output.get(), call.out),
                        "cudnnConvolutionBackwardData", plan.what);
        } else {
            check_cudnn(cudnnConvolutionForward(state_.handle.get(), &one, plan.input.get(),
                                                call.in, layer.filter.get(), layer.weight.data(),
                                                plan.convolution.get(), plan.forward_algorithm,
                                                workspace_, plan.workspace, &zero,
                                                plan.output.get(), call.out),
                        "cudnnConvolutionForward", plan.what);
        }
    }
    [[nodiscard]] const float* bias(std::size_t layer) const {
        return state_.layers.at(layer).bias.data();
    }
    template <class Body>
    void for_each_index(std::size_t n, const Body& body) const {
        cuda::for_each_index(n, body);
    }
    template <class Term>
    void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                      double* out) const {
        cuda::segment_sums(segments, length, term, out);
    }

private:
    const unet_state& state_;
    const shape_plan& plan_;
    void* workspace_;
};

/// The bodies-only executor of the denoiser's normalisation steps.
struct element_executor {
    template <class Body>
    void for_each_index(std::size_t n, const Body& body) const {
        cuda::for_each_index(n, body);
    }
    template <class Term>
    void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                      double* out) const {
        cuda::segment_sums(segments, length, term, out);
    }
};

} // namespace detail

class unet_denoiser;

/// A fastMRI U-Net with its weights on the device. Copies share the weights, plans and scratch;
/// calls on one object are serialised by a mutex (their device work is ordered on each caller's
/// current stream). Construct where a CUDA device is usable.
class unet {
public:
    /// Build from a state_dict: nn::unet::from_state_dict checks every name, shape and value
    /// (same errors as the CPU network), then the weights are uploaded as they are.
    static unet from_state_dict(const state_dict& sd, const unet_options& options = {}) {
        const nn::unet host = nn::unet::from_state_dict(sd);
        std::string_view prefix;
        const std::string pre = nn::detail::strip_prefix(sd, prefix);
        auto state = std::make_shared<detail::unet_state>(host.config(), options);
        for (const nn::layer_spec& spec : nn::unet_layer_specs(host.config())) {
            state->layers.emplace_back(spec, pre, sd);
        }
        return unet(std::move(state));
    }

    [[nodiscard]] const nn::unet_config& config() const { return state_->config; }
    [[nodiscard]] const unet_options& options() const { return state_->options; }

    /// Throw shape_error unless an H x W input suits the pool depth (as nn::unet does).
    void check_input_size(std::size_t height, std::size_t width) const {
        nn::check_unet_input_size(config(), height, width);
    }

    /// The network on a batch: x is N x in_chans x H x W, the result N x out_chans x H x W.
    /// Unlike the CPU network it does not scan the input for non-finite values (that would cost
    /// a synchronisation); they propagate to the output.
    [[nodiscard]] device_array<4> forward(const device_array<4>& x) const {
        const std::array<std::size_t, 4> s = x.shape();
        check_batch(s);
        device_array<4> y({s[0], config().out_chans, s[2], s[3]});
        run(x.data(), s[0], s[2], s[3], y.data());
        return y;
    }

    /// The network on one image (in_chans x H x W).
    [[nodiscard]] device_array<3> forward(const device_array<3>& x) const {
        const std::array<std::size_t, 3> s = x.shape();
        check_batch({1, s[0], s[1], s[2]});
        device_array<3> y({config().out_chans, s[1], s[2]});
        run(x.data(), 1, s[1], s[2], y.data());
        return y;
    }

private:
    friend class unet_denoiser;

    explicit unet(std::shared_ptr<detail::unet_state> state) : state_(std::move(state)) {}

    void check_batch(const std::array<std::size_t, 4>& s) const {
        if (s[0] == 0 || s[1] != config().in_chans) {
            throw shape_error(
                xrestore::detail::concat("unet: input must have shape N x ", config().in_chans,
                                         " x H x W with N >= 1, got ", shape_string(s)));
        }
        check_input_size(s[2], s[3]);
    }

    /// y (batch x out_chans x H x W) = U(x) (batch x in_chans x H x W), sizes checked.
    void run(const float* x, std::size_t batch, std::size_t height, std::size_t width,
             float* y) const {
        detail::unet_state& s = *state_;
        std::lock_guard<std::mutex> lock(s.mutex);
        const cudaStream_t stream = current_stream();
        const nn::planar_unet_layout layout = nn::planar_unet_plan(s.config, batch, height, width);
        s.begin(stream);
        // from here on work may be queued: mark its end even when a later step throws
        struct end_of_call {
            detail::unet_state& state;
            cudaStream_t stream;
            ~end_of_call() {
                try {
                    state.end(stream);
                } catch (...) {
                    // the error that stopped the call is the one reported
                }
            }
        } end{s, stream};
        detail::check_cudnn(cudnnSetStream(s.handle.get(), stream), "cudnnSetStream",
                            "the current stream");
        auto* floats = static_cast<float*>(
            s.floats.reserve(layout.floats * sizeof(float), stream, "cuda::unet: activations"));
        auto* doubles = static_cast<double*>(
            s.doubles.reserve(layout.doubles * sizeof(double), stream, "cuda::unet: statistics"));
        detail::shape_plan& plan = s.plans[{batch, height, width}];
        if (plan.layers.empty()) {
            // a dry run of the pass makes every layer's plan (on the host, nothing is queued)
            plan.layers.resize(s.layers.size());
            try {
                detail::planning_executor planner(s, plan);
                nn::planar_unet_forward(planner, s.config, x, batch, height, width, y, floats,
                                        doubles);
            } catch (...) {
                s.plans.erase({batch, height, width});
                throw;
            }
        }
        void* workspace = s.workspace.reserve(plan.workspace, stream, "cuda::unet: workspace");
        const detail::device_executor ex(s, plan, workspace);
        nn::planar_unet_forward(ex, s.config, x, batch, height, width, y, floats, doubles);
    }

    std::shared_ptr<detail::unet_state> state_;
};

/// Load a U-Net (.pth or .safetensors) onto the device.
inline unet load_unet(const std::filesystem::path& weights, const unet_options& options = {}) {
    return unet::from_state_dict(load_weights(weights), options);
}

/// A device U-Net applied with one of the call conventions of xrestore::unet_denoiser (raw,
/// normalised, residual; see denoisers/unet_denoiser.hpp), on C x H x W device arrays. The
/// per-channel means and the standard deviation are device reductions that stay on the device.
/// Copies share the network.
class unet_denoiser {
public:
    unet_denoiser(std::shared_ptr<const unet> net, unet_call call)
        : net_(std::move(net)), call_(call) {
        if (!net_) {
            throw value_error("unet_denoiser: network must not be null");
        }
        const nn::unet_config& c = net_->config();
        if (c.in_chans != c.out_chans) {
            throw shape_error(xrestore::detail::concat(
                "unet_denoiser: a denoiser needs as many output as ",
                "input channels, the network maps ", c.in_chans, " to ", c.out_chans));
        }
    }

    [[nodiscard]] const unet& network() const { return *net_; }
    [[nodiscard]] unet_call call() const { return call_; }

    /// Throw before any device work if a C x H x W image does not suit the network.
    void check_image(const shape3& s) const {
        const std::size_t in = net_->config().in_chans;
        if (s[0] != in && in != 1) {
            throw shape_error(xrestore::detail::concat("unet denoiser: the network takes ", in,
                                                       "-channel images, got ", shape_string(s)));
        }
        net_->check_input_size(s[1], s[2]);
    }

    /// D(y). A single-channel network denoises each channel of a multi-channel image apart (the
    /// channels go through the network as one batch).
    [[nodiscard]] device_array<3> operator()(const device_array<3>& y) const {
        const shape3 s = y.shape();
        check_image(s);
        const std::size_t groups = net_->config().in_chans == s[0] ? 1 : s[0];
        const std::size_t group_channels = s[0] / groups;
        const std::size_t plane = s[1] * s[2];
        device_array<3> out(s);
        if (call_ == unet_call::raw) {
            net_->run(y.data(), groups, s[1], s[2], out.data());
            return out;
        }
        const detail::element_executor ex;
        device_buffer<double> stats_buffer(nn::denoiser_statistics::size(s[0], groups));
        const nn::denoiser_statistics stats{stats_buffer.data(), s[0], groups};
        device_array<3> normalised(s);
        nn::denoiser_normalise(ex, y.data(), group_channels, plane, stats, normalised.data());
        device_array<3> u(s);
        net_->run(normalised.data(), groups, s[1], s[2], u.data());
        nn::denoiser_output(ex, call_ == unet_call::residual, y.data(), u.data(), group_channels,
                            plane, stats, out.data());
        return out;
    }

private:
    std::shared_ptr<const unet> net_;
    unet_call call_;
};

/// Load a U-Net (.pth or .safetensors) onto the device as a denoiser; `call` overrides the
/// file's convention (metadata "call" or a JSON sidecar; raw without either).
inline unet_denoiser load_unet_denoiser(const std::filesystem::path& weights,
                                        std::optional<unet_call> call = std::nullopt,
                                        const unet_options& options = {}) {
    const state_dict sd = load_weights(weights);
    auto net = std::make_shared<const unet>(unet::from_state_dict(sd, options));
    const unet_call chosen = call ? *call : declared_unet_call(sd).value_or(unet_call::raw);
    return unet_denoiser(std::move(net), chosen);
}

} // namespace xrestore::cuda
