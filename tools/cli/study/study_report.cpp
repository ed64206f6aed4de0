// Writes what `xrestore study` measured: results.json (every number), results.csv and
// curves.csv, the images (PNG), side-by-side panels, plots (PNG, drawn by xrestore/report/plot.hpp)
// and report.md, whose numbers and interpretations are all generated from the results.

#include "study_report.hpp"
#include "output_paths.hpp"
#include "study_results.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/report/plot.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace xrestore::cli {

namespace {

using report::bar_group;
using report::bar_options;
using report::panel_item;
using report::plot_options;
using report::rgb;
using report::write_bar_chart;
using report::write_line_plot;
using report::write_panel;

/// printf into a std::string.
template <class... Args>
std::string fmt(const char* format, Args... args) {
    const int n = std::snprintf(nullptr, 0, format, args...);
    std::string text(static_cast<std::size_t>(std::max(n, 0)) + 1, '\0');
    std::snprintf(text.data(), text.size(), format, args...);
    text.resize(static_cast<std::size_t>(std::max(n, 0)));
    return text;
}

/// Short labels of the methods for images, plots and tables.
std::string method_label(const std::string& method) {
    static const std::pair<const char*, const char*> labels[] = {
        {"pnp_admm", "PnP-ADMM"},
        {"pnp_admm_early_stop", "PnP-ADMM, early stop"},
        {"red", "RED"},
        {"tikhonov", "Tikhonov"},
        {"fista_haar", "FISTA-Haar"},
        {"tv", "TV"},
    };
    for (const auto& [name, label] : labels) {
        if (method == name) {
            return label;
        }
    }
    return method;
}

std::string psnr_cell(const quality& q) {
    return fmt("%.2f dB", q.psnr);
}
std::string mse_cell(double v) {
    return fmt("%.3e", v);
}
std::string ssim_cell(const quality& q) {
    return fmt("%.4f", q.ssim);
}

class study_writer {
public:
    study_writer(const study_results& r, std::filesystem::path dir) : r_(r), dir_(std::move(dir)) {}

    /// Every file; returns the figures that could not be drawn, and why (report.md notes them).
    std::map<std::string, std::string> write_all() {
        write_images();
        write_csv();
        write_plots();
        write_report(); // first: it records the derived numbers it prints
        write_json();
        return missing_;
    }

private:
    std::filesystem::path at(const std::string& name) const { return dir_ / name; }

    const image& picture(const std::string& key) const { return r_.images.at(key); }

    void write_images() {
        write_png(at("truth.png"), picture("truth"));
        for (const auto& c : r_.cases) {
            write_png(at(c.id + "_input.png"), picture(c.id + "/input"));
        }
        for (const auto& run : r_.runs) {
            write_png(at(run.image_file), picture(run.case_id + "/" + run.method));
        }
        for (const auto& c : r_.cases) {
            const std::string input_label = c.kind == "blur" ? "blurred" : "masked";
            panel("panel_" + c.id + ".png",
                  {{"ground truth", picture("truth")},
                   {input_label + fmt(" %.2f dB", c.input.psnr), picture(c.id + "/input")},
                   {fmt("PnP-ADMM %.2f dB", run("pnp_admm", c.id).result.psnr),
                    picture(c.id + "/pnp_admm")}});
            std::vector<panel_item> items{{input_label, picture(c.id + "/input")}};
            for (const char* m : {"tikhonov", "fista_haar", "tv", "pnp_admm"}) {
                items.push_back({method_label(m) + fmt(" %.2f dB", run(m, c.id).result.psnr),
                                 picture(c.id + "/" + m)});
            }
            items.push_back({"ground truth", picture("truth")});
            panel("baselines_" + c.id + ".png", items);
        }
        {
            const std::string id = "deblur_p13_noise";
            const study_run& small = run("pnp_admm", id);
            const study_run& large = run("pnp_admm_larger_eta", id);
            panel("panel_" + id + "_larger_eta.png",
                  {{fmt("blurred + noise %.2f dB", r_.find_case(id).input.psnr),
                    picture(id + "/input")},
                   {"eta " + format_number(r_.settings.eta) + fmt(" %.2f dB", small.result.psnr),
                    picture(id + "/pnp_admm")},
                   {"eta " + format_number(r_.settings.noisy_eta) +
                        fmt(" %.2f dB", large.result.psnr),
                    picture(id + "/pnp_admm_larger_eta")},
                   {"ground truth", picture("truth")}});
        }
        const study_run& red = run("red", "inpaint_60");
        const study_run& pnp = run("pnp_admm", "inpaint_60");
        panel("panel_red_vs_pnp.png",
              {{"masked", picture("inpaint_60/input")},
               {fmt("RED %.2f dB", red.result.psnr), picture("inpaint_60/red")},
               {fmt("PnP-ADMM %.2f dB", pnp.result.psnr), picture("inpaint_60/pnp_admm")},
               {"ground truth", picture("truth")}});
        for (const char* id : {"deblur_p13", "inpaint_60"}) {
            const std::string key(id);
            const study_run& fixed = run("pnp_admm_long", key);
            const study_run& stop = run("pnp_admm_early_stop", key);
            panel("panel_drift_" + key + ".png",
                  {{fmt("iteration %d %.2f dB", run("pnp_admm", key).iterations,
                        run("pnp_admm", key).result.psnr),
                    picture(key + "/pnp_admm")},
                   {fmt("iteration %d %.2f dB", fixed.iterations, fixed.result.psnr),
                    picture(key + "/pnp_admm_long")},
                   {fmt("early stop (%d) %.2f dB", stop.iterations, stop.result.psnr),
                    picture(key + "/pnp_admm_early_stop")},
                   {"ground truth", picture("truth")}});
        }
    }

