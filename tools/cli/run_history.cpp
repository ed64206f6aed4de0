// The per-iteration history of a solver run (see run_history.hpp).
#include "run_history.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/atomic_file.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <utility>

namespace xrestore::cli {

history_recorder::history_recorder(std::optional<image> reference)
    : reference_(std::move(reference)) {}

void history_recorder::operator()(int k, const image& x, const iteration_record& record) {
    const auto t0 = std::chrono::steady_clock::now();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    history_row row{k, record.seconds, record.objective, record.change, nan, nan, nan};
    if (reference_) {
        const image clipped = xt::clip(x, 0.0f, 1.0f);
        row.mse = xrestore::mse(*reference_, clipped);
        row.psnr = 10.0 * std::log10(1.0 / std::max(row.mse, 1e-30));
        row.ssim = xrestore::ssim(*reference_, clipped, gaussian_ssim_options);
    }
    rows_.push_back(row);
    own_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const history_row* history_recorder::best() const {
    const history_row* best = nullptr;
    for (const history_row& row : rows_) {
        if (!std::isnan(row.psnr) && (best == nullptr || row.psnr > best->psnr)) {
            best = &row;
        }
    }
    return best;
}

std::string history_csv_header() {
    return "iteration,seconds,objective,change,mse,psnr,ssim";
}

std::string csv_number(double value) {
    if (std::isnan(value)) {
        return {};
    }
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::string history_csv_fields(const history_row& row) {
    std::string line = std::to_string(row.iteration);
    for (double v : {row.seconds, row.objective, row.change, row.mse, row.psnr, row.ssim}) {
        line += ',' + csv_number(v);
    }
    return line;
}

void write_history_csv(const std::filesystem::path& path, const std::vector<history_row>& rows) {
    write_atomically(path, [&](const std::filesystem::path& temporary) {
        std::ofstream csv(temporary);
        csv << history_csv_header() << '\n';
        for (const history_row& row : rows) {
            csv << history_csv_fields(row) << '\n';
        }
        csv.close();
        if (!csv) {
            throw io_error("cannot write the history CSV '" + path.string() + "'");
        }
    });
}

} // namespace xrestore::cli
