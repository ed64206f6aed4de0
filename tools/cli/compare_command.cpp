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
// The keys of an entry are "solver", "denoiser", "denoiser_strength" and the parameters the
// solver reads in the solver table (the flags of `restore`, without "--": iters, lambda, eta,
// mu, step, ...); a parameter not given keeps the solver's default.

#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"
#include "solver_table.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/json.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <nlohmann/json.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

struct compare_args {
    std::string grid;
    std::string out = "compare_out";
    bool verbose = false;
    double max_memory = 0.0;
};

/// The product of every list-valued key of a solver entry.
std::vector<nlohmann::json> expand(const nlohmann::json& entry) {
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

/// The value of `key` as a T, or `fallback` when it is absent. Integers must be whole numbers in
/// T's range (no sign for an unsigned T: -5 is not wrapped to 18446744073709551611).
template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
    if (!j.contains(key)) {
        return fallback;
    }
    const nlohmann::json& v = j.at(key);
    auto wrong = [&](const char* expected) {
        return value_error(std::string("compare: key '") + key + "' must be " + expected +
                           ", got " + v.dump());
    };
    if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) {
            throw wrong("a string");
        }
        return v.get<std::string>();
    } else if constexpr (std::is_integral_v<T>) {
        if (std::is_unsigned_v<T> ? !v.is_number_unsigned() : !v.is_number_integer()) {
            throw wrong(std::is_unsigned_v<T> ? "a non-negative integer" : "an integer");
        }
        if constexpr (std::is_unsigned_v<T>) {
            if (v.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
                throw wrong("an integer in range");
            }
        } else {
            const auto n = v.get<std::int64_t>();
            if (n < std::numeric_limits<T>::min() || n > std::numeric_limits<T>::max()) {
                throw wrong("an integer in range");
            }
        }
        return v.get<T>();
    } else {
        if (!v.is_number()) {
            throw wrong("a number");
        }
        return v.get<T>();
    }
}

/// One solver run of the grid: the solver, the parameter values given and the denoiser.
struct solver_run {
    const solver_entry* solver = nullptr;
    solver_settings given;
    std::string denoiser_name;
    double denoiser_strength = 0.0;
};

solver_run solver_args(const nlohmann::json& s) {
    const std::vector<solver_parameter> parameters = solver_keys();
    auto is_parameter = [&](const std::string& key) {
        return std::any_of(parameters.begin(), parameters.end(),
                           [&](const solver_parameter& p) { return p.key == key; });
    };
    for (const auto& [key, value] : s.items()) {
        if (key != "solver" && key != "denoiser" && key != "denoiser_strength" &&
            !is_parameter(key)) {
            std::string known = "solver";
            for (const auto& p : parameters) {
                known += ", " + p.key;
            }
            throw value_error("compare: unknown solver key '" + key + "' (known: " + known +
                              ", denoiser, denoiser_strength)");
        }
    }
    solver_run run;
    const std::string name = get_or<std::string>(s, "solver", "");
    run.solver = find_solver(name);
    if (run.solver == nullptr) {
        throw value_error("compare: solver must be one of the `restore --solver` names, got '" +
                          name + "'");
    }
    for (const auto& p : parameters) {
        if (!s.contains(p.key)) {
            continue;
        }
        if (run.solver->parameter(p.key) == nullptr) {
            std::string reads;
            for (const auto& q : run.solver->parameters) {
                reads += (reads.empty() ? "" : ", ") + q.key;
            }
            throw value_error("compare: key '" + p.key + "' is not a parameter of solver " + name +
                              " (it reads " + reads + ")");
        }
        if (p.integer) {
            const int v = get_or<int>(s, p.key.c_str(), 0);
            if (p.key == "iters") {
                require(v > 0, "compare", "iters", "positive", v);
            }
            run.given[p.key] = v;
        } else {
            run.given[p.key] = get_or<double>(s, p.key.c_str(), 0.0);
        }
    }
    run.denoiser_name = get_or<std::string>(s, "denoiser", "tv");
    if (!is_denoiser_name(run.denoiser_name)) {
        throw value_error("compare: denoiser must be " + denoiser_names() + ", got '" +
                          run.denoiser_name + "'");
    }
    run.denoiser_strength = get_or<double>(s, "denoiser_strength", 0.0);
    require(run.denoiser_strength >= 0.0, "compare", "denoiser_strength", ">= 0 (0: the default)",
            run.denoiser_strength);
    return run;
}

