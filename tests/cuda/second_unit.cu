// A second translation unit that includes the whole CUDA backend, linked into
// test_cuda_vector_space: the headers must be includable by several units of one program (no
// non-inline definitions, one kernel per template instantiation).
#include <xrestore/cuda.cuh>

namespace xrestore::test {

/// <x, y> on the device, computed in this translation unit.
double dot_from_second_unit(const device_array<3>& x, const device_array<3>& y) {
    return xrestore::dot(x, y);
}

} // namespace xrestore::test
