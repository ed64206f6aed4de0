#pragma once
// Shared by the Google Benchmark programs that time one linear operator (bench_blur, bench_haar):
// the pseudo-random test image and the timing loop of apply_into / adjoint_into.

#include <xrestore/core/tensor.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>

namespace xrestore::bench {

/// A C x H x W image of uniform values in [0, 1), the same for every run (seed 7).
inline image uniform_image(shape3 shape) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    image x(shape);
    for (auto& v : x) {
        v = uniform(rng);
    }
    return x;
}

/// Time op.apply_into (or, with `adjoint`, op.adjoint_into) on a uniform image of `shape`.
template <class Op>
void run_operator(benchmark::State& state, const Op& op, shape3 shape, bool adjoint) {
    const image x = uniform_image(shape);
    image out(shape);
    for (auto _ : state) {
        if (adjoint) {
            op.adjoint_into(x, out);
        } else {
            op.apply_into(x, out);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() *
                            static_cast<std::int64_t>(shape[0] * shape[1] * shape[2]));
}

} // namespace xrestore::bench
