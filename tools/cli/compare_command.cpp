// xrestore compare --grid GRID.json --out DIR: every combination of images x degradations x
// solvers x parameter values in the grid (the format: compare_grid.cpp, compare --help). Each run
// records its history (seconds, objective, relative change, MSE/PSNR/SSIM of every iterate
// against the ground truth); writes DIR/results.csv and DIR/results.md (final and best PSNR,
// SSIM, iterations, stop, seconds, seconds per iteration per run), DIR/history.csv (every run's
// history, one row per run and iteration) and a PSNR-against-iteration plot per image x
// degradation, with a progress bar on a terminal. A diverged run is marked in the tables and
// makes the exit status 3, unless --allow-diverged.

#include "command.hpp"
#include "compare_grid.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"
#include "run_history.hpp"
#include "solver_table.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/report/plot.hpp>
#include <xrestore/solvers/monitor.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>
#include <utility>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

struct compare_args {
    std::string grid;
    std::string out = "compare_out";
    bool allow_diverged = false;
    bool verbose = false;
    double max_memory = 0.0;
};

/// What one run of the grid gave.
struct run_outcome {
    int id = 0; ///< 1, 2, ... in the order of the tables
    std::string image;
    std::string degradation;
    const grid_run* run = nullptr;
    double psnr_input = 0.0;
    double psnr = 0.0;
    double ssim = 0.0;
    int iterations = 0;
    solver_stop stop = solver_stop::max_iterations;
    std::string stop_detail;
    double seconds = 0.0; ///< the solver's wall time, less the time of the per-iteration metrics
    /// mean seconds of an iteration after the first (the first also carries the solver's
    /// set-up); the first's seconds for a one-iteration run, NaN for none
    double seconds_per_iteration = 0.0;
    std::vector<history_row> history;
    const history_row* best = nullptr; ///< into history: the highest PSNR
};

/// The mean seconds of an iteration after the first (see run_outcome).
double seconds_per_iteration(const std::vector<double>& seconds) {
    if (seconds.empty()) {
        return std::nan("");
    }
    if (seconds.size() == 1) {
        return seconds.front();
    }
    return (seconds.back() - seconds.front()) / static_cast<double>(seconds.size() - 1);
}

/// `text` as a CSV field, quoted (with doubled quotes) when it holds a comma or a quote.
std::string csv_text(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) {
        return text;
    }
    std::string quoted = "\"";
    for (char c : text) {
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return quoted + "\"";
}

/// `text` with every character outside [A-Za-z0-9._-] as '_', for a file name.
std::string file_name_part(const std::string& text) {
    std::string out;
    for (char c : text) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out += plain ? c : '_';
    }
    return out;
}

std::string fixed(const char* format, double v) {
    if (std::isnan(v)) {
        return "";
    }
    char text[64];
    std::snprintf(text, sizeof text, format, v);
    return text;
}

/// Writes `text` to `path` atomically.
void write_text(const std::filesystem::path& path, const std::string& text) {
    write_atomically(path, [&](const std::filesystem::path& temporary) {
        std::ofstream out(temporary, std::ios::binary);
        out << text;
        out.close();
        if (!out) {
            throw io_error("compare: cannot write '" + path.string() + "'");
        }
    });
}

std::string results_csv(const std::vector<run_outcome>& runs) {
    std::string csv = "run,image,degradation,solver,parameters,psnr_input,psnr,ssim,best_psnr,"
                      "best_iteration,iterations,stop,seconds,seconds_per_iteration\n";
    for (const run_outcome& r : runs) {
        csv += std::to_string(r.id) + ',' + csv_text(r.image) + ',' + csv_text(r.degradation) +
               ',' + r.run->solver->name + ',' + csv_text(r.run->parameters) + ',' +
               csv_number(r.psnr_input) + ',' + csv_number(r.psnr) + ',' + csv_number(r.ssim) +
               ',' + (r.best ? csv_number(r.best->psnr) : "") + ',' +
               (r.best ? std::to_string(r.best->iteration) : "") + ',' +
               std::to_string(r.iterations) + ',' + to_string(r.stop) + ',' +
               csv_number(r.seconds) + ',' + csv_number(r.seconds_per_iteration) + '\n';
    }
    return csv;
}

