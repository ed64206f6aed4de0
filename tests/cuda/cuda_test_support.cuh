#pragma once
/// @file cuda_test_support.cuh
/// The GPU tests' main and comparison helpers. The main checks for a usable CUDA device first:
/// without one it prints why and exits with 77, which ctest reports as skipped (never passed).
/// Every test compares a device result with the CPU backend's by normalised error
/// ||device - cpu|| / ||cpu||.
///
/// @code
/// #define BOOST_TEST_MODULE cuda_operators
/// #include "cuda/cuda_test_support.cuh"
/// BOOST_TEST(xrestore::test::normalised_error(to_host(d), cpu) <= 1e-6);
/// @endcode

// BOOST_TEST_MODULE (defined by the test file) provides init_unit_test; main is below.
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <xrestore/backend/cuda/runtime.cuh>
#include <xrestore/core/tensor.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <random>

namespace xrestore::test {

/// ||a - b|| / ||b|| over all entries (||a|| when b is zero); shapes must match.
template <class A, class B>
double normalised_error(const A& a, const B& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double difference = 0.0;
    double reference = 0.0;
    const float* pa = a.data();
    const float* pb = b.data();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(pa[i]) - static_cast<double>(pb[i]);
        difference += d * d;
        reference += static_cast<double>(pb[i]) * static_cast<double>(pb[i]);
    }
    return reference > 0.0 ? std::sqrt(difference / reference) : std::sqrt(difference);
}

} // namespace xrestore::test

int main(int argc, char* argv[]) {
    const std::string reason = xrestore::cuda::device_unavailable_reason();
    if (!reason.empty()) {
        std::printf("SKIPPED: no usable CUDA device (%s)\n", reason.c_str());
        return 77;
    }
    return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