    const study_run& run(const std::string& method, const std::string& case_id) const {
        const study_run* found = r_.find_run(case_id, method);
        if (found == nullptr) {
            throw value_error("study report: no run " + method + " of " + case_id);
        }
        return *found;
    }
    const study_curve& curve(const std::string& method, const std::string& case_id) const {
        const study_curve* found = r_.find_curve(case_id, method);
        if (found == nullptr) {
            throw value_error("study report: no curve " + method + " of " + case_id);
        }
        return *found;
    }

    void write_csv() const {
        std::ostringstream out;
        out << "case,method,settings,iterations,stop,mse,psnr,ssim,seconds,mean_cg_iterations,"
               "image\n";
        for (const auto& c : r_.cases) {
            out << c.id << ",input,,0,,"
                << fmt("%.9g,%.9g,%.9g", c.input.mse, c.input.psnr, c.input.ssim) << ",0,0," << c.id
                << "_input.png\n";
        }
        for (const auto& x : r_.runs) {
            out << x.case_id << ',' << x.method << ",\"" << x.settings << "\"," << x.iterations
                << ',' << x.stop << ','
                << fmt("%.9g,%.9g,%.9g,%.6g,%.4g", x.result.mse, x.result.psnr, x.result.ssim,
                       x.seconds, x.mean_cg_iterations)
                << ',' << x.image_file << '\n';
        }
        std::ostringstream curves;
        curves << "case,method,iteration,mse,holdout_error\n";
        for (const auto& c : r_.curves) {
            for (std::size_t i = 0; i < c.mse.size(); ++i) {
                curves << c.case_id << ',' << c.method << ',' << i + 1 << ','
                       << fmt("%.9g", c.mse[i]) << ',';
                if (i < c.holdout_error.size()) {
                    curves << fmt("%.9g", c.holdout_error[i]);
                }
                curves << '\n';
            }
        }
        write_text_file(at("results.csv"), out.str(), "study");
        write_text_file(at("curves.csv"), curves.str(), "study");
    }

    /// Draw the plot `file` with `draw`; a plot that cannot be drawn is left out with its reason,
    /// which report.md gives where the plot would be (the report is not lost to one plot).
    template <class Draw>
    void plot(const std::string& file, Draw&& draw) const {
        try {
            draw(at(file));
        } catch (const xrestore::error& e) {
            missing_[file] = e.what();
        }
    }

    /// A panel of images, drawn like a plot (see plot).
    void panel(const std::string& file, const std::vector<panel_item>& items) const {
        plot(file, [&](const std::filesystem::path& path) { write_panel(path, items); });
    }

    /// The markdown of a figure: the image, or a note saying why it is missing.
    std::string figure(const std::string& alt, const std::string& file) const {
        const auto missing = missing_.find(file);
        if (missing == missing_.end()) {
            return "![" + alt + "](" + file + ")\n\n";
        }
        return "*(The plot `" + file + "` could not be drawn: " + missing->second + ")*\n\n";
    }

    static std::vector<double> iterations_axis(std::size_t n) {
        std::vector<double> x(n);
        for (std::size_t i = 0; i < n; ++i) {
            x[i] = static_cast<double>(i + 1);
        }
        return x;
    }

