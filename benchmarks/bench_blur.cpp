// Blur operator timings: apply (y = K x) and adjoint (x = K^T y) of xrestore::convolution with
// zero boundary on RGB N x N images, for the kernels of the reference studies. Names are
// blur_apply/<kernel>/<N> and blur_adjoint/<kernel>/<N>; benchmarks/compare_blur_pytorch.py runs
// this binary and times PyTorch on the same cases.
//
//   ./bench_blur --benchmark_filter='blur_apply/box13/.*'

#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>

#include "bench_operator.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

struct blur_case {
    std::string name;
    xrestore::matrix kernel;
};

std::vector<blur_case> blur_cases() {
    return {{"box7", xrestore::box_kernel(7)},
            {"box13", xrestore::box_kernel(13)},
            {"box17", xrestore::box_kernel(17)},
            {"motion15", xrestore::motion_kernel(15, 0.785)},
            {"gaussian13", xrestore::gaussian_kernel(2.0, 13)}};
}

void run_blur(benchmark::State& state, const xrestore::matrix& kernel, std::size_t n,
              bool adjoint) {
    const xrestore::shape3 shape{3, n, n};
    xrestore::bench::run_operator(state, xrestore::convolution(kernel, shape), shape, adjoint);
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    for (const auto& c : blur_cases()) {
        for (std::size_t n : {256, 512, 1024}) {
            for (bool adjoint : {false, true}) {
                const std::string name = std::string(adjoint ? "blur_adjoint/" : "blur_apply/") +
                                         c.name + "/" + std::to_string(n);
                benchmark::RegisterBenchmark(name.c_str(), run_blur, c.kernel, n, adjoint)
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
            }
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
