#pragma once
// The outputs of `xrestore study` (written by study_report.cpp): results.json (every number),
// results.csv and curves.csv, the images (PNG), side-by-side panels, plots (PNG, drawn by
// xrestore/report/plot.hpp) and report.md, whose numbers and interpretations are all generated
// from the results.

#include "study_results.hpp"

#include <filesystem>

namespace xrestore::cli {

/// Write every output of the study into `dir` (the caller makes it settings.out_dir). A plot that
/// cannot be drawn is left out, with a note in report.md where it would be.
void write_study(const study_results& r, const std::filesystem::path& dir);

/// The short summary on stdout.
void print_study_summary(const study_results& r);

} // namespace xrestore::cli
