// xrestore iqa: the image-quality study (Study B of the reference studies). One photo is damaged
// eight ways to the same PSNR and, separately, to the same SSIM (iqa/equal_quality.hpp); every
// measure of iqa_measures.hpp scores each copy, on the whole image and on the subject only (a
// foreground mask: a file, or the classical rule of iqa/foreground_mask.hpp); the outputs of
// `xrestore study` are re-ranked by every measure with Kendall's tau between the rankings.
// Writes report.md, results.json, the images, panels and charts into --out.

#include "bundled_files.hpp"
#include "command.hpp"
#include "iqa/iqa_measures.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"
#include "study/study_progress.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/json.hpp>
#include <xrestore/iqa/equal_quality.hpp>
#include <xrestore/iqa/foreground_mask.hpp>
#include <xrestore/iqa/rank_correlation.hpp>
#include <xrestore/report/plot.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xview.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace xrestore::cli {

namespace {

const char* const default_image = "images/squirrel.png";

struct iqa_settings {
    std::string image_path;
    std::string out_dir = "iqa_out";
    double target_psnr = 24.0;
    double target_ssim = 0.70;
    std::string foreground = "auto";
    std::string study_dir;
    std::string kinds = "all";
    std::size_t size = 0;
    std::uint64_t seed = 0;
    bool verbose = false;
    double max_memory = 0.0;
};

/// One scored image: a member of a set, or a study output.
struct scored_image {
    std::string id;    ///< "gaussian_noise", "deblur_p7/pnp_admm"
    std::string label; ///< for tables
    std::string file;  ///< its PNG in the report folder (sets) or the study folder
    image picture;
    iqa_values whole;
    iqa_values foreground;
    // set members only
    double strength = 0.0;
    std::string unit;
    bool reached = true;
    std::string study_case; ///< study outputs only
};

struct quality_set {
    quality_target target;
    double tolerance = 0.0;
    std::vector<scored_image> members;
};

std::string fixed(double v, int digits) {
    if (!std::isfinite(v)) {
        return "n/a";
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, v);
    return text;
}

int digits_of(const std::string& measure) {
    if (measure == "psnr" || measure == "psnr_hvs" || measure == "psnr_hvs_m" ||
        measure == "brisque" || measure == "niqe") {
        return 2;
    }
    return 4;
}

double value_of(const iqa_values& v, const std::string& name) {
    const auto it = v.values.find(name);
    return it == v.values.end() ? std::nan("") : it->second;
}

/// Centre crop to size x size (0: the whole image).
image centre_crop(const image& x, std::size_t size) {
    if (size == 0) {
        return x;
    }
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    const std::size_t top = (h - size) / 2;
    const std::size_t left = (w - size) / 2;
    return xt::eval(
        xt::view(x, xt::all(), xt::range(top, top + size), xt::range(left, left + size)));
}

/// A window of at most `side` pixels around the mask's centroid, for the panels.
image detail_window(const image& x, const image& mask, std::size_t side) {
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    double si = 0.0;
    double sj = 0.0;
    double n = 0.0;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            if (mask(0, i, j) != 0.0F) {
                si += static_cast<double>(i);
                sj += static_cast<double>(j);
                n += 1.0;
            }
        }
    }
    const std::size_t sh = std::min(side, h);
    const std::size_t sw = std::min(side, w);
    const double ci = n > 0 ? si / n : static_cast<double>(h) / 2;
    const double cj = n > 0 ? sj / n : static_cast<double>(w) / 2;
    const auto top = static_cast<std::size_t>(
        std::clamp(ci - static_cast<double>(sh) / 2, 0.0, static_cast<double>(h - sh)));
    const auto left = static_cast<std::size_t>(
        std::clamp(cj - static_cast<double>(sw) / 2, 0.0, static_cast<double>(w - sw)));
    return xt::eval(xt::view(x, xt::all(), xt::range(top, top + sh), xt::range(left, left + sw)));
}

/// The quality direction of a measure as a sign: +1 higher is better, -1 lower is better.
double direction(const iqa_measure& m) {
    return m.higher_is_better ? 1.0 : -1.0;
}

/// Kendall's tau between two measures over the items where both have a value (quality-oriented:
/// +1 means they rank the items the same way); NaN with fewer than 3 such items.
double measure_tau(const std::vector<const iqa_values*>& items, const iqa_measure& a,
                   const iqa_measure& b) {
    std::vector<double> x;
    std::vector<double> y;
    for (const iqa_values* v : items) {
        const double va = value_of(*v, a.name);
        const double vb = value_of(*v, b.name);
        if (std::isfinite(va) && std::isfinite(vb)) {
            x.push_back(direction(a) * va);
            y.push_back(direction(b) * vb);
        }
    }
    if (x.size() < 3) {
        return std::nan("");
    }
    return kendall_tau(x, y);
}

