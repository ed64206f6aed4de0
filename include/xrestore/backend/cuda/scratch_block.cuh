#pragma once
/// @file scratch_block.cuh
/// Device scratch memory that grows on demand and is tied to no stream: the activations and
/// workspaces that calls on different streams use in turn (their owner orders those calls, for
/// example with an event).
///
/// @code
/// xrestore::cuda::scratch_block block;
/// void* p = block.reserve(bytes, xrestore::cuda::current_stream(), "activations");
/// run_kernels(static_cast<float*>(p)); // queued on the current stream
/// @endcode

#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"

#include <cuda_runtime.h>

#include <cstddef>
#include <string_view>

namespace xrestore::cuda {

/// Device memory from cudaMalloc, grown on demand, freed on destruction.
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

} // namespace xrestore::cuda
