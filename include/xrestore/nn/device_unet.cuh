#pragma once
/// @file device_unet.cuh
/// The fastMRI U-Net on a CUDA device: `cuda::unet` is the device counterpart of nn::unet (same
/// state_dict loader and checks, same architecture table, the same forward pass step for step)
/// on planar N x C x H x W float32 device arrays.
///
/// @code
/// auto net = xrestore::cuda::load_unet("models/denoiser_unet_c32.pth");  // weights uploaded once
/// xrestore::device_array<3> u = net.forward(xrestore::to_device(x));     // x: in_chans x H x W
/// xrestore::device_array<4> batch = net.forward(xrestore::to_device(x4)); // N x in_chans x H x W
/// @endcode
///
/// How it runs: nn::planar_unet_forward (nn/planar_unet.hpp) is the pass, with an executor that
/// sends convolutions to cuDNN (backend/cuda/cudnn.cuh) and the bodies to cuda::for_each_index /
/// cuda::segment_sums. 3x3 (zero padding 1) and 1x1 layers are cuDNN forward convolutions on the
/// PyTorch weights; the 2x2 stride-2 transposed convolutions are cuDNN transposed convolutions.
/// Instance norm takes per-plane sums in double (one block per plane, fixed order:
/// deterministic), then applies scale and shift with the LeakyReLU; pooling, reflect padding,
/// concatenation and the head's bias are bodies too. Per input size each layer's convolution is
/// planned once from the architecture table (algorithm chosen as cudnn::convolution does, no TF32
/// unless unet_options::allow_tf32); plans, one cuDNN workspace and the activation scratch are
/// kept and reused. Everything is ordered on cuda::current_stream() (the cuDNN handle is bound to
/// it on every call) and nothing waits for the device, so a forward pass costs no
/// synchronisation.

#include "xrestore/backend/cuda/cudnn.cuh"
#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/backend/cuda/scratch_block.cuh"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/nn/planar_unet.hpp"
#include "xrestore/nn/unet_architecture.hpp"
#include "xrestore/nn/unet_state_dict.hpp"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::cuda {

/// How the device U-Net runs its convolutions (workspace limit, TF32).
using unet_options = cudnn::options;

namespace detail {

/// One layer's weights on the device with their filter descriptor.
struct layer_weights {
    nn::layer_spec spec;
    std::string name; ///< the weight's state_dict name, for messages
    device_buffer<float> weight;
    device_buffer<float> bias;
    cudnn::filter_descriptor filter;

    layer_weights(const nn::layer_spec& s, std::string weight_name, const weight_tensor& w,
                  const weight_tensor* b)
        : spec(s), name(std::move(weight_name)), weight(w.floats()),
          filter(cudnn::filter(s.in, s.out, nn::kernel_size(s.kind),
                               s.kind == nn::layer_kind::conv_transpose2x2,
                               "layer '" + name + "'")) {
        if (b != nullptr) {
            bias = device_buffer<float>(b->floats());
        }
    }
};

/// The plans of one input size: the scratch layout and each layer's convolution.
struct shape_plan {
    nn::planar_unet_layout layout;
    std::vector<cudnn::convolution> layers;
    std::size_t workspace = 0; ///< the largest workspace of any layer
};

/// What every copy of a device U-Net shares: weights, the cuDNN handle, per-size plans and the
/// scratch memory, behind one mutex.
struct unet_state {
    nn::unet_architecture arch;
    unet_options options;
    std::vector<layer_weights> layers;
    cudnn::handle handle{"the cuDNN handle"};
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

    unet_state(const nn::unet_config& c, const unet_options& o) : arch(c), options(o) {}
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

    /// The plans of batch x H x W inputs: every layer of the table at its input level's size.
    /// PyTorch's convolutions are cross-correlations: 3x3 with zero padding 1 and 1x1 with
    /// stride 1; the transposed layer is the adjoint of the 2x2 stride-2 one without padding.
    shape_plan make_plan(std::size_t batch, std::size_t height, std::size_t width) {
        shape_plan plan{nn::planar_unet_plan(arch, batch, height, width), {}, 0};
        const nn::unet_level_sizes& sizes = plan.layout.sizes;
        for (const layer_weights& layer : layers) {
            const nn::layer_spec& spec = layer.spec;
            const std::size_t level = spec.input_level();
            const bool transposed = spec.kind == nn::layer_kind::conv_transpose2x2;
            const cudnn::convolution_shape shape{batch,
                                                 spec.in,
                                                 sizes.heights[level],
                                                 sizes.widths[level],
                                                 spec.out,
                                                 nn::kernel_size(spec.kind),
                                                 spec.kind == nn::layer_kind::conv3x3 ? 1U : 0U,
                                                 transposed ? 2U : 1U,
                                                 transposed};
            plan.layers.emplace_back(handle.get(), layer.filter.get(), shape, options,
                                     xrestore::detail::concat("layer '", layer.name, "' on input ",
                                                              batch, " x ", spec.in, " x ",
                                                              shape.height, " x ", shape.width));
            plan.workspace = std::max(plan.workspace, plan.layers.back().workspace());
        }
        return plan;
    }
};

/// Runs kernel bodies on the device, on the current stream: the grid-stride launch and the
/// per-segment reduction (the element-wise part of the executors of the planar pass and the
/// denoiser's call conventions).
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

/// The executor of nn::planar_unet_forward on the device: cuDNN for the convolutions (with the
/// size's plans) and the bodies as element_executor runs them.
class device_executor : public element_executor {
public:
    device_executor(const unet_state& state, const shape_plan& plan, void* workspace)
        : state_(state), plan_(plan), workspace_(workspace) {}

