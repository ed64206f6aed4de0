// U-Net forward-pass timings: xrestore::nn::unet (the fastMRI U-Net, 4 pool layers) on one
// 3 x N x N image, N = 256 and 512, for base channels 32 and 64. Each case reports the time per
// forward and the counters "gflops_per_s" (unet::flops / wall time) and "gflop" (per forward).
// Names are unet_forward/c<chans>/<N>. benchmarks/compare_unet_pytorch.py runs this binary and
// the same network in PyTorch with the same weights. unet_small/ and unet_first_call/ (below)
// time the per-call cost of 32 x 32 and 64 x 64 inputs.
//
// Weights (.pth or .safetensors state_dicts): --c32=PATH / --c64=PATH, else the environment
// variables XRESTORE_UNET_C32 / XRESTORE_UNET_C64; c32 defaults to the shipped model
// models/denoiser_unet_c32.pth of the repository when it exists. A chans with no
// weights is skipped.
//
//   XRESTORE_UNET_C64=c64.pth ./bench_unet --benchmark_filter='unet_forward/c64.*'
//   ./bench_unet --peak_memory=c64.pth --size=512 [--input=x.npy] [--output=y.npy]
//
// --peak_memory loads the weights, makes the input (read from --input, a 1 x 3 x N x N float32
// .npy, or the same pseudo-random image the timings use), reads the process's resident set,
// runs one forward, and prints "rss_before_kb <kB> vm_hwm_kb <kB> ms <forward time>" (VmRSS just
// before the forward and the peak VmHWM after it, from /proc/self/status); --output writes the
// result as .npy. Each (chans, size) should run in a fresh process.
//
//   ./bench_unet --load=c64.pth
//
// --load times loading the weights into a ready-to-run network as load_unet_denoiser does
// (mapped_weights, then unet::from_mapped_weights) and prints "load_ms <wall> user_ms <cpu>
// sys_ms <cpu> rss_before_kb <kB> vm_hwm_kb <kB>" (getrusage, /proc/self/status); run it in a
// fresh process. benchmarks/compare_weight_loading.py compares it with torch.load.
//
// --conv3x3=direct packs the 3x3 layers for the direct method instead of the default (Winograd
// for 16 or more input channels; nn/layers.hpp), for every mode above.

#include <xrestore/core/tensor.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/gemm.hpp>
#include <xrestore/nn/unet.hpp>

#include <benchmark/benchmark.h>
#include <xtensor/xview.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// --conv3x3=: how the networks' 3x3 layers are packed.
xrestore::nn::conv3x3_method conv3x3_method = xrestore::nn::conv3x3_method::automatic;

constexpr std::size_t channels = 3;
constexpr std::size_t sizes[] = {256, 512};
constexpr std::size_t small_sizes[] = {32, 64};
constexpr std::size_t widths[] = {32, 64};

// A pseudo-random 1 x 3 x n x n image, uniform in [0, 1).
xrestore::tensor<4> make_input(std::size_t n) {
    xrestore::tensor<4> x = xt::empty<float>({std::size_t{1}, channels, n, n});
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
    for (float& v : x) {
        v = uniform(rng);
    }
    return x;
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
long status_kb(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
            line[field.size()] == ':') {
            return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
        }
    }
    return -1;
}

// One network per weights file, loaded on first use (each repetition would reload it otherwise).
const xrestore::nn::unet& network(const std::filesystem::path& weights) {
    static std::map<std::filesystem::path, std::unique_ptr<xrestore::nn::unet>> cache;
    auto& net = cache[weights];
    if (!net) {
        xrestore::state_dict sd = xrestore::load_weights(weights);
        net = std::make_unique<xrestore::nn::unet>(
            xrestore::nn::unet::from_state_dict_releasing(sd, conv3x3_method));
    }
    return *net;
}

void run_forward(benchmark::State& state, const std::filesystem::path& weights, std::size_t n) {
    const xrestore::nn::unet& net = network(weights);
    const xrestore::tensor<4> x = make_input(n);
    xrestore::tensor<4> y = net.forward(x); // warm-up: allocates the workspace
    double seconds = 0.0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        y = net.forward(x);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const double flop = net.flops(n, n);
    state.counters["gflop"] = flop * 1e-9;
    state.counters["gflops_per_s"] =
        seconds > 0.0 ? flop * static_cast<double>(state.iterations()) / seconds * 1e-9 : 0.0;
    state.counters["chans"] = static_cast<double>(net.config().chans);
}

