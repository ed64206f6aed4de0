#pragma once
// The study's progress display: one bar over all planned work with the current step and an ETA,
// redrawn in place on a terminal; with --verbose and no terminal, one line per finished step.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace xrestore::cli {

class study_progress {
public:
    enum class mode { quiet, bar, lines };

    study_progress(double total_units, mode m) : study_progress("study", total_units, m) {}
    /// `command` prefixes the lines of mode::lines ("study", "dip").
    study_progress(std::string command, double total_units, mode m)
        : command_(std::move(command)), total_(std::max(total_units, 1.0)), mode_(m),
          start_(std::chrono::steady_clock::now()) {}

    /// Start a step of `units` planned work units (its sub-steps are reported by advance()).
    void begin(std::string label, double units, int steps) {
        label_ = std::move(label);
        detail_.clear();
        step_units_ = units;
        step_total_ = std::max(steps, 1);
        step_done_ = 0;
        step_start_units_ = done_;
        draw();
    }

    /// Sub-step k of the current step is done.
    void advance(int k) {
        step_done_ = std::min(k, step_total_);
        done_ = step_start_units_ + step_units_ * step_done_ / step_total_;
        draw();
    }

    /// A short text shown after the step's label until the next begin() ("PSNR 27.31 dB").
    void detail(std::string text) {
        detail_ = std::move(text);
        draw();
    }

    /// The current step is finished (possibly early: its remaining units are dropped).
    void end(const std::string& summary) {
        done_ = step_start_units_ + step_units_;
        if (mode_ == mode::lines) {
            std::fprintf(stderr, "%s: [%5.1f s] %s: %s\n", command_.c_str(), seconds(),
                         label_.c_str(), summary.c_str());
        } else {
            draw();
        }
    }

    void finish() const {
        if (mode_ == mode::bar) {
            std::fprintf(stderr, "\r%*s\r", 130, "");
            std::fflush(stderr);
        }
    }

    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    static std::string clock(double s) {
        const long t = std::lround(std::max(s, 0.0));
        char text[32];
        std::snprintf(text, sizeof text, "%ldm%02lds", t / 60, t % 60);
        return text;
    }

    void draw() const {
        if (mode_ != mode::bar) {
            return;
        }
        const double fraction = std::min(done_ / total_, 1.0);
        const int width = 24;
        const int filled = static_cast<int>(fraction * width);
        const double elapsed = seconds();
        std::string eta = "--";
        if (done_ > 0.0 && elapsed > 1.0) {
            eta = clock(elapsed / done_ * (total_ - done_));
        }
        const std::string text = detail_.empty() ? label_ : label_ + ", " + detail_;
        std::fprintf(stderr, "\r[%.*s%*s] %3.0f%% %-52.52s %d/%d  ETA %s   ", filled,
                     "========================", width - filled, "", 100.0 * fraction, text.c_str(),
                     step_done_, step_total_, eta.c_str());
        std::fflush(stderr);
    }

    std::string command_;
    double total_;
    mode mode_;
    std::chrono::steady_clock::time_point start_;
    std::string label_;
    std::string detail_;
    double done_ = 0.0;
    double step_units_ = 0.0;
    double step_start_units_ = 0.0;
    int step_total_ = 1;
    int step_done_ = 0;
};

} // namespace xrestore::cli