    void write_plots() const {
        const rgb fixed_colour{0.0F, 0.45F, 0.70F};
        const rgb cont_colour{0.84F, 0.37F, 0.0F}; // early stopping
        const rgb red_colour{0.0F, 0.62F, 0.45F};
        for (const char* id : {"deblur_p13", "inpaint_60"}) {
            const std::string key(id);
            const study_curve& fixed = curve("pnp_admm", key);
            const study_curve& stop = curve("pnp_admm_early_stop", key);
            plot_options o;
            o.title = "PnP-ADMM MSE against iteration: " + r_.find_case(key).title;
            o.x_label = "iteration (dashed line: the iterate early stopping keeps)";
            o.y_label = "MSE (log scale, zoomed)";
            o.log_y = true;
            if (const double best = std::min(fixed.best_mse, stop.best_mse); best > 0.0) {
                o.y_max = 3.0 * best; // zoomed on the best iterates (none for an exact result)
            }
            o.x_markers = {static_cast<double>(stop.selected_iteration)};
            plot("plot_mse_" + key + ".png", [&](const std::filesystem::path& file) {
                write_line_plot(
                    file,
                    {{"all measurements", iterations_axis(fixed.mse.size()), fixed.mse,
                      fixed_colour, false},
                     {format_number(100.0 * r_.settings.holdout) + " % held out, early stopping",
                      iterations_axis(stop.mse.size()), stop.mse, cont_colour, false}},
                    o);
            });
            // The held-out error against the true error of the same run, each over its minimum.
            auto relative = [](const std::vector<double>& v) {
                const double least = *std::min_element(v.begin(), v.end());
                std::vector<double> out;
                for (double e : v) {
                    out.push_back(e / std::max(least, 1e-300));
                }
                return out;
            };
            plot_options h;
            h.title = "Early stopping: held-out error and true MSE, " + r_.find_case(key).title;
            h.x_label = "iteration";
            h.y_label = "value / its minimum";
            h.y_min = 0.99;
            h.y_max = 1.3;
            h.x_markers = {static_cast<double>(stop.selected_iteration)};
            plot("plot_holdout_" + key + ".png", [&](const std::filesystem::path& file) {
                write_line_plot(file,
                                {{"error on the held-out measurements",
                                  iterations_axis(stop.holdout_error.size()),
                                  relative(stop.holdout_error), cont_colour, true},
                                 {"MSE against the ground truth", iterations_axis(stop.mse.size()),
                                  relative(stop.mse), fixed_colour, false}},
                                h);
            });
        }
        {
            const study_curve& red = curve("red", "inpaint_60");
            const study_curve& pnp = curve("pnp_admm", "inpaint_60");
            plot_options o;
            o.title = "RED against PnP-ADMM, 60 % missing pixels";
            o.x_label = "iteration";
            o.y_label = "MSE (log scale)";
            o.log_y = true;
            plot("plot_red_vs_pnp.png", [&](const std::filesystem::path& file) {
                write_line_plot(
                    file,
                    {{"PnP-ADMM", iterations_axis(pnp.mse.size()), pnp.mse, fixed_colour, false},
                     {"RED (lambda " + format_number(r_.settings.red_lambda) + ")",
                      iterations_axis(red.mse.size()), red.mse, red_colour, false}},
                    o);
            });
        }
        std::vector<bar_group> groups;
        const std::vector<std::string> methods{"tikhonov", "fista_haar", "tv", "pnp_admm"};
        for (const auto& c : r_.cases) {
            bar_group g{short_case(c), {}};
            for (const auto& m : methods) {
                g.values.push_back(run(m, c.id).result.psnr);
            }
            groups.push_back(g);
        }
        bar_options b;
        b.title = "PSNR of every method on every case";
        b.y_label = "PSNR (dB)";
        for (const auto& m : methods) {
            b.series_labels.push_back(method_label(m));
        }
        plot("plot_comparison.png",
             [&](const std::filesystem::path& file) { write_bar_chart(file, groups, b); });
    }

    static std::string short_case(const study_case_info& c) {
        if (c.kind == "blur") {
            return c.noise > 0.0 ? fmt("p=%d+noise", c.p) : fmt("p=%d", c.p);
        }
        return fmt("%d%% missing", static_cast<int>(std::lround(c.missing * 100)));
    }

    static nlohmann::json to_json(const quality& q) {
        return {{"mse", q.mse}, {"psnr", q.psnr}, {"ssim", q.ssim}};
    }

    void write_json() const {
        const study_settings& s = r_.settings;
        nlohmann::json j;
        j["settings"] = {{"image", s.image_path},
                         {"weights", s.weights_path},
                         {"size", s.size},
                         {"seed", s.seed},
                         {"iters", s.iters},
                         {"curve_iters", s.curve_iters},
                         {"red_iters", s.red_iters},
                         {"baseline_iters", s.baseline_iters},
                         {"eta", s.eta},
                         {"holdout", s.holdout},
                         {"patience", s.patience},
                         {"noise_sigma", s.noise_sigma},
                         {"noisy_eta", s.noisy_eta},
                         {"red_lambda", s.red_lambda},
                         {"red_step", s.red_step}};
        j["image"] = {{"name", r_.image_name},
                      {"source_shape", {r_.source_channels, r_.source_height, r_.source_width}},
                      {"crop", {3, s.size, s.size}}};
        j["denoiser"] = r_.denoiser_description;
        for (const auto& c : r_.cases) {
            j["cases"].push_back({{"id", c.id},
                                  {"title", c.title},
                                  {"kind", c.kind},
                                  {"p", c.p},
                                  {"missing", c.missing},
                                  {"missing_fraction", c.missing_fraction},
                                  {"noise", c.noise},
                                  {"input", to_json(c.input)}});
        }
        for (const auto& x : r_.runs) {
            j["runs"].push_back({{"case", x.case_id},
                                 {"method", x.method},
                                 {"settings", x.settings},
                                 {"iterations", x.iterations},
                                 {"stop", x.stop},
                                 {"seconds", x.seconds},
                                 {"mean_cg_iterations", x.mean_cg_iterations},
                                 {"image", x.image_file},
                                 {"result", to_json(x.result)}});
        }
        for (const auto& c : r_.curves) {
            j["curves"].push_back({{"case", c.case_id},
                                   {"method", c.method},
                                   {"best_iteration", c.best_iteration},
                                   {"best_mse", c.best_mse},
                                   {"final_mse", c.final_mse},
                                   {"iterations", c.mse.size()},
                                   {"mse", c.mse}});
            if (!c.holdout_error.empty()) {
                j["curves"].back()["holdout_error"] = c.holdout_error;
                j["curves"].back()["selected_iteration"] = c.selected_iteration;
                j["curves"].back()["selected_mse"] = c.selected_mse;
            }
        }
        const denoiser_checks& k = r_.checks;
        j["denoiser_checks"] = {{"homogeneity_error", k.homogeneity_error},
                                {"scale", k.scale},
                                {"jacobian_asymmetry", k.symmetry_error},
                                {"probe_pairs", k.probes},
                                {"epsilon", k.epsilon},
                                {"seconds_per_call", k.seconds_per_call}};
        for (const auto& [part, seconds] : r_.timing) {
            j["timing"][part] = seconds;
        }
        j["seconds_total"] = r_.seconds_total;
        j["derived"] = derived_;
        write_text_file(at("results.json"), j.dump(2) + '\n', "study");
    }