    void convolve(const nn::conv_call& call) const {
        const cudnn::convolution& conv = plan_.layers.at(call.layer);
        const cudnn::convolution_shape& s = conv.shape();
        if (call.batch != s.batch || call.height != s.height || call.width != s.width) {
            throw cuda_error(xrestore::detail::concat(
                "cuda::unet: layer ", call.layer, " was planned for ", s.batch, " x ", s.height,
                " x ", s.width, ", the pass asks for ", call.batch, " x ", call.height, " x ",
                call.width));
        }
        const layer_weights& layer = state_.layers[call.layer];
        conv.run(state_.handle.get(), layer.filter.get(), layer.weight.data(), call.in, call.out,
                 workspace_);
    }
    [[nodiscard]] const float* bias(std::size_t layer) const {
        return state_.layers.at(layer).bias.data();
    }

private:
    const unet_state& state_;
    const shape_plan& plan_;
    void* workspace_;
};

} // namespace detail

/// A fastMRI U-Net with its weights on the device. Copies share the weights, plans and scratch;
/// calls on one object are serialised by a mutex (their device work is ordered on each caller's
/// current stream). Construct where a CUDA device is usable.
class unet {
public:
    /// Build from a state_dict: nn::read_unet_tensors checks every name, shape and value (same
    /// errors as the CPU network), then the weights are uploaded as they are.
    static unet from_state_dict(const state_dict& sd, const unet_options& options = {}) {
        const nn::unet_tensors t = nn::read_unet_tensors(sd);
        auto state = std::make_shared<detail::unet_state>(t.config, options);
        const std::vector<nn::layer_spec>& layers = state->arch.layers();
        for (std::size_t k = 0; k < layers.size(); ++k) {
            state->layers.emplace_back(layers[k], t.prefix + layers[k].weight, *t.weights[k],
                                       t.biases[k]);
        }
        return unet(std::move(state));
    }

    [[nodiscard]] const nn::unet_config& config() const { return state_->arch.config(); }
    /// The layer table the network was built from.
    [[nodiscard]] const nn::unet_architecture& architecture() const { return state_->arch; }
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

    /// y = U(x) on `batch` planar images in device memory: x holds batch x in_chans x H x W
    /// floats, y receives batch x out_chans x H x W.
    void forward(const float* x, std::size_t batch, std::size_t height, std::size_t width,
                 float* y) const {
        check_batch({batch, config().in_chans, height, width});
        run(x, batch, height, width, y);
    }

private:
    explicit unet(std::shared_ptr<detail::unet_state> state) : state_(std::move(state)) {}

    void check_batch(const std::array<std::size_t, 4>& s) const {
        nn::check_unet_batch(config(), s);
    }

    /// y (batch x out_chans x H x W) = U(x) (batch x in_chans x H x W), sizes checked.
    void run(const float* x, std::size_t batch, std::size_t height, std::size_t width,
             float* y) const {
        detail::unet_state& s = *state_;
        std::lock_guard<std::mutex> lock(s.mutex);
        const cudaStream_t stream = current_stream();
        auto found = s.plans.find({batch, height, width});
        if (found == s.plans.end()) {
            // every layer's descriptors and algorithm (on the host, nothing is queued)
            found = s.plans
                        .emplace(std::array<std::size_t, 3>{batch, height, width},
                                 s.make_plan(batch, height, width))
                        .first;
        }
        const detail::shape_plan& plan = found->second;
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
        cudnn::check(cudnnSetStream(s.handle.get(), stream), "cudnnSetStream",
                     "the current stream");
        auto* floats = static_cast<float*>(s.floats.reserve(plan.layout.floats * sizeof(float),
                                                            stream, "cuda::unet: activations"));
        auto* doubles = static_cast<double*>(s.doubles.reserve(plan.layout.doubles * sizeof(double),
                                                               stream, "cuda::unet: statistics"));
        void* workspace = s.workspace.reserve(plan.workspace, stream, "cuda::unet: workspace");
        const detail::device_executor ex(s, plan, workspace);
        nn::planar_unet_forward(ex, s.arch, plan.layout, x, y, floats, doubles);
    }

    std::shared_ptr<detail::unet_state> state_;
};

/// Load a U-Net (.pth or .safetensors) onto the device.
inline unet load_unet(const std::filesystem::path& weights, const unet_options& options = {}) {
    return unet::from_state_dict(load_weights(weights), options);
}

} // namespace xrestore::cuda