/// Kendall's tau of one measure between the whole image and the foreground, over the items.
double whole_vs_foreground_tau(const std::vector<const scored_image*>& items,
                               const iqa_measure& m) {
    std::vector<double> x;
    std::vector<double> y;
    for (const scored_image* s : items) {
        const double a = value_of(s->whole, m.name);
        const double b = value_of(s->foreground, m.name);
        if (std::isfinite(a) && std::isfinite(b)) {
            x.push_back(a);
            y.push_back(b);
        }
    }
    if (x.size() < 3) {
        return std::nan("");
    }
    return kendall_tau(x, y);
}

nlohmann::ordered_json values_json(const iqa_values& v) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const iqa_measure& m : iqa_measures()) {
        const auto it = v.values.find(m.name);
        if (it != v.values.end()) {
            j[m.name] = it->second;
        }
    }
    return j;
}

nlohmann::ordered_json notes_json(const iqa_values& v) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [k, note] : v.notes) {
        j[k] = note;
    }
    return j;
}

/// The study's outputs: truth.png and each run's image, from its results.json.
struct study_inputs {
    std::filesystem::path folder;
    image truth;
    struct item {
        std::string study_case;
        std::string method;
        std::string file;
    };
    std::vector<item> items;
};

study_inputs read_study(const std::string& folder) {
    study_inputs s;
    s.folder = folder;
    const std::filesystem::path json_path = s.folder / "results.json";
    const nlohmann::json j = read_json_file(json_path, "iqa: --study results.json");
    if (!j.contains("runs") || !j["runs"].is_array() || !j.contains("cases") ||
        !j["cases"].is_array()) {
        throw value_error("iqa: --study '" + folder +
                          "': results.json has no 'runs' and 'cases' arrays (is it the folder "
                          "of `xrestore study`?)");
    }
    auto need_file = [&](const std::string& name) {
        const std::filesystem::path p = s.folder / name;
        if (name.empty() || name.find('/') != std::string::npos ||
            name.find("..") != std::string::npos) {
            throw value_error("iqa: --study results.json names the image '" + name +
                              "', not a file name inside the folder");
        }
        if (!std::filesystem::is_regular_file(p)) {
            throw io_error("iqa: --study '" + folder + "' lacks " + name +
                           " (listed in its results.json)");
        }
        return name;
    };
    need_file("truth.png");
    for (const auto& c : j["cases"]) {
        if (!c.contains("id") || !c["id"].is_string()) {
            throw value_error("iqa: --study results.json: a case without a string 'id'");
        }
        const std::string id = c["id"].get<std::string>();
        s.items.push_back({id, "input", need_file(id + "_input.png")});
    }
    for (const auto& r : j["runs"]) {
        if (!r.contains("case") || !r["case"].is_string() || !r.contains("method") ||
            !r["method"].is_string() || !r.contains("image") || !r["image"].is_string()) {
            throw value_error(
                "iqa: --study results.json: a run without string 'case', 'method' and 'image'");
        }
        s.items.push_back({r["case"].get<std::string>(), r["method"].get<std::string>(),
                           need_file(r["image"].get<std::string>())});
    }
    return s;
}

class iqa_run {
public:
    explicit iqa_run(const iqa_settings& s) : s_(s) {}

