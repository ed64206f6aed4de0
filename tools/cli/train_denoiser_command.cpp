// xrestore train-denoiser --images DIR --out W.pth: train a blind Gaussian denoiser (fastMRI U-Net,
// residual call D(y) = y - s U((y - m_c)/s)) natively on random patches of the photos of DIR, as
// tools/train_denoiser.py does in PyTorch (models/TRAINING.md). Writes W.pth, its sidecar W.json,
// W_curve.csv and W_curve.png; Ctrl-C writes the checkpoint W_checkpoint.pth and exits cleanly.

#include "command.hpp"
#include "output_paths.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/pth_writer.hpp>
#include <xrestore/nn/unet_architecture.hpp>
#include <xrestore/report/plot.hpp>
#include <xrestore/train/patches.hpp>
#include <xrestore/train/state.hpp>
#include <xrestore/train/trainer.hpp>
#include <xrestore/train/unet.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace xrestore::cli {

namespace {

struct train_args {
    std::string images;
    std::string out;
    std::size_t chans = 32;
    std::size_t pools = 4;
    std::size_t patch = 96;
    std::size_t batch = 8;
    std::string sigma = "0:0.2";
    std::size_t iters = 1000;
    double lr = 1e-3;
    double lr_min = 1e-5;
    std::size_t warmup = 0;
    double clip = 0.0;
    std::string call = "residual";
    std::size_t holdout = 3;
    std::size_t eval_every = 0;
    std::size_t eval_size = 256;
    std::size_t checkpoint_every = 500;
    std::size_t log_every = 100;
    std::uint64_t seed = 0;
    std::string resume;
};

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int /*signal*/) {
    interrupted = true;
}

/// "lo:hi" as two numbers 0 <= lo <= hi <= 1.
std::pair<double, double> sigma_range(const std::string& text) {
    const auto colon = text.find(':');
    double lo = 0.0;
    double hi = 0.0;
    try {
        if (colon == std::string::npos) {
            throw std::invalid_argument(text);
        }
        std::size_t used = 0;
        lo = std::stod(text.substr(0, colon), &used);
        std::size_t used_hi = 0;
        hi = std::stod(text.substr(colon + 1), &used_hi);
        if (used != colon || used_hi != text.size() - colon - 1) {
            throw std::invalid_argument(text);
        }
    } catch (const std::exception&) {
        throw value_error(xrestore::detail::describe("train-denoiser", "--sigma",
                                                     "LO:HI (two numbers, e.g. 0:0.2)", text));
    }
    require(std::isfinite(lo) && std::isfinite(hi) && lo >= 0.0 && lo <= hi && hi <= 1.0 &&
                hi > 0.0,
            "train-denoiser", "--sigma", "LO:HI with 0 <= LO <= HI <= 1 and HI > 0", text);
    return {lo, hi};
}

std::string clock_text(double s) {
    const long t = std::lround(std::max(s, 0.0));
    char text[32];
    std::snprintf(text, sizeof text, "%ldm%02lds", t / 60, t % 60);
    return text;
}

std::string curve_csv(const train::training_log& log) {
    std::ostringstream out;
    out << "iteration,loss,lr,seconds\n";
    out.precision(9);
    for (const train::step_record& r : log.iterations) {
        out << r.iteration << ',' << r.loss << ',' << r.lr << ',' << r.seconds << '\n';
    }
    return out.str();
}

void write_curve_png(const std::filesystem::path& path, const train::training_log& log,
                     const std::vector<double>& sigmas) {
    std::vector<double> x;
    std::vector<double> loss;
    for (const train::step_record& r : log.iterations) {
        x.push_back(static_cast<double>(r.iteration + 1));
        loss.push_back(r.loss);
    }
    std::vector<report::plot_series> series{{.label = "training loss (MSE)", .x = x, .y = loss}};
    std::vector<double> marks;
    for (const train::evaluation_record& e : log.evaluations) {
        marks.push_back(static_cast<double>(e.iteration));
    }
    std::string title = "train-denoiser: loss per iteration";
    if (!log.evaluations.empty() && !log.evaluations.back().psnr.empty()) {
        std::ostringstream t;
        t.precision(4);
        t << title << "; held-out PSNR";
        for (std::size_t k = 0; k < sigmas.size(); ++k) {
            t << (k == 0 ? " " : ", ") << "sigma " << sigmas[k] << ": "
              << log.evaluations.back().psnr[k] << " dB";
        }
        title = t.str();
    }
    write_atomically(path, [&](const std::filesystem::path& temporary) {
        report::write_line_plot(temporary, series,
                                {.title = title,
                                 .x_label = "iteration",
                                 .y_label = "loss",
                                 .log_y = true,
                                 .x_markers = marks});
    });
}