    // ---- report.md ----------------------------------------------------------------------

    std::string quality_row(const std::string& first, const quality& q) const {
        return "| " + first + " | " + mse_cell(q.mse) + " | " + psnr_cell(q) + " | " +
               ssim_cell(q) + " |\n";
    }

    void section_setup(std::ostringstream& md) const {
        const study_settings& s = r_.settings;
        md << "# Plug-and-play restoration study: " << r_.image_name << "\n\n";
        md << "Written by `xrestore study`. Every number here is also in `results.json`; the "
              "images, plots and CSV files named below are in this folder.\n\n";
        md << "- Ground truth: the centre " << s.size << " x " << s.size << " crop of `"
           << r_.image_name << "` (" << r_.source_width << " x " << r_.source_height << ", "
           << r_.source_channels << " channels), values in [0, 1]: `truth.png`.\n";
        md << "- Denoiser D: " << r_.denoiser_description << ".\n";
        md << "- PnP-ADMM as the study defines it: x = u = v = 0; x = CG solve of "
              "(A^T A + eta I) x = A^T y + eta (v - u); v = D(x + u); u = u + x - v; output "
              "clipped to [0, 1]; eta = "
           << format_number(s.eta) << ", " << s.iters
           << " iterations unless said otherwise, CG warm-started from the previous x "
              "(tolerance 1e-6 relative to the right-hand side, at most 100 iterations).\n";
        md << "- Blur: a p x p box kernel (every entry 1/p^2) on each channel, zero boundary "
              "(PyTorch's `Conv2d(..., padding=p//2)`); inpainting: a random 0/1 mask per "
              "channel and pixel, `rand < keep`.\n";
        md << "- Metrics against the ground truth after clipping to [0, 1]: MSE, PSNR (data "
              "range 1) and SSIM (scikit-image's Gaussian-window settings: sigma 1.5, "
              "population covariance), averaged over the three channels.\n";
        md << "- Seed " << s.seed << "; the same seed gives the same numbers.\n\n";
    }

    void section_deblur(std::ostringstream& md) const {
        md << "## 1. Deblurring with PnP-ADMM\n\n";
        md << "| blur | input MSE | input PSNR | MSE | PSNR | SSIM | CG iterations per "
              "iteration |\n|---|---|---|---|---|---|---|\n";
        std::vector<const study_run*> rows;
        for (const char* id : {"deblur_p7", "deblur_p13", "deblur_p17"}) {
            const study_case_info& c = r_.find_case(id);
            const study_run& x = run("pnp_admm", id);
            rows.push_back(&x);
            md << "| p = " << c.p << " | " << mse_cell(c.input.mse) << " | " << psnr_cell(c.input)
               << " | " << mse_cell(x.result.mse) << " | " << psnr_cell(x.result) << " | "
               << ssim_cell(x.result) << " | " << fmt("%.1f", x.mean_cg_iterations) << " |\n";
        }
        md << "\n";
        const bool monotone = rows[0]->result.mse <= rows[1]->result.mse &&
                              rows[1]->result.mse <= rows[2]->result.mse;
        md << fmt("PSNR goes from %.2f dB at p = 7 to %.2f dB at p = 17", rows[0]->result.psnr,
                  rows[2]->result.psnr)
           << (monotone ? ": the error grows with the blur size, "
                        : "; the error does not grow steadily with the blur size here, ")
           << "as a wider box removes more of the image's frequencies (its transfer function "
              "is a product of two Dirichlet kernels with zeros every N/p cycles), which only "
              "the prior can fill back in.\n\n";
        for (const char* id : {"deblur_p7", "deblur_p13", "deblur_p17"}) {
            md << figure(id, "panel_" + std::string(id) + ".png");
        }
        md << "Images: ground truth, blurred input, PnP-ADMM result (`panel_deblur_p*.png`; "
              "the results alone are `deblur_p*_pnp_admm.png`).\n\n";
    }

