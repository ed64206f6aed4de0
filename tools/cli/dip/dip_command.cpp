// xrestore dip [--image IMG] [--size N] [--iters N] [--seed S] [--out DIR] [--tasks LIST]:
// the Deep Image Prior study of ../shared/REFERENCE_STUDIES.md (section E) on one photo. For
// each task a skip network (train/skip_net.hpp) is fitted to the measurement alone
// (train/deep_image_prior.hpp), and the same task is solved by PnP-ADMM with the default U-Net
// and by TV for comparison:
//   denoise    y = x + n, n Gaussian with sigma 25/255              (A = identity)
//   inpaint50  half of the pixels missing (one random mask for the three channels)
//   inpaint98  98 % of the pixels missing
//   text       the pixels under the text of a text image missing (data/images/text_clean_opencv)
//   sr4, sr8   4x and 8x downsampling with the anti-alias blur       (super-resolution)
// Every input is checked before the first long computation; the outputs (report.md,
// results.json, curves.csv, images, panels, plots and each task's measurement y as float32
// <task>_measurement.npy) go into --out, replaced as a whole.

#include "bundled_files.hpp"
#include "command.hpp"
#include "denoiser_choice.hpp"
#include "memory_budget.hpp"
#include "output_paths.hpp"
#include "study/study_progress.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/report/plot.hpp>
#include <xrestore/solvers/pnp.hpp>
#include <xrestore/solvers/tv.hpp>
#include <xrestore/train/deep_image_prior.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

const char* const default_image = "images/butterfly_set5.png";
const char* const default_text = "images/text_clean_opencv.png";
const char* const default_weights = "denoiser_unet_c32.pth";
const std::vector<std::string> all_tasks = {"denoise", "inpaint50", "inpaint98",
                                            "text",    "sr4",       "sr8"};
constexpr double noise_sigma = 25.0 / 255.0;
const std::vector<double> tv_weights = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};

struct dip_settings {
    std::string image_path;
    std::string text_path;
    std::string weights_path;
    std::string call;
    std::string init_weights; ///< start every task's network from these (empty: from --seed)
    std::string out_dir = "out/dip";
    std::string tasks = "denoise,inpaint50,inpaint98,text,sr4,sr8";
    std::string net = "standard";
    std::size_t size = 128;
    std::size_t iters = 2000;
    std::uint64_t seed = 0;
    double holdout = 0.05;
    std::size_t window = 100;
    std::size_t eval_every = 20;
    std::size_t pnp_iters = 40;
    std::size_t tv_iters = 200;
    bool verbose = false;
    double max_memory = default_max_memory_gb();
};

using dip_operator = std::variant<identity_operator<image>, inpainting, downsampling>;

struct quality {
    double psnr = 0.0;
    double ssim = 0.0;
};

quality measure(const image& truth, const image& x) {
    const image clipped = xt::clip(x, 0.0F, 1.0F);
    return {psnr(truth, clipped), ssim(truth, clipped, gaussian_ssim_options)};
}

/// One task's measurement and everything measured on it.
struct dip_task {
    std::string id;
    std::string title;
    dip_operator op{identity(shape3{1, 1, 1})}; ///< set by make_task
    image y;
    image shown_input; ///< the measurement as an image of the photo's size
    quality input{};
    // Deep Image Prior
    std::vector<double> curve_iteration;
    std::vector<double> curve_psnr;
    std::vector<double> curve_psnr_avg;
    std::vector<double> curve_ssim;
    std::vector<double> curve_ssim_avg;
    std::vector<double> curve_loss;
    std::vector<double> curve_heldout;
    std::vector<double> curve_variance;
    std::vector<double> curve_heldout_average;
    quality last{}, average{}, heldout{}, variance{}, average_heldout{};
    std::size_t heldout_iteration = 0;
    std::size_t average_heldout_iteration = 0;
    std::size_t variance_iteration = 0;
    double best_psnr = -1.0;
    std::size_t best_iteration = 0;
    std::size_t rollbacks = 0;
    double dip_seconds = 0.0;
    image x_avg, x_heldout;
    // the comparisons
    quality pnp{}, tv{};
    double pnp_eta = 0.0;
    double tv_lambda = 0.0;
    double pnp_seconds = 0.0, tv_seconds = 0.0;
    image x_pnp, x_tv;
};

