#pragma once
// xrestore compare --grid GRID.json --out DIR: every combination of images x degradations x
// solvers x parameter values in the grid; writes DIR/results.csv and DIR/results.md (PSNR, SSIM,
// iterations, wall time per run) with a progress bar on a terminal.
//
// Grid format (paths relative to the grid file):
// {
//   "seed": 0, "crop": 128,                      // optional: centre crop (square side)
//   "images": ["../data/images/butterfly_set5.png"],
//   "degradations": [{"name": "box13", "op": "blur", "kernel": "box:13", "boundary": "zero",
//                     "noise": 0.01},
//                    {"name": "inpaint60", "op": "inpaint", "missing": 0.6}],
//   "solvers": [{"solver": "tv", "iters": 100, "lambda": [1e-3, 3e-3]},
//               {"solver": "pnp-admm", "denoiser": ["gaussian", "tv"], "eta": 1e-4}]
// }
// In a solver entry every key may hold one value or a list; lists are expanded as a product.

#include "operator_flags.hpp"
#include "restore_command.hpp"

#include <xrestore/xrestore.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace xrestore::cli {

struct compare_args {
    std::string grid;
    std::string out = "compare_out";
    bool verbose = false;
};

inline void add_compare_command(CLI::App& app, compare_args& a, CLI::App*& cmd) {
    cmd = app.add_subcommand("compare", "run a grid of images x degradations x solvers");
    cmd->add_option("--grid", a.grid, "grid description (JSON)")->required();
    cmd->add_option("--out", a.out, "output folder")->capture_default_str();
    cmd->add_flag("--verbose", a.verbose, "progress even when stderr is not a terminal");
}

namespace detail {

inline nlohmann::json load_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        throw io_error("compare: cannot open grid file '" + path.string() + "'");
    }
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw io_error("compare: grid file '" + path.string() + "' is not valid JSON: " + e.what());
    }
}

/// The product of every list-valued key of a solver entry.
inline std::vector<nlohmann::json> expand(const nlohmann::json& entry) {
    std::vector<nlohmann::json> out{nlohmann::json::object()};
    for (const auto& [key, value] : entry.items()) {
        const nlohmann::json values = value.is_array() ? value : nlohmann::json::array({value});
        if (values.empty()) {
            throw value_error("compare: solver key '" + key + "' must not be an empty list");
        }
        std::vector<nlohmann::json> next;
        for (const auto& partial : out) {
            for (const auto& v : values) {
                nlohmann::json p = partial;
                p[key] = v;
                next.push_back(p);
            }
        }
        out = std::move(next);
    }
    return out;
}

template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
    try {
        return j.contains(key) ? j.at(key).get<T>() : fallback;
    } catch (const nlohmann::json::exception& e) {
        throw value_error(std::string("compare: key '") + key +
                          "' has the wrong type: " + e.what());
    }
}

inline restore_args solver_args(const nlohmann::json& s) {
    static const std::vector<std::string> known{"solver", "iters",    "lambda",           "eta",
                                                "step",   "denoiser", "denoiser_strength"};
    for (const auto& [key, value] : s.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            throw value_error("compare: unknown solver key '" + key +
                              "' (known: solver, iters, lambda, eta, step, denoiser, "
                              "denoiser_strength)");
        }
    }
    restore_args a;
    a.solver = get_or<std::string>(s, "solver", "");
    static const std::vector<std::string> solvers{"least-squares",
                                                  "cg-tikhonov",
                                                  "cg-tikhonov-grad",
                                                  "landweber",
                                                  "fista-haar",
                                                  "fista-l1",
                                                  "tv",
                                                  "tv-haar",
                                                  "admm-tv",
                                                  "pnp-admm",
                                                  "pnp-pgd",
                                                  "pnp-hqs",
                                                  "red",
                                                  "red-fp",
                                                  "rl",
                                                  "rl-tv"};
    if (std::find(solvers.begin(), solvers.end(), a.solver) == solvers.end()) {
        throw value_error("compare: solver must be one of the `restore --solver` names, got '" +
                          a.solver + "'");
    }
    a.iters = get_or<int>(s, "iters", 100);
    require(a.iters > 0, "compare", "iters", "positive", a.iters);
    if (s.contains("lambda")) {
        a.lambda = get_or<double>(s, "lambda", 0.0);
    }
    if (s.contains("eta")) {
        a.eta = get_or<double>(s, "eta", 0.0);
    }
    if (s.contains("step")) {
        a.step = get_or<double>(s, "step", 0.0);
    }
    a.denoiser_name = get_or<std::string>(s, "denoiser", "tv");
    if (a.denoiser_name != "gaussian" && a.denoiser_name != "tv" && a.denoiser_name != "haar" &&
        !(a.denoiser_name.starts_with("unet:") && a.denoiser_name.size() > 5)) {
        throw value_error("compare: denoiser must be gaussian, tv, haar or unet:WEIGHTS, got '" +
                          a.denoiser_name + "'");
    }
    a.denoiser_strength = get_or<double>(s, "denoiser_strength", 0.0);
    return a;
}

inline std::string describe(const nlohmann::json& s) {
    std::string text;
    for (const auto& [key, value] : s.items()) {
        if (key == "solver") {
            continue;
        }
        text += (text.empty() ? "" : " ") + key + "=" +
                (value.is_string() ? value.get<std::string>() : value.dump());
    }
    return text;
}

} // namespace detail