// Per-call cost of small inputs (a PnP iteration on a crop, a tile): unet_small/c<chans>/<N>
// times warm calls at one size (the workspace is laid out once per input size and kept, so
// repeated calls pay only the arithmetic); unet_first_call/c<chans>/<N> gives every call a
// fresh workspace (laid out and allocated again: what the first call at a new size costs).
// The arithmetic alone would take gflop / (the GFLOP/s of the 256 x 256 case).
void run_first_call(benchmark::State& state, const std::filesystem::path& weights, std::size_t n) {
    const xrestore::nn::unet& net = network(weights);
    const xrestore::tensor<4> batch = make_input(n);
    const xrestore::image x = xt::view(batch, 0);
    xrestore::image y = net.forward(x);
    for (auto _ : state) {
        xrestore::nn::unet_workspace fresh;
        y = net.forward(x, fresh);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["gflop"] = net.flops(n, n) * 1e-9;
}

// Weights per chans: flags, then environment, then (c32) the shipped model.
std::map<std::size_t, std::filesystem::path>
weight_paths(std::map<std::size_t, std::string> flags) {
    std::map<std::size_t, std::filesystem::path> paths;
    for (std::size_t c : widths) {
        std::string path = flags[c];
        if (path.empty()) {
            const std::string var = "XRESTORE_UNET_C" + std::to_string(c);
            if (const char* env = std::getenv(var.c_str()); env != nullptr) {
                path = env;
            }
        }
        if (path.empty() && c == 32) {
            const std::filesystem::path shipped = std::filesystem::path(XRESTORE_DATA_DIR) / ".." /
                                                  "models" / "denoiser_unet_c32.pth";
            if (std::filesystem::exists(shipped)) {
                path = shipped.lexically_normal().string();
            }
        }
        if (path.empty()) {
            std::cerr << "bench_unet: no weights for chans " << c << " (--c" << c
                      << "=PATH or XRESTORE_UNET_C" << c << "); skipped\n";
            continue;
        }
        paths[c] = path;
    }
    return paths;
}

void register_cases(const std::map<std::size_t, std::filesystem::path>& paths) {
    for (const auto& [c, path] : paths) {
        for (std::size_t n : small_sizes) {
            const std::string tag = "/c" + std::to_string(c) + "/" + std::to_string(n);
            benchmark::RegisterBenchmark(
                ("unet_small" + tag).c_str(),
                [path, n](benchmark::State& s) { run_forward(s, path, n); })
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
            benchmark::RegisterBenchmark(
                ("unet_first_call" + tag).c_str(),
                [path, n](benchmark::State& s) { run_first_call(s, path, n); })
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
        for (std::size_t n : sizes) {
            const std::string name = "unet_forward/c" + std::to_string(c) + "/" + std::to_string(n);
            benchmark::RegisterBenchmark(
                name.c_str(), [path, n](benchmark::State& s) { run_forward(s, path, n); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
    }
}

// User and system CPU seconds of this process so far.
std::pair<double, double> cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
    };
    return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

int load_time(const std::filesystem::path& weights) {
    xrestore::nn::stop_idle_blas_threads(); // as the CLI does first
    const long before = status_kb("VmRSS");
    const auto [user0, sys0] = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    xrestore::mapped_weights file(weights);
    const auto net = xrestore::nn::unet::from_mapped_weights(file, conv3x3_method);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto [user1, sys1] = cpu_seconds();
    benchmark::DoNotOptimize(&net);
    std::cout << "load_ms " << ms << " user_ms " << 1e3 * (user1 - user0) << " sys_ms "
              << 1e3 * (sys1 - sys0) << " rss_before_kb " << before << " vm_hwm_kb "
              << status_kb("VmHWM") << " chans " << net.config().chans << '\n';
    return 0;
}

int peak_memory(const std::filesystem::path& weights, std::size_t n, const std::string& input,
                const std::string& output) {
    xrestore::mapped_weights file(weights);
    const auto net = xrestore::nn::unet::from_mapped_weights(file, conv3x3_method);
    const xrestore::tensor<4> x = input.empty() ? make_input(n) : xrestore::read_npy<4>(input);
    const long before = status_kb("VmRSS");
    const auto start = std::chrono::steady_clock::now();
    const xrestore::tensor<4> y = net.forward(x);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const long peak = status_kb("VmHWM");
    if (!output.empty()) {
        xrestore::write_npy(output, y);
    }
    std::cout << "rss_before_kb " << before << " vm_hwm_kb " << peak << " ms " << ms << '\n';
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    // as the CLI: OpenBLAS's fast kernels on a processor it does not know (nn/gemm.hpp)
    xrestore::nn::restart_with_fast_blas_kernels(argv);
    xrestore::nn::use_single_threaded_blas(); // as the CLI: the layers' threads are OpenMP's
    benchmark::AddCustomContext("openblas_core", openblas_get_corename());
    // --c32=, --c64=, --peak_memory=, --size=, --input=, --output=, --load=, --conv3x3= are
    // ours; everything else goes to Google Benchmark.
    std::map<std::string, std::string> ours = {
        {"--c32=", ""},   {"--c64=", ""},    {"--peak_memory=", ""}, {"--size=", ""},
        {"--input=", ""}, {"--output=", ""}, {"--load=", ""},        {"--conv3x3=", ""}};
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        bool taken = false;
        for (auto& [flag, value] : ours) {
            if (i > 0 && arg.substr(0, flag.size()) == flag) {
                value = std::string(arg.substr(flag.size()));
                taken = true;
            }
        }
        if (!taken) {
            args.push_back(argv[i]);
        }
    }
    try {
        const std::string method = ours["--conv3x3="];
        if (method == "direct") {
            conv3x3_method = xrestore::nn::conv3x3_method::direct;
        } else if (!method.empty() && method != "automatic") {
            std::cerr << "bench_unet: --conv3x3 must be direct or automatic, got '" << method
                      << "'\n";
            return 2;
        }
        benchmark::AddCustomContext("conv3x3", method.empty() ? "automatic" : method);
        if (!ours["--load="].empty()) {
            return load_time(ours["--load="]);
        }
        if (!ours["--peak_memory="].empty()) {
            const std::size_t n = ours["--size="].empty() ? 512 : std::stoul(ours["--size="]);
            return peak_memory(ours["--peak_memory="], n, ours["--input="], ours["--output="]);
        }
        int count = static_cast<int>(args.size());
        benchmark::Initialize(&count, args.data());
        if (benchmark::ReportUnrecognizedArguments(count, args.data())) {
            return 1;
        }
        register_cases(weight_paths({{32, ours["--c32="]}, {64, ours["--c64="]}}));
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
    } catch (const std::exception& e) {
        std::cerr << "bench_unet: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
