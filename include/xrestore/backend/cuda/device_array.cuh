#pragma once
/// @file device_array.cuh
/// `device_array<N>`: an N-dimensional float32 array in CUDA device memory, row-major like
/// `xrestore::tensor<N>`. It owns its memory (stream-ordered cudaMallocAsync / cudaFreeAsync on
/// the stream it was made on), copies deeply, moves cheaply, and crosses to and from the host
/// only through `to_device` / `to_host`. Its `dense_array_traits` put it on the `cuda_tag`
/// backend, so the generic vector space (axpy, dot... as device kernels and deterministic
/// reductions), operators and metrics run on it.
///
/// @code
/// xrestore::image x = xrestore::read_image("photo.png");
/// xrestore::device_array<3> d = xrestore::to_device(x);   // upload
/// xrestore::image back = xrestore::to_host(d);             // download (waits for the stream)
/// @endcode

#include "xrestore/backend/cuda/device_buffer.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <cstddef>
#include <utility>

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
    cuda::copy_to_host(device.data(), device.size(), out.data(), "to_host");
    return out;
}

/// Device arrays are the CUDA backend's dense arrays (another rank stays on the device: the
/// gradient field of a device image...).
template <std::size_t N>
struct dense_array_traits<device_array<N>> {
    using backend = cuda_tag;
    static constexpr std::size_t rank = N;
    template <std::size_t M>
    using rebind = device_array<M>;
    using shape_type = std::array<std::size_t, N>;

    static device_array<N> allocate(const shape_type& shape) { return device_array<N>(shape); }
    static shape_type shape(const device_array<N>& a) { return a.shape(); }
    static void resize(device_array<N>& a, const shape_type& shape) { a.resize(shape); }
    static device_array<N> from_host(const tensor<N>& host) { return to_device(host); }
    static tensor<N> to_host(const device_array<N>& a) { return xrestore::to_host(a); }
};

} // namespace xrestore