std::string history_csv(const std::vector<run_outcome>& runs) {
    std::string csv = "run,image,degradation,solver,parameters," + history_csv_header() + '\n';
    for (const run_outcome& r : runs) {
        const std::string prefix = std::to_string(r.id) + ',' + csv_text(r.image) + ',' +
                                   csv_text(r.degradation) + ',' + r.run->solver->name + ',' +
                                   csv_text(r.run->parameters) + ',';
        for (const history_row& row : r.history) {
            csv += prefix + history_csv_fields(row) + '\n';
        }
    }
    return csv;
}

std::string table_row(const run_outcome& r) {
    const std::string stop = r.stop == solver_stop::diverged ? "**diverged**" : to_string(r.stop);
    return "| " + std::to_string(r.id) + " | " + r.image + " | " + r.degradation + " | " +
           r.run->solver->name + " | " + r.run->parameters + " | " + fixed("%.2f", r.psnr_input) +
           " | " + fixed("%.2f", r.psnr) + " | " + fixed("%.4f", r.ssim) + " | " +
           (r.best ? fixed("%.2f", r.best->psnr) : "") + " | " +
           (r.best ? std::to_string(r.best->iteration) : "") + " | " +
           std::to_string(r.iterations) + " | " + stop + " | " + fixed("%.2f", r.seconds) + " | " +
           fixed("%.3g", r.seconds_per_iteration) + " |\n";
}

std::string results_table(const std::vector<run_outcome>& runs) {
    std::string md =
        "| run | image | degradation | solver | parameters | PSNR in (dB) | PSNR (dB) | "
        "SSIM | best PSNR (dB) | best at | iterations | stop | time (s) | "
        "s / iteration |\n|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|"
        "---:|\n";
    for (const run_outcome& r : runs) {
        md += table_row(r);
    }
    return md;
}

/// A case of the grid: an image x degradation, with the runs on it and its plot's file.
struct plotted_case {
    std::string image;
    std::string degradation;
    std::vector<const run_outcome*> runs;
    std::string plot; ///< file name in --out; empty when no plot was written
};

/// The PSNR-against-iteration plot of a case, every run a series; "" when written, else why not.
std::string write_case_plot(const std::filesystem::path& path, const plotted_case& c) {
    std::vector<report::plot_series> series;
    for (const run_outcome* r : c.runs) {
        report::plot_series s;
        s.label = std::to_string(r->id) + ": " + r->run->solver->name +
                  (r->run->parameters.empty() ? "" : " " + r->run->parameters) +
                  (r->stop == solver_stop::diverged ? " (diverged)" : "");
        for (const history_row& row : r->history) {
            s.x.push_back(row.iteration);
            s.y.push_back(row.psnr);
        }
        series.push_back(std::move(s));
    }
    try {
        write_atomically(path, [&](const std::filesystem::path& temporary) {
            report::write_line_plot(
                temporary, series,
                {.title = c.image + ", " + c.degradation + ": PSNR against iteration",
                 .x_label = "iteration",
                 .y_label = "PSNR (dB)",
                 .legend = report::legend_position::above});
        });
    } catch (const xrestore::error& e) {
        return e.what();
    }
    return {};
}

std::string results_markdown(const std::vector<run_outcome>& runs,
                             const std::vector<plotted_case>& cases) {
    std::string md = "# compare: results\n\n" + results_table(runs) +
                     "\nPSNR and SSIM are those of the returned estimate clipped to [0, 1]; best "
                     "PSNR is the highest PSNR over the iterations and \"best at\" the iteration "
                     "that reached it (history.csv has every iteration of every run, by run "
                     "number). SSIM is the Gaussian-window SSIM of Wang et al. as scikit-image "
                     "computes it: structural_similarity(gaussian_weights=True, sigma=1.5, "
                     "use_sample_covariance=False, data_range=1), over the channels. Time is the "
                     "solver's wall time without the per-iteration metrics; s / iteration is the "
                     "mean time of an iteration after the first (the first also carries the "
                     "solver's set-up). A diverged run stopped on the divergence rule; its numbers "
                     "are those of its last good iterate.\n";
    for (const plotted_case& c : cases) {
        if (!c.plot.empty()) {
            md += "\n![" + c.image + ", " + c.degradation + ": PSNR against iteration](" + c.plot +
                  ")\n";
        }
    }
    return md;
}