    void section_noise(std::ostringstream& md) const {
        const study_case_info& clean = r_.find_case("deblur_p13");
        const study_case_info& noisy = r_.find_case("deblur_p13_noise");
        const study_run& a = run("pnp_admm", clean.id);
        const study_run& b = run("pnp_admm", noisy.id);
        md << "## 2. Blur p = 13 with noise sigma = " << format_number(noisy.noise) << "\n\n";
        md << "| measurement | input MSE | input PSNR | result MSE | result PSNR | result SSIM "
              "|\n|---|---|---|---|---|---|\n";
        for (const auto* pair : {&a, &b}) {
            const study_case_info& c = pair == &a ? clean : noisy;
            md << "| " << (pair == &a ? "noise-free" : "noisy") << " | " << mse_cell(c.input.mse)
               << " | " << psnr_cell(c.input) << " | " << mse_cell(pair->result.mse) << " | "
               << psnr_cell(pair->result) << " | " << ssim_cell(pair->result) << " |\n";
        }
        const double input_drop =
            noted("noise", "input_psnr_drop_db", clean.input.psnr - noisy.input.psnr);
        const double drop = noted("noise", "result_psnr_drop_db", a.result.psnr - b.result.psnr);
        const double ratio =
            noted("noise", "result_mse_ratio", b.result.mse / std::max(a.result.mse, 1e-300));
        md << "\n";
        md << fmt("The noise lowers the input's PSNR by only %.2f dB, but the restoration's by "
                  "%.2f dB (its MSE is %.1f times larger). ",
                  input_drop, drop, ratio);
        md << "With eta = " << format_number(r_.settings.eta)
           << " the x-update is nearly an unregularised least-squares deconvolution: it "
              "divides by the box kernel's transfer function, which is close to zero at many "
              "frequencies, so the noise there is amplified many times and comes out coloured "
              "(streaks and ringing) rather than white. The denoiser was trained on white "
              "Gaussian noise and removes that amplified noise only in part, and ADMM feeds "
              "what it leaves back into every x-update. ";
        const study_curve& noisy_curve = curve("pnp_admm", noisy.id);
        auto to_psnr = [](double e) { return 10.0 * std::log10(1.0 / std::max(e, 1e-300)); };
        const double first_psnr =
            noted("noise", "first_iterate_psnr_db", to_psnr(noisy_curve.mse.front()));
        noted("noise", "best_psnr_db", to_psnr(noisy_curve.best_mse));
        md << fmt("The damage is done by the x-update, not by the iterations: the first iterate "
                  "(x = (A^T A + eta I)^{-1} A^T y from v = u = 0) is already at %.2f dB, and "
                  "the denoiser, trained on noise up to sigma 0.2 and now facing noise "
                  "amplified far beyond that, lifts it only to %.2f dB at its best (iteration "
                  "%d, MSE %.3e). ",
                  first_psnr, to_psnr(noisy_curve.best_mse), noisy_curve.best_iteration,
                  noisy_curve.best_mse);
        const study_run& larger = run("pnp_admm_larger_eta", noisy.id);
        const study_run& tv = run("tv", noisy.id);
        md << fmt("With a larger penalty, eta = %s, the x-update stays close to the denoised "
                  "estimate and the same %d iterations reach %.2f dB (SSIM %.4f; TV reaches "
                  "%.2f dB on this case, section 6): with noisy data eta must be chosen for the "
                  "noise level, and the study's 1e-4 suits only noise-free blur.",
                  format_number(r_.settings.noisy_eta).c_str(), larger.iterations,
                  larger.result.psnr, larger.result.ssim, tv.result.psnr);
        md << "\n\n" << figure("noise", "panel_deblur_p13_noise.png");
        md << figure("noise, larger eta", "panel_deblur_p13_noise_larger_eta.png");
    }

    void section_inpaint(std::ostringstream& md) const {
        md << "## 3. Inpainting\n\n";
        md << "| missing | missing (drawn) | input MSE | MSE | PSNR | SSIM |\n"
              "|---|---|---|---|---|---|\n";
        std::vector<double> psnrs;
        for (const char* id : {"inpaint_40", "inpaint_60", "inpaint_80"}) {
            const study_case_info& c = r_.find_case(id);
            const study_run& x = run("pnp_admm", id);
            psnrs.push_back(x.result.psnr);
            md << "| " << fmt("%.0f %%", c.missing * 100) << " | "
               << fmt("%.2f %%", c.missing_fraction * 100) << " | " << mse_cell(c.input.mse)
               << " | " << mse_cell(x.result.mse) << " | " << psnr_cell(x.result) << " | "
               << ssim_cell(x.result) << " |\n";
        }
        md << "\n"
           << fmt("From 40 %% to 80 %% missing pixels the PSNR falls by %.2f dB. ",
                  noted("inpainting", "psnr_drop_40_to_80_db", psnrs.front() - psnrs.back()))
           << "For an inpainting mask A^T A + eta I is diagonal, so CG solves the x-update "
              "exactly in one or two iterations: kept pixels are pinned to y, missing ones "
              "follow v - u, and all the filling-in is the denoiser's work.\n\n";
        for (const char* id : {"inpaint_40", "inpaint_60", "inpaint_80"}) {
            md << figure(id, "panel_" + std::string(id) + ".png");
        }
    }

