#pragma once
/// @file runtime.cuh
/// The CUDA backend's runtime layer: the `cuda_tag` backend tag, the error type every failed
/// CUDA call turns into, the stream all xrestore device work is ordered on, and a check for
/// whether a device can run kernels at all. Include from `.cu` files compiled by nvcc.
///
/// @code
/// if (auto why = xrestore::cuda::device_unavailable_reason(); !why.empty()) { /* no GPU */ }
/// xrestore::cuda::stream_scope scope(my_stream); // device work of this thread goes to my_stream
/// xrestore::cuda::synchronize();                 // wait for it
/// @endcode

#include "xrestore/core/error.hpp"

#include <cuda_runtime.h>

#include <string>
#include <string_view>

namespace xrestore {

/// Backend tag of CUDA device memory (`device_array`).
struct cuda_tag {};

/// A CUDA runtime call failed (no device, out of memory, a kernel fault...).
class cuda_error : public error {
public:
    using error::error;
};

namespace cuda {

/// Throw cuda_error naming `what` and the runtime's error when `status` is not cudaSuccess.
inline void check(cudaError_t status, std::string_view what) {
    if (status != cudaSuccess) {
        // clear the sticky "last error" so that later calls report their own status
        static_cast<void>(cudaGetLastError());
        throw cuda_error(xrestore::detail::concat(what, ": CUDA error ", cudaGetErrorName(status),
                                                  " (", cudaGetErrorString(status), ")"));
    }
}

/// Throw cuda_error when the last kernel launch failed to start.
inline void check_launch(std::string_view what) {
    check(cudaPeekAtLastError(), what);
}

/// Why no CUDA device can run kernels in this process, or "" when one can.
inline std::string device_unavailable_reason() {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        static_cast<void>(cudaGetLastError());
        return xrestore::detail::concat("cudaGetDeviceCount failed: ", cudaGetErrorName(status),
                                        " (", cudaGetErrorString(status), ")");
    }
    if (count == 0) {
        return "no CUDA device is visible";
    }
    return {};
}

namespace detail {
inline cudaStream_t& current_stream_slot() {
    thread_local cudaStream_t stream = cudaStreamPerThread;
    return stream;
}
} // namespace detail

/// The stream this thread's xrestore device work is ordered on (cudaStreamPerThread unless a
/// stream_scope says otherwise). Allocation, kernels, copies and frees all go to it.
inline cudaStream_t current_stream() {
    return detail::current_stream_slot();
}

/// Route this thread's xrestore device work to `stream` until the scope ends.
class stream_scope {
public:
    explicit stream_scope(cudaStream_t stream) : previous_(current_stream()) {
        detail::current_stream_slot() = stream;
    }
    ~stream_scope() { detail::current_stream_slot() = previous_; }
    stream_scope(const stream_scope&) = delete;
    stream_scope& operator=(const stream_scope&) = delete;

private:
    cudaStream_t previous_;
};

/// Wait until the current stream's work is done; reports errors of kernels that ran on it.
inline void synchronize() {
    check(cudaStreamSynchronize(current_stream()), "cuda::synchronize");
}

} // namespace cuda
} // namespace xrestore