    int run() {
        const std::vector<degradation> kinds = parse_kinds(s_.kinds);
        // every input and output is checked before anything is computed
        file_plan plan("iqa");
        plan.input("--image", s_.image_path);
        if (s_.foreground != "auto") {
            plan.input("--foreground", s_.foreground);
        }
        if (!s_.study_dir.empty()) {
            plan.input("--study", (std::filesystem::path(s_.study_dir) / "results.json").string());
        }
        plan.report_folder("--out", s_.out_dir, "iqa_results.json").check();
        study_inputs study;
        if (!s_.study_dir.empty()) {
            study = read_study(s_.study_dir);
        }
        memory_plan memory("iqa", s_.max_memory);
        const shape3 shape = memory.input("--image", s_.image_path);
        memory.add("the photo, 2 x " + std::to_string(kinds.size()) +
                       " degraded copies and the measures' working images (about 40)",
                   image_bytes(shape, 2.0 * static_cast<double>(kinds.size()) + 40.0));
        memory.check();
        const iqa_models models = load_iqa_models("iqa");
        image photo = during("reading --image '" + s_.image_path + "'",
                             [&] { return load_array(s_.image_path); });
        check_finite(photo, "iqa", "--image");
        if (photo.shape()[0] != 1 && photo.shape()[0] != 3) {
            throw shape_error("iqa: --image must be grey or RGB, got " +
                              shape_string(photo.shape()));
        }
        if (s_.size != 0 && (s_.size > photo.shape()[1] || s_.size > photo.shape()[2])) {
            throw value_error("iqa: --size " + std::to_string(s_.size) + " is larger than the " +
                              shape_string(photo.shape()) + " image");
        }
        reference_ = centre_crop(photo, s_.size);
        if (s_.foreground == "auto") {
            const foreground_result f = foreground_mask_details(reference_);
            mask_ = f.mask;
            foreground_note_ = "computed by the classical rule of iqa/foreground_mask.hpp: colour "
                               "groups of a " +
                               std::to_string(f.border) +
                               "-pixel border band (k-means, k = 4), Mahalanobis distance to the "
                               "nearest group above Otsu's threshold (" +
                               fixed(f.threshold, 2) +
                               "), opening, largest region, holes filled, closing";
        } else {
            image m = load_mask(s_.foreground);
            if (m.shape()[0] != 1 || m.shape()[1] != photo.shape()[1] ||
                m.shape()[2] != photo.shape()[2]) {
                throw shape_error("iqa: --foreground must be 1 x " +
                                  std::to_string(photo.shape()[1]) + " x " +
                                  std::to_string(photo.shape()[2]) + " (the image's size), got " +
                                  shape_string(m.shape()));
            }
            m = centre_crop(m, s_.size);
            check_finite(m, "iqa", "--foreground");
            mask_ = xt::eval(xt::cast<float>(m > 0.5F));
            foreground_note_ = "read from " + s_.foreground + " (nonzero = foreground)";
        }
        foreground_fraction_ = xt::mean(mask_)();
        if (foreground_fraction_ == 0.0) {
            throw value_error("iqa: the foreground mask selects no pixel");
        }
        for (const study_inputs::item& it : study.items) {
            (void)it;
        }

        const bool terminal = isatty(fileno(stderr)) != 0;
        const double units = 2.0 * static_cast<double>(kinds.size()) * 3.0 + 1.0 +
                             static_cast<double>(study.items.size());
        study_progress progress("iqa", units,
                                terminal     ? study_progress::mode::bar
                                : s_.verbose ? study_progress::mode::lines
                                             : study_progress::mode::quiet);
        // the reference alone (no-reference measures)
        progress.begin("scoring the reference", 1.0, 1);
        reference_values_ = compute_iqa_measures(reference_, reference_, models);
        reference_foreground_ = compute_iqa_measures(reference_, reference_, models, &mask_);
        progress.end("done");
        for (const quality_target t : {quality_target{quality_measure::psnr, s_.target_psnr},
                                       quality_target{quality_measure::ssim, s_.target_ssim}}) {
            quality_set set;
            set.target = t;
            equal_quality_options o;
            o.seed = s_.seed;
            set.tolerance =
                t.measure == quality_measure::psnr ? o.psnr_tolerance : o.ssim_tolerance;
            const std::string name(quality_measure_name(t.measure));
            progress.begin("equal-" + name + " set", 2.0 * static_cast<double>(kinds.size()),
                           static_cast<int>(kinds.size()));
            int done = 0;
            for (const degradation d : kinds) {
                progress.detail(std::string(degradation_name(d)));
                equal_quality_result r = match_quality(reference_, d, t, o);
                scored_image m;
                m.id = std::string(degradation_name(d));
                m.label = m.id;
                m.file = name + "_set/" + m.id + ".png";
                m.strength = r.strength;
                m.unit = std::string(degradation_strength_range(d).unit);
                m.reached = r.reached;
                m.picture = std::move(r.output);
                set.members.push_back(std::move(m));
                progress.advance(++done);
            }
            progress.end(std::to_string(kinds.size()) + " strengths found");
            progress.begin("scoring the equal-" + name + " set", static_cast<double>(kinds.size()),
                           static_cast<int>(kinds.size()));
            done = 0;
            for (scored_image& m : set.members) {
                progress.detail(m.id);
                m.whole = compute_iqa_measures(reference_, m.picture, models);
                m.foreground = compute_iqa_measures(reference_, m.picture, models, &mask_);
                progress.advance(++done);
            }
            progress.end("scored");
            sets_.push_back(std::move(set));
        }
        if (!study.items.empty()) {
            const image truth = load_array(study.folder / "truth.png");
            progress.begin("re-ranking the study's outputs",
                           static_cast<double>(study.items.size()),
                           static_cast<int>(study.items.size()));
            int done = 0;
            for (const study_inputs::item& it : study.items) {
                scored_image m;
                m.id = it.study_case + "/" + it.method;
                m.label = it.method;
                m.study_case = it.study_case;
                m.file = it.file;
                progress.detail(m.id);
                const image x = load_array(study.folder / it.file);
                if (x.shape() != truth.shape()) {
                    throw shape_error("iqa: --study image " + it.file + " is " +
                                      shape_string(x.shape()) + ", truth.png is " +
                                      shape_string(truth.shape()));
                }
                m.whole = compute_iqa_measures(truth, x, models);
                study_items_.push_back(std::move(m));
                progress.advance(++done);
            }
            progress.end("scored " + std::to_string(study_items_.size()) + " images");
            study_folder_ = s_.study_dir;
        }
        progress.finish();
        write_folder_atomically(s_.out_dir, [&](const std::filesystem::path& dir) {
            dir_ = dir;
            write_images();
            write_charts();
            write_report();
            write_json();
        });
        std::fprintf(stderr, "iqa: report: %s\n",
                     (std::filesystem::path(s_.out_dir) / "report.md").string().c_str());
        int missed = 0;
        for (const quality_set& set : sets_) {
            for (const scored_image& m : set.members) {
                if (!m.reached) {
                    std::fprintf(stderr, "iqa: error: %s could not reach %s %g\n", m.id.c_str(),
                                 std::string(quality_measure_name(set.target.measure)).c_str(),
                                 set.target.value);
                    ++missed;
                }
            }
        }
        return missed == 0 ? 0 : 1;
    }

