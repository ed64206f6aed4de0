#pragma once
/// @file device_buffer.cuh
/// `device_buffer<T>`: a fixed-size typed buffer in CUDA device memory (index maps, partial sums,
/// kernel weights), the backend's storage next to the float arrays users see, and
/// `cuda::copy_to_host`, the one download every host read of device memory goes through.
///
/// @code
/// xrestore::device_buffer<std::int64_t> map(std::vector<std::int64_t>{0, 2, 5}); // uploaded
/// std::vector<std::int64_t> back = map.to_vector();                              // downloaded
/// xrestore::cuda::copy_to_host(map.data(), 1, back.data(), "reading map[0]");
/// @endcode

#include "xrestore/backend/cuda/runtime.cuh"

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

namespace cuda {

/// Copy `count` values from device memory to host memory on the current stream and wait for it;
/// a failure throws cuda_error naming `what`.
template <class T>
void copy_to_host(const T* from, std::size_t count, T* to, std::string_view what) {
    if (count == 0) {
        return;
    }
    check(cudaMemcpyAsync(to, from, count * sizeof(T), cudaMemcpyDeviceToHost, current_stream()),
          what);
    check(cudaStreamSynchronize(current_stream()), what);
}

} // namespace cuda

/// A fixed-size typed buffer in device memory (index maps, partial sums, per-channel scalars):
/// the backend's internal storage next to the float arrays users see. Move-only.
template <class T>
class device_buffer {
public:
    device_buffer() = default;
    /// Uninitialised storage for `count` values on the current stream.
    explicit device_buffer(std::size_t count) : count_(count), stream_(cuda::current_stream()) {
        if (count_ > 0) {
            cuda::check(
                cudaMallocAsync(reinterpret_cast<void**>(&data_), count_ * sizeof(T), stream_),
                "device_buffer: allocating");
        }
    }
    /// A copy of `values` (the upload completes before this returns).
    explicit device_buffer(const std::vector<T>& values)
        : device_buffer(std::span<const T>(values)) {}
    /// A copy of `values` (the upload completes before this returns).
    explicit device_buffer(std::span<const T> values) : device_buffer(values.size()) {
        if (count_ > 0) {
            cuda::check(cudaMemcpyAsync(data_, values.data(), count_ * sizeof(T),
                                        cudaMemcpyHostToDevice, stream_),
                        "device_buffer: uploading");
            cuda::check(cudaStreamSynchronize(stream_), "device_buffer: uploading");
        }
    }
    device_buffer(device_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)),
          stream_(other.stream_) {}
    device_buffer& operator=(device_buffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
            stream_ = other.stream_;
        }
        return *this;
    }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    ~device_buffer() { release(); }

    T* data() { return data_; }
    const T* data() const { return data_; }
    std::size_t size() const { return count_; }

    /// The values, downloaded (waits for the current stream).
    std::vector<T> to_vector() const {
        std::vector<T> out(count_);
        cuda::copy_to_host(data_, count_, out.data(), "device_buffer: downloading");
        return out;
    }

private:
    void release() noexcept {
        if (data_ != nullptr) {
            static_cast<void>(cudaFreeAsync(data_, stream_));
            data_ = nullptr;
        }
        count_ = 0;
    }

    T* data_ = nullptr;
    std::size_t count_ = 0;
    cudaStream_t stream_ = cudaStreamPerThread;
};

} // namespace xrestore
