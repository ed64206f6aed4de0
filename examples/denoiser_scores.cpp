// Score the default denoiser, the U-Net of models/denoiser_unet_c32.pth, against the classical
// ones (Gaussian smoothing, TV, Haar soft thresholding) on colour photos, and print the result as
// a markdown table (the one in the README):
//   crops      a 2 x 2 grid of non-overlapping N x N crops centred on each photo (N = --crop).
//              The default 208 is the largest multiple of 16 (the 2^4 of the U-Net's 4 pool
//              layers, and a multiple of the 2^3 of the Haar denoiser's 3 levels) for which the
//              grid fits the 640 x 427 default photos; --crop 256 needs photos of 512 x 512.
//   noise      y = x + sigma n, n standard normal, seeded with 1000 k + round(1000 sigma) for
//              crop k, so a sigma's scores do not depend on which other sigmas are run.
//   U-Net      blind: the same call D(y) for every sigma (its convention from the weights'
//              sidecar).
//   classical  for each sigma the strength with the best mean PSNR over all crops, from a
//              fixed grid: tuned on the test images themselves, an optimistic setting for them.
//              A choice at the edge of its grid is reported on stderr.
//   scores     outputs clipped to [0, 1]; PSNR with data range 1 and SSIM with scikit-image's
//              Gaussian-window settings (sigma 1.5, population covariance), averaged over crops;
//              milliseconds per denoiser call, averaged over the calls at the chosen strengths.
// Without photos it reads flower_dahlia, china_palace and grace_hopper from ../shared/data/color
// beside the repository: photos from packages the model's training did not draw from.
//
// usage: denoiser_scores [--weights W] [--crop N] [--sigmas S,S,...] [--out FILE] [PHOTO...]
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/xrestore.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

namespace fs = std::filesystem;
using xrestore::image;

const char* const usage =
    "usage: denoiser_scores [--weights W] [--crop N] [--sigmas S,S,...] [--out FILE] [PHOTO...]\n"
    "  --weights W   U-Net weights (.pth or .safetensors), default models/denoiser_unet_c32.pth\n"
    "  --crop N      side of the 2 x 2 grid of crops centred on each photo, default 208\n"
    "  --sigmas L    comma-separated noise standard deviations, default 0.05,0.1,0.2\n"
    "  --out FILE    also write the markdown table to FILE\n"
    "  PHOTO...      default: flower_dahlia, china_palace, grace_hopper from "
    "../shared/data/color\n";

// Strength grids of the classical denoisers, wide enough that the PSNR-best choice lies inside
// for sigma in [0.05, 0.2] on the default photos: the Gaussian's kernel sigma in pixels, TV's ROF
// weight lambda and Haar's soft threshold (both in the units of the [0, 1] image).
const std::vector<double> gaussian_sigmas{0.5, 0.75, 1.0, 1.5, 2.0, 3.0};
const std::vector<double> tv_weights{0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24, 0.32, 0.48};
const std::vector<double> haar_thresholds{0.02, 0.04, 0.06, 0.08, 0.12, 0.16,
                                          0.24, 0.32, 0.4,  0.48, 0.64};

struct settings {
    fs::path weights;
    std::size_t crop = 208;
    std::vector<double> sigmas{0.05, 0.1, 0.2};
    fs::path out; // empty: print only
    std::vector<fs::path> photos;
};

/// Means over the crops of one denoiser at one strength.
struct score {
    double strength = 0.0;
    double psnr = 0.0;
    double ssim = 0.0;
    double seconds = 0.0; // per call
};

/// A classical denoiser: its name, what its strength is, its grid and how to build it.
struct classical_method {
    const char* name;
    const char* strength_label; // the table's column suffix
    const char* strength_unit;  // printed after the value
    const std::vector<double>* grid;
    std::function<image(const image&, double)> denoise; // (y, strength) -> estimate
};

template <class... Args>
std::string print_string(const char* format, Args... args) {
    const int n = std::snprintf(nullptr, 0, format, args...);
    std::string text(static_cast<std::size_t>(std::max(n, 0)) + 1, '\0');
    std::snprintf(text.data(), text.size(), format, args...);
    text.resize(static_cast<std::size_t>(std::max(n, 0)));
    return text;
}

double parse_number(const std::string& text, const char* flag) {
    std::size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(value)) {
        throw std::invalid_argument(
            print_string("%s must be a finite number, got '%s'", flag, text.c_str()));
    }
    return value;
}

std::size_t parse_crop(const std::string& text) {
    const double value = parse_number(text, "--crop");
    if (value < 1.0 || value > 65536.0 || value != std::floor(value)) {
        throw std::invalid_argument(print_string(
            "--crop must be a whole number of pixels in [1, 65536], got '%s'", text.c_str()));
    }
    return static_cast<std::size_t>(value);
}