    void section_red(std::ostringstream& md) const {
        const study_run& red = run("red", "inpaint_60");
        const study_run& pnp = run("pnp_admm", "inpaint_60");
        const study_curve& red_curve = curve("red", "inpaint_60");
        const denoiser_checks& k = r_.checks;
        md << "## 4. RED against PnP-ADMM (60 % missing)\n\n";
        md << "RED: gradient descent on 1/2 ||y - A x||^2 + lambda rho(x), rho(x) = 1/2 x^T "
              "(x - D(x)), with the gradient taken as A^T (A x - y) + lambda (x - D(x)); lambda "
              "= "
           << format_number(r_.settings.red_lambda)
           << ", step = " << format_number(r_.settings.red_step) << ", from x = A^T y.\n\n";
        md << "| method | iterations | MSE | PSNR | SSIM | seconds |\n|---|---|---|---|---|---|\n";
        md << "| RED | " << red.iterations << " | " << mse_cell(red.result.mse) << " | "
           << psnr_cell(red.result) << " | " << ssim_cell(red.result) << " | "
           << fmt("%.1f", red.seconds) << " |\n";
        md << "| PnP-ADMM | " << pnp.iterations << " | " << mse_cell(pnp.result.mse) << " | "
           << psnr_cell(pnp.result) << " | " << ssim_cell(pnp.result) << " | "
           << fmt("%.1f", pnp.seconds) << " |\n\n";
        const double diff =
            noted("red", "pnp_minus_red_psnr_db", pnp.result.psnr - red.result.psnr);
        md << (diff >= 0 ? fmt("PnP-ADMM is %.2f dB ahead of RED", diff)
                         : fmt("RED is %.2f dB ahead of PnP-ADMM", -diff))
           << fmt(" here; RED's best iterate came at iteration %d (MSE %.3e). ",
                  red_curve.best_iteration, red_curve.best_mse)
           << "With step 1 the missing pixels move only by lambda (x - D(x)) per iteration, "
              "so RED fills the holes slowly (each step keeps a fraction 1 - lambda of their "
              "distance from the denoised value), while PnP-ADMM replaces them by the "
              "denoiser's output at once.\n\n";
        md << figure("red", "plot_red_vs_pnp.png") << figure("red images", "panel_red_vs_pnp.png");
        md << "**Is x - D(x) a gradient here?** It is the gradient of rho only if D is locally "
              "homogeneous (D((1 + e) x) = (1 + e) D(x)) and its Jacobian is symmetric. "
              "Measured at the PnP-ADMM result:\n\n";
        md << fmt("- homogeneity error ||D(%.1f x) - %.1f D(x)|| / ||%.1f D(x)|| = %.2e", k.scale,
                  k.scale, k.scale, k.homogeneity_error)
           << (k.homogeneity_error < 1e-3
                   ? ": homogeneous up to float rounding. The residual call makes it so by "
                     "construction: the channel means and the standard deviation scale with "
                     "the input, so the network sees the same normalised image.\n"
                   : ": not homogeneous.\n");
        md << fmt("- Jacobian asymmetry of g(x) = x - D(x), sqrt(E (v'Ju - u'Jv)^2 / E (v'Ju)^2) "
                  "with J u from finite differences (eps = %.0e) on %d pairs of Gaussian probes "
                  "= %.3f",
                  k.epsilon, k.probes, k.symmetry_error)
           << (k.symmetry_error > 0.05
                   ? ": far from symmetric (0 for a symmetric Jacobian). So x - D(x) is not the "
                     "gradient of rho, or of any function: RED still converges to a point where "
                     "A^T (A x - y) + lambda (x - D(x)) = 0, but that point does not minimise "
                     "the stated objective, and the objective RED records need not decrease.\n\n"
                   : ": close to symmetric, so x - D(x) is close to a true gradient.\n\n");
    }