std::string describe(const nlohmann::json& s) {
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

int run_compare(const compare_args& a) {
    namespace fs = std::filesystem;
    const fs::path grid_path(a.grid);
    const nlohmann::json grid = read_json_file(grid_path, "compare: grid file");
    const fs::path base = grid_path.parent_path();
    for (const char* key : {"images", "degradations", "solvers"}) {
        if (!grid.contains(key) || !grid.at(key).is_array() || grid.at(key).empty()) {
            throw value_error(std::string("compare: the grid must have a non-empty list '") + key +
                              "'");
        }
    }
    const auto seed = get_or<std::uint64_t>(grid, "seed", 0);
    const auto crop = get_or<std::size_t>(grid, "crop", 0);

    // Load and validate everything before the first long run.
    std::vector<fs::path> image_paths;
    file_plan files("compare");
    files.input("--grid", a.grid);
    for (const auto& entry : grid.at("images")) {
        if (!entry.is_string()) {
            throw value_error("compare: every entry of 'images' must be a path, got " +
                              entry.dump());
        }
        fs::path p = entry.get<std::string>();
        if (p.is_relative() && !fs::exists(p)) {
            p = base / p;
        }
        image_paths.push_back(p);
        files.input("image", p.string());
    }
    files.report_folder("--out", a.out, "results.md").check();
    for (const fs::path& p : image_paths) {
        memory_plan memory("compare", a.max_memory);
        const shape3 s = memory.input("image", p.string());
        memory.add("a solver's working set (about 16 images)",
                   image_bytes(crop > 0 ? shape3{s[0], crop, crop} : s, 16));
        memory.check();
    }
    struct loaded {
        std::string name;
        image truth;
    };
    std::vector<loaded> images;
    for (const fs::path& p : image_paths) {
        image x = during("reading '" + p.string() + "'", [&] { return load_array(p); });
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
    std::vector<std::pair<nlohmann::json, solver_run>> runs;
    for (const auto& entry : grid.at("solvers")) {
        for (const auto& s : expand(entry)) {
            runs.emplace_back(s, solver_args(s));
        }
    }
    const std::size_t total = images.size() * grid.at("degradations").size() * runs.size();

    // the results go to a fresh folder that replaces --out at the end (complete or not at all)
    atomic_folder folder(a.out);
    const fs::path& dir = folder.path();
    std::ofstream csv(dir / "results.csv");
    if (!csv) {
        throw io_error("compare: cannot write results.csv in '" + dir.string() + "'");
    }
    csv << "image,degradation,solver,parameters,psnr_input,psnr,ssim,iterations,seconds\n";
    std::string md = "| image | degradation | solver | parameters | PSNR in (dB) | PSNR (dB) | "
                     "SSIM | iterations | time (s) |\n|---|---|---|---|---:|---:|---:|---:|---:|\n";
    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    std::size_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    const iteration_monitor quiet = [](int, const image&) {};
    for (const auto& img : images) {
        for (const auto& deg : grid.at("degradations")) {
            operator_flags flags;
            flags.op = get_or<std::string>(deg, "op", "blur");
            flags.kernel = get_or<std::string>(deg, "kernel", flags.kernel);
            flags.boundary = get_or<std::string>(deg, "boundary", flags.boundary);
            flags.missing = get_or<double>(deg, "missing", flags.missing);
            flags.factor = get_or<std::size_t>(deg, "factor", flags.factor);
            flags.seed = seed;
            const std::string deg_name = get_or<std::string>(deg, "name", flags.op);
            const double noise = get_or<double>(deg, "noise", 0.0);
            require(noise >= 0.0 && noise <= max_noise_sigma, "compare", "noise",
                    "in [0, 1e6] (images are in [0, 1])", noise);
            const image_operator op = as_image_operator(
                make_operator(flags, shape_of<3>(img.truth)),
                "compare: degradation op must be blur, inpaint or downsample, got " + flags.op);
            const image y = std::visit(
                [&](const auto& A) -> image {
                    return add_gaussian_noise(A.apply(img.truth), noise, seed + 1);
                },
                op);
            const bool same_shape = shape_of<3>(y) == shape_of<3>(img.truth);
            const double psnr_in = same_shape ? psnr(img.truth, y) : NAN;
            for (const auto& [spec, run] : runs) {
                const cli_denoiser denoiser = make_cli_denoiser(
                    run.denoiser_name, run.denoiser_strength, "", shape_of<3>(img.truth));
                if (denoiser.unet) {
                    memory_plan memory("compare", a.max_memory);
                    memory.add("a solver's working set (about 16 images)",
                               image_bytes(shape_of<3>(img.truth), 16));
                    memory.add("the U-Net's activations",
                               denoiser.working_bytes(shape_of<3>(img.truth)));
                    memory.check();
                }
                const auto t0 = std::chrono::steady_clock::now();
                const auto result = during("running " + run.solver->name + " on " + img.name, [&] {
                    return run.solver->run(run.given, op, y, quiet, denoiser);
                });
                const double seconds =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                const image x = xt::clip(result.x, 0.0f, 1.0f);
                const double p = psnr(img.truth, x);
                const double s = ssim(img.truth, x, gaussian_ssim_options);
                const std::string params = describe(spec);
                const std::string& solver = run.solver->name;
                csv << img.name << ',' << deg_name << ',' << solver << ",\"" << params << "\","
                    << psnr_in << ',' << p << ',' << s << ',' << result.iterations << ',' << seconds
                    << '\n';
                char row[512];
                std::snprintf(row, sizeof row,
                              "| %s | %s | %s | %s | %.2f | %.2f | %.4f | %d | %.2f |\n",
                              img.name.c_str(), deg_name.c_str(), solver.c_str(), params.c_str(),
                              psnr_in, p, s, result.iterations, seconds);
                md += row;
                ++done;
                if (show) {
                    const double elapsed =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                            .count();
                    std::fprintf(stderr, "\r[%zu/%zu] %s %s: %.2f dB  ETA %.0fs      ", done, total,
                                 deg_name.c_str(), solver.c_str(), p,
                                 elapsed / done * (total - done));
                    std::fflush(stderr);
                }
            }
        }
    }
    if (show) {
        std::fputc('\n', stderr);
    }
    csv.close();
    if (!csv) {
        throw io_error("compare: writing results.csv in '" + dir.string() + "' failed");
    }
    write_text_file(dir / "results.md", md, "compare");
    folder.commit();
    std::printf("%s", md.c_str());
    std::printf("compare: %zu runs -> %s/results.csv, %s/results.md\n", total, a.out.c_str(),
                a.out.c_str());
    return 0;
}

} // namespace

command compare_command() {
    auto args = std::make_shared<compare_args>();
    command c{"compare", "run a grid of images x degradations x solvers"};
    c.add("--grid", args->grid, "grid description (JSON)").required();
    c.add("--out", args->out, "output folder").show_default();
    c.add("--verbose", args->verbose, "progress even when stderr is not a terminal");
    add_memory_flag(c, args->max_memory);
    c.run = [args] { return run_compare(*args); };
    return c;
}

} // namespace xrestore::cli