image as_rgb(const image& source, const std::string& flag, const std::string& path) {
    const shape3 s = shape_of<3>(source);
    if (s[0] == 3) {
        return source;
    }
    if (s[0] != 1 && s[0] != 4) {
        throw shape_error("dip: " + flag + " '" + path + "' must have 1, 3 or 4 channels, got " +
                          shape_string(s));
    }
    image rgb({3, s[1], s[2]});
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(rgb, c) = xt::view(source, s[0] == 1 ? 0 : c);
    }
    return rgb;
}

/// The centre size x size crop of x, which must be large enough.
image centre_crop(const image& x, std::size_t size, const std::string& flag,
                  const std::string& path) {
    const shape3 s = shape_of<3>(x);
    if (s[1] < size || s[2] < size) {
        throw value_error("dip: " + flag + " '" + path + "' is " + std::to_string(s[2]) + " x " +
                          std::to_string(s[1]) + " pixels, smaller than --size " +
                          std::to_string(size) + "; pass a smaller --size");
    }
    const std::size_t top = (s[1] - size) / 2;
    const std::size_t left = (s[2] - size) / 2;
    return xt::view(x, xt::all(), xt::range(top, top + size), xt::range(left, left + size));
}

/// 1 where a pixel is kept, shared by the channels: each missing with probability `missing`.
image random_mask(std::size_t size, double missing, std::uint64_t seed) {
    const train::detail::counter_rng rng(seed, 7);
    image m({3, size, size});
    for (std::size_t i = 0; i < size * size; ++i) {
        const float keep = rng.uniform(i) < missing ? 0.0F : 1.0F;
        for (std::size_t c = 0; c < 3; ++c) {
            m.data()[c * size * size + i] = keep;
        }
    }
    return m;
}

/// The text mask: 0 under the text of the centre crop of a text image (gray below 0.75), the
/// image tiled when smaller than size.
image text_mask(const image& text, std::size_t size) {
    const shape3 s = shape_of<3>(text);
    const std::size_t top = s[1] > size ? (s[1] - size) / 2 : 0;
    const std::size_t left = s[2] > size ? (s[2] - size) / 2 : 0;
    image m({3, size, size});
    for (std::size_t r = 0; r < size; ++r) {
        for (std::size_t q = 0; q < size; ++q) {
            const std::size_t rr = (top + r) % s[1];
            const std::size_t qq = (left + q) % s[2];
            double gray = 0.0;
            for (std::size_t c = 0; c < s[0]; ++c) {
                gray += text(c, rr, qq);
            }
            const float keep = gray / static_cast<double>(s[0]) < 0.75 ? 0.0F : 1.0F;
            for (std::size_t c = 0; c < 3; ++c) {
                m(c, r, q) = keep;
            }
        }
    }
    return m;
}

/// y of a downsampled task shown at the photo's size (nearest neighbour).
image nearest_up(const image& y, std::size_t factor) {
    const shape3 s = shape_of<3>(y);
    image out({s[0], s[1] * factor, s[2] * factor});
    for (std::size_t c = 0; c < s[0]; ++c) {
        for (std::size_t r = 0; r < s[1] * factor; ++r) {
            for (std::size_t q = 0; q < s[2] * factor; ++q) {
                out(c, r, q) = y(c, r / factor, q / factor);
            }
        }
    }
    return out;
}

std::vector<std::string> split_tasks(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (std::find(all_tasks.begin(), all_tasks.end(), item) == all_tasks.end()) {
            std::string known;
            for (const auto& t : all_tasks) {
                known += (known.empty() ? "" : ", ") + t;
            }
            throw value_error("dip: --tasks: unknown task '" + item + "' (known: " + known + ")");
        }
        if (std::find(out.begin(), out.end(), item) != out.end()) {
            throw value_error("dip: --tasks: '" + item + "' is listed twice");
        }
        out.push_back(item);
    }
    if (out.empty()) {
        throw value_error("dip: --tasks is empty");
    }
    return out;
}

