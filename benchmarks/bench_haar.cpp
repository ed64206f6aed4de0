// The Haar transform against the blur it is paired with: apply (w = W x) and adjoint (x = W^T w)
// of xrestore::haar_wavelet (3 levels, the CLI default) and of a 13 x 13 box convolution (zero
// boundary), both through apply_into / adjoint_into, on RGB N x N images. Names are
// <haar|box13>/<apply|adjoint>/<N>; the haar and box13 cases of one size run next to each
// other, and after the runs tables give the ratios haar / box13 of the median (or only) real
// times of this run and, with repetitions, of the fastest repetitions (on a busy machine a
// parallel region now and then waits a whole time slice for a preempted thread).
//
//   nice -n 10 ./bench_haar --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <xrestore/core/heap_reuse.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/kernels.hpp>

#include "bench_operator.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t haar_levels = 3;
const std::vector<std::size_t> sizes{64, 256, 512};

void run_haar(benchmark::State& state, std::size_t n, bool adjoint) {
    const xrestore::shape3 shape{3, n, n};
    xrestore::bench::run_operator(state, xrestore::haar_wavelet(shape, haar_levels), shape,
                                  adjoint);
}

void run_box13(benchmark::State& state, std::size_t n, bool adjoint) {
    const xrestore::shape3 shape{3, n, n};
    xrestore::bench::run_operator(state, xrestore::convolution(xrestore::box_kernel(13), shape),
                                  shape, adjoint);
}

/// The console output, plus the real time per iteration of every run (the median and fastest
/// aggregates when there are repetitions) by name, for the ratio tables.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& run : runs) {
            const std::string name = run.run_name.function_name;
            if (run.run_type == Run::RT_Aggregate) {
                if (run.aggregate_name == "median") {
                    medians_[name] = run.GetAdjustedRealTime();
                } else if (run.aggregate_name == "min") {
                    minimums_[name] = run.GetAdjustedRealTime();
                }
            } else {
                singles_[name] = run.GetAdjustedRealTime();
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }

    /// Median (or single) real time of `name`, or the fastest repetition's with `fastest`, in
    /// the benchmarks' unit; negative when not run.
    double time(const std::string& name, bool fastest) const {
        if (const auto it = minimums_.find(name); fastest && it != minimums_.end()) {
            return it->second;
        }
        if (const auto it = medians_.find(name); it != medians_.end()) {
            return it->second;
        }
        if (const auto it = singles_.find(name); it != singles_.end()) {
            return it->second;
        }
        return -1.0;
    }

private:
    std::map<std::string, double> medians_;
    std::map<std::string, double> minimums_;
    std::map<std::string, double> singles_;
};

/// "<op>/<apply|adjoint>/<n>"
std::string case_name(std::string_view op, bool adjoint, std::size_t n) {
    std::string name(op);
    name.append(adjoint ? "/adjoint/" : "/apply/");
    name.append(std::to_string(n));
    return name;
}

void print_ratios(const ratio_reporter& reporter, bool fastest) {
    std::printf("\nhaar (%zu levels) / box13 real time, %s of this run (< 1: haar cheaper)\n",
                haar_levels, fastest ? "fastest repetitions" : "medians");
    std::printf("%-12s %10s %10s %18s\n", "image", "apply", "adjoint", "apply + adjoint");
    for (const std::size_t n : sizes) {
        const double ha = reporter.time(case_name("haar", false, n), fastest);
        const double hj = reporter.time(case_name("haar", true, n), fastest);
        const double ba = reporter.time(case_name("box13", false, n), fastest);
        const double bj = reporter.time(case_name("box13", true, n), fastest);
        if (ha < 0 || hj < 0 || ba < 0 || bj < 0) {
            continue;
        }
        std::printf("3x%zux%-7zu %10.3f %10.3f %18.3f\n", n, n, ha / ba, hj / bj,
                    (ha + hj) / (ba + bj));
    }
}

/// The fastest of the repetitions.
double fastest(const std::vector<double>& times) {
    return times.empty() ? 0.0 : *std::min_element(times.begin(), times.end());
}

} // namespace

int main(int argc, char** argv) {
    xrestore::reuse_freed_heap_memory();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    for (const std::size_t n : sizes) {
        for (const bool adjoint : {false, true}) {
            const std::string haar = case_name("haar", adjoint, n);
            const std::string box = case_name("box13", adjoint, n);
            benchmark::RegisterBenchmark(haar.c_str(), run_haar, n, adjoint)
                ->Unit(benchmark::kMicrosecond)
                ->ComputeStatistics("min", fastest)
                ->UseRealTime();
            benchmark::RegisterBenchmark(box.c_str(), run_box13, n, adjoint)
                ->Unit(benchmark::kMicrosecond)
                ->ComputeStatistics("min", fastest)
                ->UseRealTime();
        }
    }
    ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_ratios(reporter, false);
    print_ratios(reporter, true);
    benchmark::Shutdown();
    return 0;
}