    static std::vector<degradation> parse_kinds(const std::string& list) {
        if (list == "all") {
            return {all_degradations.begin(), all_degradations.end()};
        }
        std::vector<degradation> kinds;
        std::size_t start = 0;
        while (start <= list.size()) {
            const std::size_t end = std::min(list.find(',', start), list.size());
            const std::string name = list.substr(start, end - start);
            try {
                kinds.push_back(parse_degradation(name));
            } catch (const value_error& e) {
                throw value_error(std::string("iqa: --kinds: ") + e.what());
            }
            start = end + 1;
        }
        return kinds;
    }

private:
    std::filesystem::path at(const std::string& name) const { return dir_ / name; }

    template <class Draw>
    void plot(const std::string& file, Draw&& draw) {
        try {
            draw(at(file));
        } catch (const xrestore::error& e) {
            missing_[file] = e.what();
        }
    }

    std::string figure(const std::string& alt, const std::string& file) const {
        const auto missing = missing_.find(file);
        if (missing == missing_.end()) {
            return "![" + alt + "](" + file + ")\n\n";
        }
        return "*(The figure `" + file + "` could not be drawn: " + missing->second + ")*\n\n";
    }

    void write_images() {
        write_png(at("reference.png"), reference_);
        write_npy(at("reference.npy"), reference_);
        write_png(at("foreground_mask.png"), mask_);
        image overlay = reference_;
        for (std::size_t c = 0; c < overlay.shape()[0]; ++c) {
            xt::view(overlay, c) = xt::view(overlay, c) * (0.25F + 0.75F * xt::view(mask_, 0));
        }
        write_png(at("foreground_overlay.png"), overlay);
        for (const quality_set& set : sets_) {
            const std::string name(quality_measure_name(set.target.measure));
            std::filesystem::create_directories(at(name + "_set"));
            std::vector<report::panel_item> items;
            items.push_back({"reference", detail_window(reference_, mask_, 160)});
            for (const scored_image& m : set.members) {
                write_png(at(m.file), m.picture);
                // the exact float image the numbers were computed on (the PNG rounds to 8 bits)
                write_npy(at(m.file.substr(0, m.file.size() - 4) + ".npy"), m.picture);
                items.push_back({m.id + "\nPSNR " + fixed(value_of(m.whole, "psnr"), 2) + " SSIM " +
                                     fixed(value_of(m.whole, "ssim"), 3),
                                 detail_window(m.picture, mask_, 160)});
            }
            plot("panel_" + name + ".png", [&](const std::filesystem::path& p) {
                // two rows: the reference and the first half, then the rest
                const std::size_t half = (items.size() + 1) / 2;
                std::vector<report::panel_item> top(items.begin(), items.begin() + half);
                std::vector<report::panel_item> bottom(items.begin() + half, items.end());
                const report::canvas a = report::render_panel(top);
                const report::canvas b = report::render_panel(bottom);
                report::canvas both(std::max(a.width(), b.width()), a.height() + b.height());
                both.paste(a.pixels(), 0, 0);
                both.paste(b.pixels(), 0, static_cast<long>(a.height()));
                both.write_png(p);
            });
        }
    }