/// The network, zero-initialised in its last 1x1 convolution so that D starts as the identity
/// (tools/train_denoiser.py's default init), run through its residual call.
template <class Run>
int with_network(const nn::unet_config& config, std::uint64_t seed, Run&& run) {
    train::unet<float> net(config, seed);
    const std::string head = "up_conv." + std::to_string(config.num_pool_layers - 1) + ".1.";
    for (train::parameter<float>* p : net.parameters()) {
        if (p->name == head + "weight" || p->name == head + "bias") {
            p->value.fill(0.0F);
        }
    }
    train::residual_call<float> call(net);
    return run(call);
}

int run_train(const train_args& a) {
    constexpr const char* where = "train-denoiser";
    const auto [sigma_lo, sigma_hi] = sigma_range(a.sigma);
    const std::size_t factor = std::size_t{1} << a.pools;
    require(a.patch % factor == 0 && a.patch / factor >= 2, where, "--patch",
            "a multiple of 2^pools = " + std::to_string(factor) + " and at least " +
                std::to_string(2 * factor) + " (the bottom level >= 2 x 2)",
            a.patch);
    require(a.warmup < a.iters, where, "--warmup", "below --iters", a.warmup);
    require(a.lr_min <= a.lr, where, "--lr-min", "at most --lr", a.lr_min);
    if (!std::filesystem::is_directory(a.images)) {
        throw io_error(xrestore::detail::describe(where, "--images '" + a.images + "'",
                                                  "an existing folder of photos", "none"));
    }
    if (!a.resume.empty() && !std::filesystem::is_regular_file(a.resume)) {
        throw io_error(xrestore::detail::describe(where, "--resume '" + a.resume + "'",
                                                  "an existing checkpoint file", "none"));
    }
    std::filesystem::path out(a.out);
    const std::filesystem::path stem = out.parent_path() / out.stem();
    const std::filesystem::path sidecar = stem.string() + ".json";
    const std::filesystem::path csv = stem.string() + "_curve.csv";
    const std::filesystem::path png = stem.string() + "_curve.png";
    const std::filesystem::path checkpoint = stem.string() + "_checkpoint.pth";
    file_plan(where)
        .input("--resume", a.resume)
        .output("--out", a.out, {".pth"})
        .output("the sidecar", sidecar.string(), {".json"})
        .output("the curve", csv.string(), {".csv"})
        .output("the curve plot", png.string(), {".png"})
        // resuming from W_checkpoint.pth replaces it (it is read whole before training)
        .output("the checkpoint",
                !a.resume.empty() && std::filesystem::weakly_canonical(a.resume) ==
                                         std::filesystem::weakly_canonical(checkpoint)
                    ? std::string()
                    : checkpoint.string(),
                {".pth"})
        .check();

    const train::patch_sampler data =
        train::patch_sampler::from_folder(a.images, {.patch = a.patch,
                                                     .batch = a.batch,
                                                     .channels = 3,
                                                     .sigma_min = sigma_lo,
                                                     .sigma_max = sigma_hi,
                                                     .holdout = a.holdout,
                                                     .eval_size = a.eval_size,
                                                     .size_multiple = factor,
                                                     .seed = a.seed});
    if (!data.held_out().empty()) {
        require(data.held_out().clean.shape()[2] >= 2 * factor, where, "the held-out crops' side",
                "at least " + std::to_string(2 * factor), data.held_out().clean.shape()[2]);
    }
    const nn::unet_config config{3, 3, a.chans, a.pools};
    return with_network(config, a.seed, [&](auto& net) {
        const bool terminal = isatty(fileno(stderr)) != 0;
        const auto start = std::chrono::steady_clock::now();
        std::int64_t first = 0;
        auto elapsed = [&] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        };
        train::trainer_options o{
            .iterations = static_cast<std::int64_t>(a.iters),
            .schedule = train::cosine_lr{.base_lr = a.lr,
                                         .warmup_steps = static_cast<std::int64_t>(a.warmup),
                                         .total_steps = static_cast<std::int64_t>(a.iters),
                                         .min_lr = a.lr_min},
            .clip_norm = a.clip,
            .eval_every = static_cast<std::int64_t>(a.eval_every),
            .checkpoint_every = static_cast<std::int64_t>(a.checkpoint_every),
            .checkpoint = checkpoint,
            .stop = &interrupted};
        o.on_iteration = [&](const train::step_record& r) {
            const double done = static_cast<double>(r.iteration + 1 - first);
            const double rate = done / std::max(elapsed(), 1e-9);
            const double left = static_cast<double>(a.iters) - static_cast<double>(r.iteration + 1);
            if (!terminal) { // a log file: one line every --log-every iterations
                if (a.log_every > 0 &&
                    (r.iteration + 1) % static_cast<std::int64_t>(a.log_every) == 0) {
                    std::fprintf(stderr,
                                 "train-denoiser: iteration %lld/%zu loss %.5f lr %.2e %.2f it/s "
                                 "ETA %s\n",
                                 static_cast<long long>(r.iteration + 1), a.iters, r.loss, r.lr,
                                 rate, clock_text(left / std::max(rate, 1e-9)).c_str());
                }
                return;
            }
            const int filled = static_cast<int>(20.0 * static_cast<double>(r.iteration + 1) /
                                                static_cast<double>(a.iters));
            std::fprintf(stderr, "\r[%.*s%*s] %lld/%zu loss %.5f lr %.2e %.2f it/s ETA %s   ",
                         filled, "====================", 20 - filled, "",
                         static_cast<long long>(r.iteration + 1), a.iters, r.loss, r.lr, rate,
                         clock_text(left / std::max(rate, 1e-9)).c_str());
            std::fflush(stderr);
        };
        const std::vector<double>& sigmas = data.held_out().sigmas;
        o.on_evaluation = [&](const train::evaluation_record& e) {
            std::string text;
            for (std::size_t k = 0; k < sigmas.size(); ++k) {
                char part[96];
                std::snprintf(part, sizeof part, "%ssigma %g: %.2f -> %.2f dB", k == 0 ? "" : "; ",
                              sigmas[k], e.psnr_noisy[k], e.psnr[k]);
                text += part;
            }
            std::fprintf(stderr, "%strain-denoiser: iteration %lld: held-out %s\n",
                         terminal ? "\r" : "", static_cast<long long>(e.iteration), text.c_str());
        };
        train::trainer<std::remove_reference_t<decltype(net)>> run(net, data, o);
        if (!a.resume.empty()) {
            run.load_checkpoint(a.resume);
            first = run.iteration();
        }
        interrupted = false;
        const auto previous = std::signal(SIGINT, on_interrupt);
        const train::training_log& log = run.run();
        std::signal(SIGINT, previous);
        if (terminal) {
            std::fprintf(stderr, "\r%*s\r", 110, "");
        }
        if (log.stopped) {
            std::fprintf(stderr,
                         "train-denoiser: interrupted at iteration %lld of %zu; checkpoint "
                         "written to %s (continue with --resume %s)\n",
                         static_cast<long long>(run.iteration()), a.iters,
                         checkpoint.string().c_str(), checkpoint.string().c_str());
            return 130;
        }
        if (log.evaluations.empty() || log.evaluations.back().iteration != run.iteration()) {
            run.evaluate();
        }
        write_pth(out, train::to_state_dict(net.parameters()));
        double seconds = 0.0;
        for (const train::step_record& r : log.iterations) {
            seconds += r.seconds;
        }
        nlohmann::json held = nlohmann::json::object();
        if (!log.evaluations.empty() && !data.held_out().empty()) {
            for (std::size_t k = 0; k < sigmas.size(); ++k) {
                char key[32];
                std::snprintf(key, sizeof key, "%g", sigmas[k]);
                held[key] = {{"psnr_noisy", log.evaluations.back().psnr_noisy[k]},
                             {"psnr", log.evaluations.back().psnr[k]}};
            }
        }
        const nlohmann::json meta{
            {"architecture", "fastmri_unet"},
            {"in_chans", 3},
            {"out_chans", 3},
            {"chans", a.chans},
            {"num_pool_layers", a.pools},
            {"call", "residual"},
            {"call_definition", "D(y) = y - s * U((y - m_c) / s); m_c per-channel mean over HxW; "
                                "s = unbiased std over CxHxW, clamped >= 1e-4"},
            {"trained_sigma_range", {sigma_lo, sigma_hi}},
            {"value_range", {0.0, 1.0}},
            {"training",
             {{"trainer", "xrestore train-denoiser"},
              {"iterations", run.iteration()},
              {"seconds", seconds},
              {"patch", a.patch},
              {"batch", a.batch},
              {"optimizer", "adam"},
              {"schedule",
               {{"kind", "cosine"}, {"lr", a.lr}, {"lr_min", a.lr_min}, {"warmup", a.warmup}}},
              {"clip_grad_norm", a.clip},
              {"seed", a.seed},
              {"resumed_from", a.resume},
              {"images", a.images},
              {"training_photos", data.training_names()},
              {"held_out_photos", data.held_out().names},
              {"held_out_crop", data.held_out().empty() ? 0 : data.held_out().clean.shape()[2]},
              {"held_out", held}}}};
        write_text_file(sidecar, meta.dump(1) + "\n", "train-denoiser: the sidecar");
        write_text_file(csv, curve_csv(log), "train-denoiser: the curve");
        write_curve_png(png, log, sigmas);
        std::printf("train-denoiser: %lld iterations in %.1f s, final loss %.5f -> %s (+ %s, %s, "
                    "%s)\n",
                    static_cast<long long>(run.iteration()), seconds,
                    log.iterations.empty() ? 0.0 : log.iterations.back().loss, a.out.c_str(),
                    sidecar.filename().string().c_str(), csv.filename().string().c_str(),
                    png.filename().string().c_str());
        return 0;
    });
}

} // namespace