    void section_curves(std::ostringstream& md) const {
        const study_settings& s = r_.settings;
        md << "## 5. MSE against PnP-ADMM iteration, and a mitigation\n\n";
        md << "| case | run | iterations run | best MSE (iteration) | MSE at " << s.iters
           << " | last MSE | returned: iteration, MSE | PSNR / SSIM returned |\n"
              "|---|---|---|---|---|---|---|---|\n";
        for (const char* id : {"deblur_p13", "inpaint_60"}) {
            for (const char* m : {"pnp_admm", "pnp_admm_early_stop"}) {
                const bool fixed = std::string(m) == "pnp_admm";
                const study_curve& c = curve(m, id);
                const study_run& x = run(fixed ? "pnp_admm_long" : m, id);
                const std::size_t at = static_cast<std::size_t>(s.iters);
                const std::string mid =
                    c.mse.size() >= at ? mse_cell(c.mse[at - 1]) : std::string("-");
                const int returned = fixed ? static_cast<int>(c.mse.size()) : c.selected_iteration;
                md << "| " << r_.find_case(id).title << " | "
                   << (fixed ? "all measurements" : "early stopping") << " | " << c.mse.size()
                   << " | " << mse_cell(c.best_mse) << " (" << c.best_iteration << ") | " << mid
                   << " | " << mse_cell(c.final_mse) << " | " << returned << ", "
                   << mse_cell(x.result.mse) << " | " << psnr_cell(x.result) << " / "
                   << ssim_cell(x.result) << " |\n";
            }
        }
        md << "\n";
        for (const char* id : {"deblur_p13", "inpaint_60"}) {
            const study_curve& fixed = curve("pnp_admm", id);
            const study_curve& stop = curve("pnp_admm_early_stop", id);
            const double rise = noted("curves", std::string(id) + "_final_over_best_percent",
                                      100.0 * (fixed.final_mse / fixed.best_mse - 1.0));
            noted("curves", std::string(id) + "_early_stop_below_final_percent",
                  100.0 * (1.0 - stop.selected_mse / fixed.final_mse));
            noted("curves", std::string(id) + "_early_stop_over_best_percent",
                  100.0 * (stop.selected_mse / fixed.best_mse - 1.0));
            md << "**" << r_.find_case(id).title << ".** "
               << fmt("With all measurements the MSE is lowest at iteration %d (%.3e) and ends "
                      "%.1f %% higher after %zu iterations (%.3e). ",
                      fixed.best_iteration, fixed.best_mse, rise, fixed.mse.size(),
                      fixed.final_mse);
            md << fmt("Early stopping kept iteration %d (the held-out error was lowest there; the "
                      "run stopped at %zu) with MSE %.3e: ",
                      stop.selected_iteration, stop.mse.size(), stop.selected_mse)
               << (stop.selected_mse < fixed.final_mse
                       ? fmt("%.1f %% below the end of the long run, %+.1f %% from the best "
                             "iterate an oracle with the ground truth would pick.",
                             100.0 * (1.0 - stop.selected_mse / fixed.final_mse),
                             100.0 * (stop.selected_mse / fixed.best_mse - 1.0))
                       : fmt("%.1f %% above the end of the long run: here the held-out "
                             "measurements did not point at a better iterate.",
                             100.0 * (stop.selected_mse / fixed.final_mse - 1.0)))
               << "\n\n";
            md << figure(id, "plot_mse_" + std::string(id) + ".png");
            md << figure(std::string(id) + " held-out error",
                         "plot_holdout_" + std::string(id) + ".png");
            md << figure(std::string(id) + " images", "panel_drift_" + std::string(id) + ".png");
        }
        md << "Why the error drifts: PnP-ADMM with a denoiser that is not a proximal map "
              "minimises no objective, and with eta = "
           << format_number(s.eta)
           << " the x-update follows the data almost alone while u accumulates x - v, the "
              "disagreement between the data-consistent and the denoised estimate. The "
              "iteration does not settle: x keeps moving by a roughly constant small step, "
              "and what it moves towards is not the iterate of least error, which came early, "
              "once the denoiser had removed most of the blur or filled the holes. The steps "
              "in the curves are the warm-started CG: it returns at once while the right-hand "
              "side has moved by less than its tolerance (1e-6 of its norm, and eta (v - u) is "
              "only about 1e-4 of it), so x moves again only when u has accumulated enough.\n\n";
        md << "The mitigation, early stopping with rollback on held-out measurements: "
           << format_number(100.0 * s.holdout)
           << " % of the measurements (chosen at random, among the kept pixels for "
              "inpainting) are left out of the data term, PnP-ADMM runs on the rest, and after "
              "every iteration it predicts the held-out ones, A x against y. The iterate that "
              "predicts them best is returned, and the run stops "
           << s.patience
           << " iterations after it. Unlike stopping at the best iteration it needs no ground "
              "truth, only a few measurements given up; it is cross-validation applied to the "
              "iteration count. Other strategies tried while building this study did worse "
              "with this blind denoiser: a growing eta (continuation, which `pnp_admm` offers "
              "as `eta_growth`) ties x to the denoiser's output and ends in repeated denoising "
              "that loses detail, and damping the denoiser (v = (D(z) + z) / 2) settles, but "
              "below the best iterate.\n\n";
    }

