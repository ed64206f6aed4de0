// The grid file of `compare` (see compare_grid.hpp).
#include "compare_grid.hpp"

#include "denoiser_choice.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/io/json.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

namespace xrestore::cli {

namespace {

using json = nlohmann::json;

const std::vector<std::string> top_keys{"seed", "crop", "images", "degradations", "solvers"};
const std::vector<std::string> image_keys{"path", "name"};
const std::vector<std::string> degradation_keys{"name",  "op",      "kernel", "boundary",
                                                "noise", "missing", "factor"};
const std::vector<std::string> image_ops{"blur", "inpaint", "downsample", "haar"};

/// "solver", "denoiser", "denoiser_strength", "denoiser_call" and every parameter key of the
/// solver table.
std::vector<std::string> solver_entry_keys() {
    std::vector<std::string> keys{"solver", "denoiser", "denoiser_strength", "denoiser_call"};
    for (const solver_parameter& p : solver_keys()) {
        keys.push_back(p.key);
    }
    return keys;
}

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& w : words) {
        text += (text.empty() ? "" : ", ") + w;
    }
    return text;
}

std::string indexed(const char* list, std::size_t i) {
    return std::string(list) + "[" + std::to_string(i) + "]";
}

/// Throws value_error unless `object` is a JSON object whose keys are all in `allowed`.
void check_keys(const json& object, const std::vector<std::string>& allowed,
                const std::string& where) {
    if (!object.is_object()) {
        throw value_error("compare: " + where + " must be a JSON object, got " +
                          std::string(object.type_name()));
    }
    for (const auto& [key, value] : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            throw value_error("compare: unknown key '" + key + "' in " + where +
                              " (allowed: " + joined(allowed) + ")");
        }
    }
}

