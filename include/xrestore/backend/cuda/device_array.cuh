#pragma once
/// @file device_array.cuh
/// `device_array<N>`: an N-dimensional float32 array in CUDA device memory, row-major like
/// `xrestore::tensor<N>`. It owns its memory (stream-ordered cudaMallocAsync / cudaFreeAsync on
/// the stream it was made on), copies deeply, moves cheaply, and crosses to and from the host
/// only through `to_device` / `to_host`.
///
/// @code
/// xrestore::image x = xrestore::read_image("photo.png");
/// xrestore::device_array<3> d = xrestore::to_device(x);   // upload
/// xrestore::image back = xrestore::to_host(d);             // download (waits for the stream)
/// @endcode

#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore {

/// An N-dimensional float32 array on the CUDA device (row-major, contiguous).
template <std::size_t N>
class device_array {
public:
    using value_type = float;
    using shape_type = std::array<std::size_t, N>;

    /// An empty array (no memory, every extent 0).
    device_array() = default;

    /// Uninitialised storage of the given shape on the current stream.
    explicit device_array(const shape_type& shape) { allocate(shape); }

    device_array(const device_array& other) {
        allocate(other.shape_);
        copy_from(other);
    }
    device_array(device_array&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), shape_(std::exchange(other.shape_, {})),
          stream_(other.stream_) {}
    device_array& operator=(const device_array& other) {
        if (this != &other) {
            resize(other.shape_);
            copy_from(other);
        }
        return *this;
    }
    device_array& operator=(device_array&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            shape_ = std::exchange(other.shape_, {});
            stream_ = other.stream_;
        }
        return *this;
    }
    ~device_array() { release(); }

    float* data() { return data_; }
    const float* data() const { return data_; }
    const shape_type& shape() const { return shape_; }
    static constexpr std::size_t dimension() { return N; }
    std::size_t size() const { return element_count(shape_); }
    /// The stream the memory was allocated on (and is freed on).
    cudaStream_t stream() const { return stream_; }

    /// Make the shape `shape`; the contents are unspecified when the size changes.
    void resize(const shape_type& shape) {
        if (shape == shape_) {
            return;
        }
        if (element_count(shape) == size() && data_ != nullptr) {
            shape_ = shape;
            return;
        }
        release();
        allocate(shape);
    }

private:
    void allocate(const shape_type& shape) {
        stream_ = cuda::current_stream();
        const std::size_t count = element_count(shape);
        if (count > 0) {
            cuda::check(
                cudaMallocAsync(reinterpret_cast<void**>(&data_), count * sizeof(float), stream_),
                xrestore::detail::concat("device_array: allocating ", shape_string(shape),
                                         " floats"));
        }
        shape_ = shape;
    }
    void copy_from(const device_array& other) {
        if (size() > 0) {
            cuda::check(cudaMemcpyAsync(data_, other.data_, size() * sizeof(float),
                                        cudaMemcpyDeviceToDevice, cuda::current_stream()),
                        "device_array: copying");
        }
    }
    void release() noexcept {
        if (data_ != nullptr) {
            // a failure here (a dead context at exit) cannot be reported from a destructor
            static_cast<void>(cudaFreeAsync(data_, stream_));
            data_ = nullptr;
        }
        shape_ = {};
    }

    float* data_ = nullptr;
    shape_type shape_{};
    cudaStream_t stream_ = cudaStreamPerThread;
};

/// Device arrays of another rank stay on the device (the gradient field of a device image...).
template <std::size_t N, std::size_t M>
struct rebind_rank<device_array<N>, M> {
    using type = device_array<M>;
};

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
    explicit device_buffer(const std::vector<T>& values) : device_buffer(values.size()) {
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
        if (count_ > 0) {
            cuda::check(cudaMemcpyAsync(out.data(), data_, count_ * sizeof(T),
                                        cudaMemcpyDeviceToHost, cuda::current_stream()),
                        "device_buffer: downloading");
            cuda::synchronize();
        }
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

/// Upload a host tensor (any xtensor expression of rank N is evaluated first).
template <std::size_t N>
device_array<N> to_device(const tensor<N>& host) {
    device_array<N> out(shape_of<N>(host));
    if (out.size() > 0) {
        cuda::check(cudaMemcpyAsync(out.data(), host.data(), out.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, cuda::current_stream()),
                    "to_device");
        // the host buffer may be freed as soon as this returns
        cuda::synchronize();
    }
    return out;
}

/// Download a device array into a host tensor (waits for the current stream).
template <std::size_t N>
tensor<N> to_host(const device_array<N>& device) {
    tensor<N> out(device.shape());
    if (device.size() > 0) {
        cuda::check(cudaMemcpyAsync(out.data(), device.data(), device.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, cuda::current_stream()),
                    "to_host");
        cuda::synchronize();
    }
    return out;
}

} // namespace xrestore