int run_compare(const compare_args& a) {
    namespace fs = std::filesystem;
    const compare_grid grid = read_compare_grid(a.grid);

    // Load and check everything before the first long run.
    file_plan files("compare");
    files.input("--grid", a.grid);
    for (const grid_image& entry : grid.images) {
        files.input("image", entry.path.string());
    }
    files.report_folder("--out", a.out, "results.md").check();
    for (const grid_image& entry : grid.images) {
        memory_plan memory("compare", a.max_memory);
        const shape3 s = memory.input("image", entry.path.string());
        memory.add("a solver's working set (about 16 images)",
                   image_bytes(grid.crop > 0 ? shape3{s[0], grid.crop, grid.crop} : s, 16));
        memory.check();
    }
    struct loaded {
        std::string name;
        image truth;
    };
    std::vector<loaded> images;
    for (const grid_image& entry : grid.images) {
        image x =
            during("reading '" + entry.path.string() + "'", [&] { return load_array(entry.path); });
        check_finite(x, "compare", entry.path.string());
        if (grid.crop > 0) {
            const auto [c, h, w] = shape_of<3>(x);
            require(grid.crop <= h && grid.crop <= w, "compare", "crop", "at most the image size",
                    grid.crop);
            const std::size_t top = (h - grid.crop) / 2;
            const std::size_t left = (w - grid.crop) / 2;
            x = xt::view(x, xt::all(), xt::range(top, top + grid.crop),
                         xt::range(left, left + grid.crop));
        }
        images.push_back({entry.name, std::move(x)});
    }
    const std::size_t total = images.size() * grid.degradations.size() * grid.runs.size();
    // the results go to a fresh folder that replaces --out at the end (complete or not at all)
    atomic_folder folder(a.out);

    const bool show = a.verbose || (isatty(fileno(stderr)) != 0);
    std::vector<run_outcome> outcomes;
    outcomes.reserve(total); // the cases keep pointers into it
    std::vector<plotted_case> cases;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& img : images) {
        for (const grid_degradation& deg : grid.degradations) {
            const image_operator op = as_image_operator(
                make_operator(deg.flags, shape_of<3>(img.truth)),
                "compare: degradation op must be blur, inpaint or downsample, got " + deg.flags.op);
            const image y = std::visit(
                [&](const auto& A) -> image {
                    return add_gaussian_noise(A.apply(img.truth), deg.noise, grid.seed + 1);
                },
                op);
            const bool same_shape = shape_of<3>(y) == shape_of<3>(img.truth);
            const double psnr_in = same_shape ? psnr(img.truth, y) : std::nan("");
            plotted_case current{img.name, deg.name, {}, {}};
            for (const grid_run& run : grid.runs) {
                const cli_denoiser denoiser =
                    make_cli_denoiser(run.denoiser_name, run.denoiser_strength, run.denoiser_call,
                                      shape_of<3>(img.truth), "the grid key \"denoiser_call\":");
                if (denoiser.unet) {
                    memory_plan memory("compare", a.max_memory);
                    memory.add("a solver's working set (about 16 images)",
                               image_bytes(shape_of<3>(img.truth), 16));
                    memory.add("the U-Net's activations",
                               denoiser.working_bytes(shape_of<3>(img.truth)));
                    memory.check();
                }
                history_recorder recorder(img.truth);
                const iteration_monitor monitor = [&recorder](int k, const image& x,
                                                              const iteration_record& r) {
                    recorder(k, x, r);
                };
                const auto t0 = std::chrono::steady_clock::now();
                const auto result = during("running " + run.solver->name + " on " + img.name, [&] {
                    return run.solver->run(run.given, op, y, monitor, denoiser);
                });
                const double wall =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                const image x = xt::clip(result.x, 0.0f, 1.0f);
                run_outcome& r = outcomes.emplace_back();
                r.id = static_cast<int>(outcomes.size());
                r.image = img.name;
                r.degradation = deg.name;
                r.run = &run;
                r.psnr_input = psnr_in;
                r.psnr = psnr(img.truth, x);
                r.ssim = ssim(img.truth, x, gaussian_ssim_options);
                r.iterations = result.iterations;
                r.stop = result.stop;
                r.stop_detail = result.stop_detail;
                r.seconds = wall - recorder.own_seconds();
                r.seconds_per_iteration = seconds_per_iteration(result.seconds);
                r.history = recorder.rows();
                if (const history_row* best = recorder.best()) {
                    r.best = &r.history[static_cast<std::size_t>(best - recorder.rows().data())];
                }
                current.runs.push_back(&r);
                if (show) {
                    const double elapsed =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                            .count();
                    const auto done = outcomes.size();
                    std::fprintf(stderr, "\r[%zu/%zu] %s %s: %.2f dB  ETA %.0fs      ", done, total,
                                 deg.name.c_str(), run.solver->name.c_str(), r.psnr,
                                 elapsed / static_cast<double>(done) *
                                     static_cast<double>(total - done));
                    std::fflush(stderr);
                }
            }
            cases.push_back(std::move(current));
        }
    }
    if (show) {
        std::fputc('\n', stderr);
    }

    const fs::path& out = folder.path();
    write_text(out / "results.csv", results_csv(outcomes));
    write_text(out / "history.csv", history_csv(outcomes));
    std::set<std::string> plot_names;
    for (plotted_case& c : cases) {
        std::string name = "psnr_" + file_name_part(fs::path(c.image).stem().string()) + "_" +
                           file_name_part(c.degradation);
        for (int n = 2; plot_names.count(name) > 0; ++n) {
            name = "psnr_" + file_name_part(fs::path(c.image).stem().string()) + "_" +
                   file_name_part(c.degradation) + "_" + std::to_string(n);
        }
        plot_names.insert(name);
        if (const std::string why = write_case_plot(out / (name + ".png"), c); why.empty()) {
            c.plot = name + ".png";
        } else {
            std::fprintf(stderr, "compare: no plot for %s, %s: %s\n", c.image.c_str(),
                         c.degradation.c_str(), why.c_str());
        }
    }
    write_text(out / "results.md", results_markdown(outcomes, cases));
    folder.commit();

    std::printf("%s", results_table(outcomes).c_str());
    std::printf("compare: %zu runs -> %s/results.csv, %s/results.md, %s/history.csv\n", total,
                a.out.c_str(), a.out.c_str(), a.out.c_str());
    int diverged = 0;
    for (const run_outcome& r : outcomes) {
        if (r.stop == solver_stop::diverged) {
            ++diverged;
            std::fprintf(stderr, "compare: run %d (%s, %s, %s %s) diverged: %s\n", r.id,
                         r.image.c_str(), r.degradation.c_str(), r.run->solver->name.c_str(),
                         r.run->parameters.c_str(), r.stop_detail.c_str());
        }
    }
    if (diverged > 0 && !a.allow_diverged) {
        std::fprintf(stderr,
                     "xrestore: error: compare: %d of %zu runs diverged (marked in the tables; "
                     "--allow-diverged exits 0)\n",
                     diverged, total);
        return diverged_status;
    }
    return 0;
}

} // namespace

command compare_command() {
    auto args = std::make_shared<compare_args>();
    command c{"compare", "run a grid of images x degradations x solvers"};
    c.add("--grid", args->grid, "grid description (JSON; its format is below)").required();
    c.add("--out", args->out, "output folder").show_default();
    c.add("--allow-diverged", args->allow_diverged,
          "exit 0 even when runs diverged (they are marked \"diverged\" in the tables either way)");
    c.add("--verbose", args->verbose, "progress even when stderr is not a terminal");
    add_memory_flag(c, args->max_memory);
    c.footer = compare_grid_help();
    c.run = [args] { return run_compare(*args); };
    return c;
}

} // namespace xrestore::cli