dip_task make_task(const std::string& id, const image& truth, const image& text,
                   const dip_settings& s) {
    const std::size_t n = s.size;
    const shape3 shape{3, n, n};
    dip_task t;
    t.id = id;
    if (id == "denoise") {
        t.title = "denoising, Gaussian noise sigma = 25/255";
        t.op = identity(shape);
        t.y = add_gaussian_noise(truth, noise_sigma, s.seed + 1);
        t.shown_input = t.y;
    } else if (id == "inpaint50" || id == "inpaint98" || id == "text") {
        const image mask = id == "text"        ? text_mask(text, n)
                           : id == "inpaint50" ? random_mask(n, 0.5, s.seed + 2)
                                               : random_mask(n, 0.98, s.seed + 3);
        double missing = 0.0;
        for (std::size_t i = 0; i < n * n; ++i) {
            missing += mask.data()[i] == 0.0F ? 1.0 : 0.0;
        }
        char text_missing[64];
        std::snprintf(text_missing, sizeof text_missing, "%.1f %%",
                      100.0 * missing / static_cast<double>(n * n));
        t.title =
            id == "text"
                ? std::string("inpainting under a text mask (") + text_missing + " of the pixels)"
                : std::string("inpainting, ") + text_missing + " of the pixels missing";
        const inpainting A(mask);
        t.y = A.apply(truth);
        t.shown_input = t.y;
        t.op = A;
    } else {
        const std::size_t f = id == "sr4" ? 4 : 8;
        t.title = std::to_string(f) + "x super-resolution (anti-aliased downsampling)";
        const downsampling A(shape, f, {.antialias = true});
        t.y = A.apply(truth);
        t.shown_input = nearest_up(t.y, f);
        t.op = A;
    }
    t.input = measure(truth, t.shown_input);
    return t;
}

class dip_runner {
public:
    dip_runner(const dip_settings& s, const image& truth, const cli_denoiser& d,
               study_progress& progress, const state_dict* initial)
        : s_(s), truth_(truth), d_(d), progress_(progress), initial_(initial) {}