    /// Per set: each measure's score of each member scaled to [0, 1] within the set (1: the
    /// member that measure rates best), grouped by degradation.
    void write_charts() {
        for (const quality_set& set : sets_) {
            const std::string name(quality_measure_name(set.target.measure));
            std::vector<report::bar_group> groups;
            std::vector<std::string> series;
            std::vector<const iqa_measure*> shown;
            for (const iqa_measure& m : iqa_measures()) {
                // quality measures only (blur and noise estimates are diagnostics), not the one
                // the set is equal in: eight series, one colour each
                if (m.name != name && m.name != "psnr" && m.name != "blur_effect" &&
                    m.name != "sigma_est" && m.name != "psnr_hvs") {
                    shown.push_back(&m);
                    series.push_back(m.label);
                }
            }
            for (const scored_image& s : set.members) {
                report::bar_group g;
                g.label = s.id;
                for (const iqa_measure* m : shown) {
                    double lo = HUGE_VAL;
                    double hi = -HUGE_VAL;
                    for (const scored_image& t : set.members) {
                        const double v = direction(*m) * value_of(t.whole, m->name);
                        if (std::isfinite(v)) {
                            lo = std::min(lo, v);
                            hi = std::max(hi, v);
                        }
                    }
                    const double v = direction(*m) * value_of(s.whole, m->name);
                    g.values.push_back(std::isfinite(v) && hi > lo ? (v - lo) / (hi - lo)
                                                                   : std::nan(""));
                }
                groups.push_back(std::move(g));
            }
            report::bar_options o;
            o.title = "Equal-" + std::string(name == "psnr" ? "PSNR" : "SSIM") +
                      " set: each measure's rating within the set (1 = rated best, 0 = worst)";
            o.y_label = "scaled rating";
            o.series_labels = series;
            o.width = 1400;
            o.height = 640;
            o.y_min = 0.0;
            o.y_max = 1.0;
            plot("chart_" + name + ".png",
                 [&](const std::filesystem::path& p) { report::write_bar_chart(p, groups, o); });
        }
    }

    std::string table(const std::vector<const scored_image*>& rows, bool foreground,
                      bool with_strength) const {
        std::ostringstream md;
        md << "| image |";
        if (with_strength) {
            md << " strength |";
        }
        std::vector<const iqa_measure*> cols;
        for (const iqa_measure& m : iqa_measures()) {
            if (!foreground || m.maskable) {
                cols.push_back(&m);
                md << ' ' << m.label << (m.higher_is_better ? " ↑" : " ↓") << " |";
            }
        }
        md << "\n|---|";
        if (with_strength) {
            md << "---|";
        }
        for (std::size_t i = 0; i < cols.size(); ++i) {
            md << "---:|";
        }
        md << '\n';
        for (const scored_image* r : rows) {
            md << "| " << r->label << (r->reached ? "" : " (missed)") << " |";
            if (with_strength) {
                md << ' ' << fixed(r->strength, 4) << " (" << r->unit << ") |";
            }
            const iqa_values& v = foreground ? r->foreground : r->whole;
            for (const iqa_measure* m : cols) {
                md << ' ' << fixed(value_of(v, m->name), digits_of(m->name)) << " |";
            }
            md << '\n';
        }
        // why a value is missing, once per measure
        std::map<std::string, std::string> why;
        for (const scored_image* r : rows) {
            for (const auto& [name, note] : (foreground ? r->foreground : r->whole).notes) {
                why.emplace(name, note);
            }
        }
        for (const auto& [name, note] : why) {
            md << "\nn/a in " << name << ": " << note << '\n';
        }
        return md.str();
    }

    /// Which member each measure rates best and worst in a set.
    std::string extremes(const quality_set& set, bool foreground) const {
        std::ostringstream md;
        for (const iqa_measure& m : iqa_measures()) {
            if (foreground && !m.maskable) {
                continue;
            }
            const scored_image* best = nullptr;
            const scored_image* worst = nullptr;
            double bv = -HUGE_VAL;
            double wv = HUGE_VAL;
            for (const scored_image& s : set.members) {
                const double v =
                    direction(m) * value_of(foreground ? s.foreground : s.whole, m.name);
                if (!std::isfinite(v)) {
                    continue;
                }
                if (v > bv) {
                    bv = v;
                    best = &s;
                }
                if (v < wv) {
                    wv = v;
                    worst = &s;
                }
            }
            if (best != nullptr && worst != nullptr) {
                md << "- " << m.label << ": best " << best->id << " ("
                   << fixed(direction(m) * bv, digits_of(m.name)) << "), worst " << worst->id
                   << " (" << fixed(direction(m) * wv, digits_of(m.name)) << ")\n";
            }
        }
        return md.str();
    }

    std::string tau_table(const std::vector<const iqa_values*>& items) const {
        std::ostringstream md;
        md << "| |";
        for (const iqa_measure& m : iqa_measures()) {
            md << ' ' << m.label << " |";
        }
        md << "\n|---|";
        for (std::size_t i = 0; i < iqa_measures().size(); ++i) {
            md << "---:|";
        }
        md << '\n';
        for (const iqa_measure& a : iqa_measures()) {
            md << "| " << a.label << " |";
            for (const iqa_measure& b : iqa_measures()) {
                md << ' ' << fixed(measure_tau(items, a, b), 2) << " |";
            }
            md << '\n';
        }
        return md.str();
    }

