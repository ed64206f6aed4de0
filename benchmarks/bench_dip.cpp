// Deep Image Prior iterations natively, the twin of compare_dip_pytorch.py's PyTorch child (the
// script runs both side by side):
//
//     build/benchmarks/bench_dip [--size 256] [--iters 20] [--warmup 3] [--wide 0] [--seed 0]
//
// The study's denoising setting: the default skip network (input depth 32, 16/32/64/128/128
// channels, skip 4; --wide 1: 128 at every scale), A = identity on a 3 x size x size image,
// input noise 1/30, Adam lr 0.01, running average; a run of --warmup iterations (untimed), then
// a run of --iters iterations on the same network, timed as a whole. Threads: OMP_NUM_THREADS.
// It prints one line:
//
//     dip_native mean_ms=... peak_rss_mb=... rss_before_mb=... increment_mb=... iters=N
//         warmup=W size=S wide=0 threads=T loss_first=... loss_last=...
//
// peak_rss_mb is VmHWM of this process, rss_before_mb VmRSS once the image and network exist.
// Like the CLI, it keeps freed memory in the heap (core/heap_reuse.hpp).

#include "bench_support.hpp"

#include <xrestore/core/heap_reuse.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/train/deep_image_prior.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

using xrestore::bench::option;
using xrestore::bench::status_mb;

int main(int argc, char** argv) {
    using namespace xrestore;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::puts("bench_dip [--size 256] [--iters 20] [--warmup 3] [--wide 0] [--seed 0]");
            return 0;
        }
    }
    reuse_freed_heap_memory(); // as the xrestore CLI does
    const std::size_t size = option(argc, argv, "--size", 256);
    const std::size_t iters = std::max<std::size_t>(1, option(argc, argv, "--iters", 20));
    const std::size_t warmup = std::max<std::size_t>(1, option(argc, argv, "--warmup", 3));
    const bool wide = option(argc, argv, "--wide", 0) != 0;
    const std::size_t seed = option(argc, argv, "--seed", 0);
    try {
        // a smooth image with some texture, noisy as the study's sigma 25/255
        image y = image::from_shape({3, size, size});
        const train::detail::counter_rng rng(seed + 77, 5);
        for (std::size_t c = 0; c < 3; ++c) {
            for (std::size_t r = 0; r < size; ++r) {
                for (std::size_t q = 0; q < size; ++q) {
                    const std::size_t i = (c * size + r) * size + q;
                    y.data()[i] =
                        static_cast<float>(0.5 +
                                           0.3 * std::sin(0.05 * double(r) * double(c + 1)) *
                                               std::cos(0.07 * double(q)) +
                                           25.0 / 255.0 * rng.normal(i));
                }
            }
        }
        const auto A = identity({3, size, size});
        train::dip_options o;
        if (wide) {
            o.net = train::skip_net_options::wide();
        }
        o.seed = seed;
        train::skip_net<float> net(o.net, o.seed);
        const double rss_before = status_mb("VmRSS");
        o.iterations = warmup;
        const train::dip_result first = train::deep_image_prior(A, y, o, net);
        o.iterations = iters;
        const auto start = std::chrono::steady_clock::now();
        const train::dip_result timed = train::deep_image_prior(A, y, o, net);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        const double peak = status_mb("VmHWM");
        int threads = 1;
#if defined(_OPENMP)
        threads = omp_get_max_threads();
#endif
        std::printf("dip_native mean_ms=%.3f peak_rss_mb=%.1f rss_before_mb=%.1f "
                    "increment_mb=%.1f iters=%zu warmup=%zu size=%zu wide=%d threads=%d "
                    "loss_first=%.6g loss_last=%.6g\n",
                    ms / double(iters), peak, rss_before, peak - rss_before, iters, warmup, size,
                    wide ? 1 : 0, threads, first.history.front().loss, timed.history.back().loss);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_dip: %s\n", e.what());
        return 1;
    }
}