    void run(dip_task& t) {
        std::visit([&](const auto& A) { run_with(A, t); }, t.op);
    }

private:
    template <class Op>
    void run_with(const Op& A, dip_task& t) {
        // Deep Image Prior, all iterations (the stopping rules are recorded, not applied)
        train::dip_options o;
        if (s_.net == "wide") {
            o.net = train::skip_net_options::wide();
        }
        o.iterations = s_.iters;
        o.seed = s_.seed;
        o.holdout = s_.holdout;
        o.variance_window = s_.window;
        const int steps = static_cast<int>((s_.iters + s_.eval_every - 1) / s_.eval_every);
        progress_.begin(t.id + ": DIP", static_cast<double>(s_.iters), steps);
        const auto t0 = std::chrono::steady_clock::now();
        train::skip_net<float> net(o.net, o.seed);
        if (initial_ != nullptr) {
            train::load_state_dict(net.parameters(), *initial_);
        }
        const train::dip_result r =
            train::deep_image_prior(A, t.y, o, net, [&](const train::dip_step& step) {
                const std::size_t it = step.record.iteration;
                if (it % s_.eval_every == 0 || it == s_.iters || it == 1) {
                    const quality q = measure(truth_, step.x);
                    const quality qa = measure(truth_, step.x_avg);
                    const double p = q.psnr;
                    const double pa = qa.psnr;
                    t.curve_iteration.push_back(static_cast<double>(it));
                    t.curve_psnr.push_back(p);
                    t.curve_psnr_avg.push_back(pa);
                    t.curve_ssim.push_back(q.ssim);
                    t.curve_ssim_avg.push_back(qa.ssim);
                    t.curve_loss.push_back(step.record.loss);
                    t.curve_heldout.push_back(step.record.heldout);
                    t.curve_variance.push_back(step.record.variance);
                    t.curve_heldout_average.push_back(step.record.heldout_average);
                    if (p > t.best_psnr) {
                        t.best_psnr = p;
                        t.best_iteration = it;
                    }
                    char shown[64];
                    std::snprintf(shown, sizeof shown, "PSNR %.2f dB, avg %.2f", p, pa);
                    progress_.detail(shown);
                    progress_.advance(static_cast<int>(it / s_.eval_every));
                }
                return true;
            });
        t.dip_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        t.last = measure(truth_, r.x);
        t.average = measure(truth_, r.x_avg);
        t.x_avg = xt::clip(r.x_avg, 0.0F, 1.0F);
        t.rollbacks = r.rollbacks;
        if (r.heldout_iteration > 0) {
            t.heldout = measure(truth_, r.x_heldout);
            t.heldout_iteration = r.heldout_iteration;
            t.x_heldout = xt::clip(r.x_heldout, 0.0F, 1.0F);
        }
        if (r.avg_heldout_iteration > 0) {
            t.average_heldout = measure(truth_, r.x_avg_heldout);
            t.average_heldout_iteration = r.avg_heldout_iteration;
        }
        if (r.variance_iteration > 0) {
            t.variance = measure(truth_, r.x_variance);
            t.variance_iteration = r.variance_iteration;
        }
        char summary[160];
        std::snprintf(summary, sizeof summary, "%.2f dB (average %.2f dB) in %.0f s", t.last.psnr,
                      t.average.psnr, t.dip_seconds);
        progress_.end(summary);

        // PnP-ADMM with the U-Net, eta from the task's noise level (the study's 1e-4 without
        // noise; estimate_sigma would read the zeros of a masked image as noise)
        progress_.begin(t.id + ": PnP-ADMM and TV", 1.0 + 0.1 * tv_weights.size(), 2);
        const auto t1 = std::chrono::steady_clock::now();
        t.pnp_eta = pnp_admm_options::eta_for_noise(t.id == "denoise" ? noise_sigma : 0.0);
        t.x_pnp =
            pnp_admm(A, t.y, d_, {.eta = t.pnp_eta, .max_iter = static_cast<int>(s_.pnp_iters)}).x;
        t.pnp = measure(truth_, t.x_pnp);
        t.pnp_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        progress_.advance(1);
        // TV, the weight picked with the ground truth (an optimistic setting for TV)
        const auto t2 = std::chrono::steady_clock::now();
        for (const double lambda : tv_weights) {
            image x = tv_primal_dual(A, t.y,
                                     {.lambda = lambda, .max_iter = static_cast<int>(s_.tv_iters)})
                          .x;
            const quality q = measure(truth_, x);
            if (q.psnr > t.tv.psnr || t.tv_lambda == 0.0) {
                t.tv = q;
                t.tv_lambda = lambda;
                t.x_tv = xt::clip(x, 0.0F, 1.0F);
            }
        }
        t.tv_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
        t.x_pnp = xt::clip(t.x_pnp, 0.0F, 1.0F);
        std::snprintf(summary, sizeof summary, "PnP-ADMM %.2f dB, TV %.2f dB", t.pnp.psnr,
                      t.tv.psnr);
        progress_.end(summary);
    }

    const dip_settings& s_;
    const image& truth_;
    const cli_denoiser& d_;
    study_progress& progress_;
    const state_dict* initial_; ///< --init-weights, or nullptr
};

nlohmann::json to_json(const quality& q) {
    return {{"psnr", q.psnr}, {"ssim", q.ssim}};
}

std::string fixed(double v, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, v);
    return text;
}

std::string cell(const quality& q) {
    return fixed(q.psnr, 2) + " dB / " + fixed(q.ssim, 3);
}

/// A stopping rule's cell: its iterate's quality and iteration, or why there is none.
std::string rule_cell(const quality& q, std::size_t iteration) {
    return iteration == 0 ? std::string("not reached (window longer than the run)")
                          : cell(q) + " (" + std::to_string(iteration) + ")";
}