/// object[key] as a T, `fallback` when absent; value_error naming `where` and the key otherwise.
/// Integers must be whole numbers in T's range (no sign for an unsigned T: -5 is not wrapped to
/// 18446744073709551611).
template <class T>
T get_or(const json& object, const std::string& key, T fallback, const std::string& where) {
    if (!object.contains(key)) {
        return fallback;
    }
    const json& v = object.at(key);
    auto wrong = [&](const char* expected) {
        return value_error("compare: key '" + key + "' in " + where + " must be " + expected +
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

/// The product of every list-valued key of a solver entry.
std::vector<json> expand(const json& entry, const std::string& where) {
    std::vector<json> out{json::object()};
    for (const auto& [key, value] : entry.items()) {
        const json values = value.is_array() ? value : json::array({value});
        if (values.empty()) {
            throw value_error("compare: key '" + key + "' in " + where +
                              " must not be an empty list");
        }
        std::vector<json> next;
        for (const auto& partial : out) {
            for (const auto& v : values) {
                json p = partial;
                p[key] = v;
                next.push_back(p);
            }
        }
        out = std::move(next);
    }
    return out;
}

/// "key=value ..." of every key but "solver".
std::string describe(const json& s) {
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

/// One expanded solver entry as a run.
grid_run solver_run_of(const json& s, const std::string& where) {
    grid_run run;
    const std::string name = get_or<std::string>(s, "solver", "", where);
    run.solver = find_solver(name);
    if (run.solver == nullptr) {
        throw value_error("compare: solver in " + where + " must be one of " +
                          joined(solver_names()) + ", got '" + name + "'");
    }
    for (const solver_parameter& p : solver_keys()) {
        if (!s.contains(p.key)) {
            continue;
        }
        if (run.solver->parameter(p.key) == nullptr) {
            std::vector<std::string> reads;
            for (const auto& q : run.solver->parameters) {
                reads.push_back(q.key);
            }
            throw value_error("compare: key '" + p.key + "' in " + where +
                              " is not a parameter of solver " + name + " (it reads " +
                              joined(reads) + ")");
        }
        if (p.integer) {
            const int v = get_or<int>(s, p.key, 0, where);
            if (p.key == "iters") {
                require(v > 0, "compare", where + ".iters", "positive", v);
            }
            run.given[p.key] = v;
        } else {
            run.given[p.key] = get_or<double>(s, p.key, 0.0, where);
        }
    }
    run.denoiser_name = get_or<std::string>(s, "denoiser", "tv", where);
    if (!is_denoiser_name(run.denoiser_name)) {
        throw value_error("compare: denoiser in " + where + " must be " + denoiser_names() +
                          ", got '" + run.denoiser_name + "'");
    }
    run.denoiser_strength = get_or<double>(s, "denoiser_strength", 0.0, where);
    require(run.denoiser_strength >= 0.0, "compare", "denoiser_strength in " + where,
            ">= 0 (0: the default)", run.denoiser_strength);
    run.denoiser_call = get_or<std::string>(s, "denoiser_call", "", where);
    if (!run.denoiser_call.empty()) {
        static_cast<void>(parse_unet_call(run.denoiser_call));
    }
    run.parameters = describe(s);
    return run;
}

} // namespace

compare_grid read_compare_grid(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    const json grid = read_json_file(path, "compare: grid file");
    const fs::path base = path.parent_path();
    check_keys(grid, top_keys, "the grid's top level");
    for (const char* key : {"images", "degradations", "solvers"}) {
        if (!grid.contains(key) || !grid.at(key).is_array() || grid.at(key).empty()) {
            throw value_error(std::string("compare: the grid must have a non-empty list '") + key +
                              "'");
        }
    }
    compare_grid out;
    out.seed = get_or<std::uint64_t>(grid, "seed", 0, "the grid's top level");
    out.crop = get_or<std::size_t>(grid, "crop", 0, "the grid's top level");

    const json& images = grid.at("images");
    for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string where = indexed("images", i);
        const json& entry = images[i];
        fs::path p;
        std::string name;
        if (entry.is_string()) {
            p = entry.get<std::string>();
        } else {
            check_keys(entry, image_keys, where);
            if (!entry.contains("path")) {
                throw value_error("compare: " + where + " must have a key 'path'");
            }
            p = get_or<std::string>(entry, "path", "", where);
            name = get_or<std::string>(entry, "name", "", where);
        }
        if (p.is_relative() && !fs::exists(p)) {
            p = base / p;
        }
        out.images.push_back({p, name.empty() ? p.filename().string() : name});
    }

    const json& degradations = grid.at("degradations");
    for (std::size_t i = 0; i < degradations.size(); ++i) {
        const std::string where = indexed("degradations", i);
        const json& deg = degradations[i];
        check_keys(deg, degradation_keys, where);
        grid_degradation d;
        d.flags.op = get_or<std::string>(deg, "op", "blur", where);
        if (std::find(image_ops.begin(), image_ops.end(), d.flags.op) == image_ops.end()) {
            throw value_error("compare: op in " + where + " must be " + joined(image_ops) +
                              ", got '" + d.flags.op + "'");
        }
        d.flags.kernel = get_or<std::string>(deg, "kernel", d.flags.kernel, where);
        d.flags.boundary = get_or<std::string>(deg, "boundary", d.flags.boundary, where);
        d.flags.missing = get_or<double>(deg, "missing", d.flags.missing, where);
        d.flags.factor = get_or<std::size_t>(deg, "factor", d.flags.factor, where);
        d.flags.seed = out.seed;
        d.name = get_or<std::string>(deg, "name", d.flags.op, where);
        d.noise = get_or<double>(deg, "noise", 0.0, where);
        require(d.noise >= 0.0 && d.noise <= max_noise_sigma, "compare", "noise in " + where,
                "in [0, 1e6] (images are in [0, 1])", d.noise);
        out.degradations.push_back(std::move(d));
    }

    const json& solvers = grid.at("solvers");
    const std::vector<std::string> solver_keys_allowed = solver_entry_keys();
    for (std::size_t i = 0; i < solvers.size(); ++i) {
        const std::string where = indexed("solvers", i);
        check_keys(solvers[i], solver_keys_allowed, where);
        for (const json& s : expand(solvers[i], where)) {
            out.runs.push_back(solver_run_of(s, where));
        }
    }
    return out;
}

std::string compare_grid_help() {
    std::string parameters;
    for (const solver_parameter& p : solver_keys()) {
        parameters += (parameters.empty() ? "" : ", ") + p.key;
    }
    return R"(The grid file (JSON). Every key allowed at each level is listed here; any other key is an
error naming it. Paths are relative to the grid file's folder (or to the working folder where the
file exists there).
{
  "seed": 0,            optional: seed of the noise and of inpainting masks (default 0)
  "crop": 128,          optional: centre crop of every image to this square side (default 0: none)
  "images": [           required, non-empty: the ground truths (PNG/JPEG/BMP or .npy)
    "photo.png",                                a path, or
    {"path": "photo.png", "name": "photo"}      path (required) and name (label; default: file name)
  ],
  "degradations": [     required, non-empty: y = A x + n for every image
    {"name": "box13", "op": "blur", "kernel": "box:13", "boundary": "zero", "noise": 0.01},
    {"name": "inpaint60", "op": "inpaint", "missing": 0.6},
    {"name": "down2", "op": "downsample", "factor": 2}
  ],                    keys: name (label; default: op), op (blur, inpaint, downsample or haar;
                        default blur), kernel, boundary, missing, factor (as restore's --kernel,
                        --boundary, --missing, --factor; same defaults), noise (sigma of the
                        Gaussian noise, default 0)
  "solvers": [          required, non-empty: every entry runs on every image x degradation
    {"solver": "tv", "iters": 100, "lambda": [1e-3, 3e-3]},
    {"solver": "pnp-admm", "denoiser": ["gaussian", "tv"], "eta": 1e-4}
  ]                     keys: solver (a restore --solver name, required), denoiser (gaussian, tv,
                        haar or unet:WEIGHTS; default tv), denoiser_strength (0: the denoiser's
                        default), denoiser_call (a U-Net's call convention: raw, normalised
                        or residual, for weights that declare none), and the parameters the
                        solver reads (restore's flags without "--", '-' written '_'):
                        )" +
           parameters + R"(.
                        A parameter a solver does not read is an error; one not given keeps the
                        solver's default. Any value may be a list: the entry then runs for every
                        combination of the values.
}
Written to --out: results.csv and results.md (one row per run: final PSNR and SSIM, the best
PSNR over the iterations and where it was reached, iterations, stop reason, seconds, seconds per
iteration), history.csv (one row per run and iteration: run, image, degradation, solver,
parameters, iteration, seconds, objective, change, mse, psnr, ssim; empty where not defined) and
one plot of PSNR against iteration per image x degradation (psnr_IMAGE_DEGRADATION.png). SSIM is
the Gaussian-window SSIM of scikit-image (gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1), of the estimate clipped to [0, 1].
Exit status: 0 when every run finished; 3 when a run diverged (it is marked "diverged" in the
tables, its numbers are those of its last good iterate; --allow-diverged exits 0); 1 on errors.)";
}

} // namespace xrestore::cli
