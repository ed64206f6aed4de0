#pragma once
/// @file host_device.hpp
/// XRESTORE_HD marks kernel bodies that run both on the host and on a CUDA device. Under nvcc it
/// expands to `__host__ __device__`; elsewhere it is empty, so the same body is plain C++ and
/// CPU tests execute exactly the arithmetic the GPU kernels run.

#if defined(__CUDACC__)
#define XRESTORE_HD __host__ __device__
#else
#define XRESTORE_HD
#endif