void write_report(const std::vector<dip_task>& tasks, const image& truth, const dip_settings& s,
                  const std::string& image_name, const std::string& net_description,
                  const std::string& denoiser_description, double seconds,
                  const std::filesystem::path& dir) {
    const auto at = [&](const std::string& file) { return dir / file; };
    nlohmann::json j;
    j["image"] = image_name;
    j["size"] = s.size;
    j["iterations"] = s.iters;
    j["seed"] = s.seed;
    j["network"] = net_description;
    j["holdout"] = s.holdout;
    j["variance_window"] = s.window;
    j["eval_every"] = s.eval_every;
    j["pnp_iterations"] = s.pnp_iters;
    j["tv_iterations"] = s.tv_iters;
    j["denoiser"] = denoiser_description;
    j["seconds_total"] = seconds;
    std::ostringstream csv;
    csv << "task,iteration,psnr,psnr_average,loss,heldout,variance,ssim,ssim_average,"
           "heldout_average\n";
    write_png(at("truth.png"), truth);
    for (const dip_task& t : tasks) {
        nlohmann::json k;
        k["title"] = t.title;
        k["input"] = to_json(t.input);
        k["dip_last"] = to_json(t.last);
        k["dip_average"] = to_json(t.average);
        k["dip_best"] = {{"psnr", t.best_psnr}, {"iteration", t.best_iteration}};
        k["dip_heldout"] = to_json(t.heldout);
        k["dip_heldout"]["iteration"] = t.heldout_iteration;
        k["dip_variance"] = to_json(t.variance);
        k["dip_variance"]["iteration"] = t.variance_iteration;
        k["dip_average_heldout"] = to_json(t.average_heldout);
        k["dip_average_heldout"]["iteration"] = t.average_heldout_iteration;
        k["dip_rollbacks"] = t.rollbacks;
        k["dip_seconds"] = t.dip_seconds;
        k["pnp_admm"] = to_json(t.pnp);
        k["pnp_admm"]["eta"] = t.pnp_eta;
        k["pnp_admm"]["seconds"] = t.pnp_seconds;
        k["tv"] = to_json(t.tv);
        k["tv"]["lambda"] = t.tv_lambda;
        k["tv"]["seconds"] = t.tv_seconds;
        j["tasks"][t.id] = k;
        for (std::size_t i = 0; i < t.curve_iteration.size(); ++i) {
            const auto number = [](double v) {
                if (!std::isfinite(v)) {
                    return std::string();
                }
                std::ostringstream out;
                out << std::setprecision(17) << v;
                return out.str();
            };
            csv << t.id << ',' << t.curve_iteration[i] << ',' << number(t.curve_psnr[i]) << ','
                << number(t.curve_psnr_avg[i]) << ',' << number(t.curve_loss[i]) << ','
                << number(t.curve_heldout[i]) << ',' << number(t.curve_variance[i]) << ','
                << number(t.curve_ssim[i]) << ',' << number(t.curve_ssim_avg[i]) << ','
                << number(t.curve_heldout_average[i]) << '\n';
        }
        write_png(at(t.id + "_input.png"), xt::eval(xt::clip(t.shown_input, 0.0F, 1.0F)));
        write_png(at(t.id + "_dip.png"), t.x_avg);
        write_png(at(t.id + "_pnp_admm.png"), t.x_pnp);
        write_png(at(t.id + "_tv.png"), t.x_tv);
        write_npy(at(t.id + "_measurement.npy"), t.y); // exactly what the solvers saw
        std::vector<report::panel_item> panel{
            {"ground truth", truth},
            {"input\n" + fixed(t.input.psnr, 2) + " dB", xt::clip(t.shown_input, 0.0F, 1.0F)},
            {"DIP (average)\n" + fixed(t.average.psnr, 2) + " dB", t.x_avg},
            {"PnP-ADMM\n" + fixed(t.pnp.psnr, 2) + " dB", t.x_pnp},
            {"TV\n" + fixed(t.tv.psnr, 2) + " dB", t.x_tv}};
        report::write_panel(at("panel_" + t.id + ".png"), panel);
        std::vector<double> markers;
        if (t.heldout_iteration > 0) {
            markers.push_back(static_cast<double>(t.heldout_iteration));
        }
        const std::vector<double> ends = {1.0, static_cast<double>(s.iters)};
        report::write_line_plot(
            at("plot_" + t.id + ".png"),
            {{.label = "DIP output", .x = t.curve_iteration, .y = t.curve_psnr},
             {.label = "averaged output", .x = t.curve_iteration, .y = t.curve_psnr_avg},
             {.label = "PnP-ADMM", .x = ends, .y = {t.pnp.psnr, t.pnp.psnr}, .dashed = true},
             {.label = "TV (best weight)", .x = ends, .y = {t.tv.psnr, t.tv.psnr}, .dashed = true}},
            {.title = t.title,
             .x_label = "iteration",
             .y_label = "PSNR (dB)",
             .x_markers = markers});
        report::write_line_plot(
            at("plot_" + t.id + "_ssim.png"),
            {{.label = "DIP output", .x = t.curve_iteration, .y = t.curve_ssim},
             {.label = "averaged output", .x = t.curve_iteration, .y = t.curve_ssim_avg},
             {.label = "PnP-ADMM", .x = ends, .y = {t.pnp.ssim, t.pnp.ssim}, .dashed = true},
             {.label = "TV (best weight)", .x = ends, .y = {t.tv.ssim, t.tv.ssim}, .dashed = true}},
            {.title = t.title, .x_label = "iteration", .y_label = "SSIM", .x_markers = markers});
    }
    write_text_file(at("results.json"), j.dump(1) + "\n", "dip: results.json");
    write_text_file(at("curves.csv"), csv.str(), "dip: curves.csv");

    std::ostringstream md;
    md << "# Deep Image Prior: " << image_name << "\n\n"
       << "Written by `xrestore dip`. Every number here is also in `results.json`; the PSNR "
          "and SSIM curves are in `curves.csv`.\n\n"
       << "- Ground truth: the centre " << s.size << " x " << s.size << " crop of `" << image_name
       << "`, values in [0, 1].\n"
       << "- Network: " << net_description << "; input: uniform noise times 0.1 (32 channels), "
       << "redrawn noise of std 1/30 added every iteration; Adam, lr 0.01; " << s.iters
       << " iterations; output averaged with weight 0.99; rollback when the fit to the "
          "measurements drops by more than 5 dB.\n"
       << "- Early stopping without the ground truth, recorded on the same run: "
       << fixed(100.0 * s.holdout, 0)
       << " % of the measurements held out of the fit (the iterate that predicts them best, "
          "and the running average that predicts them best), and the running variance of the "
          "outputs over "
       << s.window << " iterations (its minimum).\n"
       << "- Comparisons: PnP-ADMM with " << denoiser_description << " (" << s.pnp_iters
       << " iterations, eta = max(1e-4, 100 sigma^2) for the task's noise level sigma), and TV "
          "(primal-dual, "
       << s.tv_iters
       << " iterations) with its weight picked per task with the ground truth (optimistic for "
          "TV).\n"
       << "- PSNR / SSIM (scikit-image's Gaussian-window settings) after clipping to [0, 1].\n\n"
       << "| task | input | DIP, last | DIP, averaged | DIP, held-out stop | DIP, variance stop "
          "| DIP, averaged, held-out stop | DIP, best (iteration) | PnP-ADMM | TV |\n"
       << "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const dip_task& t : tasks) {
        md << "| " << t.title << " | " << cell(t.input) << " | " << cell(t.last) << " | "
           << cell(t.average) << " | " << rule_cell(t.heldout, t.heldout_iteration) << " | "
           << rule_cell(t.variance, t.variance_iteration) << " | "
           << rule_cell(t.average_heldout, t.average_heldout_iteration) << " | "
           << fixed(t.best_psnr, 2) << " dB (" << t.best_iteration << ") | " << cell(t.pnp) << " | "
           << cell(t.tv) << " |\n";
    }
    md << "\nThe DIP columns: the output of the last iteration, the running average, the "
          "iterate the held-out rule keeps, the one at the running variance's minimum, the "
          "running average the held-out rule keeps, and the best PSNR of the raw output over the "
          "curve (sampled every "
       << s.eval_every << " iterations; it needs the ground truth, so it is an upper bound).\n\n";
    for (const dip_task& t : tasks) {
        md << "## " << t.title << "\n\n"
           << "![" << t.id << "](panel_" << t.id << ".png)\n\n"
           << "![" << t.id << " PSNR curve](plot_" << t.id << ".png) ![" << t.id
           << " SSIM curve](plot_" << t.id << "_ssim.png)\n\n"
           << "Deep Image Prior took " << fixed(t.dip_seconds, 1) << " s ("
           << fixed(static_cast<double>(s.iters) / std::max(t.dip_seconds, 1e-9), 1)
           << " iterations per second, " << t.rollbacks << " rollbacks); PnP-ADMM "
           << fixed(t.pnp_seconds, 1) << " s; TV " << fixed(t.tv_seconds, 1) << " s for "
           << tv_weights.size() << " weights (best " << t.tv_lambda << ").\n\n";
    }
    md << "Total run time " << fixed(seconds, 1) << " s.\n";
    write_text_file(at("report.md"), md.str(), "dip: report.md");
}