std::vector<double> parse_sigmas(const std::string& text) {
    std::vector<double> sigmas;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const double sigma = parse_number(text.substr(start, comma - start), "--sigmas entry");
        if (sigma <= 0.0 || sigma > 1.0) {
            throw std::invalid_argument(
                print_string("--sigmas entries must be in (0, 1], got %g", sigma));
        }
        sigmas.push_back(sigma);
        start = comma + 1;
    }
    return sigmas;
}

settings parse_arguments(int argc, char** argv) {
    settings s;
    s.weights = fs::path(XRESTORE_DATA_DIR "/../models/denoiser_unet_c32.pth").lexically_normal();
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::invalid_argument(arg + " needs a value");
            }
            return argv[++i];
        };
        if (arg == "--weights") {
            s.weights = value();
        } else if (arg == "--crop") {
            s.crop = parse_crop(value());
        } else if (arg == "--sigmas") {
            s.sigmas = parse_sigmas(value());
        } else if (arg == "--out") {
            s.out = value();
        } else if (arg.size() > 1 && arg[0] == '-') {
            throw std::invalid_argument("unknown option '" + arg + "'");
        } else {
            s.photos.emplace_back(arg);
        }
    }
    if (s.photos.empty()) {
        const fs::path folder =
            fs::path(XRESTORE_DATA_DIR "/../../shared/data/color").lexically_normal();
        for (const char* name : {"flower_dahlia", "china_palace", "grace_hopper"}) {
            s.photos.push_back(folder / (std::string(name) + ".png"));
        }
    }
    return s;
}

/// The 2 x 2 grid of non-overlapping crop x crop tiles centred on `photo`, row by row.
std::vector<image> centred_grid(const image& photo, std::size_t crop, const fs::path& name) {
    const xrestore::shape3 shape = xrestore::shape_of<3>(photo);
    const std::size_t side = 2 * crop;
    if (shape[1] < side || shape[2] < side) {
        throw xrestore::shape_error(xrestore::detail::concat(
            "photo '", name.string(), "' is ", shape[2], " x ", shape[1],
            " pixels (W x H), smaller than the 2 x 2 grid of ", crop, " x ", crop,
            " crops, which needs at least ", side, " x ", side));
    }
    const std::size_t top = (shape[1] - side) / 2;
    const std::size_t left = (shape[2] - side) / 2;
    std::vector<image> tiles;
    for (std::size_t row = 0; row < 2; ++row) {
        for (std::size_t column = 0; column < 2; ++column) {
            const std::size_t y0 = top + row * crop;
            const std::size_t x0 = left + column * crop;
            tiles.push_back(xt::eval(
                xt::view(photo, xt::all(), xt::range(y0, y0 + crop), xt::range(x0, x0 + crop))));
        }
    }
    return tiles;
}

/// Mean PSNR, SSIM and seconds per call of `denoise` over the crops.
template <class Denoise>
score evaluate(const std::vector<image>& truths, const std::vector<image>& noisy,
               Denoise&& denoise) {
    const xrestore::ssim_options preset = xrestore::gaussian_ssim_options;
    score s;
    for (std::size_t k = 0; k < truths.size(); ++k) {
        const auto start = std::chrono::steady_clock::now();
        const image estimate = denoise(noisy[k]);
        s.seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const image clipped = xt::clip(estimate, 0.0f, 1.0f);
        s.psnr += xrestore::psnr(truths[k], clipped);
        s.ssim += xrestore::ssim(truths[k], clipped, preset);
    }
    const double n = static_cast<double>(truths.size());
    s.psnr /= n;
    s.ssim /= n;
    s.seconds /= n;
    return s;
}

std::string cell(const score& s) {
    return print_string("%.2f dB / %.3f", s.psnr, s.ssim);
}