inline int run_compare(const compare_args& a) {
    namespace fs = std::filesystem;
    const fs::path grid_path(a.grid);
    const nlohmann::json grid = detail::load_json(grid_path);
    const fs::path base = grid_path.parent_path();
    for (const char* key : {"images", "degradations", "solvers"}) {
        if (!grid.contains(key) || !grid.at(key).is_array() || grid.at(key).empty()) {
            throw value_error(std::string("compare: the grid must have a non-empty list '") + key +
                              "'");
        }
    }
    const auto seed = detail::get_or<std::uint64_t>(grid, "seed", 0);
    const auto crop = detail::get_or<std::size_t>(grid, "crop", 0);

    // Load and validate everything before the first long run.
    struct loaded {
        std::string name;
        image truth;
    };
    std::vector<loaded> images;
    for (const auto& entry : grid.at("images")) {
        fs::path p = entry.get<std::string>();
        if (p.is_relative() && !fs::exists(p)) {
            p = base / p;
        }
        image x = load_array(p);
        check_finite(x, "compare", p.string());
        if (crop > 0) {
            const auto [c, h, w] = shape_of<3>(x);
            require(crop <= h && crop <= w, "compare", "crop", "at most the image size", crop);
            const std::size_t top = (h - crop) / 2;
            const std::size_t left = (w - crop) / 2;
            x = xt::view(x, xt::all(), xt::range(top, top + crop), xt::range(left, left + crop));
        }
        images.push_back({p.filename().string(), std::move(x)});
    }
    std::vector<std::pair<nlohmann::json, restore_args>> runs;
    for (const auto& entry : grid.at("solvers")) {
        for (const auto& s : detail::expand(entry)) {
            runs.emplace_back(s, detail::solver_args(s));
        }
    }
    const std::size_t total = images.size() * grid.at("degradations").size() * runs.size();

    fs::create_directories(a.out);
    std::ofstream csv(fs::path(a.out) / "results.csv");
    if (!csv) {
        throw io_error("compare: cannot write results.csv in '" + a.out + "'");
    }
    csv << "image,degradation,solver,parameters,psnr_input,psnr,ssim,iterations,seconds\n";
    std::string md = "| image | degradation | solver | parameters | PSNR in (dB) | PSNR (dB) | "
                     "SSIM | iterations | time (s) |\n|---|---|---|---|---:|---:|---:|---:|---:|\n";
    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    std::size_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& img : images) {
        for (const auto& deg : grid.at("degradations")) {
            operator_flags flags;
            flags.op = detail::get_or<std::string>(deg, "op", "blur");
            flags.kernel = detail::get_or<std::string>(deg, "kernel", flags.kernel);
            flags.boundary = detail::get_or<std::string>(deg, "boundary", flags.boundary);
            flags.missing = detail::get_or<double>(deg, "missing", flags.missing);
            flags.factor = detail::get_or<std::size_t>(deg, "factor", flags.factor);
            flags.seed = seed;
            const std::string deg_name = detail::get_or<std::string>(deg, "name", flags.op);
            const double noise = detail::get_or<double>(deg, "noise", 0.0);
            const auto op = make_operator(flags, shape_of<3>(img.truth));
            const image y = std::visit(
                [&](const auto& A) -> image {
                    if constexpr (std::is_same_v<range_t<std::decay_t<decltype(A)>>, image>) {
                        return add_gaussian_noise(A.apply(img.truth), noise, seed + 1);
                    } else {
                        throw value_error("compare: degradation op must be blur, inpaint or "
                                          "downsample, got " +
                                          flags.op);
                    }
                },
                op);
            const bool same_shape = shape_of<3>(y) == shape_of<3>(img.truth);
            const double psnr_in = same_shape ? psnr(img.truth, y) : NAN;
            for (const auto& [spec, args] : runs) {
                no_monitor quiet;
                const cli_denoiser denoiser = make_cli_denoiser(args, shape_of<3>(img.truth));
                const auto t0 = std::chrono::steady_clock::now();
                const auto result = std::visit(
                    [&](const auto& A) -> solver_result<image> {
                        using Op = std::decay_t<decltype(A)>;
                        if constexpr (std::is_same_v<range_t<Op>, image>) {
                            return run_solver(args, A, y, quiet, denoiser);
                        } else {
                            throw value_error("compare: unsupported operator");
                        }
                    },
                    op);
                const double seconds =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                const image x = xt::clip(result.x, 0.0f, 1.0f);
                const double p = psnr(img.truth, x);
                const double s = ssim(img.truth, x, restore_recorder::study_ssim());
                const std::string params = detail::describe(spec);
                csv << img.name << ',' << deg_name << ',' << args.solver << ",\"" << params << "\","
                    << psnr_in << ',' << p << ',' << s << ',' << result.iterations << ',' << seconds
                    << '\n';
                char row[512];
                std::snprintf(row, sizeof row,
                              "| %s | %s | %s | %s | %.2f | %.2f | %.4f | %d | %.2f |\n",
                              img.name.c_str(), deg_name.c_str(), args.solver.c_str(),
                              params.c_str(), psnr_in, p, s, result.iterations, seconds);
                md += row;
                ++done;
                if (show) {
                    const double elapsed =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                            .count();
                    std::fprintf(stderr, "\r[%zu/%zu] %s %s: %.2f dB  ETA %.0fs      ", done, total,
                                 deg_name.c_str(), args.solver.c_str(), p,
                                 elapsed / done * (total - done));
                    std::fflush(stderr);
                }
            }
        }
    }
    if (show) {
        std::fputc('\n', stderr);
    }
    std::ofstream(fs::path(a.out) / "results.md") << md;
    std::printf("%s", md.c_str());
    std::printf("compare: %zu runs -> %s/results.csv, %s/results.md\n", total, a.out.c_str(),
                a.out.c_str());
    return 0;
}

} // namespace xrestore::cli