    void section_baselines(std::ostringstream& md) const {
        md << "## 6. The classical baselines\n\n";
        md << "Each cell: PSNR / SSIM. Tikhonov: CG on (A^T A + lambda D^T D) x = A^T y with D "
              "the finite-difference gradient; FISTA-Haar: L1 of the detail coefficients of a "
              "3-level Haar transform; TV: "
              "Chambolle-Pock primal-dual; "
           << r_.settings.baseline_iters
           << " iterations each. Their weights were picked once, per kind of case, as the "
              "PSNR-best on the bundled photo (blur p = 13 without and with noise, 60 % "
              "inpainting, 150 iterations) among lambda = 1e-7, 3e-7, 1e-6, ..., 0.1 (the "
              "settings column of `results.csv`), which favours them a little; PnP-ADMM has no "
              "weight to tune. Without noise the best Tikhonov weight is the smallest that "
              "matters: the limited number of CG iterations is then the regulariser.\n\n";
        md << "| case | input | Tikhonov | FISTA-Haar | TV | PnP-ADMM (U-Net) |\n"
              "|---|---|---|---|---|---|\n";
        double gain_sum = 0.0;
        int wins = 0;
        for (const auto& c : r_.cases) {
            md << "| " << c.title << " | " << psnr_cell(c.input) << " / " << ssim_cell(c.input);
            double best_classical = -1e300;
            for (const char* m : {"tikhonov", "fista_haar", "tv", "pnp_admm"}) {
                const study_run& x = run(m, c.id);
                md << " | " << psnr_cell(x.result) << " / " << ssim_cell(x.result);
                if (std::string(m) != "pnp_admm") {
                    best_classical = std::max(best_classical, x.result.psnr);
                }
            }
            const double gain = run("pnp_admm", c.id).result.psnr - best_classical;
            gain_sum += gain;
            wins += gain > 0 ? 1 : 0;
            md << " |\n";
        }
        md << "\n"
           << fmt("PnP-ADMM with the U-Net beats the best classical method on %d of %zu cases, "
                  "by %.2f dB on average. ",
                  static_cast<int>(noted("baselines", "pnp_wins", wins)), r_.cases.size(),
                  noted("baselines", "mean_gain_over_best_classical_db",
                        gain_sum / static_cast<double>(r_.cases.size())))
           << "The learned prior helps most where the classical priors' picture of an image "
              "(smooth, piecewise constant, sparse in Haar) is furthest from the photo: large "
              "holes and wide blur, where textures and edges must be invented rather than "
              "kept.\n\n";
        md << figure("comparison", "plot_comparison.png");
        for (const auto& c : r_.cases) {
            md << figure(c.id + " baselines", "baselines_" + c.id + ".png");
        }
    }

    void section_files(std::ostringstream& md) const {
        md << "## Files and run time\n\n";
        md << "- `results.json`: every number above; `results.csv`: one row per image "
              "(inputs and results); `curves.csv`: MSE after every iteration of the PnP-ADMM, "
              "early-stopping and RED runs (with the held-out error).\n";
        md << "- `truth.png`, `<case>_input.png`, `<case>_<method>.png`; panels "
              "`panel_*.png`, `baselines_*.png`; plots `plot_*.png`.\n\n";
        md << "| part | seconds |\n|---|---|\n";
        for (const auto& [part, seconds] : r_.timing) {
            md << "| " << part << " | " << fmt("%.1f", seconds) << " |\n";
        }
        md << "| total | " << fmt("%.1f", r_.seconds_total) << " |\n";
    }

    void write_report() const {
        std::ostringstream md;
        section_setup(md);
        section_deblur(md);
        section_noise(md);
        section_inpaint(md);
        section_red(md);
        section_curves(md);
        section_baselines(md);
        section_files(md);
        write_text_file(at("report.md"), md.str(), "study");
    }

    /// A number the report derives from the results (a difference, ratio or percentage): kept
    /// under "derived" in results.json so that every printed number is there.
    double noted(const std::string& section, const std::string& key, double value) const {
        derived_[section][key] = value;
        return value;
    }

    const study_results& r_;
    std::filesystem::path dir_;
    mutable std::map<std::string, std::string> missing_; ///< plots left out, and why
    mutable nlohmann::json derived_ = nlohmann::json::object();
};

} // namespace

void write_study(const study_results& r, const std::filesystem::path& dir) {
    const auto missing = study_writer(r, dir).write_all();
    if (!missing.empty()) {
        std::fprintf(
            stderr, "study: %zu figures could not be drawn (%s: %s); report.md says where\n",
            missing.size(), missing.begin()->first.c_str(), missing.begin()->second.c_str());
    }
}

void print_study_summary(const study_results& r) {
    std::printf("study: %s, %zu x %zu crop, %.1f s\n", r.image_name.c_str(), r.settings.size,
                r.settings.size, r.seconds_total);
    for (const auto& c : r.cases) {
        const study_run* x = r.find_run(c.id, "pnp_admm");
        if (x != nullptr) {
            std::printf("study: %-34s input %6.2f dB -> PnP-ADMM %6.2f dB (SSIM %.4f)\n",
                        c.title.c_str(), c.input.psnr, x->result.psnr, x->result.ssim);
        }
    }
    if (const study_run* red = r.find_run("inpaint_60", "red")) {
        std::printf("study: RED on 60 %% missing: %.2f dB\n", red->result.psnr);
    }
    std::printf("study: report: %s\n",
                (std::filesystem::path(r.settings.out_dir) / "report.md").string().c_str());
}

} // namespace xrestore::cli
