#pragma once
/// @file tiled.cuh
/// Shared-memory tiles on a CUDA device: `for_each_tile<Tile>` launches one block of
/// Tile x Tile threads per output tile of every plane. Each block first fills a shared array
/// through the tile body (every thread loads entries k, k + Tile^2, ...), waits for the block,
/// then every thread computes its output from the shared array. The body says what is shared
/// and what is computed; this launcher knows nothing else of it.
///
/// @code
/// // body: shared_size(), load_shared(c, i0, j0, k, shared), compute(c, i0, j0, ty, tx, shared)
/// xrestore::cuda::for_each_tile<16>(channels, out_height, out_width, body);
/// @endcode
///
/// A tile body B is an XRESTORE_HD functor-like type, copied to the device by value, with
///   std::int64_t shared_size() const       floats of shared memory per block (same for all);
///   void load_shared(c, i0, j0, k, float* shared) const   writes shared[k], k < shared_size();
///   void compute(c, i0, j0, ty, tx, const float* shared) const   output (i0 + ty, j0 + tx) of
///                                                                plane c (may lie outside);
/// where (i0, j0) is the tile's top-left output and all arguments are std::int64_t.

#include "xrestore/backend/cuda/runtime.cuh"
#include "xrestore/core/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace xrestore::cuda {

/// Dynamic shared memory a tile may use (the default per-block limit of every CUDA device).
inline constexpr std::size_t max_tile_shared_bytes = 48 * 1024;
/// Planes per launch (the grid's z extent is at most 65535); more planes take several launches.
inline constexpr std::size_t max_tile_planes = 65535;

namespace detail {

/// Block (x, y, z) handles the tile of plane plane_offset + z whose top-left output is
/// (y Tile, x Tile).
template <int Tile, class Body>
__global__ void tiled_kernel(Body body, std::int64_t plane_offset) {
    extern __shared__ float tile_shared[];
    const std::int64_t c = plane_offset + static_cast<std::int64_t>(blockIdx.z);
    const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.y) * Tile;
    const std::int64_t j0 = static_cast<std::int64_t>(blockIdx.x) * Tile;
    const std::int64_t size = body.shared_size();
    for (std::int64_t k = threadIdx.y * Tile + threadIdx.x; k < size; k += Tile * Tile) {
        body.load_shared(c, i0, j0, k, tile_shared);
    }
    __syncthreads();
    body.compute(c, i0, j0, threadIdx.y, threadIdx.x, tile_shared);
}

} // namespace detail

/// Run `body` over `planes` planes of rows x cols outputs in Tile x Tile tiles on the current
/// stream (asynchronously). Throws value_error when the body's shared array exceeds
/// max_tile_shared_bytes.
template <int Tile, class Body>
void for_each_tile(std::size_t planes, std::size_t rows, std::size_t cols, const Body& body) {
    static_assert(Tile > 0 && Tile * Tile <= 1024, "cuda::for_each_tile: Tile^2 threads per block");
    if (planes == 0 || rows == 0 || cols == 0) {
        return;
    }
    const auto shared = static_cast<std::size_t>(body.shared_size()) * sizeof(float);
    if (shared > max_tile_shared_bytes) {
        throw value_error(
            xrestore::detail::concat("cuda::for_each_tile: the shared array must be at most ",
                                     max_tile_shared_bytes, " bytes, got ", shared));
    }
    const dim3 threads(Tile, Tile);
    const auto tiles_across = static_cast<unsigned>((cols + Tile - 1) / Tile);
    const auto tiles_down = static_cast<unsigned>((rows + Tile - 1) / Tile);
    for (std::size_t first = 0; first < planes; first += max_tile_planes) {
        const auto count = static_cast<unsigned>(std::min(max_tile_planes, planes - first));
        detail::tiled_kernel<Tile>
            <<<dim3(tiles_across, tiles_down, count), threads, shared, current_stream()>>>(
                body, static_cast<std::int64_t>(first));
    }
    check_launch("cuda::for_each_tile");
}

} // namespace xrestore::cuda