command train_denoiser_command() {
    auto a = std::make_shared<train_args>();
    command c{"train-denoiser",
              "train a blind Gaussian denoiser (fastMRI U-Net, residual call) on photo patches"};
    c.add("--images", a->images, "folder of training photos (PNG, JPEG, BMP, ...)").required();
    c.add("--out", a->out,
          "weights W.pth; also writes W.json (sidecar), W_curve.csv, W_curve.png and, on Ctrl-C "
          "or every --checkpoint-every iterations, W_checkpoint.pth")
        .required();
    c.add("--chans", a->chans, "channels of the first level").show_default().in_range(1, 512);
    c.add("--pools", a->pools, "pool layers").show_default().in_range(1, 8);
    c.add("--patch", a->patch, "side of the square training crops").show_default().at_least(2);
    c.add("--batch", a->batch, "crops per iteration").show_default().at_least(1);
    c.add("--sigma", a->sigma, "noise level range LO:HI, drawn uniformly per crop").show_default();
    c.add("--iters", a->iters, "iterations").show_default().at_least(1);
    c.add("--lr", a->lr, "peak Adam learning rate (cosine decay to --lr-min)")
        .show_default()
        .in_range(1e-12, 10.0);
    c.add("--lr-min", a->lr_min, "learning rate at the end").show_default().in_range(0.0, 10.0);
    c.add("--warmup", a->warmup, "iterations of linear warm-up").show_default();
    c.add("--clip", a->clip, "clip the gradient norm to this (0: off)")
        .show_default()
        .at_least(0.0);
    c.add("--call", a->call, "call convention trained").show_default().one_of({"residual"});
    c.add("--holdout", a->holdout,
          "photos kept out of training for the held-out PSNR (evenly spaced in name order)")
        .show_default();
    c.add("--eval-every", a->eval_every, "held-out PSNR every so many iterations (0: at the end)")
        .show_default();
    c.add("--eval-size", a->eval_size, "side of the held-out centre crops (at most)")
        .show_default()
        .at_least(2);
    c.add("--checkpoint-every", a->checkpoint_every,
          "write W_checkpoint.pth every so many iterations (0: only on Ctrl-C)")
        .show_default();
    c.add("--log-every", a->log_every,
          "without a terminal (a log file), print a progress line every so many iterations "
          "(0: none); on a terminal a progress bar is drawn instead")
        .show_default();
    c.add("--seed", a->seed, "seed of the weights, crops, augmentation and noise").show_default();
    c.add("--resume", a->resume, "continue from a checkpoint W_checkpoint.pth of the same options");
    c.footer = "Recipe and results: models/TRAINING.md. Ctrl-C writes the checkpoint and exits "
               "(status 130); --resume it with the same options to continue bit-identically.";
    c.run = [a] { return run_train(*a); };
    return c;
}

} // namespace xrestore::cli