int run_dip(const dip_settings& s) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<std::string> ids = split_tasks(s.tasks);
    require(s.net == "standard" || s.net == "wide", "dip", "--net", "standard or wide", s.net);
    require(s.size >= 32 && s.size % 32 == 0, "dip", "--size",
            "a positive multiple of 32 (five halvings of the network; 8x downsampling)", s.size);
    require(s.iters >= 1, "dip", "--iters", "at least 1", s.iters);
    require(s.eval_every >= 1, "dip", "--eval-every", "at least 1", s.eval_every);
    require(s.holdout > 0.0 && s.holdout <= 0.5, "dip", "--holdout", "in (0, 0.5]", s.holdout);
    require(s.window >= 2, "dip", "--variance-window", "at least 2", s.window);
    require(s.pnp_iters >= 1, "dip", "--pnp-iters", "at least 1", s.pnp_iters);
    require(s.tv_iters >= 1, "dip", "--tv-iters", "at least 1", s.tv_iters);
    const auto need = [](const std::string& path, const char* flag, const char* what, bundle which,
                         const char* file) {
        if (path.empty()) {
            throw io_error(std::string("dip: no ") + flag + " given, and " +
                           bundled_not_found(which, std::string(what) + " " + file,
                                             find_bundled(which, file)) +
                           "; or pass " + flag);
        }
    };
    need(s.image_path, "--image", "the bundled photo", bundle::data, default_image);
    need(s.text_path, "--text-image", "the bundled text image", bundle::data, default_text);
    need(s.weights_path, "--weights", "the default model", bundle::models, default_weights);
    file_plan("dip")
        .input("--image", s.image_path)
        .input("--text-image", s.text_path)
        .input("--weights", s.weights_path)
        .input("--init-weights", s.init_weights)
        .report_folder("--out", s.out_dir, "report.md")
        .check();
    memory_plan memory("dip", s.max_memory);
    memory.input("--image", s.image_path);
    const shape3 shape{3, s.size, s.size};
    // the network's activations: about 60 maps of 16-128 channels over the scales, kept for
    // the backward; at 256 x 256 measured about 250 MB in all
    memory.add("the network's activations and gradients",
               image_bytes({48, s.size, s.size}, 24.0) + 6.0 * 2.3e6 * 4.0);
    memory.add("the images of every task", image_bytes(shape, 12.0 * ids.size()));
    memory.check();
    const image source =
        during("reading --image '" + s.image_path + "'", [&] { return read_image(s.image_path); });
    check_finite(source, "dip", "--image");
    const image truth =
        centre_crop(as_rgb(source, "--image", s.image_path), s.size, "--image", s.image_path);
    image text;
    if (std::find(ids.begin(), ids.end(), "text") != ids.end()) {
        const image text_source = during("reading --text-image '" + s.text_path + "'",
                                         [&] { return read_image(s.text_path); });
        check_finite(text_source, "dip", "--text-image");
        text = as_rgb(text_source, "--text-image", s.text_path); // gray copied, alpha dropped
    }
    const cli_denoiser d = load_unet(s.weights_path, s.call, shape, "--call");
    memory.add("the U-Net's activations", d.working_bytes(shape));
    memory.check();
    // initial weights (for a run side by side with the PyTorch twin): checked on a network of
    // the chosen shape before anything runs
    std::optional<state_dict> initial;
    if (!s.init_weights.empty()) {
        initial = during("reading --init-weights '" + s.init_weights + "'",
                         [&] { return load_weights(s.init_weights); });
        train::skip_net<float> probe(
            s.net == "wide" ? train::skip_net_options::wide() : train::skip_net_options{}, s.seed);
        try {
            train::load_state_dict(probe.parameters(), *initial);
        } catch (const error& e) {
            throw value_error("dip: --init-weights '" + s.init_weights +
                              "' does not fit the --net " + s.net + " network: " + e.what());
        }
    }

    std::vector<dip_task> tasks;
    for (const std::string& id : ids) {
        tasks.push_back(make_task(id, truth, text, s));
    }
    const bool terminal = isatty(fileno(stderr)) != 0;
    const double units_per_task = static_cast<double>(s.iters) + 1.0 + 0.1 * tv_weights.size();
    study_progress progress("dip", units_per_task * static_cast<double>(tasks.size()),
                            terminal    ? study_progress::mode::bar
                            : s.verbose ? study_progress::mode::lines
                                        : study_progress::mode::quiet);
    dip_runner runner(s, truth, d, progress, initial ? &*initial : nullptr);
    for (dip_task& t : tasks) {
        runner.run(t);
    }
    progress.finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string net_description =
        s.net == "wide" ? "skip encoder-decoder, 128 channels at each of 5 scales, skip 4"
                        : "skip encoder-decoder, 16/32/64/128/128 channels over 5 scales, skip 4";
    const nn::unet_config& c = d.unet->network().config();
    const std::string denoiser_description =
        "the U-Net " + std::filesystem::path(s.weights_path).filename().string() + " (chans " +
        std::to_string(c.chans) + ", " + std::string(to_string(d.unet->call())) + " call)";
    const std::string image_name = std::filesystem::path(s.image_path).filename().string();
    write_folder_atomically(s.out_dir, [&](const std::filesystem::path& dir) {
        write_report(tasks, truth, s, image_name, net_description, denoiser_description, seconds,
                     dir);
    });
    for (const dip_task& t : tasks) {
        std::fprintf(stderr,
                     "dip: %-10s input %6.2f dB -> DIP %6.2f dB (averaged %6.2f, held-out stop "
                     "%6.2f), PnP-ADMM %6.2f dB, TV %6.2f dB\n",
                     t.id.c_str(), t.input.psnr, t.last.psnr, t.average.psnr, t.heldout.psnr,
                     t.pnp.psnr, t.tv.psnr);
    }
    std::fprintf(stderr, "dip: report: %s\n",
                 (std::filesystem::path(s.out_dir) / "report.md").string().c_str());
    return 0;
}

} // namespace

