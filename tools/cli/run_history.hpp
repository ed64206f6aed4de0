#pragma once
// The per-iteration history of a solver run, as restore --history and compare's history.csv
// write it: the solver's own record of each iteration (seconds, objective, relative change) and,
// against a ground truth, the MSE, PSNR and SSIM of the iterate clipped to [0, 1].

#include <xrestore/core/tensor.hpp>
#include <xrestore/solvers/monitor.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xrestore::cli {

/// One iteration of a run; NaN where a value is not defined (no objective, no reference).
struct history_row {
    int iteration = 0;
    double seconds = 0.0; ///< since the solver started, less the monitor's time
    double objective = 0.0;
    double change = 0.0; ///< ||x_k - x_{k-1}|| / ||x_k||
    double mse = 0.0;
    double psnr = 0.0;
    double ssim = 0.0; ///< the Gaussian-window preset (metrics' gaussian_ssim_options)
};

/// The monitor of restore and compare: a history row per iteration, from the solver's record
/// and, with a reference, the quality of clip(x_k, 0, 1) against it.
class history_recorder {
public:
    explicit history_recorder(std::optional<image> reference);

    void operator()(int k, const image& x, const iteration_record& record);

    const std::vector<history_row>& rows() const { return rows_; }
    /// The row with the highest PSNR (the first of equals); nullptr when there is no row with a
    /// PSNR (no reference, or no iteration done).
    const history_row* best() const;
    /// Seconds spent in this monitor (computing the metrics).
    double own_seconds() const { return own_seconds_; }

private:
    std::optional<image> reference_;
    std::vector<history_row> rows_;
    double own_seconds_ = 0.0;
};

/// "iteration,seconds,objective,change,mse,psnr,ssim"
std::string history_csv_header();

/// The row's fields in the order of history_csv_header(), NaN as an empty field.
std::string history_csv_fields(const history_row& row);

/// `value` as a CSV field: empty for NaN, else with 17 significant digits (read back exactly).
std::string csv_number(double value);

/// The rows as a CSV file (header, then one line per row), written atomically.
void write_history_csv(const std::filesystem::path& path, const std::vector<history_row>& rows);

} // namespace xrestore::cli