int thread_count() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

} // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::printf("%s", usage);
            return 0;
        }
    }
    try {
        using namespace xrestore;
        const settings s = parse_arguments(argc, argv);
        std::ofstream out_file;
        if (!s.out.empty()) {
            out_file.open(s.out);
            if (!out_file) {
                throw io_error("cannot open '" + s.out.string() + "' to write the table");
            }
        }

        // Everything is read and checked before the long computation starts.
        const unet_denoiser unet = load_unet_denoiser(s.weights);
        std::vector<image> truths;
        std::string photo_names;
        for (const fs::path& path : s.photos) {
            const std::vector<image> tiles = centred_grid(read_image(path), s.crop, path);
            unet.check_image(shape_of<3>(tiles.front()));
            truths.insert(truths.end(), tiles.begin(), tiles.end());
            photo_names += (photo_names.empty() ? "" : ", ") + path.stem().string();
        }

        const std::vector<classical_method> classical{
            {"Gaussian", "sigma", " px", &gaussian_sigmas,
             [](const image& y, double t) { return gaussian_denoiser{.sigma = t}(y); }},
            {"TV", "weight", "", &tv_weights,
             [](const image& y, double t) { return tv_denoiser{.weight = t}(y); }},
            {"Haar", "threshold", "", &haar_thresholds,
             [](const image& y, double t) { return haar_denoiser{.threshold = t}(y); }},
        };

        std::vector<score> noisy_scores;
        std::vector<score> unet_scores;
        std::vector<std::vector<score>> classical_scores(classical.size());
        for (const double sigma : s.sigmas) {
            std::fprintf(stderr, "sigma %g: noising %zu crops, running the denoisers\n", sigma,
                         truths.size());
            std::vector<image> noisy;
            const auto sigma_seed = static_cast<std::uint64_t>(std::lround(1000.0 * sigma));
            for (std::size_t k = 0; k < truths.size(); ++k) {
                noisy.push_back(add_gaussian_noise(truths[k], sigma, 1000 * k + sigma_seed));
            }
            noisy_scores.push_back(evaluate(truths, noisy, [](const image& y) { return y; }));
            unet_scores.push_back(evaluate(truths, noisy, unet));

            for (std::size_t m = 0; m < classical.size(); ++m) {
                const classical_method& method = classical[m];
                const std::vector<double>& grid = *method.grid;
                std::vector<score> tried;
                for (const double strength : grid) {
                    tried.push_back(evaluate(truths, noisy, [&](const image& y) {
                        return method.denoise(y, strength);
                    }));
                    tried.back().strength = strength;
                }
                // the strength of best mean PSNR over all crops
                const auto best = std::max_element(
                    tried.begin(), tried.end(),
                    [](const score& a, const score& b) { return a.psnr < b.psnr; });
                if (best == tried.begin() || best + 1 == tried.end()) {
                    std::fprintf(stderr,
                                 "note: sigma %g: the best %s %s, %g, is at the edge of its grid "
                                 "[%g, %g]\n",
                                 sigma, method.name, method.strength_label, best->strength,
                                 grid.front(), grid.back());
                }
                classical_scores[m].push_back(*best);
            }
        }

        // The markdown table.
        std::string table = print_string(
            "Denoisers on %zu crops of %zu x %zu (a 2 x 2 grid centred on each of %s), Gaussian "
            "noise of standard deviation sigma added to [0, 1] images; mean PSNR / mean SSIM "
            "(scikit-image's Gaussian-window SSIM), outputs clipped to [0, 1]. U-Net: %s, blind "
            "(the same call for every sigma). Gaussian smoothing, TV (ROF by Chambolle's "
            "algorithm, "
            "at most 100 iterations), Haar (soft thresholding of 3 levels of details): strength "
            "tuned per sigma on "
            "these images, an optimistic setting for the classical denoisers; the chosen "
            "strength is in brackets.\n\n",
            truths.size(), s.crop, s.crop, photo_names.c_str(),
            s.weights.filename().string().c_str());
        table += "| sigma | noisy | U-Net (blind) |";
        for (const classical_method& method : classical) {
            table += print_string(" %s (%s) |", method.name, method.strength_label);
        }
        table += "\n|---|---|---|";
        for (std::size_t m = 0; m < classical.size(); ++m) {
            table += "---|";
        }
        table += "\n";
        for (std::size_t j = 0; j < s.sigmas.size(); ++j) {
            table += print_string("| %g | %s | %s |", s.sigmas[j], cell(noisy_scores[j]).c_str(),
                                  cell(unet_scores[j]).c_str());
            for (std::size_t m = 0; m < classical.size(); ++m) {
                const score& c = classical_scores[m][j];
                table += print_string(" %s (%g%s) |", cell(c).c_str(), c.strength,
                                      classical[m].strength_unit);
            }
            table += "\n";
        }

        // seconds per call, over the calls at the chosen strengths of every sigma
        auto mean_seconds = [](const std::vector<score>& scores) {
            double total = 0.0;
            for (const score& c : scores) {
                total += c.seconds;
            }
            return total / static_cast<double>(scores.size());
        };
        const double unet_seconds = mean_seconds(unet_scores);
        table += print_string("\nMilliseconds per %zu x %zu denoiser call (%d threads): U-Net %.3g",
                              s.crop, s.crop, thread_count(), 1e3 * unet_seconds);
        for (std::size_t m = 0; m < classical.size(); ++m) {
            table += print_string(", %s %.3g", classical[m].name,
                                  1e3 * mean_seconds(classical_scores[m]));
        }
        table += ".\n";

        std::printf("%s\n", table.c_str());
        for (std::size_t j = 0; j < s.sigmas.size(); ++j) {
            std::printf("sigma %g: noisy %.2f dB, unet %.2f dB", s.sigmas[j], noisy_scores[j].psnr,
                        unet_scores[j].psnr);
            for (std::size_t m = 0; m < classical.size(); ++m) {
                std::printf(", %s %.2f dB", classical[m].name, classical_scores[m][j].psnr);
            }
            std::printf("\n");
        }
        if (out_file.is_open() && !(out_file << table).flush()) {
            throw io_error("cannot write the table to '" + s.out.string() + "'");
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "denoiser_scores: error: %s\n", e.what());
        return 1;
    }
}