    /// Where a degradation's error goes, by construction.
    static std::string mechanism(const std::string& kind) {
        if (kind == "gaussian_noise" || kind == "salt_and_pepper") {
            return "Its error is drawn independently per pixel, so it differs between regions only "
                   "through clipping at 0 and 1 (" +
                   std::string(kind == "salt_and_pepper"
                                   ? "a pixel set to 0 or 1 errs by its distance to that value: "
                                     "mid-grey regions err less than very dark or bright ones"
                                   : "very dark or bright regions lose part of it") +
                   ").";
        }
        if (kind == "gaussian_blur" || kind == "jpeg" || kind == "translation") {
            return "Its error is proportional to local detail (edges and texture), none in flat "
                   "areas.";
        }
        if (kind == "contrast_stretch") {
            return "Its error is proportional to a pixel's distance from the image mean, less "
                   "where the stretch clips at 0 or 1.";
        }
        if (kind == "mean_shift") {
            return "Its error is the same offset everywhere, less where bright pixels clip at 1.";
        }
        if (kind == "colour_quantisation") {
            return "Its error depends on where values fall between the levels: about step^2 / 12 "
                   "in textured areas, up to (step / 2)^2 in smooth gradients (banding).";
        }
        return "";
    }

    /// Why the foreground changes a member's PSNR, from the numbers.
    std::string foreground_findings(const quality_set& set) const {
        std::ostringstream md;
        std::vector<std::pair<double, const scored_image*>> shifts;
        for (const scored_image& s : set.members) {
            const double d = value_of(s.foreground, "psnr") - value_of(s.whole, "psnr");
            if (std::isfinite(d)) {
                shifts.emplace_back(d, &s);
            }
        }
        std::sort(shifts.begin(), shifts.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        if (shifts.empty()) {
            return "";
        }
        double lo = HUGE_VAL;
        double hi = -HUGE_VAL;
        for (const auto& [d, s] : shifts) {
            const double v = value_of(s->foreground, "psnr");
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        md << "On the foreground (" << fixed(100.0 * foreground_fraction_, 1)
           << " % of the pixels) the PSNRs of this set spread over " << fixed(hi - lo, 2) << " dB ("
           << fixed(lo, 2) << " to " << fixed(hi, 2) << "), against "
           << (set.target.measure == quality_measure::psnr
                   ? fixed(2.0 * set.tolerance, 2) + " dB on the whole image"
                   : "the whole image's spread in the table above")
           << ". Foreground PSNR minus whole-image PSNR:\n\n";
        for (const auto& [d, s] : shifts) {
            const double dssim = value_of(s->foreground, "ssim") - value_of(s->whole, "ssim");
            md << "- " << s->id << ": PSNR " << (d >= 0 ? "+" : "") << fixed(d, 2) << " dB, SSIM "
               << (dssim >= 0 ? "+" : "") << fixed(dssim, 3) << ". " << mechanism(s->id) << ' '
               << (d < -0.5  ? "Here its error is larger on the subject."
                   : d > 0.5 ? "Here its error is larger on the background."
                             : "Here subject and background get about the same error (within "
                               "0.5 dB).")
               << '\n';
        }
        md << '\n';
        return md.str();
    }

    void write_report() {
        std::ostringstream md;
        const std::string image_name = std::filesystem::path(s_.image_path).filename().string();
        md << "# Image-quality assessment: why PSNR and SSIM are not enough\n\n"
           << "Written by `xrestore iqa`; every number is also in `iqa_results.json`. Image: `"
           << image_name << "` (" << shape_string(reference_.shape())
           << (s_.size != 0 ? ", centre crop" : "") << "), `reference.png`.\n\n"
           << "Foreground: " << fixed(100.0 * foreground_fraction_, 1) << " % of the pixels, "
           << foreground_note_ << ". `foreground_mask.png`, shown dimmed outside:\n\n"
           << figure("foreground", "foreground_overlay.png");
        md << "Reference alone (no-reference measures): BRISQUE "
           << fixed(value_of(reference_values_, "brisque"), 2) << ", NIQE "
           << fixed(value_of(reference_values_, "niqe"), 2) << ", blur "
           << fixed(value_of(reference_values_, "blur_effect"), 4) << ", noise sigma "
           << fixed(value_of(reference_values_, "sigma_est"), 4) << ".\n\n";
        for (const quality_set& set : sets_) {
            const bool is_psnr = set.target.measure == quality_measure::psnr;
            const std::string name(quality_measure_name(set.target.measure));
            md << "## Equal-" << (is_psnr ? "PSNR" : "SSIM") << " set: "
               << (is_psnr ? "PSNR " + fixed(set.target.value, 2) + " dB"
                           : "SSIM " + fixed(set.target.value, 3))
               << " (within "
               << (is_psnr ? fixed(set.tolerance, 2) + " dB" : fixed(set.tolerance, 3)) << ")\n\n"
               << "Each degradation's strength was found by bisection (images in `" << name
               << "_set/`: PNG to look at, .npy with the exact values scored). Detail around "
                  "the subject:\n\n"
               << figure("equal " + name, "panel_" + name + ".png");
            std::vector<const scored_image*> rows;
            for (const scored_image& s : set.members) {
                rows.push_back(&s);
            }
            md << table(rows, false, true) << '\n'
               << "Arrows: ↑ higher is better, ↓ lower is better. Each measure's best and worst "
                  "member:\n\n"
               << extremes(set, false) << '\n'
               << figure("chart " + name, "chart_" + name + ".png");
            std::vector<const iqa_values*> items;
            for (const scored_image& s : set.members) {
                items.push_back(&s.whole);
            }
            md << "Kendall's tau between the measures' rankings of this set (quality-oriented: +1 "
                  "= same order):\n\n"
               << tau_table(items) << '\n';
            md << "### The same set on the foreground only\n\n"
               << table(rows, true, false) << '\n'
               << foreground_findings(set)
               << "Kendall's tau between each measure's ranking on "
                  "the whole image and on the foreground: ";
            bool first = true;
            for (const iqa_measure& m : iqa_measures()) {
                if (!m.maskable) {
                    continue;
                }
                md << (first ? "" : ", ") << m.label << ' '
                   << fixed(whole_vs_foreground_tau(rows, m), 2);
                first = false;
            }
            md << ".\n\n";
        }
        if (!study_items_.empty()) {
            md << "## The restoration study re-ranked\n\n"
               << "The outputs of `xrestore study` in `" << study_folder_
               << "` (each case's input and every method's result), scored against its "
                  "`truth.png` by every measure:\n\n";
            std::vector<const scored_image*> rows;
            std::vector<const iqa_values*> items;
            std::map<std::string, std::vector<const scored_image*>> by_case;
            for (const scored_image& s : study_items_) {
                rows.push_back(&s);
                items.push_back(&s.whole);
                by_case[s.study_case].push_back(&s);
            }
            // labels with the case
            std::vector<scored_image> labelled;
            md << "| case | method |";
            for (const iqa_measure& m : iqa_measures()) {
                md << ' ' << m.label << (m.higher_is_better ? " ↑" : " ↓") << " |";
            }
            md << "\n|---|---|";
            for (std::size_t i = 0; i < iqa_measures().size(); ++i) {
                md << "---:|";
            }
            md << '\n';
            for (const scored_image* r : rows) {
                md << "| " << r->study_case << " | " << r->label << " |";
                for (const iqa_measure& m : iqa_measures()) {
                    md << ' ' << fixed(value_of(r->whole, m.name), digits_of(m.name)) << " |";
                }
                md << '\n';
            }
            md << "\nBest method of each case by each measure (inputs included):\n\n| case |";
            for (const iqa_measure& m : iqa_measures()) {
                md << ' ' << m.label << " |";
            }
            md << "\n|---|";
            for (std::size_t i = 0; i < iqa_measures().size(); ++i) {
                md << "---|";
            }
            md << '\n';
            std::size_t disagreements = 0;
            for (const auto& [c, members] : by_case) {
                md << "| " << c << " |";
                const std::string psnr_best = best_of(members, iqa_measures().front());
                for (const iqa_measure& m : iqa_measures()) {
                    const std::string b = best_of(members, m);
                    disagreements += b != psnr_best ? 1 : 0;
                    md << ' ' << b << " |";
                }
                md << '\n';
            }
            md << "\nIn " << disagreements << " of " << by_case.size() * iqa_measures().size()
               << " (case, measure) cells the best method differs from PSNR's choice.\n\n"
               << "Kendall's tau between the measures over all " << items.size()
               << " study images:\n\n"
               << tau_table(items) << '\n';
        } else {
            md << "## The restoration study re-ranked\n\nNot run: pass the folder of `xrestore "
                  "study` with `--study DIR` to re-rank its outputs by every measure.\n\n";
        }
        md << "## The measures\n\n";
        for (const iqa_measure& m : iqa_measures()) {
            md << "- **" << m.label << "** (`" << m.name << "`, "
               << (m.full_reference ? "full-reference" : "no-reference")
               << (m.maskable ? ", has a foreground version" : "") << "): " << m.definition << '\n';
        }
        md << "\nLPIPS is not included: it needs network weights trained elsewhere that this "
              "project cannot download or retrain; an untrained imitation would not be LPIPS.\n";
        write_text_file(at("report.md"), md.str(), "iqa");
    }

    static std::string best_of(const std::vector<const scored_image*>& members,
                               const iqa_measure& m) {
        const scored_image* best = nullptr;
        double bv = -HUGE_VAL;
        for (const scored_image* s : members) {
            const double v = direction(m) * value_of(s->whole, m.name);
            if (std::isfinite(v) && v > bv) {
                bv = v;
                best = s;
            }
        }
        return best != nullptr ? best->label : "n/a";
    }

    void write_json() {
        nlohmann::ordered_json j;
        j["command"] = "iqa";
        j["settings"] = {{"image", s_.image_path},
                         {"size", s_.size},
                         {"target_psnr", s_.target_psnr},
                         {"target_ssim", s_.target_ssim},
                         {"foreground", s_.foreground},
                         {"study", s_.study_dir},
                         {"kinds", s_.kinds},
                         {"seed", s_.seed}};
        j["shape"] = {reference_.shape()[0], reference_.shape()[1], reference_.shape()[2]};
        j["foreground"] = {{"fraction", foreground_fraction_}, {"rule", foreground_note_}};
        nlohmann::ordered_json measures = nlohmann::ordered_json::array();
        for (const iqa_measure& m : iqa_measures()) {
            measures.push_back({{"name", m.name},
                                {"label", m.label},
                                {"full_reference", m.full_reference},
                                {"higher_is_better", m.higher_is_better},
                                {"foreground_version", m.maskable},
                                {"definition", m.definition}});
        }
        j["measures"] = measures;
        j["reference"] = {{"whole", values_json(reference_values_)},
                          {"foreground", values_json(reference_foreground_)}};
        for (const quality_set& set : sets_) {
            const std::string name(quality_measure_name(set.target.measure));
            nlohmann::ordered_json sj;
            sj["target"] = set.target.value;
            sj["tolerance"] = set.tolerance;
            sj["members"] = nlohmann::ordered_json::array();
            std::vector<const iqa_values*> items;
            for (const scored_image& s : set.members) {
                items.push_back(&s.whole);
                sj["members"].push_back({{"degradation", s.id},
                                         {"strength", s.strength},
                                         {"strength_unit", s.unit},
                                         {"reached", s.reached},
                                         {"file", s.file},
                                         {"whole", values_json(s.whole)},
                                         {"foreground", values_json(s.foreground)},
                                         {"notes", notes_json(s.whole)},
                                         {"foreground_notes", notes_json(s.foreground)}});
            }
            sj["kendall_tau"] = tau_json(items);
            j["sets"][name] = sj;
        }
        if (!study_items_.empty()) {
            nlohmann::ordered_json st;
            st["folder"] = study_folder_;
            std::vector<const iqa_values*> items;
            for (const scored_image& s : study_items_) {
                items.push_back(&s.whole);
                st["items"].push_back({{"case", s.study_case},
                                       {"method", s.label},
                                       {"file", s.file},
                                       {"whole", values_json(s.whole)},
                                       {"notes", notes_json(s.whole)}});
            }
            st["kendall_tau"] = tau_json(items);
            j["study"] = st;
        }
        write_text_file(at("iqa_results.json"), j.dump(2) + "\n", "iqa");
    }

    static nlohmann::ordered_json tau_json(const std::vector<const iqa_values*>& items) {
        nlohmann::ordered_json t;
        for (const iqa_measure& a : iqa_measures()) {
            for (const iqa_measure& b : iqa_measures()) {
                const double v = measure_tau(items, a, b);
                t[a.name][b.name] = std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr;
            }
        }
        return t;
    }

    const iqa_settings& s_;
    image reference_;
    image mask_;
    double foreground_fraction_ = 0.0;
    std::string foreground_note_;
    iqa_values reference_values_;
    iqa_values reference_foreground_;
    std::vector<quality_set> sets_;
    std::vector<scored_image> study_items_;
    std::string study_folder_;
    std::filesystem::path dir_;
    std::map<std::string, std::string> missing_;
};

} // namespace

command iqa_command() {
    auto s = std::make_shared<iqa_settings>();
    s->image_path = find_bundled(bundle::data, default_image).path;
    command c{"iqa", "image-quality study: equal-PSNR and equal-SSIM sets scored by every "
                     "full- and no-reference measure, on the whole image and the foreground, and "
                     "the study's outputs re-ranked; writes a report"};
    c.add("--image", s->image_path, "photo (PNG/JPEG/BMP or .npy, grey or RGB)").show_default();
    c.add("--out", s->out_dir,
          "output folder (created; an earlier iqa report there is replaced as a whole)")
        .show_default();
    c.add("--target-psnr", s->target_psnr, "PSNR of the equal-PSNR set (dB)")
        .in_range(1.0, 99.0)
        .show_default();
    c.add("--target-ssim", s->target_ssim, "SSIM of the equal-SSIM set")
        .in_range(-0.99, 0.999)
        .show_default();
    c.add("--foreground", s->foreground,
          "foreground mask file (nonzero = subject; PNG or .npy, 1 x H x W) or 'auto' for the "
          "classical rule")
        .show_default();
    c.add("--study", s->study_dir,
          "folder written by `xrestore study`: re-rank its outputs by every measure");
    c.add("--kinds", s->kinds, "degradations, comma-separated (see `degrade --help`), or all")
        .show_default();
    c.add("--size", s->size, "centre crop to size x size first (0: the whole image)")
        .show_default();
    c.add("--seed", s->seed, "seed of the noise and salt-and-pepper fields").show_default();
    c.add("--verbose", s->verbose, "one line per step when stderr is not a terminal");
    add_memory_flag(c, s->max_memory);
    c.run = [s] { return iqa_run(*s).run(); };
    return c;
}

} // namespace xrestore::cli