command dip_command() {
    auto s = std::make_shared<dip_settings>();
    s->image_path = find_bundled(bundle::data, default_image).path;
    s->text_path = find_bundled(bundle::data, default_text).path;
    s->weights_path = find_bundled(bundle::models, default_weights).path;
    command c{"dip", "Deep Image Prior on a photo: denoising, inpainting and super-resolution "
                     "without training data, against PnP-ADMM and TV; writes a report"};
    c.add("--image", s->image_path, "ground-truth photo (PNG/JPEG/BMP)").show_default();
    c.add("--out", s->out_dir,
          "output folder (created; an earlier report there is replaced as a whole)")
        .show_default();
    c.add("--tasks", s->tasks,
          "comma-separated tasks: denoise, inpaint50, inpaint98, text, sr4, sr8")
        .show_default();
    c.add("--size", s->size, "side of the centre crop (a multiple of 32)").show_default();
    c.add("--iters", s->iters, "Deep Image Prior iterations per task").show_default();
    c.add("--seed", s->seed, "seed of the network, its input, the noise and the masks")
        .show_default();
    c.add("--net", s->net, "the network: standard (16/32/64/128/128) or wide (128 x 5)")
        .one_of({"standard", "wide"})
        .show_default();
    c.add("--holdout", s->holdout, "fraction of measurements held out for early stopping")
        .show_default();
    c.add("--variance-window", s->window, "window of the running-variance stopping rule")
        .show_default();
    c.add("--eval-every", s->eval_every, "PSNR against the ground truth every this many iterations")
        .show_default();
    c.add("--text-image", s->text_path, "image whose dark text makes the text mask").show_default();
    c.add("--weights", s->weights_path, "U-Net weights for the PnP-ADMM comparison").show_default();
    c.add("--call", s->call, "the U-Net's call convention, for weights that declare none")
        .one_of({"raw", "normalised", "normalized", "residual"});
    c.add("--init-weights", s->init_weights,
          "start every task's network from these weights (.safetensors or .pth with the "
          "skip network's names, e.g. the PyTorch twin's) instead of from --seed");
    c.add("--pnp-iters", s->pnp_iters, "PnP-ADMM iterations").show_default();
    c.add("--tv-iters", s->tv_iters, "TV iterations (per weight tried)").show_default();
    c.add("--verbose", s->verbose, "report each step on stderr even when not a terminal");
    add_memory_flag(c, s->max_memory);
    c.run = [s] { return run_dip(*s); };
    return c;
}

} // namespace xrestore::cli
